/**
 * Every regularizer is a per-sample term; a loss applies it to all samples or
 * only to those with a label, and averages over the samples it applies to.
 */
import type * as TF from '@tensorflow/tfjs-core';
import { tf } from '../engine.js';

export function meanOver(terms: TF.Tensor1D, mask?: TF.Tensor1D): TF.Scalar {
  if (!mask) return tf.mean(terms);
  return tf.div(tf.sum(tf.mul(terms, mask)), tf.maximum(tf.sum(mask), 1));
}

/** cos(z_i, a) for each row of z. */
export function cosineTo(z: TF.Tensor2D, a: number[]): TF.Tensor1D {
  const dir = tf.tensor1d(a);
  const dots = tf.sum(tf.mul(z, dir), 1);
  return tf.div(dots, tf.mul(tf.add(tf.norm(z, 'euclidean', 1), 1e-12), tf.norm(dir))) as TF.Tensor1D;
}

export function dimsMask(width: number, dims: number[], inside: boolean): TF.Tensor1D {
  return tf.tensor1d(Array.from({ length: width }, (_, i) => (dims.includes(i) === inside ? 1 : 0)));
}
