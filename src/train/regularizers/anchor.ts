/** Anchor (angular): 1 - cos(z, a). Pulls labelled samples onto the anchor direction. */
import type * as TF from '@tensorflow/tfjs-core';
import { tf } from '../engine.js';
import { cosineTo } from './select.js';

export function anchorTerms(z: TF.Tensor2D, anchor: number[]): TF.Tensor1D {
  return tf.sub(1, cosineTo(z, anchor));
}
