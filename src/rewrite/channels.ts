/**
 * Zeroing or deleting entries of one axis of an N-d weight (rows of a Gemm,
 * output or input channels of a Conv kernel, entries of a bias or a
 * BatchNorm parameter), touching only the affected slices: weights can hold
 * hundreds of millions of values.
 */
import { UsageError } from '../errors.js';
import type { Model } from '../onnx/model.js';
import { weightView, type WeightView } from '../weights/view.js';
import type { TensorProto } from '../onnx/types.js';

/** Indices on `axis`; with `range`, only within [start, end) of axis 0 (a grouped Conv's group of rows). */
export interface AxisSlices {
  axis: number;
  indices: number[];
  range?: [number, number];
}

function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** `view`: how the weight is encoded, when not as plain floats (a MatMulNBits weight's blocks). */
export function editAxis(model: Model, t: TensorProto, slices: AxisSlices[], mode: 'zero' | 'prune', view: WeightView = weightView(t, model.baseDir)): void {
  const dims = view.dims;
  for (const s of slices) {
    if (s.axis >= dims.length) throw new UsageError(`weight '${t.name}' has shape [${dims.join(', ')}], with no axis ${s.axis} to edit`);
    for (const i of s.indices) {
      if (i >= dims[s.axis]) throw new UsageError(`dim ${i} is out of range for weight '${t.name}' (axis ${s.axis} of size ${dims[s.axis]})`);
    }
  }
  const values = view.read();
  if (mode === 'zero') {
    for (const s of slices) {
      const outer = product(dims.slice(0, s.axis));
      const len = dims[s.axis];
      const inner = product(dims.slice(s.axis + 1));
      const [o0, o1] = s.range && s.axis === 1 ? s.range : [0, outer];
      for (let o = o0; o < o1; o++) for (const i of s.indices) values.fill(0, (o * len + i) * inner, (o * len + i + 1) * inner);
    }
    view.write(values);
    return;
  }
  if (slices.length !== 1 || slices[0].range) throw new UsageError(`cannot prune weight '${t.name}': its channels are split into groups`);
  const { axis, indices } = slices[0];
  const outer = product(dims.slice(0, axis));
  const len = dims[axis];
  const inner = product(dims.slice(axis + 1));
  const drop = new Set(indices);
  const keptLen = len - drop.size;
  const out = new Float32Array(outer * keptLen * inner);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < len; i++) {
      if (drop.has(i)) continue;
      const from = (o * len + i) * inner;
      out.set(values.subarray(from, from + inner), at);
      at += inner;
    }
  }
  const newDims = [...dims];
  newDims[axis] = keptLen;
  view.write(out, newDims);
}
