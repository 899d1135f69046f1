/**
 * Axis-aligned terms.
 * - anti-subspace: sum of z_i^2 over the reserved dims; keeps unlabelled data out of them.
 * - subspace: sum of z_i^2 over every dim outside a kept set; its mirror.
 */
import type * as TF from '@tensorflow/tfjs-core';
import { tf } from '../engine.js';
import { dimsMask } from './select.js';

export function antiSubspaceTerms(z: TF.Tensor2D, reserved: number[]): TF.Tensor1D {
  return tf.sum(tf.mul(tf.square(z), dimsMask(z.shape[1], reserved, true)), 1);
}

export function subspaceTerms(z: TF.Tensor2D, kept: number[]): TF.Tensor1D {
  return tf.sum(tf.mul(tf.square(z), dimsMask(z.shape[1], kept, false)), 1);
}
