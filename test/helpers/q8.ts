/**
 * A dynamic-int8 ("q8", transformers.js's model_quantized.onnx) variant of a
 * float model, made as onnxruntime's quantize_dynamic makes it, from the
 * operator specs: every Gemm or MatMul with a stored [K, N] weight becomes
 * DynamicQuantizeLinear(x) → MatMulInteger(x codes, W codes int8, x zero
 * point, 0) → Cast → Mul(x scale · W scale) → Add(bias), with W quantized
 * symmetric per tensor (scale max|W| / 127).
 */
import { attrInt, node } from '../../src/onnx/build.js';
import type { Model } from '../../src/onnx/model.js';
import { makeTensor, rawTensor, tensorFloats } from '../../src/onnx/tensor.js';
import { DataType, type NodeProto } from '../../src/onnx/types.js';

export function quantizeDynamic(model: Model): number {
  const graph = model.proto.graph!;
  const init = (name: string) => graph.initializer.find((t) => t.name === name);
  const nodes: NodeProto[] = [];
  let converted = 0;
  for (const n of graph.node) {
    const w = (n.opType === 'Gemm' || n.opType === 'MatMul') && !n.domain ? init(n.input[1]) : undefined;
    const transposed = n.opType === 'Gemm' && n.attribute.some((a) => (a.name === 'transB' || a.name === 'transA') && Number(a.i) === 1);
    if (!w || w.dims.length !== 2 || transposed || w.dataType !== DataType.FLOAT) {
      nodes.push(n);
      continue;
    }
    const p = `q8/${converted++}`;
    const values = tensorFloats(w, model.baseDir);
    const scale = Math.max(...values.map(Math.abs)) / 127 || 1;
    const codes = Int8Array.from(values, (v) => Math.max(-127, Math.min(127, Math.round(v / scale))));
    graph.initializer.push(
      rawTensor(`${p}/w`, DataType.INT8, w.dims.map(Number), new Uint8Array(codes.buffer)),
      rawTensor(`${p}/wzp`, DataType.INT8, [], new Uint8Array(1)),
      makeTensor(`${p}/ws`, DataType.FLOAT, [], [scale]),
    );
    const out = n.output[0];
    const scaled = n.input[2] ? `${p}/scaled` : out;
    nodes.push(
      node('DynamicQuantizeLinear', [n.input[0]], [`${p}/xq`, `${p}/xs`, `${p}/xzp`], [], `${p}/DynamicQuantizeLinear`),
      node('MatMulInteger', [`${p}/xq`, `${p}/w`, `${p}/xzp`, `${p}/wzp`], [`${p}/int`], [], `${p}/MatMulInteger`),
      node('Cast', [`${p}/int`], [`${p}/float`], [attrInt('to', DataType.FLOAT)], `${p}/Cast`),
      node('Mul', [`${p}/xs`, `${p}/ws`], [`${p}/scale`], [], `${p}/ScaleMul`),
      node('Mul', [`${p}/float`, `${p}/scale`], [scaled], [], `${p}/Mul`),
      ...(n.input[2] ? [node('Add', [scaled, n.input[2]], [out], [], `${p}/Add`)] : []),
    );
  }
  graph.node = nodes;
  // The float weights that were quantized are no longer read.
  const read = new Set(nodes.flatMap((x) => x.input));
  graph.initializer = graph.initializer.filter((t) => read.has(t.name!));
  return converted;
}
