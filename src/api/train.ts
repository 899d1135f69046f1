/**
 * `sca train color` for library users: the paper's recipe in plain
 * TypeScript (presets anchored, isolated, 2.10.1), one seed or a sweep on
 * worker threads, the authors' pick exported to ONNX. The trainer loads only
 * when training starts, so importing the library stays cheap; tfjs is not a
 * dependency of the library at all (it is only the bench's baseline).
 */
import type { ColorTraining } from '../train/color.js';
import type { Architecture } from '../train/network.js';
import type { PresetName } from '../train/presets.js';
import type { ScoreStats, SeedResult } from '../train/sweep.js';
import type { TrainConfig } from '../train/trainer.js';

export interface ColorTrainingOptions {
  /** The paper's configuration (default 'isolated', exp. 2.9.1). */
  preset?: PresetName;
  /** First seed (default 0); a seed gives the same weights every time. */
  seed?: number;
  /** Train this many seeds from `seed` and keep the authors' pick (default 1). */
  seeds?: number;
  /** Worker threads for a sweep (default: all cores). */
  jobs?: number;
  /** Override the preset's step count (1501: steps 0..1500). */
  steps?: number;
  /** Override the preset's K, N or H. */
  architecture?: Partial<Architecture>;
  /** The follow-up's learning-rate plateau (the paper's is 0.1). */
  peakLr?: number;
  /** The follow-up's decoder-only fallback term's weight (0 or absent: off). */
  fallback?: number;
  /** Training steps done over all seeds, and the total. */
  onSteps?: (done: number, total: number) => void;
  /** A seed finished: its result, and how many of how many are done. */
  onResult?: (result: SeedResult, done: number, total: number) => void;
}

/** Trains the paper's colour autoencoder (red anchored at e0 of 'bottleneck') and writes the picked seed to `output` as ONNX. */
export async function trainColorModel(output: string, options: ColorTrainingOptions = {}): Promise<ColorTraining> {
  const { preset = 'isolated', seed, seeds, jobs, steps, architecture, peakLr, fallback, onSteps, onResult } = options;
  const config: TrainConfig = {
    preset,
    ...(steps !== undefined ? { steps } : {}),
    ...(architecture ? { architecture } : {}),
    ...(peakLr !== undefined ? { peakLr } : {}),
    ...(fallback !== undefined ? { fallback } : {}),
  };
  const color = await import('../train/color.js');
  return color.trainColorModel(output, { config, seed, seeds, jobs, onSteps, onResult });
}

export type { ColorTraining, Architecture, PresetName, ScoreStats, SeedResult, TrainConfig };
