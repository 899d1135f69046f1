/**
 * Labelled test data from a formula, the same bits in TypeScript and numpy
 * (scripts/make_leace_reference.py), so a reference computed by numpy can be
 * checked here without committing the data: every value is a hash of its
 * (row, column) position (murmur3's 32-bit finaliser), made uniform in
 * [-0.5, 0.5), with a neighbouring column mixed in (correlated features) and
 * a class offset. All arithmetic is exact or one IEEE operation in a fixed
 * order, then rounded to float32 once.
 *
 *   u(i, j)  = fmix32((i · 40503 + j · 2654435761 + seed) mod 2³²) / 2³² - 0.5
 *   label_i  = fmix32(i ⊕ 0x9e3779b9 ⊕ seed) mod classes
 *   x_ij     = float32((u(i, j) + 0.5 · u(i, (j + 1) mod D)) + shift · u(2³⁰ + label_i, j))
 *
 * (2³⁰ + c needs rows below 2³⁰, and shift a power of two keeps every step exact.)
 */

export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function hashedUniform(i: number, j: number, seed: number): number {
  return fmix32((Math.imul(i, 40503) + Math.imul(j, 2654435761 | 0) + seed) >>> 0) / 4294967296 - 0.5;
}

export function hashedLabel(i: number, classes: number, seed: number): number {
  return fmix32((i ^ 0x9e3779b9 ^ seed) >>> 0) % classes;
}

export interface HashedSpec {
  width: number;
  classes: number;
  /** Scale of the class offsets. */
  shift: number;
  seed: number;
}

/** Rows [start, start + rows) of the formula, float32, with their labels. */
export function hashedRows(
  spec: HashedSpec,
  start: number,
  rows: number,
  out = new Float32Array(rows * spec.width),
): { data: Float32Array; labels: Int32Array } {
  const { width: d, classes, shift, seed } = spec;
  const labels = new Int32Array(rows);
  const offsets = Array.from({ length: classes }, (_, c) => Float64Array.from({ length: d }, (_, j) => shift * hashedUniform(2 ** 30 + c, j, seed)));
  const u = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const i = start + r;
    const c = hashedLabel(i, classes, seed);
    labels[r] = c;
    for (let j = 0; j < d; j++) u[j] = hashedUniform(i, j, seed);
    const offset = offsets[c];
    const off = r * d;
    for (let j = 0; j < d; j++) out[off + j] = u[j] + 0.5 * u[(j + 1) % d] + offset[j];
  }
  return { data: out, labels };
}
