/**
 * The IR as the op registry's GraphLookup (src/ops/lookup.ts): def-use across
 * nested graphs (a node whose subgraph reads a value counts as a reader),
 * constants from initializers and Constant nodes alike, inferred types.
 */
import { constantNodeValue, tensorValues, type GraphLookup } from './lookup.js';
import type { IrModel } from '../ir/model.js';
import { isDefaultDomain } from '../onnx/graph.js';
import { DataType } from '../onnx/types.js';

export function lookupOf(ir: IrModel): GraphLookup {
  const graph = ir.graph;
  return {
    producer: (name) => graph.producer(name),
    uses: (name) => graph.consumers(name),
    constant(name) {
      const init = graph.initializer(name);
      if (init) return graph.isInput(name) ? undefined : tensorValues(init);
      const p = graph.producer(name);
      return p?.opType === 'Constant' && isDefaultDomain(p.domain) ? constantNodeValue(p) : undefined;
    },
    weight(name) {
      const t = graph.constantTensor(name);
      if (t) return { dims: t.dims.map(Number), dataType: t.dataType };
      // A QDQ model's weight: DequantizeLinear of stored codes is a constant too (weights/nbits.ts edits its codes).
      const dq = graph.producer(name);
      const codes = dq?.opType === 'DequantizeLinear' && isDefaultDomain(dq.domain) ? graph.constantTensor(dq.input[0]) : undefined;
      return codes ? { dims: codes.dims.map(Number), dataType: DataType.FLOAT } : undefined;
    },
    type: (name) => ir.types.get(name),
    opset: (domain) => ir.opset(domain),
    isOutput: (name) => graph.isOutput(name),
  };
}
