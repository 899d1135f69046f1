/**
 * L2-regularised binary logistic regression, the linear probe:
 * minimise (1/n) sum_i log(1 + exp(-s_i (w.x_i + b))) + (l2/2) |w|^2 with
 * s_i = +1 for label 1 and -1 for label 0; the bias is not penalised.
 * Callers standardise the features first so one l2 suits every tensor; the
 * standardisation can be folded into the weights (x_j - m_j) s_j w_j =
 * x_j (s_j w_j) - m_j s_j w_j, so the rows are read as they are, never
 * copied, through the kernels of rows.ts.
 */
import type { Features } from '../maths/features.js';
import { minimize } from './lbfgs.js';
import { plainRows, type Rows } from './rows.js';

export interface LogisticModel {
  weights: Float64Array;
  bias: number;
}

/** Standardisation: (x - mean) · inverseStd, feature by feature. */
export interface Scaling {
  mean: Float64Array;
  inverseStd: Float64Array;
}

export function fitLogistic(x: Features, labels: ArrayLike<number>, l2: number): LogisticModel {
  return fitLogisticRows(
    plainRows(x),
    Array.from({ length: x.rows }, (_, i) => i),
    labels,
    l2,
  );
}

/**
 * The model for rows idx of `rows` (label labels[k] for row idx[k]), on the
 * features standardised by `scaling`: weights and bias are the standardised
 * features' (as if fitted on the standardised copy).
 */
export function fitLogisticRows(rows: Rows, idx: ArrayLike<number>, labels: ArrayLike<number>, l2: number, scaling?: Scaling): LogisticModel {
  const d = rows.width;
  const n = idx.length;
  const v = new Float64Array(d);
  const sum = new Float64Array(d);
  const objective = (theta: Float64Array, grad: Float64Array): number => {
    const c = rawWeights(theta.subarray(0, d), theta[d], scaling, v);
    rows.setVector(v);
    rows.clearSum();
    let loss = 0;
    let rsum = 0;
    for (let k = 0; k < n; k++) {
      const z = rows.dot(idx[k]) + c;
      const sign = labels[k] === 1 ? 1 : -1;
      const m = sign * z;
      // log(1 + e^-m) without overflow.
      loss += m > 0 ? Math.log1p(Math.exp(-m)) : -m + Math.log1p(Math.exp(m));
      const r = -sign / (1 + Math.exp(m)) / n;
      if (r === 0) continue;
      rows.addRow(idx[k], r);
      rsum += r;
    }
    rows.readSum(sum);
    let penalty = 0;
    for (let j = 0; j < d; j++) {
      const g = scaling ? scaling.inverseStd[j] * (sum[j] - scaling.mean[j] * rsum) : sum[j];
      penalty += theta[j] * theta[j];
      grad[j] = g + l2 * theta[j];
    }
    grad[d] = rsum;
    return loss / n + (l2 / 2) * penalty;
  };
  // Start from the best constant classifier (w = 0, b = the log-odds of the
  // labels): when the classes share a mean, that is already the optimum, and
  // the probe reports 0 exactly instead of drifting along flat directions.
  let positives = 0;
  for (let k = 0; k < n; k++) if (labels[k] === 1) positives++;
  const start = new Float64Array(d + 1);
  if (positives > 0 && positives < n) start[d] = Math.log(positives / (n - positives));
  const { x: theta } = minimize(objective, start, { maxIterations: 300, tolerance: 1e-7 });
  return { weights: theta.subarray(0, d), bias: theta[d] };
}

/** The model in the rows' own coordinates: writes v (w ∘ inverseStd) and returns the bias c = b - v · mean. */
export function rawWeights(w: ArrayLike<number>, b: number, scaling: Scaling | undefined, v: Float64Array): number {
  let c = b;
  for (let j = 0; j < v.length; j++) {
    v[j] = scaling ? w[j] * scaling.inverseStd[j] : w[j];
    if (scaling) c -= v[j] * scaling.mean[j];
  }
  return c;
}

export function decision(model: LogisticModel, x: Features, i: number): number {
  let z = model.bias;
  const off = i * x.width;
  for (let j = 0; j < x.width; j++) z += model.weights[j] * x.data[off + j];
  return z;
}
