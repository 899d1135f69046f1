/**
 * How good a trained colour model is, by the paper's criteria: reconstruction
 * over the validation cube, and what zeroing the reserved dim does to each
 * colour (selectivity: the damage should follow similarity to red).
 */
import { NAMED_COLORS, selectivity, type Rgb } from '../eval/colors.js';
import { reconstruct, type Autoencoder } from './autoencoder.js';
import { colorCube } from './data.js';
import { RED_ANCHOR } from './trainer.js';

export interface ColorModelQuality {
  /** Mean reconstruction MSE over the validation cube (cell centres). */
  validationMse: number;
  /** Selectivity score after zeroing the reserved dim, over the 8x8x8 cube. */
  selectivity: number | undefined;
  /** Per named colour: reconstruction MSE intact and with the reserved dim zeroed. */
  named: Record<string, { intact: number; ablated: number }>;
}

export function perColorMse(colors: Rgb[], outputs: Float32Array): number[] {
  return colors.map((c, i) => ((outputs[3 * i] - c[0]) ** 2 + (outputs[3 * i + 1] - c[1]) ** 2 + (outputs[3 * i + 2] - c[2]) ** 2) / 3);
}

const mean = (v: number[]): number => v.reduce((s, x) => s + x, 0) / v.length;

export function evaluateColorModel(model: Autoencoder): ColorModelQuality {
  const validation = colorCube(8, true);
  const cube = colorCube(8);
  const zeroDims = [...RED_ANCHOR.dims];
  const names = Object.keys(NAMED_COLORS);
  const namedColors = names.map((n) => NAMED_COLORS[n]);
  const intactNamed = perColorMse(namedColors, reconstruct(model, namedColors));
  const ablatedNamed = perColorMse(namedColors, reconstruct(model, namedColors, { zeroDims }));
  return {
    validationMse: mean(perColorMse(validation, reconstruct(model, validation))),
    selectivity: selectivity(cube, perColorMse(cube, reconstruct(model, cube, { zeroDims }))),
    named: Object.fromEntries(names.map((n, i) => [n, { intact: intactNamed[i], ablated: ablatedNamed[i] }])),
  };
}

/**
 * The paper keeps the Pareto front of low loss and high selectivity; to pick
 * one point of it, we take the lowest validation MSE among the seeds whose
 * selectivity is at least 90% of the best seen: loss first, without giving up
 * much selectivity.
 */
export function pickBest<T extends { quality: ColorModelQuality }>(runs: T[]): T {
  const bestScore = Math.max(...runs.map((r) => r.quality.selectivity ?? -1));
  const selective = runs.filter((r) => (r.quality.selectivity ?? -1) >= 0.9 * bestScore);
  return selective.reduce((best, r) => (r.quality.validationMse < best.quality.validationMse ? r : best));
}
