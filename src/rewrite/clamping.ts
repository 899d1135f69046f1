/**
 * Clamping: the component along the anchor is set to exactly S.
 * - subspace: z' = z + (S - z Q) Q^T (every basis coefficient becomes S);
 * - reserved dims: z'_i = S.
 */
import type { SubgraphBuilder } from './builder.js';
import type { Intervention } from './intervention.js';
import { coefficients, combineAlong, indicator } from './projection.js';

export function buildClamping(b: SubgraphBuilder, z: string, out: string, iv: Intervention, width: number): void {
  const strength = b.strength(iv.strength, iv.strengthInput, iv.strengthInputOptional);
  if (iv.target.kind === 'dims') {
    const e = indicator(b, width, iv.target.dims);
    const keep = b.op('Sub', 'keep', [b.constant('ones', [width], new Array<number>(width).fill(1)), e]);
    const kept = b.op('Mul', 'kept', [z, keep]);
    b.op('Add', 'clamp', [kept, b.op('Mul', 'value', [e, strength])], [], out);
    return;
  }
  const s = coefficients(b, z, iv.target.basis);
  combineAlong(b, z, b.op('Sub', 'shortfall', [strength, s]), iv.target.basis, 1, out);
}
