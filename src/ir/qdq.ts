/**
 * QDQ-quantized activations: a float tensor that reaches its readers only
 * through a QuantizeLinear -> DequantizeLinear pair, as onnxruntime's static
 * quantizer writes them. The value those readers compute with is the
 * DequantizeLinear output, clipped to the quantizer's calibrated range (and,
 * where the quantizer removed a Relu, clipped at zero): an edit made before
 * the QuantizeLinear is clipped in the same way and mostly lost.
 */
import type { NodeProto } from '../onnx/types.js';
import type { Graph } from './graph.js';
import { isDefaultDomain } from '../onnx/graph.js';

export type QuantizedPath =
  /** Every reader goes through one quantize/dequantize pair. */
  | { kind: 'pair'; quantize: NodeProto; dequantize: NodeProto; value: string }
  /** Quantized, but not as one pair feeding float readers: `why` says what is in the way. */
  | { kind: 'mixed'; quantize: NodeProto; why: string }
  | { kind: 'none' };

// onnxruntime's quantizer writes the pair in com.microsoft for int4/int16 types.
const isQdqDomain = (n: NodeProto) => isDefaultDomain(n.domain) || n.domain === 'com.microsoft';
export const isQuantize = (n: NodeProto) => n.opType === 'QuantizeLinear' && isQdqDomain(n);
export const isDequantize = (n: NodeProto) => n.opType === 'DequantizeLinear' && isQdqDomain(n);

const nodeName = (n: NodeProto) => `${n.opType} '${n.name ?? ''}'`;

/** How `tensor` reaches its readers, when one of them quantizes it. */
export function quantizedPath(graph: Graph, tensor: string): QuantizedPath {
  const uses = graph.uses(tensor);
  const quantizers = uses.filter((u) => u.index === 0 && isQuantize(u.node)).map((u) => u.node);
  if (quantizers.length === 0) return { kind: 'none' };
  const q = quantizers[0];
  if (quantizers.length > 1) return { kind: 'mixed', quantize: q, why: `it is quantized by ${quantizers.length} QuantizeLinear nodes` };
  const direct = uses.filter((u) => u.node !== q);
  if (direct.length) return { kind: 'mixed', quantize: q, why: `${nodeName(direct[0].node)} also reads it directly, unquantized` };
  if (graph.isOutput(tensor)) return { kind: 'mixed', quantize: q, why: 'it is also a graph output, read unquantized' };
  const qOut = q.output[0];
  if (graph.isOutput(qOut)) return { kind: 'mixed', quantize: q, why: `its quantized form '${qOut}' is a graph output` };
  const qUses = graph.uses(qOut);
  const integerReader = qUses.find((u) => !(u.index === 0 && isDequantize(u.node)));
  if (integerReader)
    return { kind: 'mixed', quantize: q, why: `${nodeName(integerReader.node)} reads its quantized (integer) form '${qOut}', which a float edit cannot reach` };
  const dqs = [...new Set(qUses.map((u) => u.node))];
  if (dqs.length !== 1) return { kind: 'mixed', quantize: q, why: `its quantized form is dequantized by ${dqs.length} DequantizeLinear nodes` };
  return { kind: 'pair', quantize: q, dequantize: dqs[0], value: dqs[0].output[0] };
}
