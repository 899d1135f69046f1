/**
 * The paper's colour autoencoder as plain arrays, with its own forward and
 * backward pass: encoder Linear(3,H) GELU [Linear(H,H) GELU]*(N-1)
 * Linear(H,K), L2 normalisation z = u / max(|u|, 1e-12), decoder mirrored.
 * All parameters live in one Float64Array (weights [in, out] row-major, as
 * the ONNX export stores them, then the bias), so the optimiser updates one
 * vector and a worker thread hands a model back by transferring one buffer.
 * This network is tiny (840 parameters): per-op overhead of a tensor library
 * costs far more than the arithmetic, so loops over typed arrays are faster.
 */
import { gelu, geluDerivativeFromCdf, normalCdf } from './gelu.js';
import { Random } from '../maths/random.js';

export interface Architecture {
  /** Latent dims K. */
  latent: number;
  /** Nonlinear layers N per side. */
  layers: number;
  /** Hidden width H. */
  hidden: number;
}

export interface Layer {
  name: string;
  inDim: number;
  outDim: number;
  /** Offsets of the weight ([inDim, outDim]) and bias in the parameter vector. */
  weight: number;
  bias: number;
}

export interface Network {
  architecture: Architecture;
  encoder: Layer[];
  decoder: Layer[];
  size: number;
}

export const NORM_EPSILON = 1e-12;

export function network(architecture: Architecture): Network {
  let offset = 0;
  const side = (name: string, widths: number[]): Layer[] =>
    widths.slice(1).map((outDim, i) => {
      const inDim = widths[i];
      const layer = { name: `${name}.${i}`, inDim, outDim, weight: offset, bias: offset + inDim * outDim };
      offset += inDim * outDim + outDim;
      return layer;
    });
  const inner = Array.from({ length: architecture.layers }, () => architecture.hidden);
  const encoder = side('encoder', [3, ...inner, architecture.latent]);
  const decoder = side('decoder', [architecture.latent, ...inner, 3]);
  return { architecture, encoder, decoder, size: offset };
}

/** PyTorch's default Linear init: weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), from a seeded generator. */
export function initialParameters(net: Network, random: Random): Float64Array {
  const params = new Float64Array(net.size);
  for (const layer of [...net.encoder, ...net.decoder]) {
    const bound = 1 / Math.sqrt(layer.inDim);
    for (let i = 0; i < layer.inDim * layer.outDim + layer.outDim; i++) params[layer.weight + i] = (random.next() * 2 - 1) * bound;
  }
  return params;
}

/** What one side's forward pass keeps for its backward pass: each layer's input, pre-activation and Phi(pre-activation). */
export interface StackCache {
  inputs: Float64Array[];
  pre: Float64Array[];
  cdf: Float64Array[];
}

/** y = x W + b for `rows` samples; W is [inDim, outDim] at `w` in params. Plain loops over locals, which V8 compiles tightly. */
function linearForward(params: Float64Array, w: number, b: number, inDim: number, outDim: number, x: Float64Array, rows: number): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    const yo = r * outDim;
    const xo = r * inDim;
    for (let o = 0; o < outDim; o++) {
      let s = params[b + o];
      for (let i = 0; i < inDim; i++) s += x[xo + i] * params[w + i * outDim + o];
      y[yo + o] = s;
    }
  }
  return y;
}

/** Accumulates dW = x^T g and db = sum g into grads; returns g W^T. */
function linearBackward(
  params: Float64Array,
  grads: Float64Array,
  w: number,
  b: number,
  inDim: number,
  outDim: number,
  x: Float64Array,
  g: Float64Array,
  rows: number,
): Float64Array {
  const gx = new Float64Array(rows * inDim);
  for (let r = 0; r < rows; r++) {
    const go = r * outDim;
    const xo = r * inDim;
    for (let o = 0; o < outDim; o++) grads[b + o] += g[go + o];
    for (let i = 0; i < inDim; i++) {
      const v = x[xo + i];
      const wi = w + i * outDim;
      let s = 0;
      for (let o = 0; o < outDim; o++) {
        const gv = g[go + o];
        grads[wi + o] += v * gv;
        s += params[wi + o] * gv;
      }
      gx[xo + i] = s;
    }
  }
  return gx;
}

/** Runs a stack of layers on `rows` samples; GELU after every layer but the last. */
export function forwardStack(params: Float64Array, layers: Layer[], input: Float64Array, rows: number, cache?: StackCache): Float64Array {
  let h = input;
  for (let li = 0; li < layers.length; li++) {
    const l = layers[li];
    const y = linearForward(params, l.weight, l.bias, l.inDim, l.outDim, h, rows);
    cache?.inputs.push(h);
    cache?.pre.push(y);
    if (li < layers.length - 1) {
      const a = new Float64Array(y.length);
      if (cache) {
        // x Phi(x) equals gelu(x) exactly (halving is exact), and Phi is kept so the backward pass need not call erf again.
        const cdf = new Float64Array(y.length);
        for (let k = 0; k < y.length; k++) {
          cdf[k] = normalCdf(y[k]);
          a[k] = y[k] * cdf[k];
        }
        cache.cdf.push(cdf);
      } else for (let k = 0; k < y.length; k++) a[k] = gelu(y[k]);
      h = a;
    } else h = y;
  }
  return h;
}

/**
 * Accumulates the parameter gradients of one stack into `grads` from the
 * gradient of its output; returns the gradient of its input.
 */
export function backwardStack(
  params: Float64Array,
  grads: Float64Array,
  layers: Layer[],
  cache: StackCache,
  gradOut: Float64Array,
  rows: number,
): Float64Array {
  let g = gradOut;
  for (let li = layers.length - 1; li >= 0; li--) {
    const l = layers[li];
    if (li < layers.length - 1) {
      const pre = cache.pre[li];
      const cdf = cache.cdf[li];
      const d = new Float64Array(g.length);
      for (let k = 0; k < g.length; k++) d[k] = g[k] * geluDerivativeFromCdf(pre[k], cdf[k]);
      g = d;
    }
    g = linearBackward(params, grads, l.weight, l.bias, l.inDim, l.outDim, cache.inputs[li], g, rows);
  }
  return g;
}

/** Row-wise z = u / max(|u|, eps); returns z and each row's divisor. */
export function normalizeRows(u: Float64Array, rows: number, k: number): { z: Float64Array; norms: Float64Array } {
  const z = new Float64Array(u.length);
  const norms = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += u[r * k + j] ** 2;
    const n = Math.max(Math.sqrt(s), NORM_EPSILON);
    norms[r] = n;
    for (let j = 0; j < k; j++) z[r * k + j] = u[r * k + j] / n;
  }
  return { z, norms };
}

/** Gradient through the normalisation: (g - z (z.g)) / |u| where |u| > eps, g / eps where it was clamped. */
export function normalizeBackward(z: Float64Array, norms: Float64Array, gz: Float64Array, rows: number, k: number): Float64Array {
  const gu = new Float64Array(gz.length);
  for (let r = 0; r < rows; r++) {
    const n = norms[r];
    if (n === NORM_EPSILON) {
      for (let j = 0; j < k; j++) gu[r * k + j] = gz[r * k + j] / n;
      continue;
    }
    let dot = 0;
    for (let j = 0; j < k; j++) dot += z[r * k + j] * gz[r * k + j];
    for (let j = 0; j < k; j++) gu[r * k + j] = (gz[r * k + j] - z[r * k + j] * dot) / n;
  }
  return gu;
}

/**
 * How an evaluation changes the latent: none, the paper's suppression,
 * ablation of reserved dims, or the follow-up's two edits that send red to
 * the fallback direction -e_d (encoder edits only, the decoder still reads
 * the dims): reflect negates the encoder's rows and biases of the dims
 * (u_d -> -u_d), redirect zeroes the rows and sets the biases to `bias`
 * (u_d -> bias; the authors use -1).
 */
export type LatentEdit =
  | { kind: 'none' }
  | { kind: 'suppress'; direction: number[] }
  | { kind: 'ablate'; dims: number[] }
  | { kind: 'reflect'; dims: number[] }
  | { kind: 'redirect'; dims: number[]; bias: number };

/**
 * Inference on a list of colours (flattened [n, 3]): the decoder output,
 * unclamped, and the latent z. Suppression follows the authors' code: z' =
 * z - 1[z.a > 0] (z.a) a on the normalised z, not renormalised. Ablation
 * zeroes the reserved dims before the norm (as zeroing the encoder's row and
 * bias does) and the decoder never reads them.
 */
export function infer(net: Network, params: Float64Array, colors: Float64Array, edit: LatentEdit = { kind: 'none' }): { out: Float64Array; z: Float64Array } {
  const rows = colors.length / 3;
  const k = net.architecture.latent;
  const u = forwardStack(params, net.encoder, colors, rows);
  if (edit.kind === 'ablate') for (let r = 0; r < rows; r++) for (const d of edit.dims) u[r * k + d] = 0;
  if (edit.kind === 'reflect') for (let r = 0; r < rows; r++) for (const d of edit.dims) u[r * k + d] = -u[r * k + d];
  if (edit.kind === 'redirect') for (let r = 0; r < rows; r++) for (const d of edit.dims) u[r * k + d] = edit.bias;
  const { z } = normalizeRows(u, rows, k);
  let zd = z;
  if (edit.kind === 'suppress') {
    zd = Float64Array.from(z);
    const a = edit.direction;
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += zd[r * k + j] * a[j];
      if (s > 0) for (let j = 0; j < k; j++) zd[r * k + j] -= s * a[j];
    }
  }
  return { out: forwardStack(params, net.decoder, zd, rows), z };
}
