/**
 * `sca train color` for library users. tfjs is loaded (and its gradient
 * module hook registered) only when training starts, so importing the
 * library costs nothing and changes nothing process-wide.
 */
import type { ColorTraining } from '../train/color.js';
import type { TrainBackend } from '../train/defaults.js';
import type { Architecture } from '../train/defaults.js';

export interface ColorTrainingOptions {
  /** First seed (default 0); the same seed gives the same weights on the same machine. */
  seed?: number;
  /** Train this many seeds from `seed` and keep the best (default 1). */
  seeds?: number;
  /** Training steps (default 1500, the paper's). */
  steps?: number;
  architecture?: Architecture;
  /** The anchor regularizer (default on). */
  anchor?: boolean;
  antiAnchor?: boolean;
  backend?: TrainBackend;
}

/** Trains the paper's colour autoencoder with red anchored at e0 and writes it to `output` as ONNX. */
export async function trainColorModel(
  output: string,
  options: ColorTrainingOptions = {},
  onProgress?: (seed: number, step: number, losses: Record<string, number>) => void,
): Promise<ColorTraining> {
  const color = await import('../train/color.js');
  return color.trainColorModel(output, options, onProgress);
}

export type { ColorTraining, Architecture, TrainBackend };
