/**
 * A concept's direction found from labelled activations, for models not
 * trained with SCA:
 * - mean-diff: the normalised difference of the two class means;
 * - LEACE (Belrose et al. 2023, "LEACE: Perfect linear concept erasure in
 *   closed form"): with Σ the covariance of x and Σ_xz its cross-covariance
 *   with the one-hot labels, erase with x -> x - E (x - μ),
 *   E = Σ_xz (Σ_xzᵀ Σ⁺ Σ_xz)⁺ Σ_xzᵀ Σ⁺, the oblique projector onto
 *   span(Σ_xz) along {v : Σ_xzᵀ Σ⁺ v = 0}. After it no linear classifier
 *   does better than a constant one (the class-conditional means are equal).
 *
 * Both fit from streamed moments (maths/moments.ts: float64, shifted and
 * Chan-merged, O(D²) memory whatever the number of rows). The paper
 * whitens with Σ^(-1/2); any W with WᵀW = Σ⁺ gives the same E (E's image is
 * span(Σ_xz) and its kernel {v : Σ_xzᵀ WᵀW v = 0} for every such W), so
 * here Σ = P L Lᵀ Pᵀ is a pivoted Cholesky factorisation (maths/cholesky.ts,
 * n³/3 flops against a symmetric eigensolver's ~9n³), truncated where the
 * pivot (the variance a feature has beyond the features already chosen)
 * is at most D · 2⁻⁴⁶ times the largest variance: 64 times numpy's pinv
 * default (D · ε for float64), above the rounding of the float64
 * factorisation (about 1e-16 relative) and of features that are float32
 * combinations of others (about 2⁻⁴⁸ of their mean square), and below any
 * variance the data has otherwise. (EleutherAI's float32 cut-off,
 * D · 2⁻²³ · λ_max, drops real directions at D = 4096 when the concept is
 * strong, and then the class means are no longer equal.)
 * Then, with y = Pᵀ Σ_xz, a = L⁺ y and G = aᵀa = Σ_xzᵀ Σ⁺ Σ_xz (k x k for k
 * classes), E = Σ_r (Σ_xz u_r / σ_r)(Σ⁺ Σ_xz u_r / σ_r)ᵀ over G's
 * eigenpairs (u_r, σ_r²), and Σ⁺ Σ_xz = P L (LᵀL)⁻¹ a. For full rank L is
 * square and that is two triangular solves; below full rank LᵀL is formed
 * and factored too, so the right factors stay in range(Σ), the minimum-norm
 * pseudo-inverse numpy's pinv gives. The products are yielded to a kernel
 * (maths/gemm.ts): the plain loops here, or onnxruntime's Gemm through
 * `fitLeaceWith` / `leaceFromMoments` (probe/gemm.ts has that kernel).
 *
 * The eraser is kept as two rank-r factors (r ≤ classes - 1), so its nodes
 * and its manifest entry grow with D, not D².
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { UsageError } from '../errors.js';
import { norm, type Features } from '../maths/features.js';
import { PLAIN, runAsync, runSync, type Kernel, type Steps } from '../maths/gemm.js';
import { Moments } from '../maths/moments.js';
import {
  gramOfFactor,
  permuteRows,
  pivotedCholesky,
  solveLower,
  solveUpper,
  times,
  transposeTimes,
  unpermuteRows,
  type CholeskyFactor,
} from '../maths/cholesky.js';

/**
 * x' = x - Σ_r (right_r · (x - mean)) left_r; with L (columns left_r) and R
 * (rows right_r) that is x - L R (x - μ), and L R = E.
 */
export interface Eraser {
  mean: number[];
  left: number[][];
  right: number[][];
}

export function meanDifference(x: Features, labels: ArrayLike<number>, classes: number): number[] {
  if (classes !== 2) throw new UsageError(`--method mean-diff needs two classes; the labels have ${classes} (use --method leace)`);
  const m = new Moments(x.width, { classes: 2, covariance: false });
  m.add(x.data, x.rows, labels);
  return meanDifferenceFromMoments(m);
}

/** mean-diff from streamed class sums (Moments with or without the covariance). */
export function meanDifferenceFromMoments(m: Moments): number[] {
  if (m.classes !== 2) throw new UsageError(`--method mean-diff needs two classes; the labels have ${m.classes} (use --method leace)`);
  const [o0, o1] = m.classOffsets();
  const d = Array.from(o1, (v, j) => v - o0[j]);
  const n = norm(d);
  if (!(n > 0)) throw new UsageError('--method mean-diff: the two classes have the same mean; there is no direction');
  return d.map((v) => v / n);
}

/** Pivots at most D times this, relative to the largest variance, count as zero. */
export const PIVOT_TOLERANCE = 2 ** -46;

/** Relative tolerance on the pivots of K = LᵀL, which is positive definite by construction. */
const GRAM_TOLERANCE = 2 ** -44;

/** LEACE on rows held in memory, on the plain loops (any width; slow past D of about 1000, where `fitLeaceWith` and onnxruntime take over). */
export function fitLeace(x: Features, labels: ArrayLike<number>, classes: number): Eraser {
  if (classes < 2) throw new UsageError('--labels: every example has the same label; there is nothing to erase');
  const m = new Moments(x.width, { classes });
  m.add(x.data, x.rows, labels);
  m.flush();
  return runSync(leaceSteps(m), PLAIN).eraser;
}

/** As `fitLeace`, with the products on `kernel` (e.g. onnxruntime's Gemm). */
export async function fitLeaceWith(x: Features, labels: ArrayLike<number>, classes: number, kernel: Kernel): Promise<Eraser> {
  if (classes < 2) throw new UsageError('--labels: every example has the same label; there is nothing to erase');
  const m = new Moments(x.width, { classes });
  await m.addAsync(x.data, x.rows, labels, kernel);
  await m.flushAsync(kernel);
  return (await leaceFromMoments(m, kernel)).eraser;
}

/** The eraser of streamed moments (flushed, with covariance); gives up their covariance's storage to the factorisation. */
export async function leaceFromMoments(m: Moments, kernel: Kernel = PLAIN): Promise<LeaceFit> {
  await m.flushAsync(kernel);
  return runAsync(leaceSteps(m), kernel);
}

/** The eraser with what the fit found on the way: the covariance's numerical rank and the pivot tolerance applied. */
export interface LeaceFit {
  eraser: Eraser;
  rank: number;
  tolerance: number;
}

export function* leaceSteps(m: Moments): Steps<LeaceFit> {
  const d = m.width;
  const k = m.classes;
  if (k < 2) throw new UsageError('--labels: every example has the same label; there is nothing to erase');
  const mean = m.mean();
  const sxz = m.crossCovariance();
  const f = yield* pivotedCholesky(m.takeCovariance(), d * PIVOT_TOLERANCE);
  const unequal = (): UsageError => new UsageError('--method leace: the class means are equal; there is no linear trace of the concept to erase');
  if (f.rank === 0) throw unequal();

  // y = Pᵀ Σ_xz, n x k.
  const flat = new Float64Array(d * k);
  for (let c = 0; c < k; c++) for (let j = 0; j < d; j++) flat[j * k + c] = sxz[c][j];
  const y = permuteRows(f, flat, k);
  const { a, pinv } = yield* whitened(f, y, k);
  const right0 = unpermuteRows(f, pinv, k); // Σ⁺ Σ_xz, n x k

  // G = aᵀ a = Σ_xzᵀ Σ⁺ Σ_xz.
  const g = Array.from({ length: k }, (_, c) =>
    Array.from({ length: k }, (_, c2) => {
      let s = 0;
      for (let i = 0; i < f.rank; i++) s += a[i * k + c] * a[i * k + c2];
      return s;
    }),
  );
  const evd = new EigenvalueDecomposition(new Matrix(g), { assumeSymmetric: true });
  const sigmas = evd.realEigenvalues.map((v) => Math.sqrt(Math.max(v, 0)));
  const vectors = evd.eigenvectorMatrix;
  const top = Math.max(...sigmas);
  const left: number[][] = [];
  const right: number[][] = [];
  const order = sigmas.map((_, r) => r).sort((p, q) => sigmas[q] - sigmas[p]);
  for (const r of order) {
    const s = sigmas[r];
    if (!(s > Math.max(1e-12, top * 1e-6))) continue;
    const u = vectors.getColumn(r);
    const l = new Array<number>(d).fill(0);
    const rr = new Array<number>(d).fill(0);
    for (let j = 0; j < d; j++) {
      let lv = 0;
      let rv = 0;
      for (let c = 0; c < k; c++) {
        lv += sxz[c][j] * u[c];
        rv += right0[j * k + c] * u[c];
      }
      l[j] = lv / s;
      rr[j] = rv / s;
    }
    // A sign for reproducible factors: the largest entry of left is positive.
    let big = 0;
    for (let j = 1; j < d; j++) if (Math.abs(l[j]) > Math.abs(l[big])) big = j;
    const sign = l[big] < 0 ? -1 : 1;
    left.push(l.map((v) => v * sign));
    right.push(rr.map((v) => v * sign));
  }
  if (left.length === 0) throw unequal();
  return { eraser: { mean: Array.from(mean), left, right }, rank: f.rank, tolerance: f.tolerance };
}

/**
 * a = L⁺ y (rank x k) and Σ⁺ Σ_xz in pivoted order, P ᵀ Σ⁺ Σ_xz = L (LᵀL)⁻¹ a (n x k).
 * Full rank: L is square, a = L⁻¹ y and L (LᵀL)⁻¹ a = L⁻ᵀ a.
 */
function* whitened(f: CholeskyFactor, y: Float64Array, k: number): Steps<{ a: Float64Array; pinv: Float64Array }> {
  if (f.rank === f.n) {
    const a = Float64Array.from(y);
    solveLower(f, a, k);
    const pinv = Float64Array.from(a);
    solveUpper(f, pinv, k);
    return { a, pinv };
  }
  const g = yield* pivotedCholesky(yield* gramOfFactor(f), GRAM_TOLERANCE);
  if (g.rank < f.rank) {
    // LᵀL lost rank to rounding (it cannot in exact arithmetic): the basic
    // solution, exact on the data's span, zero on the rows past the rank.
    const a = Float64Array.from(y.subarray(0, f.rank * k));
    solveLower(f, a, k);
    const t = Float64Array.from(a);
    solveUpper(f, t, k);
    const pinv = new Float64Array(f.n * k);
    pinv.set(t);
    return { a, pinv };
  }
  const solveK = (v: Float64Array): Float64Array => {
    const w = permuteRows(g, v, k);
    solveLower(g, w, k);
    solveUpper(g, w, k);
    return unpermuteRows(g, w, k);
  };
  const a = solveK(transposeTimes(f, y, k));
  return { a, pinv: times(f, solveK(a), k) };
}

/** The eraser applied in TypeScript: the reference the inserted nodes are checked against. */
export function applyEraser(x: Features, e: Eraser): Features {
  const d = x.width;
  const out = new Float64Array(x.rows * d);
  for (let i = 0; i < x.rows; i++) {
    const off = i * d;
    for (let j = 0; j < d; j++) out[off + j] = x.data[off + j];
    for (let r = 0; r < e.right.length; r++) {
      let c = 0;
      for (let j = 0; j < d; j++) c += e.right[r][j] * (x.data[off + j] - e.mean[j]);
      for (let j = 0; j < d; j++) out[off + j] -= c * e.left[r][j];
    }
  }
  return { rows: x.rows, width: d, data: out };
}

/** How an anchor was found from data, recorded in the manifest beside it. */
export interface Provenance {
  method: 'mean-diff' | 'leace';
  samples: number;
  /** sha256 of the data file and of the labels file, as `sha256:<hex>`. */
  dataHash: string;
  labelsHash: string;
  classes: string[];
  /** Rows per example, when the probe pooled positions ('example') or used each position ('position'). */
  rows: 'example' | 'position';
}

/** A manifest's eraser must be well formed before anything inserts it. */
export function checkEraser(e: Eraser, where: string): void {
  const d = Array.isArray(e?.mean) ? e.mean.length : -1;
  const vectors = (v: unknown): boolean => Array.isArray(v) && v.length > 0 && v.every((r) => Array.isArray(r) && r.length === d && r.every(Number.isFinite));
  if (d <= 0 || !e.mean.every(Number.isFinite) || !vectors(e.left) || !vectors(e.right) || e.left.length !== e.right.length) {
    throw new UsageError(`${where}: "eraser" needs "mean" (D numbers) and "left", "right" (equal lists of D-number rows)`);
  }
}
