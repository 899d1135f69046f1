/**
 * Activations as a probe sees them: one row of `width` features per example,
 * row-major. Kept in float32 when they come from a model (a [10k, 4096]
 * tensor is 160 MB so), in float64 when computed here.
 */
export interface Features {
  rows: number;
  width: number;
  data: Float32Array | Float64Array;
}

export function features(rows: number[][]): Features {
  const width = rows[0]?.length ?? 0;
  const data = new Float64Array(rows.length * width);
  rows.forEach((r, i) => data.set(r, i * width));
  return { rows: rows.length, width, data };
}

export function row(x: Features, i: number): Float64Array {
  return Float64Array.from(x.data.subarray(i * x.width, (i + 1) * x.width));
}

/** The rows at `idx`, in that order. */
export function selectRows(x: Features, idx: ArrayLike<number>): Features {
  const data = new Float64Array(idx.length * x.width);
  for (let k = 0; k < idx.length; k++) data.set(x.data.subarray(idx[k] * x.width, (idx[k] + 1) * x.width), k * x.width);
  return { rows: idx.length, width: x.width, data };
}

export function columnMeans(x: Features, idx?: ArrayLike<number>): Float64Array {
  const mean = new Float64Array(x.width);
  const n = idx ? idx.length : x.rows;
  for (let k = 0; k < n; k++) {
    const i = idx ? idx[k] : k;
    const off = i * x.width;
    for (let j = 0; j < x.width; j++) mean[j] += x.data[off + j];
  }
  for (let j = 0; j < x.width; j++) mean[j] /= Math.max(n, 1);
  return mean;
}

/** The mean of each class's rows; classes are 0..k-1. */
export function classMeans(x: Features, labels: ArrayLike<number>, classes: number): Float64Array[] {
  const members: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < x.rows; i++) members[labels[i]].push(i);
  return members.map((idx) => columnMeans(x, idx));
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}
