/**
 * inferGraph: walks nodes in topological order from what is known of graph
 * inputs and initializers, fills every output, and records for each value
 * without a shape where inference stopped (the first node, and why).
 */
import type { GraphProto, ModelProto, TensorProto } from '../../onnx/types.js';
import { canonicalDim, type Dim } from './dims.js';
import { knownOfTensor } from './constants.js';
import { inferNode } from './node.js';
import type { InferContext, Known, NodeLike, TensorType } from './types.js';
import { FRESH_PREFIX, compareTypes, declaredType, mergeTypes, type TypeConflict } from './valueInfo.js';
import { domainKey } from '../../onnx/graph.js';

export interface InferStopInfo {
  node: string;
  opType: string;
  reason: string;
}

export interface GraphInference {
  /** Everything known after the walk: inputs and initializers read, and every node output (subgraphs included). */
  values: Map<string, Known>;
  /** For each value without a shape: the first node where inference stopped on the way to it. */
  stops: Map<string, InferStopInfo>;
  /** Fresh symbols a node made up because it could not infer a length (not data-dependent ones such as NonZero's), and where. */
  unresolved: Map<string, InferStopInfo>;
  /** Declared types (options.declared) that contradict inference. */
  conflicts: TypeConflict[];
  /**
   * The stop to report for `name` ("inference stopped at node X (op Y): reason"):
   * where its shape was lost, or where a dim of its shape was made up. Undefined when fully inferred.
   */
  stopFor(name: string): InferStopInfo | undefined;
}

export interface InferOptions {
  /** Declared types (value_info, graph outputs): checked against inference, and filling what it leaves unknown. */
  declared?: (name: string) => TensorType | undefined;
}

export type KnownSource = Map<string, Known> | ((name: string) => Known | undefined);

function canonical(k: Known | undefined): Known | undefined {
  if (!k?.type?.shape) return k;
  const shape = k.type.shape.map(canonicalDim);
  const value = k.value?.map(canonicalDim);
  return value ? { type: { ...k.type, shape }, value } : { type: { ...k.type, shape } };
}

const FRESH = new RegExp(`${FRESH_PREFIX}[A-Za-z_]*\\d+`, 'g');

function freshSymbols(d: Dim): string[] {
  return typeof d === 'string' && d.includes(FRESH_PREFIX) ? (d.match(FRESH) ?? []) : [];
}

function labelOf(node: NodeLike): string {
  return node.name || node.output[0] || '?';
}

export function describeStop(s: InferStopInfo): string {
  return `inference stopped at node '${s.node}' (op ${s.opType}): ${s.reason}`;
}

/**
 * Infers types, shapes and small values through `nodes` (in topological
 * order). `known` gives graph inputs and initializers (a callback, so the
 * caller decides what to read); `opsetOf` the opset imported for a domain.
 */
export function inferGraph(
  nodes: readonly NodeLike[],
  known: KnownSource,
  opsetOf: (domain: string) => number | undefined,
  options: InferOptions = {},
): GraphInference {
  const source = typeof known === 'function' ? known : (name: string) => known.get(name);
  const values = new Map<string, Known>();
  const stops = new Map<string, InferStopInfo>();
  const unresolved = new Map<string, InferStopInfo>();
  const conflicts: TypeConflict[] = [];
  let counter = 0;
  const lookup = (name: string): Known | undefined => {
    if (name === '') return undefined;
    let k = values.get(name);
    if (k === undefined) {
      k = canonical(source(name));
      if (k) values.set(name, k);
    }
    return k;
  };
  const ctx: InferContext = {
    opset: 0,
    fresh: (hint) => `${FRESH_PREFIX}${hint ? `${hint}_` : ''}${counter++}`,
    subgraph: (graph, inputs) => walkBody(graph, inputs),
  };

  const record = (name: string, k: Known): void => {
    const declared = options.declared?.(name);
    if (declared && k.type) conflicts.push(...compareTypes(name, declared, k.type));
    const type = mergeTypes(declared, k.type);
    values.set(name, type === k.type ? k : { ...k, type });
  };

  const walk = (list: readonly NodeLike[]): void => {
    for (const node of list) {
      const domain = domainKey(node.domain);
      const opset = opsetOf(domain) ?? (domain === '' ? undefined : 1);
      const inputs = node.input.map(lookup);
      let result;
      if (opset === undefined) result = { outputs: node.output.map(() => ({})), reason: 'the model imports no opset for the default domain' };
      else {
        ctx.opset = opset;
        result = inferNode(node, inputs, ctx);
      }
      let cause: InferStopInfo | undefined;
      if (result.reason) {
        // Blame the earliest stop upstream when an input was already unknown or partly made up.
        const upstream = node.input.map((n) => (n === '' ? undefined : stopOf(n))).find((s) => s !== undefined);
        cause = upstream ?? { node: labelOf(node), opType: node.opType ?? '?', reason: result.reason };
      }
      node.output.forEach((name, i) => {
        if (name === '') return;
        record(name, result.outputs[i] ?? {});
        if (!cause) return;
        const shape = values.get(name)?.type?.shape;
        if (!shape) stops.set(name, cause);
        else for (const d of shape) for (const sym of freshSymbols(d)) if (!unresolved.has(sym)) unresolved.set(sym, cause);
      });
    }
  };

  const stopOf = (name: string): InferStopInfo | undefined => {
    const stopped = stops.get(name);
    if (stopped) return stopped;
    for (const d of values.get(name)?.type?.shape ?? []) {
      for (const sym of freshSymbols(d)) {
        const s = unresolved.get(sym);
        if (s) return s;
      }
    }
    return undefined;
  };

  const walkBody = (graph: GraphProto, inputs: (Known | undefined)[]): Known[] => {
    graph.input.forEach((vi, i) => {
      if (!vi.name) return;
      const given = inputs[i];
      const type = mergeTypes(declaredType(vi), given?.type);
      values.set(vi.name, type ? { type } : {});
    });
    for (const t of graph.initializer) if (t.name) values.set(t.name, canonical(knownOfTensor(t))!);
    const saved = ctx.opset;
    walk(graph.node);
    ctx.opset = saved;
    return graph.output.map((vi) => {
      const k = vi.name ? values.get(vi.name) : undefined;
      const type = mergeTypes(declaredType(vi), k?.type);
      return type ? { ...k, type } : {};
    });
  };

  walk(nodes);
  return {
    values,
    stops,
    unresolved,
    conflicts,
    stopFor: stopOf,
  };
}

/** Known types of a graph's inputs and initializers; `readSmall` may read small tensors held outside the file's bytes. */
export function graphKnowns(graph: GraphProto, readSmall?: (t: TensorProto) => number[] | undefined): Map<string, Known> {
  const out = new Map<string, Known>();
  for (const vi of graph.input) {
    const type = declaredType(vi);
    if (vi.name && type) out.set(vi.name, { type });
  }
  for (const t of graph.initializer) {
    if (!t.name) continue;
    const k = knownOfTensor(t);
    const v = !k.value && readSmall ? readSmall(t) : undefined;
    out.set(t.name, v ? { ...k, value: v } : k);
  }
  return out;
}

/** value_info and graph outputs of a graph, by name. */
export function graphDeclared(graph: GraphProto): Map<string, TensorType> {
  const out = new Map<string, TensorType>();
  for (const vi of [...graph.valueInfo, ...graph.output]) {
    const t = declaredType(vi);
    if (vi.name && t) out.set(vi.name, t);
  }
  return out;
}

/** Inference over a whole model as read from a file: inputs, initializers, value_info, opsets. */
export function inferModel(model: ModelProto, options: { useValueInfo?: boolean; readSmall?: (t: TensorProto) => number[] | undefined } = {}): GraphInference {
  const graph = model.graph;
  if (!graph) return inferGraph([], new Map(), () => undefined);
  const opsets = new Map(model.opsetImport.map((o) => [domainKey(o.domain), Number(o.version)]));
  const declared = options.useValueInfo === false ? undefined : graphDeclared(graph);
  return inferGraph(graph.node, graphKnowns(graph, options.readSmall), (d) => opsets.get(d), { declared: declared && ((n) => declared.get(n)) });
}
