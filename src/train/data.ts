/**
 * The colour data of SCA.md: the RGB cube, the redness score, and rare
 * stochastic labels (probability redness^8 * 0.08 per draw).
 */
import { Random } from './random.js';

export type Rgb = [number, number, number];

/** n points per axis including both ends (training), or cell centres (validation). */
export function colorCube(n = 8, centres = false): Rgb[] {
  const axis = Array.from({ length: n }, (_, i) => (centres ? (i + 0.5) / n : i / (n - 1)));
  const out: Rgb[] = [];
  for (const r of axis) for (const g of axis) for (const b of axis) out.push([r, g, b]);
  return out;
}

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
