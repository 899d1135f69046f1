/** A sweep worker: trains the seeds it is sent, one message each, and hands back the weights by transfer. */
import { parentPort } from 'node:worker_threads';
import { runSeed } from './sweep.js';
import type { TrainConfig } from './trainer.js';

parentPort!.on('message', ({ config, seed }: { config: TrainConfig; seed: number }) => {
  const result = runSeed(config, seed);
  parentPort!.postMessage(result, [result.params.buffer as ArrayBuffer]);
});
