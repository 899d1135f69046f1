/**
 * Anchor (angular): 1 - z.a for each sample labelled with the concept,
 * averaged over the labelled samples only (sum l (1 - z.a) / (sum l + 1e-8)):
 * pulls the rare labelled examples onto the anchor direction.
 */
import { LABEL_EPSILON, type Regularizer } from './term.js';

export function anchor(direction: number[]): Regularizer {
  return ({ z, rows, k, red }, grad, weight) => {
    let count = 0;
    for (let r = 0; r < rows; r++) count += red[r];
    const denom = count + LABEL_EPSILON;
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      if (red[r] === 0) continue;
      let dot = 0;
      for (let j = 0; j < k; j++) dot += z[r * k + j] * direction[j];
      sum += red[r] * (1 - dot);
      for (let j = 0; j < k; j++) grad[r * k + j] -= (weight * red[r] * direction[j]) / denom;
    }
    return sum / denom;
  };
}
