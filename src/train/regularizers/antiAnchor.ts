/** Anti-anchor (hemisphere form): max(cos(z, a'), 0). Pushes samples out of the half-space facing a'. */
import type * as TF from '@tensorflow/tfjs-core';
import { tf } from '../engine.js';
import { cosineTo } from './select.js';

export function antiAnchorTerms(z: TF.Tensor2D, antiAnchor: number[]): TF.Tensor1D {
  return tf.relu(cosineTo(z, antiAnchor));
}
