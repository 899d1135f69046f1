/**
 * The paper's colour autoencoder in tfjs: encoder Linear(3,H) GELU
 * [Linear(H,H) GELU]*(N-1) Linear(H,K), L2 normalisation onto the unit sphere,
 * decoder mirrored, outputs clamped to [0,1] at inference only.
 */
import type * as TF from '@tensorflow/tfjs-core';
import { tf } from './engine.js';
import { Random } from './random.js';

import type { Architecture } from './defaults.js';

export { PAPER_ARCHITECTURE, type Architecture } from './defaults.js';

export interface Linear {
  name: string;
  /** [in, out] */
  weight: TF.Variable;
  bias: TF.Variable;
}

export interface Autoencoder {
  architecture: Architecture;
  encoder: Linear[];
  decoder: Linear[];
}

/** Layer widths of one side: 3 -> H -> ... -> K for the encoder. */
function widths(a: Architecture, side: 'encoder' | 'decoder'): number[] {
  const inner = Array.from({ length: a.layers }, () => a.hidden);
  return side === 'encoder' ? [3, ...inner, a.latent] : [a.latent, ...inner, 3];
}

/** PyTorch's default Linear init, U(-1/sqrt(in), 1/sqrt(in)), from a seeded generator. */
export function createAutoencoder(architecture: Architecture, seed: number): Autoencoder {
  const random = new Random(seed);
  const side = (name: 'encoder' | 'decoder'): Linear[] => {
    const w = widths(architecture, name);
    return w.slice(1).map((out, i) => {
      const fanIn = w[i];
      const bound = 1 / Math.sqrt(fanIn);
      const uniform = (n: number) => Float32Array.from({ length: n }, () => (random.next() * 2 - 1) * bound);
      return {
        name: `${name}.${i}`,
        weight: tf.variable(tf.tensor2d(uniform(fanIn * out), [fanIn, out])),
        bias: tf.variable(tf.tensor1d(uniform(out))),
      };
    });
  };
  return { architecture, encoder: side('encoder'), decoder: side('decoder') };
}

export function variables(model: Autoencoder): TF.Variable[] {
  return [...model.encoder, ...model.decoder].flatMap((l) => [l.weight, l.bias]);
}

export function disposeAutoencoder(model: Autoencoder): void {
  for (const v of variables(model)) v.dispose();
}

/** Exact GELU: x * (1 + erf(x / sqrt 2)) / 2, as torch.nn.GELU() computes it. */
export function gelu(x: TF.Tensor): TF.Tensor {
  return tf.mul(tf.mul(x, tf.add(tf.erf(tf.div(x, Math.SQRT2)), 1)), 0.5);
}

function mlp(layers: Linear[], x: TF.Tensor2D): TF.Tensor2D {
  let h = x;
  layers.forEach((l, i) => {
    const y = tf.add(tf.matMul(h, l.weight), l.bias) as TF.Tensor2D;
    h = i < layers.length - 1 ? (gelu(y) as TF.Tensor2D) : y;
  });
  return h;
}

export const NORM_EPSILON = 1e-12;

export interface Forward {
  /** The normalised latent (the anchored tensor). */
  z: TF.Tensor2D;
  /** Reconstruction before the inference clamp. */
  out: TF.Tensor2D;
}

export function forward(model: Autoencoder, x: TF.Tensor2D, options: { zeroDims?: number[] } = {}): Forward {
  const raw = mlp(model.encoder, x);
  let z = tf.div(raw, tf.maximum(tf.norm(raw, 'euclidean', 1, true), NORM_EPSILON)) as TF.Tensor2D;
  if (options.zeroDims?.length) {
    const keep = Array.from({ length: model.architecture.latent }, (_, i) => (options.zeroDims!.includes(i) ? 0 : 1));
    z = tf.mul(z, tf.tensor1d(keep)) as TF.Tensor2D;
  }
  return { z, out: mlp(model.decoder, z) };
}

/** Inference: the clamped reconstruction, as plain numbers. */
export function reconstruct(model: Autoencoder, colors: number[][], options: { zeroDims?: number[] } = {}): Float32Array {
  return tf.tidy(() => tf.clipByValue(forward(model, tf.tensor2d(colors), options).out, 0, 1).dataSync() as Float32Array);
}
