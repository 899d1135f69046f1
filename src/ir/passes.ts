/**
 * Passes over the IR: a topological order, validation of the invariants a
 * rewrite must keep (every read is defined, every value has one producer,
 * no cycle), and cleanup of what a rewrite itself orphaned. Cleanup never
 * touches anything the input model had and the rewrite did not touch: an
 * unused initializer in the input file stays, because output must equal input
 * wherever the rewrite did not act.
 */
import { UsageError } from '../errors.js';
import type { NodeProto } from '../onnx/types.js';
import type { Graph } from './graph.js';

/**
 * Nodes in an order where every node comes after the producers of its inputs,
 * including values its subgraphs read from this scope (Kahn's algorithm,
 * stable: ties keep file order). Throws on a cycle.
 */
export function topologicalOrder(graph: Graph): NodeProto[] {
  const nodes = graph.nodes;
  const position = new Map(nodes.map((n, i) => [n, i]));
  const pending = nodes.map(() => 0);
  const readers: number[][] = nodes.map(() => []);
  nodes.forEach((node, i) => {
    const inputs = new Set(readsOf(graph, node));
    for (const name of inputs) {
      const p = graph.producer(name);
      const pi = p ? position.get(p)! : undefined;
      if (pi !== undefined && pi !== i) {
        pending[i]++;
        readers[pi].push(i);
      }
    }
  });
  const ready = nodes.map((_, i) => i).filter((i) => pending[i] === 0);
  const order: NodeProto[] = [];
  for (let k = 0; k < ready.length; k++) {
    order.push(nodes[ready[k]]);
    for (const r of readers[ready[k]]) if (--pending[r] === 0) ready.push(r);
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.find((_, i) => pending[i] > 0)!;
    throw new UsageError(`graph '${graph.name}' has a cycle through node '${stuck.name || stuck.output[0]}'`);
  }
  return order;
}

/** Names a node reads: its inputs and what its subgraphs read from the enclosing scope. */
export function readsOf(graph: Graph, node: NodeProto): string[] {
  const names = node.input.filter(Boolean);
  for (const sub of graph.subgraphs(node)) names.push(...sub.freeNames());
  return names;
}

/** Sorts the node list topologically in place, when it is not already. */
export function sortTopologically(graph: Graph): void {
  const order = topologicalOrder(graph);
  if (order.every((n, i) => n === graph.nodes[i])) return;
  graph.nodes.splice(0, graph.nodes.length, ...order);
  graph.invalidate();
}

/** Problems that would make the graph invalid ONNX; empty when it is sound. */
export function validate(graph: Graph, outer: ReadonlySet<string> = new Set()): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const define = (name: string, by: string): void => {
    if (!name) return;
    const before = seen.get(name);
    if (before) problems.push(`'${name}' is defined twice (${before} and ${by})`);
    else seen.set(name, by);
  };
  for (const v of graph.proto.input) if (v.name && !graph.initializer(v.name)) define(v.name, 'graph input');
  for (const t of graph.proto.initializer) define(t.name ?? '', 'initializer');
  for (const n of graph.nodes) for (const o of n.output) define(o, `node '${n.name || n.output[0]}'`);
  const visible = (name: string) => graph.defines(name) || outer.has(name);
  for (const n of graph.nodes) {
    for (const i of n.input) if (i && !visible(i)) problems.push(`node '${n.name || n.output[0]}' reads '${i}', which nothing defines`);
    const scope = new Set([...outer, ...graph.valueNames()]);
    for (const sub of graph.subgraphs(n)) problems.push(...validate(sub, scope).map((p) => `in a subgraph of '${n.name || n.output[0]}': ${p}`));
  }
  for (const o of graph.proto.output) if (o.name && !visible(o.name)) problems.push(`graph output '${o.name}' is not defined`);
  try {
    topologicalOrder(graph);
  } catch (err) {
    problems.push((err as Error).message);
  }
  return problems;
}

/**
 * Removes the given initializers and value_info entries when nothing reads
 * them any more (e.g. a weight that was copied before an edit and is now
 * unused). Only names the rewrite hands in are candidates.
 */
export function removeIfUnused(graph: Graph, names: Iterable<string>): string[] {
  const removed: string[] = [];
  for (const name of new Set(names)) {
    if (graph.uses(name).length || graph.isOutput(name) || graph.isInput(name) || graph.producer(name)) continue;
    const before = graph.proto.initializer.length;
    graph.proto.initializer = graph.proto.initializer.filter((t) => t.name !== name);
    graph.proto.valueInfo = graph.proto.valueInfo.filter((v) => v.name !== name);
    if (graph.proto.initializer.length !== before) removed.push(name);
    graph.invalidate();
  }
  return removed;
}
