/**
 * The paper's settings, in a module that loads no tfjs, so the CLI can show
 * them in help without paying for the training engine.
 */
export interface Architecture {
  latent: number;
  layers: number;
  hidden: number;
}

export const PAPER_ARCHITECTURE: Architecture = { latent: 5, layers: 2, hidden: 10 };

export const PAPER_STEPS = 1500;
export const PAPER_BATCH = 64;

export type TrainBackend = 'cpu' | 'wasm';

/** Measured faster than cpu for this small network (npm run bench: 196 vs 125 steps/s). */
export const DEFAULT_BACKEND: TrainBackend = 'wasm';
