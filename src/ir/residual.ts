/**
 * The residual stream of a transformer, found from the graph alone: the
 * chain of Adds r(i+1) = r(i) + branch(r(i)), where the branch (attention or
 * MLP, behind a norm) is computed from r(i) itself, started by the
 * embedding sum (two inputs neither of which depends on the other). Given one
 * tensor of the stream, the chain is followed both ways.
 */
import type { Graph } from './graph.js';

export interface ResidualStep {
  /** The residual tensor this Add (or fused skip norm's output 3) writes; '' when a last fused norm leaves it unnamed. */
  tensor: string;
  /** The input carrying the stream from before (absent for the embedding sum, which starts it). */
  from?: string;
  /** What is added to the stream here: the branch output, or both embeddings for the sum that starts it. */
  writes: string[];
}

/** True when `tensor` is computed (through any number of nodes) from `ancestor`. */
function dependsOn(graph: Graph, tensor: string, ancestor: string, limit = 20_000): boolean {
  const seen = new Set<string>();
  const stack = [tensor];
  while (stack.length && seen.size < limit) {
    const t = stack.pop()!;
    if (t === ancestor) return true;
    if (seen.has(t)) continue;
    seen.add(t);
    const node = graph.producer(t);
    if (node) for (const i of node.input) if (i) stack.push(i);
  }
  return false;
}

function isAdd(graph: Graph, tensor: string): boolean {
  const node = graph.producer(tensor);
  return node?.opType === 'Add' && (node.domain ?? '') === '' && node.input.length === 2;
}

/** The fused norms whose output 3 is the residual sum input + skip (onnxruntime's SkipLayerNormalization family). */
const SKIP_NORMS = new Set(['SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']);

function isSkipSum(graph: Graph, tensor: string): boolean {
  const node = graph.producer(tensor);
  return node !== undefined && SKIP_NORMS.has(node.opType ?? '') && node.output[3] === tensor;
}

/** The step that writes `tensor`: which input is the stream and which is added, or undefined when `tensor` is not a residual sum. */
function stepAt(graph: Graph, tensor: string): ResidualStep | undefined {
  if (!isAdd(graph, tensor) && !isSkipSum(graph, tensor)) return undefined;
  const [a, b] = graph.producer(tensor)!.input;
  if (dependsOn(graph, b, a)) return { tensor, from: a, writes: [b] };
  if (dependsOn(graph, a, b)) return { tensor, from: b, writes: [a] };
  return { tensor, writes: [a, b] };
}

/**
 * The whole chain through `tensor`, first step first; undefined when
 * `tensor` is not written by a residual Add.
 */
export function residualChain(graph: Graph, tensor: string): ResidualStep[] | undefined {
  const here = stepAt(graph, tensor);
  if (!here) return undefined;
  const steps = [here];
  // Backwards: the stream input of each step is the step before, while it is itself an Add.
  for (let s = here; s.from && (isAdd(graph, s.from) || isSkipSum(graph, s.from));) {
    const prev = stepAt(graph, s.from);
    if (!prev) break;
    steps.unshift(prev);
    s = prev;
  }
  // Forwards: an Add reading the stream adds something to it (a branch computed from it, or anything else);
  // a norm reads the stream through ReduceMean and Sub, never an Add.
  for (let t = tensor; ;) {
    const add = graph.consumers(t).find((n) => n.opType === 'Add' && (n.domain ?? '') === '' && n.input.length === 2 && n.input.includes(t));
    // A fused skip norm adds its other input to the stream (output 3 holds the sum; the last one may leave it unnamed).
    const skip = add ? undefined : graph.consumers(t).find((n) => SKIP_NORMS.has(n.opType ?? '') && (n.input[0] === t || n.input[1] === t));
    const next = add ?? skip;
    const sum = next?.output[add ? 0 : 3] ?? '';
    if (!next || (sum && steps.some((s) => s.tensor === sum))) break;
    const other = next.input[0] === t ? next.input[1] : next.input[0];
    steps.push({ tensor: sum, from: t, writes: [other] });
    if (!sum) break;
    t = sum;
  }
  return steps;
}

/** The residual tensors of the stream through `tensor`, in order: the embedding lookup it starts from (when no sum starts it), then each Add's output. */
export function residualTensors(chain: ResidualStep[]): string[] {
  // A last fused norm may keep its sum unnamed: it is written to, but is no tensor to patch.
  return [...(chain[0].from ? [chain[0].from] : []), ...chain.map((s) => s.tensor).filter(Boolean)];
}
