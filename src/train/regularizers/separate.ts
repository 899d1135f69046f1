/**
 * Separate: T = (1/B) sum_i sum_j ((1 + c_ij)/2)^p with c_ij = cos(z_i, z_j)
 * and p = 100, so only near neighbours push each other: spreads points over
 * the sphere. Entries with c_ij close to 1 (the sample itself, and duplicates,
 * as the batch is drawn with replacement) are set to 0, as torch.isclose
 * decides it (|c - 1| <= 1e-8 + 1e-5), and carry no gradient.
 */
import type { Regularizer } from './term.js';

export const SEPARATE_POWER = 100;

export function isDuplicateCosine(c: number): boolean {
  return Math.abs(c - 1) <= 1e-8 + 1e-5;
}

/** x^99 by squaring: Math.pow is the slowest part of this term otherwise. */
function pow99(x: number): number {
  const x2 = x * x;
  const x4 = x2 * x2;
  const x8 = x4 * x4;
  const x16 = x8 * x8;
  const x32 = x16 * x16;
  return x32 * x32 * x32 * x2 * x;
}

export function separate(power = SEPARATE_POWER): Regularizer {
  return ({ z, rows, k }, grad, weight) => {
    const norms = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += z[r * k + j] ** 2;
      norms[r] = Math.sqrt(s);
    }
    const floor = Math.pow(0.5, power);
    let total = 0;
    for (let a = 0; a < rows; a++) {
      for (let b = a; b < rows; b++) {
        let dot = 0;
        for (let j = 0; j < k; j++) dot += z[a * k + j] * z[b * k + j];
        const na = norms[a];
        const nb = norms[b];
        const c = dot / (na * nb);
        const pairs = a === b ? 1 : 2;
        if (isDuplicateCosine(c)) {
          total += pairs * floor;
          continue;
        }
        const x = (1 + c) / 2;
        const xp = power === SEPARATE_POWER ? pow99(x) : Math.pow(x, power - 1);
        total += pairs * xp * x;
        // dT/dc for both (a,b) and (b,a); c = z_a.z_b / (|z_a||z_b|).
        const g = (weight * pairs * power * xp * 0.5) / rows;
        for (let j = 0; j < k; j++) {
          const za = z[a * k + j];
          const zb = z[b * k + j];
          grad[a * k + j] += g * (zb / (na * nb) - (c * za) / (na * na));
          grad[b * k + j] += g * (za / (na * nb) - (c * zb) / (nb * nb));
        }
      }
    }
    return total / rows;
  };
}
