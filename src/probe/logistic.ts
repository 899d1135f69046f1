/**
 * L2-regularised binary logistic regression, the linear probe:
 * minimise (1/n) sum_i log(1 + exp(-s_i (w.x_i + b))) + (l2/2) |w|^2 with
 * s_i = +1 for label 1 and -1 for label 0; the bias is not penalised.
 * Callers standardise the features first so one l2 suits every tensor.
 */
import type { Features } from '../maths/features.js';
import { minimize } from './lbfgs.js';

export interface LogisticModel {
  weights: Float64Array;
  bias: number;
}

export function fitLogistic(x: Features, labels: ArrayLike<number>, l2: number): LogisticModel {
  const { rows: n, width: d, data } = x;
  const margin = new Float64Array(n);
  const objective = (theta: Float64Array, grad: Float64Array): number => {
    const b = theta[d];
    grad.fill(0);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      let z = b;
      const off = i * d;
      for (let j = 0; j < d; j++) z += theta[j] * data[off + j];
      const sign = labels[i] === 1 ? 1 : -1;
      const m = sign * z;
      // log(1 + e^-m) without overflow.
      loss += m > 0 ? Math.log1p(Math.exp(-m)) : -m + Math.log1p(Math.exp(m));
      margin[i] = -sign / (1 + Math.exp(m));
    }
    for (let i = 0; i < n; i++) {
      const r = margin[i] / n;
      if (r === 0) continue;
      const off = i * d;
      for (let j = 0; j < d; j++) grad[j] += r * data[off + j];
      grad[d] += r;
    }
    let penalty = 0;
    for (let j = 0; j < d; j++) {
      penalty += theta[j] * theta[j];
      grad[j] += l2 * theta[j];
    }
    return loss / n + (l2 / 2) * penalty;
  };
  // Start from the best constant classifier (w = 0, b = the log-odds of the
  // labels): when the classes share a mean, that is already the optimum, and
  // the probe reports 0 exactly instead of drifting along flat directions.
  let positives = 0;
  for (let i = 0; i < n; i++) if (labels[i] === 1) positives++;
  const start = new Float64Array(d + 1);
  if (positives > 0 && positives < n) start[d] = Math.log(positives / (n - positives));
  const { x: theta } = minimize(objective, start, { maxIterations: 300, tolerance: 1e-7 });
  return { weights: theta.subarray(0, d), bias: theta[d] };
}

export function decision(model: LogisticModel, x: Features, i: number): number {
  let z = model.bias;
  const off = i * x.width;
  for (let j = 0; j < x.width; j++) z += model.weights[j] * x.data[off + j];
  return z;
}
