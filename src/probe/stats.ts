/**
 * Confidence intervals for a probe's scores, so that "at chance" is a claim
 * with an interval rather than a bare number.
 * - accuracy: the Wilson score interval of a binomial proportion;
 * - AUC: the Mann-Whitney statistic (ties count one half) with the standard
 *   error of Hanley & McNeil (1982).
 */
export interface Estimate {
  value: number;
  low: number;
  high: number;
}

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

export function wilson(successes: number, n: number, z = Z95): Estimate {
  if (n === 0) return { value: NaN, low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { value: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** Area under the ROC curve of `scores` for positives (label 1) against negatives (label 0). */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>, z = Z95): Estimate {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  // Mid-ranks, so tied scores count one half.
  const ranks = new Float64Array(scores.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]] === scores[order[i]]) j++;
    for (let k = i; k <= j; k++) ranks[order[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 1) {
      positives++;
      rankSum += ranks[i];
    }
  }
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return { value: NaN, low: 0, high: 1 };
  const a = (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
  const q1 = a / (2 - a);
  const q2 = (2 * a * a) / (1 + a);
  const variance = (a * (1 - a) + (positives - 1) * (q1 - a * a) + (negatives - 1) * (q2 - a * a)) / (positives * negatives);
  const se = Math.sqrt(Math.max(variance, 0));
  return { value: a, low: Math.max(0, a - z * se), high: Math.min(1, a + z * se) };
}
