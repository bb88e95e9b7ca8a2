// Types of the worker client (client.js): one training run in its own Web Worker.
// The Trainer config's keys are those of the wasm Trainer (pkg/samlab.d.ts, docs/web.md).

/** The Trainer config (src/web/config.rs): camelCase keys, unknown keys are refused. */
export interface TrainerConfig {
  model?: 'mlp' | 'lenet' | 'tfjs-convnet' | 'resnet8';
  /** MLP hidden widths, e.g. [256, 256]. */
  hidden?: readonly number[];
  optimizer?: 'sgd' | 'adam' | 'adamw';
  lr?: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  /** 'none' or a SAM mode: 'sam', 'asam', 'gsam', 'looksam', 'msam', 's2sam', 'esam', … (docs/sam-variants.md) */
  sam?: string;
  rho?: number;
  eta?: number;
  alpha?: number;
  sigma?: number;
  lambda?: number;
  k?: number;
  gamma?: number;
  beta?: number;
  rhoMin?: number;
  n?: number;
  m?: number;
  sparsity?: number;
  fisherSamples?: number;
  dropRate?: number;
  baseWidth?: number;
  /** 'constant', 'lr' (ρ follows the learning rate) or 'warmup:STEPS'. */
  rhoSchedule?: string;
  /** Late-phase SAM: the fraction of the run after which SAM starts. */
  samStart?: number;
  /** SWA: the fraction of the run after which weights are averaged. */
  swaStart?: number;
  /** Learning-rate schedule: 'constant', 'step:EPOCHS:GAMMA', 'cosine' or 'cosine:WARMUP_STEPS'. */
  schedule?: string;
  batchSize?: number;
  epochs?: number;
  seed?: number;
  labelNoise?: number;
  labelSmoothing?: number;
  shuffle?: boolean;
  dropout?: number;
  augment?: boolean;
}

export type Dataset =
  | 'mnist'
  | 'fashion-mnist'
  | { kind: 'cifar10'; files: { name: string; bytes: Blob | ArrayBuffer | Uint8Array }[]; perClass?: number; seed?: number }
  | { kind: 'idx'; files: { name: string; bytes: Blob | ArrayBuffer | Uint8Array }[] };

export interface RunOptions {
  dataset?: Dataset;
  config?: TrainerConfig;
  /** Steps between evaluations of the test split (0: half an epoch). */
  evalEvery?: number;
  /** A stratified sample of this many training images per class, drawn with the seed (MNIST,
   *  Fashion-MNIST, own IDX files; default: all). */
  trainPerClass?: number;
  /** Evaluate on shifted test images: 'rotate:DEGREES', 'noise:SIGMA', 'blur:SIGMA',
   *  'contrast:C', or 'none' (default). */
  testShift?: string;
  /** Gradual self-training through domains rotated by these angles (the last one the target, at
   *  which the test images are rotated): the source on 2,000 labelled images, then 1,500 new
   *  images per domain labelled by the model so far, `config.epochs` epochs each. */
  domains?: number[];
  /** Where worker.js is (default: beside client.js). */
  workerUrl?: string | URL;
}

export type RunState = 'loading' | 'ready' | 'running' | 'paused' | 'done' | 'failed' | 'closed';

/** Means over the steps of one chunk (`steps` of them). */
export interface MetricsMessage {
  type: 'metrics';
  step: number;
  epoch: number;
  steps: number;
  loss: number;
  accuracy: number;
  /** ‖g0‖; null when the chunk had none. */
  gradNorm: number | null;
  /** L(w+ε) − L(w); null without a SAM read-out (no SAM, S2-SAM, MSAM, LookSAM's reuse steps). */
  sharpness: number | null;
  cosG0G1: number | null;
  nonfiniteSteps: number;
  samplesPerSecond: number | null;
  msPerStep: number;
  lr: number;
  /** Gradient evaluations (forward/backward passes) of the run so far, per step. */
  passesPerStep: number;
}

/** An evaluation on the whole test split. */
export interface EvalMessage {
  type: 'eval';
  step: number;
  epoch: number;
  loss: number;
  accuracy: number;
  samples: number;
  passesPerStep: number;
  swa?: { loss: number; accuracy: number; samples: number } | null;
}

export interface StateMessage {
  type: 'state';
  state: RunState;
  detail?: string;
  step?: number;
  epoch?: number;
  totalSteps?: number;
  stepsPerEpoch?: number;
  passesPerStep?: number;
  adapter?: string;
  dataset?: string;
  trainCount?: number;
  testCount?: number;
  evalEvery?: number;
}

export interface SharpnessMessage {
  type: 'sharpness';
  reason: 'track' | 'measure';
  step: number;
  ms: number;
  loss: number;
  accuracy: number;
  rows: number;
  hvpStep: number;
  eigenvalues: { value: number; iterations: number; converged: boolean }[];
  trace: { value: number; stdError: number; samples: number } | null;
  worstCase: number | null;
  adaptiveWorstCase: number | null;
  gradients: number;
  request: Record<string, unknown>;
}

export interface ErrorMessage {
  type: 'error';
  message: string;
  hint: string;
  field?: string;
  fatal?: boolean;
  detail?: string;
  id?: number;
}

/** Gradual self-training (`domains`) moved on to its `stage`-th domain, rotated by `angle`,
 *  whose images the model so far labelled (`pseudoLabelAccuracy` of them right). */
export interface DomainMessage {
  type: 'domain';
  stage: number;
  domains: number;
  angle: number;
  pseudoLabelAccuracy: number;
  step: number;
}

/** Every message a worker sends (docs/web.md has the whole protocol). */
export type WorkerMessage =
  | MetricsMessage
  | EvalMessage
  | StateMessage
  | SharpnessMessage
  | ErrorMessage
  | DomainMessage
  | { type: string; [key: string]: unknown };

/** A failed command or a dead engine: the worker's message, the page field it concerns, a hint. */
export class RunError extends Error {
  readonly hint: string;
  readonly field?: string;
  /** The engine is dead: close this Run and create another. */
  readonly fatal: boolean;
  readonly detail?: string;
}

export class Run {
  /** Starts a worker and builds the Trainer; rejects with a RunError if the config is refused. */
  static create(options?: RunOptions): Promise<Run>;

  readonly state: RunState;
  readonly info: Omit<StateMessage, 'type' | 'state'>;
  readonly history: { metrics: MetricsMessage[]; evals: EvalMessage[] };
  readonly lastMetrics: MetricsMessage | null;
  readonly lastEval: EvalMessage | null;
  /** The weights (safetensors) of the last evaluation. */
  readonly snapshot: { bytes: Uint8Array; step: number } | null;
  readonly error: RunError | null;

  on(type: 'metrics', fn: (msg: MetricsMessage) => void): () => void;
  on(type: 'eval', fn: (msg: EvalMessage) => void): () => void;
  on(type: 'state', fn: (msg: StateMessage) => void): () => void;
  on(type: 'error', fn: (msg: ErrorMessage) => void): () => void;
  on(type: 'domain', fn: (msg: DomainMessage) => void): () => void;
  on(type: string, fn: (msg: WorkerMessage) => void): () => void;

  /** Trains until the end (or pause()); resolves once training has begun. */
  start(): Promise<void>;
  pause(): Promise<void>;
  /** Trains n steps (evaluating on schedule) and resolves when they are done. */
  step(n?: number): Promise<void>;
  /** Resolves when the run has reached its last step. */
  finished(): Promise<RunState>;
  evaluate(): Promise<EvalMessage>;
  set(values: { lr?: number; rho?: number }): Promise<void>;
  saveWeights(): Promise<Uint8Array>;
  loadWeights(bytes: Uint8Array | ArrayBuffer): Promise<void>;
  sharpness(request?: Record<string, unknown>): Promise<SharpnessMessage>;
  /** Ends the worker and frees its GPU device. */
  close(): void;
}
