/**
 * Per-sample differences between an intact and a patched output, each a pure
 * function of two equal-length vectors (one sample's output, flattened).
 */
export type Vector = ArrayLike<number>;

export function mse(a: Vector, b: Vector): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return a.length ? s / a.length : 0;
}

export function maxAbs(a: Vector, b: Vector): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Cosine similarity; two zero vectors count as identical (1), one zero vector as unrelated (0). */
export function cosine(a: Vector, b: Vector): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa === 0 && bb === 0) return 1;
  if (aa === 0 || bb === 0) return 0;
  return ab / Math.sqrt(aa * bb);
}

export function softmax(logits: Vector): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

/** KL(p || q) in nats for probability vectors. */
export function kl(p: Vector, q: Vector): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) s += p[i] * Math.log(p[i] / Math.max(q[i], 1e-30));
  return s;
}

export function argmax(v: Vector): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/**
 * For classifier-like outputs ([..., classes] logits): KL(softmax(intact) ||
 * softmax(patched)) and whether the top class agrees, averaged over every
 * position of the sample.
 */
export function classifierAgreement(a: Vector, b: Vector, classes: number): { kl: number; top1: number } {
  const positions = a.length / classes;
  let klSum = 0;
  let agree = 0;
  for (let p = 0; p < positions; p++) {
    const x = Array.prototype.slice.call(a, p * classes, (p + 1) * classes) as number[];
    const y = Array.prototype.slice.call(b, p * classes, (p + 1) * classes) as number[];
    klSum += kl(softmax(x), softmax(y));
    if (argmax(x) === argmax(y)) agree++;
  }
  return { kl: klSum / positions, top1: agree / positions };
}

export interface Summary {
  mse: number;
  maxAbs: number;
  cosine: number;
  kl?: number;
  top1?: number;
}

export interface SampleMetrics {
  mse: Float64Array;
  maxAbs: Float64Array;
  cosine: Float64Array;
  kl?: Float64Array;
  top1?: Float64Array;
}

const mean = (v: Float64Array, idx: number[]): number => idx.reduce((s, i) => s + v[i], 0) / Math.max(idx.length, 1);

/** Means over the chosen samples (max for maxAbs). */
export function summarize(m: SampleMetrics, idx: number[]): Summary {
  return {
    mse: mean(m.mse, idx),
    maxAbs: idx.reduce((s, i) => Math.max(s, m.maxAbs[i]), 0),
    cosine: mean(m.cosine, idx),
    ...(m.kl ? { kl: mean(m.kl, idx) } : {}),
    ...(m.top1 ? { top1: mean(m.top1, idx) } : {}),
  };
}

export function histogram(values: ArrayLike<number>, lo: number, hi: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const k = Math.min(bins - 1, Math.max(0, Math.floor(((values[i] - lo) / (hi - lo)) * bins)));
    counts[k]++;
  }
  return counts;
}
