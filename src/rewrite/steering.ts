/**
 * Steering: add S times the anchor direction, z' = z + S a; for reserved
 * dims, z'_i = z_i + S.
 */
import { UsageError } from '../errors.js';
import type { SubgraphBuilder } from './builder.js';
import type { Intervention } from './intervention.js';
import { indicator } from './projection.js';

export function buildSteering(b: SubgraphBuilder, z: string, out: string, iv: Intervention, width: number): void {
  const strength = b.strength(iv.strength, iv.strengthInput, iv.strengthInputOptional);
  let unit: string;
  if (iv.target.kind === 'dims') {
    unit = indicator(b, width, iv.target.dims);
  } else {
    if (iv.target.basis.length !== 1) throw new UsageError('steer needs a single direction, not a subspace');
    unit = b.constant('direction', [width], iv.target.basis[0]);
  }
  b.op('Add', 'steer', [z, b.op('Mul', 'offset', [unit, strength])], [], out);
}
