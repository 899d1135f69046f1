/**
 * The same SCA loss as src/train (reconstruction plus the paper's
 * regularizers and the follow-up's fallback term), written a second time in
 * tfjs, whose autodiff gives its gradient. Two uses: the tests check the
 * hand-written backward pass against it, and `npm run bench` times a tfjs
 * training loop of the same recipe as the baseline for the plain engine.
 * tfjs computes in float32.
 */
import type * as TF from '@tensorflow/tfjs-core';
import { tf } from './engine.js';
import { network, type Architecture, type Layer, type Network } from '../../src/train/network.js';
import { VIBRANT_DIMS, type TermName } from '../../src/train/presets.js';
import { isDuplicateCosine, SEPARATE_POWER } from '../../src/train/regularizers/separate.js';
import { LABEL_EPSILON } from '../../src/train/regularizers/term.js';
import { anchorDirection, MID_GREY, RED_ANCHOR } from '../../src/train/trainer.js';

export interface TfjsModel {
  net: Network;
  /** Per layer, encoder then decoder: [weight [in, out], bias]. */
  variables: TF.Variable[];
}

export function tfjsModel(architecture: Architecture, params: Float64Array): TfjsModel {
  const net = network(architecture);
  const variables = [...net.encoder, ...net.decoder].flatMap((l) => [
    tf.variable(tf.tensor2d(Float32Array.from(params.subarray(l.weight, l.weight + l.inDim * l.outDim)), [l.inDim, l.outDim])),
    tf.variable(tf.tensor1d(Float32Array.from(params.subarray(l.bias, l.bias + l.outDim)))),
  ]);
  return { net, variables };
}

/** The gradient laid out as the plain engine's parameter vector. */
export function flatGradient(model: TfjsModel, grads: TF.Tensor[]): Float64Array {
  const out = new Float64Array(model.net.size);
  [...model.net.encoder, ...model.net.decoder].forEach((l: Layer, i) => {
    out.set(grads[2 * i].dataSync(), l.weight);
    out.set(grads[2 * i + 1].dataSync(), l.bias);
  });
  return out;
}

const gelu = (x: TF.Tensor): TF.Tensor => tf.mul(tf.mul(x, tf.add(tf.erf(tf.div(x, Math.SQRT2)), 1)), 0.5);

function stack(vars: TF.Variable[], x: TF.Tensor2D): TF.Tensor2D {
  let h: TF.Tensor2D = x;
  for (let i = 0; i < vars.length; i += 2) {
    const y = tf.add(tf.matMul(h, vars[i] as TF.Tensor2D), vars[i + 1]) as TF.Tensor2D;
    h = i < vars.length - 2 ? (gelu(y) as TF.Tensor2D) : y;
  }
  return h;
}

export interface TfjsBatch {
  colors: Float64Array;
  red: Float64Array;
  vibrant: Float64Array;
}

/** The total loss as a scalar; call inside tf.tidy / optimizer.minimize. */
export function tfjsLoss(model: TfjsModel, batch: TfjsBatch, weights: Partial<Record<TermName, number>>, fallback = 0): TF.Scalar {
  const { net, variables } = model;
  const k = net.architecture.latent;
  const rows = batch.red.length;
  const encVars = variables.slice(0, 2 * net.encoder.length);
  const decVars = variables.slice(2 * net.encoder.length);
  const x = tf.tensor2d(Float32Array.from(batch.colors), [rows, 3]);
  const u = stack(encVars, x);
  const z = tf.div(u, tf.maximum(tf.norm(u, 'euclidean', 1, true), 1e-12)) as TF.Tensor2D;
  const out = stack(decVars, z);
  let total = tf.mean(tf.square(tf.sub(out, x))) as TF.Scalar;
  const a = tf.tensor1d(anchorDirection(k));
  const dot = tf.sum(tf.mul(z, a), 1);
  const red = tf.tensor1d(Float32Array.from(batch.red));
  const vibrant = tf.tensor1d(Float32Array.from(batch.vibrant));
  const mask = (dims: number[], inside: boolean) => tf.tensor1d(Array.from({ length: k }, (_, i) => (dims.includes(i) === inside ? 1 : 0)));
  const terms: Record<TermName, () => TF.Scalar> = {
    anchor: () => tf.div(tf.sum(tf.mul(red, tf.sub(1, dot))), tf.add(tf.sum(red), LABEL_EPSILON)),
    antiAnchor: () => tf.mean(tf.relu(tf.neg(dot))),
    antiSubspace: () => tf.mean(tf.sum(tf.mul(tf.square(z), mask([...RED_ANCHOR.dims], true)), 1)),
    subspace: () => tf.div(tf.sum(tf.mul(vibrant, tf.sum(tf.mul(tf.square(z), mask(VIBRANT_DIMS, false)), 1))), tf.add(tf.sum(vibrant), LABEL_EPSILON)),
    separate: () => {
      const norms = tf.norm(z, 'euclidean', 1, true);
      const c = tf.div(tf.matMul(z, z, false, true), tf.matMul(norms, norms, false, true));
      const keep = tf.tensor2d(
        Float32Array.from(c.dataSync(), (v) => (isDuplicateCosine(v) ? 0 : 1)),
        [rows, rows],
      );
      const kept = tf.mul(keep, tf.pow(tf.div(tf.add(c, 1), 2), SEPARATE_POWER));
      const dropped = tf.mul(tf.sub(1, keep), 0.5 ** SEPARATE_POWER);
      return tf.div(tf.sum(tf.add(kept, dropped)), rows);
    },
  };
  for (const [name, w] of Object.entries(weights) as [TermName, number][]) if (w) total = tf.add(total, tf.mul(terms[name](), w));
  if (fallback) {
    const grey = stack(decVars, tf.reshape(tf.neg(a), [1, k]) as TF.Tensor2D);
    total = tf.add(total, tf.mul(tf.mean(tf.square(tf.sub(grey, tf.tensor2d([MID_GREY])))), fallback));
  }
  return total;
}
