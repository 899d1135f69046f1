/** Small builders for inference tests: typed inputs, int64 constants, one-node runs. */
import { attrInt, attrInts, node } from '../../../src/onnx/build.js';
import { AttributeType, DataType, type AttributeProto, type NodeProto, type TensorProto } from '../../../src/onnx/types.js';
import { inferNode } from '../../../src/ir/infer/node.js';
import { attrTensor, int64Tensor } from '../../../scripts/torchlike.js';
import type { Dim, Known, NodeResult } from '../../../src/ir/infer/types.js';

export { attrInt, attrInts, node };
export { attrTensor, int64Tensor };

export const f32 = (shape?: Dim[]): Known => ({ type: shape ? { elemType: DataType.FLOAT, shape } : { elemType: DataType.FLOAT } });
export const i64 = (value: Dim[], shape: number[] = [value.length]): Known => ({ type: { elemType: DataType.INT64, shape }, value });
export const typed = (elemType: number, shape: Dim[]): Known => ({ type: { elemType, shape } });

export function floatTensor(name: string, values: number[], dims: number[] = [values.length]): TensorProto {
  return { ...int64Tensor(name, [], dims), dataType: DataType.FLOAT, rawData: new Uint8Array(Float32Array.from(values).buffer) };
}

export function attrString(name: string, s: string): AttributeProto {
  return { name, type: AttributeType.STRING, s: new TextEncoder().encode(s), floats: [], ints: [], strings: [], tensors: [], graphs: [] };
}

/** A Constant node holding int64 values. */
export function constInts(out: string, values: number[], dims: number[] = [values.length]): NodeProto {
  return node('Constant', [], [out], [attrTensor('value', int64Tensor(out, values, dims))]);
}

/** Runs one node's rule; inputs named i0, i1, ... ('' for a missing optional input given as undefined). */
export function run(
  op: string,
  inputs: (Known | undefined)[],
  attrs: AttributeProto[] = [],
  o: { opset?: number; domain?: string; outputs?: number } = {},
): NodeResult {
  const n = node(
    op,
    inputs.map((k, i) => (k === undefined ? '' : `i${i}`)),
    Array.from({ length: o.outputs ?? 1 }, (_, i) => `o${i}`),
    attrs,
  );
  n.domain = o.domain ?? '';
  let counter = 0;
  return inferNode(n, inputs, { opset: o.opset ?? 17, fresh: () => `unk__${counter++}` });
}

/** Output shapes of one node run, failing the test with the reason when a shape is missing. */
export function shapes(r: NodeResult): (Dim[] | undefined)[] {
  if (r.reason) throw new Error(r.reason);
  return r.outputs.map((k) => k.type?.shape);
}

export function shape(r: NodeResult): Dim[] | undefined {
  return shapes(r)[0];
}
