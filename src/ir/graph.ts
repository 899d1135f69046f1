/**
 * The one in-memory graph every rewrite works on: def-use over the decoded
 * protobuf, across nested graphs (If/Loop/Scan bodies).
 *
 * Why an index over the decoded messages rather than a separate object
 * model: the messages carry everything the file had (unknown fields,
 * doc strings, lazily loaded weights), so an untouched graph serialises back
 * to the input bytes with no translation step that could drop something.
 * Rewrites change the graph only through the methods here, which keep the
 * index right; queries are O(1) once the index is built, and a mutation marks
 * it stale so the next query rebuilds it (O(nodes), cheap next to any
 * weight I/O).
 */
import { UsageError, didYouMean } from '../errors.js';
import type { AttributeProto, GraphProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/types.js';
import { tensorsUnderModule } from './names.js';
import { isDefaultDomain } from '../onnx/graph.js';

/** A read of a value: `index` is the input slot, or -1 when a subgraph of `node` reads it from the enclosing scope. */
export interface Use {
  node: NodeProto;
  index: number;
  /** The graph that holds `node`. */
  graph: Graph;
}

interface Index {
  producer: Map<string, NodeProto>;
  uses: Map<string, Use[]>;
  initializers: Map<string, TensorProto>;
  inputs: Set<string>;
  outputs: Set<string>;
  valueInfo: Map<string, ValueInfoProto>;
  subgraphs: Map<NodeProto, Graph[]>;
  /** Names defined in this graph: inputs, initializers, node outputs. */
  defined: Set<string>;
  /** Names this graph reads but does not define (read from the enclosing scope). */
  free: Set<string>;
}

export class Graph {
  private index?: Index;

  constructor(
    readonly proto: GraphProto,
    /** The node whose attribute holds this graph, and the graph holding that node. */
    readonly parent?: { node: NodeProto; graph: Graph },
  ) {}

  get nodes(): NodeProto[] {
    return this.proto.node;
  }

  get name(): string {
    return this.proto.name ?? '';
  }

  /** Marks the index stale; every mutation below calls it, as must code that edits `proto` directly. */
  invalidate(): void {
    this.index = undefined;
    this.parent?.graph.invalidate();
  }

  private get ix(): Index {
    return (this.index ??= this.build());
  }

  private build(): Index {
    const g = this.proto;
    const ix: Index = {
      producer: new Map(),
      uses: new Map(),
      initializers: new Map(),
      inputs: new Set(),
      outputs: new Set(),
      valueInfo: new Map(),
      subgraphs: new Map(),
      defined: new Set(),
      free: new Set(),
    };
    for (const t of g.initializer) if (t.name) ix.initializers.set(t.name, t);
    for (const v of g.input) if (v.name) ix.inputs.add(v.name);
    for (const v of g.output) if (v.name) ix.outputs.add(v.name);
    for (const v of [...g.valueInfo, ...g.output, ...g.input]) if (v.name && v.type) ix.valueInfo.set(v.name, v);
    for (const name of [...ix.inputs, ...ix.initializers.keys()]) ix.defined.add(name);
    for (const node of g.node) for (const o of node.output) if (o) ix.defined.add(o);
    const read = (name: string, use: Use): void => {
      let list = ix.uses.get(name);
      if (!list) ix.uses.set(name, (list = []));
      list.push(use);
      if (!ix.defined.has(name)) ix.free.add(name);
    };
    for (const node of g.node) {
      for (const o of node.output) if (o) ix.producer.set(o, node);
      node.input.forEach((name, index) => name && read(name, { node, index, graph: this }));
      const subs = subgraphsOf(node).map((sg) => new Graph(sg, { node, graph: this }));
      if (subs.length) {
        ix.subgraphs.set(node, subs);
        const outer = new Set<string>();
        for (const sub of subs) for (const name of sub.freeNames()) outer.add(name);
        for (const name of outer) read(name, { node, index: -1, graph: this });
      }
    }
    for (const name of ix.outputs) if (!ix.defined.has(name)) ix.free.add(name);
    return ix;
  }

  /** Names this graph (and its subgraphs) read from the enclosing scope. */
  freeNames(): Set<string> {
    return this.ix.free;
  }

  producer(name: string): NodeProto | undefined {
    return this.ix.producer.get(name);
  }

  /** Reads of `name` in this graph; a node whose subgraph reads it counts once, with index -1. */
  uses(name: string): Use[] {
    return this.ix.uses.get(name) ?? [];
  }

  /** Nodes reading `name`, each once, in graph order. */
  consumers(name: string): NodeProto[] {
    return [...new Set(this.uses(name).map((u) => u.node))];
  }

  initializer(name: string): TensorProto | undefined {
    return this.ix.initializers.get(name);
  }

  /**
   * The tensor behind a constant value: an initializer, or the `value` of a
   * Constant node (torch.onnx writes scalars and shapes as Constant nodes).
   */
  constantTensor(name: string): TensorProto | undefined {
    const init = this.initializer(name);
    if (init) return this.isInput(name) ? undefined : init;
    const node = this.producer(name);
    if (node?.opType !== 'Constant' || !isDefaultDomain(node.domain)) return undefined;
    return node.attribute.find((a) => a.name === 'value')?.t;
  }

  isInput(name: string): boolean {
    return this.ix.inputs.has(name);
  }

  /** A graph input the caller feeds (not one backed by an initializer default). */
  isRequiredInput(name: string): boolean {
    return this.ix.inputs.has(name) && !this.ix.initializers.has(name);
  }

  isOutput(name: string): boolean {
    return this.ix.outputs.has(name);
  }

  valueInfo(name: string): ValueInfoProto | undefined {
    return this.ix.valueInfo.get(name);
  }

  /** Subgraphs held by `node`'s attributes (If branches, Loop/Scan bodies). */
  subgraphs(node: NodeProto): Graph[] {
    return this.ix.subgraphs.get(node) ?? [];
  }

  /** Is `name` a value of this graph (input, initializer or node output)? */
  defines(name: string): boolean {
    return this.ix.defined.has(name);
  }

  /** Every value name this graph defines, in file order of kind. */
  valueNames(): Set<string> {
    return this.ix.defined;
  }

  /** The graph at the top: this one, or the main graph holding it. */
  get root(): Graph {
    return this.parent ? this.parent.graph.root : this;
  }

  /** Graphs nested anywhere below this one (If branches, Loop and Scan bodies) that define `name` themselves. */
  nestedDefining(name: string): Graph[] {
    const found: Graph[] = [];
    for (const node of this.nodes)
      for (const sub of this.subgraphs(node)) {
        if (sub.defines(name)) found.push(sub);
        found.push(...sub.nestedDefining(name));
      }
    return found;
  }

  /** Where this graph sits, for messages: `then_branch of If 'name'` (nested ones joined with ' in '), or `main graph`. */
  scopeLabel(): string {
    if (!this.parent) return 'main graph';
    const { node, graph } = this.parent;
    const attr = node.attribute.find((a) => a.g === this.proto || a.graphs.includes(this.proto));
    const here = `${attr?.name ?? 'body'} of ${node.opType} '${node.name || node.output[0]}'`;
    return graph.parent ? `${here} in ${graph.scopeLabel()}` : here;
  }

  /** Every value name of this graph and the graphs nested in it. */
  valueNamesDeep(): Set<string> {
    const names = new Set(this.valueNames());
    for (const node of this.nodes) for (const sub of this.subgraphs(node)) for (const n of sub.valueNamesDeep()) names.add(n);
    return names;
  }

  /** Throws a one-line error, with close matches, when `name` is not a value of this graph. */
  require(name: string, label = 'model'): void {
    if (this.defines(name)) return;
    // A module path (`blocks.0`, `/blocks.0/attn`) names no tensor, but the user wants one under it.
    const under = tensorsUnderModule(this.valueNames(), name);
    if (under.length) {
      const shown = under
        .slice(0, 4)
        .map((n) => `'${n}'`)
        .join(', ');
      throw new UsageError(
        `${label}: no tensor named '${name}'; it looks like a module: tensors under it include ${shown}${under.length > 4 ? ` (${under.length} in all)` : ''}; list them with sca inspect --tensors --filter '${name}'`,
      );
    }
    throw new UsageError(`${label}: no tensor named '${name}'${didYouMean(name, this.valueNamesDeep())}`);
  }

  /** Every name in use here or in nested graphs: new names must avoid all of them. */
  allNames(): Set<string> {
    const names = new Set<string>();
    const visit = (g: GraphProto): void => {
      for (const v of [...g.input, ...g.output, ...g.valueInfo]) if (v.name) names.add(v.name);
      for (const t of g.initializer) if (t.name) names.add(t.name);
      for (const n of g.node) {
        if (n.name) names.add(n.name);
        for (const o of n.output) if (o) names.add(o);
        for (const sg of subgraphsOf(n)) visit(sg);
      }
    };
    visit(this.proto);
    return names;
  }

  // --- mutations -----------------------------------------------------------

  /** Renames one output of `node`; readers of the old name are not touched. */
  renameOutput(node: NodeProto, from: string, to: string): void {
    node.output = node.output.map((o) => (o === from ? to : o));
    this.invalidate();
  }

  /**
   * Points every read of `from` in this graph, and in nested graphs that do
   * not define their own `from`, at `to`. Nodes in `except` keep reading `from`.
   */
  redirectUses(from: string, to: string, except: ReadonlySet<NodeProto> = new Set()): void {
    redirect(this.proto, from, to, except);
    this.invalidate();
  }

  /** Inserts nodes before position `at` of the node list (file order is kept topological by callers). */
  insertNodes(at: number, nodes: NodeProto[]): void {
    this.proto.node.splice(at, 0, ...nodes);
    this.invalidate();
  }

  addInitializers(tensors: TensorProto[]): void {
    this.proto.initializer.push(...tensors);
    this.invalidate();
  }

  addInputs(inputs: ValueInfoProto[]): void {
    this.proto.input.push(...inputs);
    this.invalidate();
  }

  addValueInfo(infos: ValueInfoProto[]): void {
    this.proto.valueInfo.push(...infos);
    this.invalidate();
  }

  /** Puts `nodes` where `node` was, in order (they must write what it wrote). */
  replaceNode(node: NodeProto, nodes: NodeProto[]): void {
    const at = this.proto.node.indexOf(node);
    if (at < 0) throw new Error(`replaceNode: '${node.name ?? ''}' is not in this graph`);
    this.proto.node.splice(at, 1, ...nodes);
    this.invalidate();
  }

  /** Replaces input slot `index` of `node`. */
  setInput(node: NodeProto, index: number, name: string): void {
    node.input[index] = name;
    this.invalidate();
  }
}

export function subgraphsOf(node: NodeProto): GraphProto[] {
  const out: GraphProto[] = [];
  for (const attr of node.attribute as AttributeProto[]) {
    if (attr.g) out.push(attr.g);
    out.push(...attr.graphs);
  }
  return out;
}

function definesLocally(g: GraphProto, name: string): boolean {
  return g.input.some((v) => v.name === name) || g.initializer.some((t) => t.name === name) || g.node.some((n) => n.output.includes(name));
}

function redirect(g: GraphProto, from: string, to: string, except: ReadonlySet<NodeProto>): void {
  for (const n of g.node) {
    if (except.has(n)) continue;
    n.input = n.input.map((i) => (i === from ? to : i));
    // A subgraph that defines its own `from` shadows the outer one.
    for (const sg of subgraphsOf(n)) if (!definesLocally(sg, from)) redirect(sg, from, to, except);
  }
}
