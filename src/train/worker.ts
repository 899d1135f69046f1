/** A sweep worker: trains the seeds it is sent, one message each, and hands back the weights by transfer (with progress messages on the way when asked). */
import { parentPort } from 'node:worker_threads';
import { runSeed, STEP_REPORT_EVERY, type WorkerMessage } from './sweep.js';
import type { TrainConfig } from './trainer.js';

const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);

parentPort!.on('message', ({ config, seed, reportSteps }: { config: TrainConfig; seed: number; reportSteps?: boolean }) => {
  const onStep = reportSteps ? (step: number) => void ((step + 1) % STEP_REPORT_EVERY === 0 && post({ kind: 'steps', seed, done: step + 1 })) : undefined;
  const result = runSeed(config, seed, onStep);
  post({ kind: 'result', result }, [result.params.buffer as ArrayBuffer]);
});
