/**
 * A concept's direction found from labelled activations, for models not
 * trained with SCA:
 * - mean-diff: the normalised difference of the two class means;
 * - LEACE (Belrose et al. 2023, "LEACE: Perfect linear concept erasure in
 *   closed form"): with Σ the covariance of x and Σ_xz its cross-covariance
 *   with the one-hot labels, whiten with W = Σ^(-1/2), take the orthogonal
 *   projection P onto the column space of W Σ_xz, and erase with
 *   x -> x - W⁺ P W (x - μ). After it no linear classifier does better
 *   than a constant one (the class-conditional means are equal).
 *
 * The eigendecomposition is ml-matrix's (the mljs project's port of JAMA's
 * symmetric tridiagonal QL, maintained and typed, no native code). Only the
 * D x D covariance and its eigenvectors are ever dense: W and W⁺ are applied
 * to the k label columns through the eigenvectors, and the eraser is kept
 * as two rank-r factors (r ≤ classes - 1), so its nodes and its manifest
 * entry grow with D, not D².
 */
import { EigenvalueDecomposition, Matrix, SingularValueDecomposition } from 'ml-matrix';
import { UsageError } from '../errors.js';
import { classMeans, columnMeans, norm, type Features } from '../maths/features.js';

/**
 * x' = x - Σ_r (right_r · (x - mean)) left_r; with L (columns left_r) and R
 * (rows right_r) that is x - L R (x - μ), and L R = W⁺ P W.
 */
export interface Eraser {
  mean: number[];
  left: number[][];
  right: number[][];
}

export function meanDifference(x: Features, labels: ArrayLike<number>, classes: number): number[] {
  if (classes !== 2) throw new UsageError(`--method mean-diff needs two classes; the labels have ${classes} (use --method leace)`);
  const [m0, m1] = classMeans(x, labels, 2);
  const d = Array.from(m1, (v, j) => v - m0[j]);
  const n = norm(d);
  if (!(n > 0)) throw new UsageError('--method mean-diff: the two classes have the same mean; there is no direction');
  return d.map((v) => v / n);
}

/** The D x D covariance (divided by n) of the rows, as a flat row-major array. */
export function covariance(x: Features, mean: Float64Array): Float64Array {
  const d = x.width;
  const sigma = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let i = 0; i < x.rows; i++) {
    const off = i * d;
    for (let j = 0; j < d; j++) centred[j] = x.data[off + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ca = centred[a];
      if (ca === 0) continue;
      const rowOff = a * d;
      for (let b = a; b < d; b++) sigma[rowOff + b] += ca * centred[b];
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = sigma[a * d + b] / x.rows;
      sigma[a * d + b] = v;
      sigma[b * d + a] = v;
    }
  }
  return sigma;
}

const FLOAT32_EPSILON = 2 ** -23;

export function fitLeace(x: Features, labels: ArrayLike<number>, classes: number): Eraser {
  const d = x.width;
  const n = x.rows;
  if (classes < 2) throw new UsageError('--labels: every example has the same label; there is nothing to erase');
  const mean = columnMeans(x);
  const sigma = covariance(x, mean);

  // Σ_xz = (1/n) Σ_i (x_i - μ)(z_i - z̄)^T with one-hot z.
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < n; i++) counts[labels[i]]++;
  const means = classMeans(x, labels, classes);
  const sigmaXz = Array.from({ length: classes }, (_, c) => Array.from(means[c], (v, j) => ((v - mean[j]) * counts[c]) / n));

  const evd = new EigenvalueDecomposition(Matrix.from1DArray(d, d, sigma), { assumeSymmetric: true });
  const lambda = evd.realEigenvalues;
  const vectors = evd.eigenvectorMatrix;
  const largest = Math.max(...lambda);
  // torch.linalg.pinv's cut-off for float32, the precision activations come in:
  // directions with less variance than float32 resolves are treated as
  // absent, not whitened up by 1/sqrt(noise).
  const cutoff = largest * d * FLOAT32_EPSILON;
  const kept: { v: number[]; root: number }[] = [];
  lambda.forEach((l, j) => {
    if (l > cutoff) kept.push({ v: vectors.getColumn(j), root: Math.sqrt(l) });
  });
  // W^p y = Σ_j v_j λ_j^(p/2) (v_j · y), for p = -1 (W) and p = 1 (W⁺).
  const applyPower = (y: ArrayLike<number>, power: -1 | 1): number[] => {
    const out = new Array<number>(d).fill(0);
    for (const { v, root } of kept) {
      let c = 0;
      for (let j = 0; j < d; j++) c += v[j] * y[j];
      c *= power === 1 ? root : 1 / root;
      for (let j = 0; j < d; j++) out[j] += c * v[j];
    }
    return out;
  };

  const whitened = sigmaXz.map((col) => applyPower(col, -1));
  const svd = new SingularValueDecomposition(new Matrix(whitened).transpose(), {
    computeLeftSingularVectors: true,
    computeRightSingularVectors: false,
    autoTranspose: true,
  });
  const s = svd.diagonal;
  const top = Math.max(...s);
  const u = svd.leftSingularVectors;
  const left: number[][] = [];
  const right: number[][] = [];
  s.forEach((value, r) => {
    if (!(value > Math.max(1e-12, top * 1e-6))) return;
    const ur = u.getColumn(r);
    left.push(applyPower(ur, 1));
    right.push(applyPower(ur, -1));
  });
  if (left.length === 0) throw new UsageError('--method leace: the class means are equal; there is no linear trace of the concept to erase');
  return { mean: Array.from(mean), left, right };
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
