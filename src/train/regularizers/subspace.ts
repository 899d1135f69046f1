/**
 * Axis-aligned terms.
 * - anti-subspace: batch mean of sum z_i^2 over the reserved dims (red
 *   samples included): keeps data out of the dims reserved for the concept.
 * - subspace: sum z_i^2 over dims outside a kept set, averaged over the
 *   samples with a "vibrant" label (as the anchor averages over its labels):
 *   keeps vibrant colours inside the kept dims.
 */
import { LABEL_EPSILON, type Regularizer } from './term.js';

export function antiSubspace(reserved: number[]): Regularizer {
  return ({ z, rows, k }, grad, weight) => {
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      for (const d of reserved) {
        const v = z[r * k + d];
        sum += v * v;
        grad[r * k + d] += (weight * 2 * v) / rows;
      }
    }
    return sum / rows;
  };
}

export function subspace(kept: number[]): Regularizer {
  return ({ z, rows, k, vibrant }, grad, weight) => {
    let count = 0;
    for (let r = 0; r < rows; r++) count += vibrant[r];
    const denom = count + LABEL_EPSILON;
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      if (vibrant[r] === 0) continue;
      for (let j = 0; j < k; j++) {
        if (kept.includes(j)) continue;
        const v = z[r * k + j];
        sum += vibrant[r] * v * v;
        grad[r * k + j] += (weight * vibrant[r] * 2 * v) / denom;
      }
    }
    return sum / denom;
  };
}
