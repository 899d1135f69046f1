/**
 * Anchoring purity: how much of a concept the anchor actually holds. For a
 * vector v that separates the concept (the class-mean difference, or a
 * probe's weight), the share of |v|² inside the anchored subspace,
 * |Qᵀv|² / |v|² for an orthonormal basis Q: 1 when the concept lives
 * entirely where it was anchored, about k/D for a k-dim anchor that
 * caught nothing.
 */
import type { Anchor } from '../anchors/manifest.js';
import { orthonormalize } from '../maths/basis.js';
import { classMeans, dot, features, type Features } from '../maths/features.js';
import { probeDirection } from './probe.js';

export interface Purity {
  concept: string;
  /** Share of the class-mean difference in the anchored subspace. */
  meanDiff: number;
  /** Share of the probe's weight (in the tensor's coordinates) in the anchored subspace. */
  probeWeight: number;
}

/** Orthonormal rows spanning what the anchor marks: its direction, dims, or the span its eraser removes. */
export function anchorBasis(anchor: Anchor, width: number): number[][] {
  if (anchor.direction) return orthonormalize([anchor.direction]);
  if (anchor.dims) return anchor.dims.map((d) => Array.from({ length: width }, (_, i) => (i === d ? 1 : 0)));
  return orthonormalize(anchor.eraser!.left);
}

export function anchoredShare(v: ArrayLike<number>, basis: number[][]): number {
  const total = dot(v, v);
  if (!(total > 0)) return 0;
  return basis.reduce((s, q) => s + dot(q, v) ** 2, 0) / total;
}

/** Purity for two classes (label 1 is the concept). */
export function purity(x: Features, labels: ArrayLike<number>, anchor: Anchor): Purity {
  const basis = anchorBasis(anchor, x.width);
  const [m0, m1] = classMeans(x, labels, 2);
  const diff = m1.map((v, j) => v - m0[j]);
  return { concept: anchor.concept, meanDiff: anchoredShare(diff, basis), probeWeight: anchoredShare(probeDirection(x, labels), basis) };
}

/** Purity on a tap's rows (as compare gathers them), intact and patched, for `sca compare`'s JSON and report. */
export interface TapPurity {
  concept: string;
  intact: { meanDiff: number; probeWeight: number };
  patched: { meanDiff: number; probeWeight: number };
}

export function tapPurity(intact: number[][], patched: number[][], labels: ArrayLike<number>, anchor: Anchor): TapPurity {
  const of = (rows: number[][]) => {
    const p = purity(features(rows), labels, anchor);
    return { meanDiff: p.meanDiff, probeWeight: p.probeWeight };
  };
  return { concept: anchor.concept, intact: of(intact), patched: of(patched) };
}
