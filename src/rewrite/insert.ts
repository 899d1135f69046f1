/**
 * Splices a subgraph in after a tensor so that everything which read the
 * tensor now reads the subgraph's result.
 *
 * When a node produces the tensor, that node's output is renamed and the
 * subgraph writes the original name: every consumer, nested subgraphs and the
 * graph output included, then sees the new value without being touched, and
 * output names stay what deployed callers expect. A graph input or
 * initializer cannot be renamed, so its readers (in nested graphs too) are
 * rewired instead.
 */
import type { Graph } from '../ir/graph.js';
import type { ValueType } from '../ir/types.js';
import { makeValueInfo } from '../onnx/graph.js';
import type { SubgraphBuilder } from './builder.js';

export interface Splice {
  /** Tensor the subgraph reads: the intact value. */
  input: string;
  /** Tensor the subgraph writes. */
  output: string;
}

export function insertAfter(graph: Graph, tensor: string, type: ValueType, b: SubgraphBuilder, build: (splice: Splice) => void): Splice {
  const producer = graph.producer(tensor);
  let splice: Splice;
  if (producer) {
    splice = { input: b.name('input'), output: tensor };
    build(splice);
    graph.renameOutput(producer, tensor, splice.input);
    if (type.elemType !== undefined) graph.addValueInfo([makeValueInfo(splice.input, type.elemType, type.shape)]);
    graph.insertNodes(graph.nodes.indexOf(producer) + 1, b.nodes);
  } else {
    splice = { input: tensor, output: b.name('output') };
    build(splice);
    graph.redirectUses(tensor, splice.output);
    graph.insertNodes(0, b.nodes);
  }
  const root = graph.root;
  if (root !== graph) {
    // In an If branch or a Loop body: a strength input (and its default) belongs to the main graph, which the caller feeds.
    const inputs = new Set(b.inputs.map((v) => v.name));
    graph.addInitializers(b.initializers.filter((t) => !inputs.has(t.name)));
    root.addInitializers(b.initializers.filter((t) => inputs.has(t.name)));
    root.addInputs(b.inputs);
    return splice;
  }
  // Below IR version 4 every initializer must also be a graph input.
  const asInputs = b.initializerInputs();
  graph.addInitializers(b.initializers);
  graph.addInputs([...b.inputs, ...asInputs]);
  return splice;
}
