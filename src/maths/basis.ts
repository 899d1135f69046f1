/**
 * Directions given by the user become an orthonormal basis of the subspace
 * they span (modified Gram-Schmidt), so projecting onto the basis removes
 * exactly that subspace.
 */
import { UsageError } from '../errors.js';

export function normalize(v: number[], label = 'direction'): number[] {
  const norm = Math.hypot(...v);
  if (!(norm > 0) || !Number.isFinite(norm)) throw new UsageError(`${label} has zero (or non-finite) norm`);
  return v.map((x) => x / norm);
}

export function orthonormalize(directions: number[][]): number[][] {
  const basis: number[][] = [];
  directions.forEach((d, i) => {
    const label = directions.length > 1 ? `direction ${i + 1}` : 'direction';
    let v = normalize(d, label);
    for (const b of basis) {
      const dot = v.reduce((s, x, j) => s + x * b[j], 0);
      v = v.map((x, j) => x - dot * b[j]);
    }
    const residual = Math.hypot(...v);
    if (residual < 1e-6) throw new UsageError(`${label} is a combination of the directions before it`);
    basis.push(v.map((x) => x / residual));
  });
  return basis;
}
