/**
 * A weight about to be edited, made the property of the node that reads it:
 * ablation, pruning (walk.ts) and folding (fold.ts) all edit weights through
 * this, so a weight shared with another reader is never changed under it.
 */
import type { Graph } from '../ir/graph.js';
import type { NodeProto, TensorProto } from '../onnx/types.js';

/**
 * Makes sure the initializer behind `use` belongs to this node alone: a
 * weight shared with another reader (tied embeddings, say) is copied first, so
 * the other reader keeps the original. Returns the tensor to edit.
 */
export function ownWeight(graph: Graph, node: NodeProto, input: number): TensorProto {
  const name = node.input[input];
  const tensor = graph.initializer(name)!;
  if (graph.uses(name).length <= 1 && !graph.isOutput(name)) return tensor;
  const taken = graph.allNames();
  let copyName = `${name}/sca_edited`;
  for (let k = 1; taken.has(copyName); k++) copyName = `${name}/sca_edited_${k}`;
  const copy: TensorProto = { ...tensor, name: copyName, dims: [...tensor.dims], externalData: [...tensor.externalData] };
  graph.addInitializers([copy]);
  // Below IR version 4 every initializer is also a graph input: so is the copy of one that was.
  const listed = graph.proto.input.find((v) => v.name === name);
  if (listed) graph.addInputs([{ ...listed, name: copyName }]);
  graph.setInput(node, input, copyName);
  return copy;
}
