// Type-checks a course page's script against www/client.d.ts (tests/js/types.test.mjs runs tsc on
// it): what a lesson writes must compile, and a wrong key or a wrong use must not.
import { Run, RunError, type EvalMessage, type MetricsMessage } from '../../www/client.js';

export async function lesson(): Promise<number[]> {
  const common = { model: 'mlp', hidden: [64], optimizer: 'sgd', momentum: 0.9, lr: 0.05, epochs: 2 } as const;
  const sgd = await Run.create({ dataset: 'mnist', config: { ...common, sam: 'none' }, evalEvery: 50 });
  const sam = await Run.create({ dataset: 'mnist', config: { ...common, sam: 'sam', rho: 0.05 } });
  const off = sam.on('metrics', (m: MetricsMessage) => console.log(m.step, m.sharpness ?? 'no read-out', m.passesPerStep));
  await Promise.all([sgd.step(100), sam.step(100)]);
  off();
  sam.start();
  await sam.pause();
  await sam.set({ rho: 0.1 });
  const weights: Uint8Array = await sam.saveWeights();
  await sgd.loadWeights(weights);
  const e: EvalMessage = await sgd.evaluate();
  const curvature = await sam.sharpness({ rows: 256, top: 1 });
  console.log(curvature.eigenvalues[0]?.value, curvature.trace?.value);
  try {
    await Run.create({ config: { rho: -1 } });
  } catch (err) {
    if (err instanceof RunError) console.log(err.message, err.hint, err.field, err.fatal);
  }
  sgd.close();
  sam.close();
  return [e.accuracy, sgd.lastEval?.accuracy ?? 0, sam.history.evals.length];
}

// @ts-expect-error: not a config key (the Trainer refuses unknown keys; the types do too)
void Run.create({ config: { learningRate: 0.1 } });
// @ts-expect-error: step counts are numbers
void Run.create().then((run) => run.step('10'));
