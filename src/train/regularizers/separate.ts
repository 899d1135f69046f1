/**
 * Separate: for each sample, the sum over other samples j of
 * ((cos(z, z_j) + 1) / 2)^p. With p = 100 only near neighbours count, which
 * spreads points over the sphere. Pairs with cos ~ 1 are duplicates (the batch
 * is drawn with replacement) and are ignored.
 */
import type * as TF from '@tensorflow/tfjs-core';
import { tf } from '../engine.js';

export const DUPLICATE_COSINE = 0.9999;

export function separateTerms(z: TF.Tensor2D, power = 100): TF.Tensor1D {
  const unit = tf.div(z, tf.add(tf.norm(z, 'euclidean', 1, true), 1e-12));
  const cos = tf.matMul(unit, unit, false, true);
  // Built from the values, not the tensor, so no gradient flows through the comparison.
  const cosValues = cos.dataSync();
  const notDuplicate = tf.tensor2d(Float32Array.from(cosValues, (c) => (c < DUPLICATE_COSINE ? 1 : 0)), cos.shape as [number, number]);
  const closeness = tf.pow(tf.div(tf.add(cos, 1), 2), power);
  return tf.sum(tf.mul(closeness, notDuplicate), 1);
}
