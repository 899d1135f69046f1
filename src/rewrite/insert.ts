/**
 * Splices a subgraph in after a tensor so that everything which read the
 * tensor now reads the subgraph's result.
 *
 * When a node produces the tensor, that node's output is renamed and the
 * subgraph writes the original name: every consumer, nested subgraphs and the
 * graph output included, then sees the new value without being touched, and
 * output names stay what deployed callers expect. A graph input or
 * initializer cannot be renamed, so its readers are rewired instead.
 */
import { makeValueInfo, producerOf, renameReads, tensorInfo } from '../onnx/graph.js';
import type { GraphProto } from '../onnx/types.js';
import type { SubgraphBuilder } from './builder.js';

export interface Splice {
  /** Tensor the subgraph reads: the intact value. */
  input: string;
  /** Tensor the subgraph writes. */
  output: string;
}

export function insertAfter(graph: GraphProto, tensor: string, b: SubgraphBuilder, build: (splice: Splice) => void): Splice {
  const producer = producerOf(graph, tensor);
  let splice: Splice;
  let at: number;
  if (producer) {
    splice = { input: b.name('input'), output: tensor };
    const info = tensorInfo(graph, tensor);
    producer.output = producer.output.map((o) => (o === tensor ? splice.input : o));
    if (info.elemType !== undefined) graph.valueInfo.push(makeValueInfo(splice.input, info.elemType, info.shape));
    at = graph.node.indexOf(producer) + 1;
    build(splice);
  } else {
    splice = { input: tensor, output: b.name('output') };
    renameReads(graph.node, tensor, splice.output);
    at = 0;
    build(splice);
  }
  graph.node.splice(at, 0, ...b.nodes);
  // Below IR version 4 every initializer must also be a graph input.
  const asInputs = b.initializerInputs();
  graph.initializer.push(...b.initializers);
  graph.input.push(...b.inputs, ...asInputs);
  return splice;
}
