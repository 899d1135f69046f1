/**
 * The tfjs-core engine, set up once: ops, gradients, and the backend (wasm
 * by default, measured faster than cpu for this network in `npm run bench`).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createRequire } from 'node:module';
import path from 'node:path';
import { registerGradients } from './gradients.js';

export type TrainBackend = 'cpu' | 'wasm';

let ready: TrainBackend | undefined;

export async function useBackend(name: TrainBackend = 'cpu'): Promise<typeof tf> {
  if (ready === name) return tf;
  await registerGradients();
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    wasm.setWasmPaths(`${path.join(dist, 'dist')}/`);
  }
  await tf.setBackend(name);
  await tf.ready();
  // The cpu backend greets Node users with advice to install tfjs-node, which cannot install here.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  ready = name;
  return tf;
}

export { tf };
