/** inferNode: one node's output types and small values from what is known of its inputs. */
import { ruleFor } from './registry.js';
import { InferStop, type InferContext, type Known, type NodeLike, type NodeResult } from './types.js';
import { qualifiedOp } from '../../onnx/graph.js';

const opLabel = (node: NodeLike): string => qualifiedOp(node);

function fill(node: NodeLike, outs: Known[] | undefined): Known[] {
  return node.output.map((_, i) => outs?.[i] ?? {});
}

/**
 * Infers the outputs of `node`. Never throws: where it cannot infer an
 * output's type or shape, `reason` says why (and what it did know is kept).
 */
export function inferNode(node: NodeLike, inputs: (Known | undefined)[], ctx: InferContext): NodeResult {
  const rule = ruleFor(node.domain, node.opType);
  if (!rule) return { outputs: fill(node, undefined), reason: `no shape rule for op ${opLabel(node)}` };
  try {
    const outputs = fill(node, rule(node, inputs, ctx));
    const missing = outputs.findIndex((k, i) => node.output[i] !== '' && !k.type?.shape);
    return missing < 0 ? { outputs } : { outputs, reason: `output ${missing} ('${node.output[missing]}') has no inferred shape` };
  } catch (e) {
    if (e instanceof InferStop) return { outputs: fill(node, e.partial), reason: e.message };
    // A rule tripping over a malformed node must not stop the walk.
    return { outputs: fill(node, undefined), reason: `${opLabel(node)} rule failed: ${(e as Error).message}` };
  }
}
