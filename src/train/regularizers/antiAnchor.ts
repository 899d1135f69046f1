/**
 * Anti-anchor (hemisphere form, exp. 2.9.1): batch mean of max(0, z.a') with
 * a' = -a, i.e. max(0, -z_0) for red at e0: keeps everything out of the
 * hemisphere opposite the anchor.
 */
import type { Regularizer } from './term.js';

export function antiAnchor(opposite: number[]): Regularizer {
  return ({ z, rows, k }, grad, weight) => {
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let j = 0; j < k; j++) dot += z[r * k + j] * opposite[j];
      if (dot <= 0) continue;
      sum += dot;
      for (let j = 0; j < k; j++) grad[r * k + j] += (weight * opposite[j]) / rows;
    }
    return sum / rows;
  };
}
