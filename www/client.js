// The worker client: one training run in its own Web Worker (worker.js), driven with promises.
//
// This is the JS API for course pages (types in client.d.ts): a lesson can script runs without the
// page, e.g. train SGD and SAM side by side and read their metrics:
//
//   import { Run } from './client.js';
//   const sgd = await Run.create({ dataset: 'mnist', config: { optimizer: 'sgd', momentum: 0.9, lr: 0.05, sam: 'none' } });
//   const sam = await Run.create({ dataset: 'mnist', config: { optimizer: 'sgd', momentum: 0.9, lr: 0.05, sam: 'sam', rho: 0.05 } });
//   await Promise.all([sgd.step(200), sam.step(200)]);
//   console.log(sgd.lastEval.accuracy, sam.lastEval.accuracy);
//
// The page's comparison runs (compare.js) are Runs too. Each Run owns one worker, so one GPU
// device and one copy of the data; `close()` frees them. The messages are the worker's protocol
// (docs/web.md); a Run keeps every metrics and evaluation message in `history`.

/** A failed command: the worker's message, with the page field it concerns and a hint. */
export class RunError extends Error {
  constructor({ message, hint = '', field, fatal = false, detail }) {
    super(message);
    this.name = 'RunError';
    this.hint = hint;
    this.field = field;
    this.fatal = Boolean(fatal);
    this.detail = detail;
  }
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

export class Run {
  /**
   * Starts a worker and builds a Trainer in it: `dataset` is 'mnist' or 'fashion-mnist' (or the
   * worker's CIFAR-10 or own-IDX-files form), `config` the Trainer config (docs/web.md), `evalEvery` how many steps
   * between evaluations of the test split (default: half an epoch), `trainPerClass` a stratified
   * sample of the training split (MNIST, Fashion-MNIST, own IDX files; default all), `testShift`
   * shifted test images ('rotate:30', 'noise:0.4', 'blur:1.5', 'contrast:0.3'; default none),
   * `domains` gradual self-training through rotated domains ([15, 30, 45, 60]; default none).
   * Rejects with a RunError when the config is refused or the engine cannot start; the worker is
   * closed then.
   */
  static async create({ dataset = 'mnist', config = {}, evalEvery = 0, trainPerClass, testShift, domains, workerUrl = WORKER_URL } = {}) {
    const run = new Run(workerUrl);
    try {
      const options = { evalEvery };
      if (trainPerClass !== undefined && trainPerClass !== null) options.trainPerClass = trainPerClass;
      if (testShift !== undefined && testShift !== null) options.testShift = testShift;
      if (domains !== undefined && domains !== null) options.domains = domains;
      await run.command({ type: 'create', dataset, config, options });
    } catch (err) {
      run.close();
      throw err;
    }
    return run;
  }

  constructor(workerUrl = WORKER_URL) {
    this.worker = new Worker(workerUrl, { type: 'module' });
    this.state = 'loading';
    /** What the last 'state' message said: step, epoch, totalSteps, stepsPerEpoch, passesPerStep, adapter, … */
    this.info = {};
    /** Every metrics message and every evaluation, oldest first; `weights`: the last snapshot. */
    this.history = { metrics: [], evals: [] };
    this.lastMetrics = null;
    this.lastEval = null;
    this.snapshot = null; // {bytes, step}: the weights of the last evaluation
    this.error = null; // the fatal RunError that stopped this run, if any
    this.listeners = new Map(); // message type → Set of callbacks
    this.pending = new Map(); // command id → {resolve, reject, error}
    this.waiters = []; // {states, resolve, reject}: whenState()
    this.nextId = 1;
    this.worker.onmessage = (event) => this.receive(event.data ?? {});
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.die(new RunError({ message: 'The training engine stopped with an unexpected error.', detail: event.message, fatal: true }));
    };
  }

  /** Calls `fn(message)` for every worker message of this type ('metrics', 'eval', 'state',
   *  'error', …, or '*' for all); returns a function that stops it. */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }

  /** Sends one command and resolves when the worker has handled it; rejects with its error. */
  command(message, transfer = []) {
    if (this.error) return Promise.reject(this.error);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, error: null });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** Trains until the end of the run (or pause()); resolves once training has begun. */
  start() {
    return this.command({ type: 'start' });
  }

  /** Stops after the current chunk of steps; resolves once the loop has stopped. */
  pause() {
    return this.command({ type: 'pause' });
  }

  /** Trains `n` steps (while not running), evaluating on schedule; resolves when they are done. */
  step(n = 1) {
    return this.command({ type: 'step', n });
  }

  /** Resolves when the run has trained to its last step (after start()). */
  finished() {
    return this.whenState(['done']);
  }

  /** Evaluates on the whole test split; resolves to the 'eval' message. */
  async evaluate() {
    const seen = this.history.evals.length;
    await this.command({ type: 'evaluate' });
    return this.history.evals[seen] ?? this.lastEval;
  }

  /** Changes the learning rate and/or ρ of the live trainer. */
  set({ lr, rho } = {}) {
    return this.command({ type: 'set', lr, rho });
  }

  /** The weights now, as safetensors bytes. */
  async saveWeights() {
    let bytes = null;
    const off = this.on('saved', (msg) => { bytes = msg.bytes; });
    try {
      await this.command({ type: 'save' });
    } finally {
      off();
    }
    return new Uint8Array(bytes);
  }

  /** Loads safetensors weights (from saveWeights or a file), then evaluates. */
  loadWeights(bytes) {
    const copy = new Uint8Array(bytes).slice();
    return this.command({ type: 'load', bytes: copy }, [copy.buffer]);
  }

  /** λ_max, tr(H) and the rest at the current weights (trainer.sharpness keys, docs/sharpness.md). */
  async sharpness(request = {}) {
    let result = null;
    const off = this.on('sharpness', (msg) => { if (msg.reason === 'measure') result = msg; });
    try {
      await this.command({ type: 'sharpness', request });
    } finally {
      off();
    }
    return result;
  }

  /** Ends the worker: its GPU device and data are freed; the Run cannot be used again. */
  close() {
    this.worker.terminate();
    this.die(new RunError({ message: 'This run was closed.' }), 'closed');
  }

  whenState(states) {
    if (states.includes(this.state)) return Promise.resolve(this.state);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => this.waiters.push({ states, resolve, reject }));
  }

  receive(msg) {
    switch (msg.type) {
      case 'state':
        this.state = msg.state;
        this.info = { ...this.info, ...msg };
        this.waiters = this.waiters.filter((w) => {
          if (!w.states.includes(msg.state)) return true;
          w.resolve(msg.state);
          return false;
        });
        break;
      case 'metrics':
        this.lastMetrics = msg;
        this.history.metrics.push(msg);
        break;
      case 'eval':
        this.lastEval = msg;
        this.history.evals.push(msg);
        break;
      case 'snapshot':
        this.snapshot = { bytes: msg.bytes, step: msg.step };
        break;
      case 'error': {
        const error = new RunError(msg);
        if (msg.fatal) this.die(error);
        else if (this.pending.has(msg.id)) this.pending.get(msg.id).error = error;
        break;
      }
      case 'done': {
        const waiting = this.pending.get(msg.id);
        if (!waiting) break;
        this.pending.delete(msg.id);
        if (msg.ok) waiting.resolve();
        else waiting.reject(waiting.error ?? this.error ?? new RunError({ message: `The command "${msg.command}" failed.` }));
        break;
      }
      default:
        break;
    }
    for (const type of [msg.type, '*']) for (const fn of this.listeners.get(type) ?? []) fn(msg);
  }

  /** The run cannot go on: every waiting promise fails with `error`. */
  die(error, state = 'failed') {
    if (this.error) return;
    this.error = error;
    this.state = state;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
    for (const w of this.waiters) w.reject(error);
    this.waiters = [];
  }
}
