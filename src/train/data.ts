/**
 * The colour data of SCA.md: the RGB cube, the redness score, and rare
 * stochastic labels (probability redness^8 * 0.08 per draw).
 */
import { colorCube, type Rgb } from '../eval/colors.js';
import { Random } from './random.js';

export { colorCube, type Rgb };

export function redness([r, g, b]: Rgb): number {
  return r * (1 - g / 2 - b / 2);
}

export function redLabelProbability(c: Rgb): number {
  return Math.pow(redness(c), 8) * 0.08;
}

export interface Batch {
  colors: Rgb[];
  /** 1 where the draw was labelled red. */
  labels: number[];
}

/** Draws a batch with replacement from `pool`, labelling each draw independently. */
export function sampleBatch(pool: Rgb[], size: number, random: Random): Batch {
  const colors: Rgb[] = [];
  const labels: number[] = [];
  for (let i = 0; i < size; i++) {
    const c = pool[random.int(pool.length)];
    colors.push(c);
    labels.push(random.next() < redLabelProbability(c) ? 1 : 0);
  }
  return { colors, labels };
}
