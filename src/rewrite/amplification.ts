/**
 * Amplification: the component along the anchor is scaled by 1 + S.
 * - subspace: z' = z + S (z Q) Q^T;
 * - reserved dims: z'_i = (1 + S) z_i.
 */
import type { SubgraphBuilder } from './builder.js';
import type { Intervention } from './intervention.js';
import { coefficients, combineAlong, scaleVector } from './projection.js';

export function buildAmplification(b: SubgraphBuilder, z: string, out: string, iv: Intervention, width: number): void {
  const strength = b.strength(iv.strength, iv.strengthInput, iv.strengthInputOptional);
  if (iv.target.kind === 'dims') {
    b.op('Mul', 'amplify', [z, scaleVector(b, width, iv.target.dims, strength, 1)], [], out);
    return;
  }
  const s = coefficients(b, z, iv.target.basis);
  combineAlong(b, z, b.op('Mul', 'scaled', [s, strength]), iv.target.basis, 1, out);
}
