/**
 * Suppression (SCA.md, "Interventions").
 * - one direction a, the half projection (the paper's): z' = z - g(s) s a
 *   with s = z.a and the bounded falloff gate
 *   g(s) = b ((clamp(s,0,1) - t) / (1 - t))^p for s > t, else 0; the
 *   defaults t=0, b=1, p=0 give plain half-space projection;
 * - one direction a, the full projection: z' = z - b s a (linear);
 * - a subspace with orthonormal basis Q: z' = z - b (z Q) Q^T;
 * - reserved dims: z'_i = (1 - b) z_i.
 */
import type { SubgraphBuilder } from './builder.js';
import { DEFAULT_FALLOFF, type Falloff, type Intervention } from './intervention.js';
import { coefficients, combineAlong, scaleVector } from './projection.js';

export function buildSuppression(b: SubgraphBuilder, z: string, out: string, iv: Intervention, width: number): void {
  const strength = b.strength(iv.falloff?.strength ?? iv.strength, iv.strengthInput, iv.strengthInputOptional);
  if (iv.target.kind === 'dims') {
    b.op('Mul', 'suppress', [z, scaleVector(b, width, iv.target.dims, strength, -1)], [], out);
    return;
  }
  const basis = iv.target.basis;
  const s = coefficients(b, z, basis);
  if (basis.length > 1 || iv.projection === 'full') {
    combineAlong(b, z, b.op('Mul', 'scaled', [s, strength]), basis, -1, out);
    return;
  }
  const gate = falloffGate(b, s, iv.falloff ?? DEFAULT_FALLOFF, strength);
  combineAlong(b, z, b.op('Mul', 'gated', [gate, s]), basis, -1, out);
}

/** g(s) * b for alignment s of shape [..., 1]. */
function falloffGate(b: SubgraphBuilder, s: string, falloff: Falloff, strength: string): string {
  const t = b.scalar('threshold', falloff.threshold);
  let g: string;
  if (falloff.power === 0) {
    // x^0 is 1 for every x > t: the gate is a step.
    g = b.castToTarget('gate', b.op('Greater', 'above', [s, t]));
  } else {
    const shifted = b.op('Div', 'ramp', [b.op('Sub', 'shifted', [s, t]), b.scalar('width', 1 - falloff.threshold)]);
    const ramp = b.clampUnit('ramp', shifted);
    g = b.op('Pow', 'gate', [ramp, b.scalar('power', falloff.power)]);
  }
  return b.op('Mul', 'gate_strength', [g, strength]);
}
