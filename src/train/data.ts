/**
 * The colour data of SCA.md: the 8x8x8 training grid, the 351-point
 * validation set, and rare stochastic labels drawn afresh for every batch:
 * "red" with probability 0.08 redness^8, "vibrant" with 0.01 (s v)^10.
 */
import { colorCube, rgbToHsv, type Rgb } from '../domains/color/palette.js';
import { Random } from '../maths/random.js';

export { colorCube, type Rgb };

export function redness([r, g, b]: Rgb): number {
  return r * (1 - g / 2 - b / 2);
}

export function redLabelProbability(c: Rgb): number {
  return Math.pow(redness(c), 8) * 0.08;
}

export function vibrantLabelProbability(c: Rgb): number {
  const { s, v } = rgbToHsv(c);
  return 0.01 * Math.pow(s * v, 10);
}

/** linspace(1/16, 15/16, 7)^3 plus the 8 corners of the cube: 351 colours. */
export function validationColors(): Rgb[] {
  const axis = Array.from({ length: 7 }, (_, i) => 1 / 16 + (i * (15 / 16 - 1 / 16)) / 6);
  const out: Rgb[] = [];
  for (const r of axis) for (const g of axis) for (const b of axis) out.push([r, g, b]);
  for (const r of [0, 1]) for (const g of [0, 1]) for (const b of [0, 1]) out.push([r, g, b]);
  return out;
}

export interface Batch {
  /** [size, 3], flattened. */
  colors: Float64Array;
  /** 1 where the draw was labelled red. */
  red: Float64Array;
  /** 1 where the draw was labelled vibrant (only when asked for). */
  vibrant: Float64Array;
}

/** Draws a batch with replacement from `pool`, labelling each draw independently. */
export function sampleBatch(pool: Rgb[], size: number, random: Random, vibrant = false): Batch {
  const colors = new Float64Array(size * 3);
  const red = new Float64Array(size);
  const vib = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const c = pool[random.int(pool.length)];
    colors.set(c, 3 * i);
    red[i] = random.next() < redLabelProbability(c) ? 1 : 0;
    if (vibrant) vib[i] = random.next() < vibrantLabelProbability(c) ? 1 : 0;
  }
  return { colors, red, vibrant: vib };
}
