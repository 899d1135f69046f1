/**
 * A plain-TypeScript forward pass of the colour autoencoder, reading weights
 * from an ONNX file's initializers: the reference that weight edits are
 * checked against, computed without onnxruntime.
 */
import type { Model } from '../../src/onnx/model.js';
import { tensorFloats } from '../../src/onnx/tensor.js';

/** erf by Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7). */
export function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));

interface Layer {
  w: Float32Array;
  b: Float32Array;
  inDim: number;
  outDim: number;
}

function layers(model: Model, side: 'encoder' | 'decoder'): Layer[] {
  const out: Layer[] = [];
  for (let i = 0; ; i++) {
    const w = model.proto.graph!.initializer.find((t) => t.name === `${side}.${i}.weight`);
    const b = model.proto.graph!.initializer.find((t) => t.name === `${side}.${i}.bias`);
    if (!w || !b) return out;
    out.push({ w: tensorFloats(w, model.baseDir), b: tensorFloats(b, model.baseDir), inDim: Number(w.dims[0]), outDim: Number(w.dims[1]) });
  }
}

function apply(stack: Layer[], x: number[]): number[] {
  let h = x;
  stack.forEach((l, li) => {
    const y = Array.from({ length: l.outDim }, (_, j) => l.b[j] + h.reduce((s, v, i) => s + v * l.w[i * l.outDim + j], 0));
    h = li < stack.length - 1 ? y.map(gelu) : y;
  });
  return h;
}

/** Outputs for each colour; `zeroBeforeNorm` zeroes latent dims before the L2 normalisation (the weight ablation). */
export function colorForward(model: Model, colors: number[][], zeroBeforeNorm: number[] = []): number[][] {
  const enc = layers(model, 'encoder');
  const dec = layers(model, 'decoder');
  return colors.map((c) => {
    const raw = apply(enc, c).map((v, i) => (zeroBeforeNorm.includes(i) ? 0 : v));
    const norm = Math.max(Math.hypot(...raw), 1e-12);
    return apply(
      dec,
      raw.map((v) => v / norm),
    ).map((v) => Math.min(Math.max(v, 0), 1));
  });
}
