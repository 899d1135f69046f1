/** Unitarity: (|z| - 1)^2, for models without an explicit normalisation layer. */
import type * as TF from '@tensorflow/tfjs-core';
import { tf } from '../engine.js';

export function unitarityTerms(z: TF.Tensor2D): TF.Tensor1D {
  return tf.square(tf.sub(tf.norm(z, 'euclidean', 1), 1)) as TF.Tensor1D;
}
