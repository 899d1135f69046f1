/**
 * Pieces shared by the interventions: the coefficients of z on a basis
 * (s = z Q), adding a combination of basis vectors back (z + c Q^T), and the
 * indicator vector of reserved dims. All act on the last axis, so they work
 * for tensors of any rank through MatMul's and Mul's broadcasting.
 */
import type { SubgraphBuilder } from './builder.js';

/** Q as a [D, k] constant: column j is basis vector j. */
function basisColumns(b: SubgraphBuilder, basis: number[][]): string {
  const width = basis[0].length;
  const values: number[] = [];
  for (let i = 0; i < width; i++) for (const v of basis) values.push(v[i]);
  return b.constant('basis', [width, basis.length], values);
}

/** Q^T as a [k, D] constant. */
function basisRows(b: SubgraphBuilder, basis: number[][]): string {
  return b.constant('basis_t', [basis.length, basis[0].length], basis.flat());
}

/** s = z Q: the component of z along each basis vector, shape [..., k]. */
export function coefficients(b: SubgraphBuilder, z: string, basis: number[][]): string {
  return b.op('MatMul', 'coeff', [z, basisColumns(b, basis)]);
}

/** out = z + c Q^T (or z - c Q^T), where c has shape [..., k]. */
export function combineAlong(b: SubgraphBuilder, z: string, c: string, basis: number[][], sign: 1 | -1, out: string): void {
  const delta = b.op('MatMul', 'delta', [c, basisRows(b, basis)]);
  b.op(sign > 0 ? 'Add' : 'Sub', sign > 0 ? 'add' : 'sub', [z, delta], [], out);
}

/** e with e_i = 1 for i in dims, else 0, as a [D] constant. */
export function indicator(b: SubgraphBuilder, width: number, dims: number[]): string {
  const e = new Array<number>(width).fill(0);
  for (const d of dims) e[d] = 1;
  return b.constant('dims_mask', [width], e);
}

/** The [D] vector 1 + sign * strength * e, computed in-graph so the strength can be a run-time input. */
export function scaleVector(b: SubgraphBuilder, width: number, dims: number[], strength: string, sign: 1 | -1): string {
  const scaled = b.op('Mul', 'dims_strength', [strength, indicator(b, width, dims)]);
  const ones = b.constant('ones', [width], new Array<number>(width).fill(1));
  return b.op(sign > 0 ? 'Add' : 'Sub', 'dims_scale', [ones, scaled]);
}
