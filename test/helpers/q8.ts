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
import { DataType, type NodeProto, type TensorProto } from '../../src/onnx/types.js';

export function quantizeDynamic(model: Model): number {
  return replaceLinears(model, 'q8', (n, w, values, p) => {
    const graph = model.proto.graph!;
    const scale = Math.max(...values.map(Math.abs)) / 127 || 1;
    const codes = Int8Array.from(values, (v) => Math.max(-127, Math.min(127, Math.round(v / scale))));
    graph.initializer.push(
      rawTensor(`${p}/w`, DataType.INT8, w.dims.map(Number), new Uint8Array(codes.buffer)),
      rawTensor(`${p}/wzp`, DataType.INT8, [], new Uint8Array(1)),
      makeTensor(`${p}/ws`, DataType.FLOAT, [], [scale]),
    );
    const out = n.output[0];
    const scaled = n.input[2] ? `${p}/scaled` : out;
    return [
      node('DynamicQuantizeLinear', [n.input[0]], [`${p}/xq`, `${p}/xs`, `${p}/xzp`], [], `${p}/DynamicQuantizeLinear`),
      node('MatMulInteger', [`${p}/xq`, `${p}/w`, `${p}/xzp`, `${p}/wzp`], [`${p}/int`], [], `${p}/MatMulInteger`),
      node('Cast', [`${p}/int`], [`${p}/float`], [attrInt('to', DataType.FLOAT)], `${p}/Cast`),
      node('Mul', [`${p}/xs`, `${p}/ws`], [`${p}/scale`], [], `${p}/ScaleMul`),
      node('Mul', [`${p}/float`, `${p}/scale`], [scaled], [], `${p}/Mul`),
      ...(n.input[2] ? [node('Add', [scaled, n.input[2]], [out], [], `${p}/Add`)] : []),
    ];
  });
}

/**
 * A 4-bit ("q4", transformers.js's model_q4.onnx) variant, as onnxruntime's
 * MatMul4BitsQuantizer writes it: every Gemm or MatMul with a stored [K, N]
 * float weight becomes com.microsoft MatMulNBits (bits 4, block 32) with
 * asymmetric blocks over [min(w, 0), max(w, 0)], zero points packed two to a
 * byte, low nibble first; a Gemm's bias becomes an Add after it.
 */
export function quantizeNBits(model: Model, blockSize = 32): number {
  if (!model.proto.opsetImport.some((o) => o.domain === 'com.microsoft')) model.proto.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  return replaceLinears(model, 'q4', (n, w, values, p) => {
    const graph = model.proto.graph!;
    const [K, N] = w.dims.map(Number);
    const blocks = Math.ceil(K / blockSize);
    const codes = new Uint8Array(N * blocks * (blockSize / 2));
    const scales = new Float32Array(N * blocks);
    const zps = new Uint8Array(N * Math.ceil(blocks / 2));
    for (let c = 0; c < N; c++)
      for (let b = 0; b < blocks; b++) {
        const ks = Array.from({ length: Math.min(blockSize, K - b * blockSize) }, (_, j) => b * blockSize + j);
        const v = ks.map((k) => values[k * N + c]);
        const [lo, hi] = [Math.min(0, ...v), Math.max(0, ...v)];
        const scale = (hi - lo) / 15 || 1;
        const zp = Math.min(15, Math.max(0, Math.round(-lo / scale)));
        scales[c * blocks + b] = scale;
        zps[c * Math.ceil(blocks / 2) + (b >> 1)] |= zp << ((b & 1) * 4);
        for (let j = 0; j < blockSize; j++) {
          const q = j < v.length ? Math.min(15, Math.max(0, Math.round(v[j] / scale) + zp)) : zp;
          codes[(c * blocks + b) * (blockSize / 2) + (j >> 1)] |= q << ((j & 1) * 4);
        }
      }
    graph.initializer.push(
      rawTensor(`${p}/qweight`, DataType.UINT8, [N, blocks, blockSize / 2], codes),
      makeTensor(`${p}/scales`, DataType.FLOAT, [N * blocks], scales),
      rawTensor(`${p}/qzeros`, DataType.UINT8, [N * Math.ceil(blocks / 2)], zps),
    );
    const out = n.output[0];
    const product = n.input[2] ? `${p}/product` : out;
    const attrs = [attrInt('K', K), attrInt('N', N), attrInt('bits', 4), attrInt('block_size', blockSize)];
    return [
      { ...node('MatMulNBits', [n.input[0], `${p}/qweight`, `${p}/scales`, `${p}/qzeros`], [product], attrs, `${p}/MatMulNBits`), domain: 'com.microsoft' },
      ...(n.input[2] ? [node('Add', [product, n.input[2]], [out], [], `${p}/Add`)] : []),
    ];
  });
}

/**
 * Replaces every Gemm (not transposed) or MatMul whose weight is a stored
 * float [K, N] with the nodes `convert` returns, then drops the float weights
 * no node reads any more; returns how many were replaced.
 */
function replaceLinears(model: Model, prefix: string, convert: (n: NodeProto, w: TensorProto, values: Float32Array, p: string) => NodeProto[]): number {
  const graph = model.proto.graph!;
  const init = (name: string) => graph.initializer.find((t) => t.name === name);
  const nodes: NodeProto[] = [];
  let converted = 0;
  for (const n of graph.node) {
    const w = (n.opType === 'Gemm' || n.opType === 'MatMul') && !n.domain ? init(n.input[1]) : undefined;
    const transposed = n.opType === 'Gemm' && n.attribute.some((a) => (a.name === 'transB' || a.name === 'transA') && Number(a.i) === 1);
    if (!w || w.dims.length !== 2 || transposed || w.dataType !== DataType.FLOAT) nodes.push(n);
    else nodes.push(...convert(n, w, tensorFloats(w, model.baseDir), `${prefix}/${converted++}`));
  }
  graph.node = nodes;
  const read = new Set(nodes.flatMap((x) => x.input));
  graph.initializer = graph.initializer.filter((t) => read.has(t.name!));
  return converted;
}
