/** Synthetic labelled activations with a known answer, for probe and erasure tests. */
import { features, type Features } from '../../src/maths/features.js';
import { Random } from '../../src/maths/random.js';

/**
 * n examples in `width` dims: correlated Gaussian noise (a fixed random mixing
 * matrix) plus `shift` times a class-specific offset; labels 0..classes-1 drawn uniformly.
 */
export function plantedConcept(
  n: number,
  width: number,
  classes: number,
  shift: number,
  seed: number,
): { x: Features; labels: Int32Array; offsets: number[][] } {
  const r = new Random(seed);
  const mixing = Array.from({ length: width }, () => Array.from({ length: width }, () => r.normal() / Math.sqrt(width)));
  const offsets = Array.from({ length: classes }, () => Array.from({ length: width }, () => r.normal()));
  const labels = new Int32Array(n);
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    labels[i] = r.int(classes);
    const noise = Array.from({ length: width }, () => r.normal());
    rows.push(Array.from({ length: width }, (_, j) => noise.reduce((s, v, k) => s + v * mixing[j][k], 0) + shift * offsets[labels[i]][j]));
  }
  return { x: features(rows), labels, offsets };
}

export function randomLabels(n: number, seed: number): Int32Array {
  const r = new Random(seed);
  return Int32Array.from({ length: n }, () => r.int(2));
}
