/**
 * Builds the small subgraph an intervention inserts: constants in the target
 * tensor's element type, nodes with unique names under a recognisable prefix,
 * and the lowest default-domain opset the chosen ops need.
 */
import type { Graph } from '../ir/graph.js';
import { makeTensor } from '../onnx/tensor.js';
import { AttributeType, DataType, type AttributeProto, type NodeProto, type TensorProto, type ValueInfoProto } from '../onnx/types.js';

/** Opset in which each op we emit reached the form we rely on (numpy broadcasting from 7, Min's from 8). */
const MIN_OPSET: Record<string, number> = {
  MatMul: 1, Add: 7, Sub: 7, Mul: 7, Div: 7, Pow: 7, Greater: 7, Relu: 6, Cast: 6, Min: 8, Transpose: 1,
};

export const NODE_PREFIX = 'sca/';

export class SubgraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  minOpset = 1;
  private readonly taken: Set<string>;

  /** `prefix` names everything this intervention adds, e.g. `sca/suppress_0`. */
  constructor(readonly graph: Graph, readonly prefix: string, readonly dataType: number) {
    this.taken = graph.allNames();
  }

  /** A name not yet used in the graph (or by this builder), from `prefix/local`. */
  name(local: string): string {
    const base = `${this.prefix}/${local}`;
    let name = base;
    for (let k = 1; this.taken.has(name); k++) name = `${base}_${k}`;
    this.taken.add(name);
    return name;
  }

  /** A constant initializer in the target element type. */
  constant(local: string, dims: number[], values: ArrayLike<number>): string {
    const name = this.name(local);
    this.initializers.push(makeTensor(name, this.dataType, dims, values));
    return name;
  }

  scalar(local: string, value: number): string {
    return this.constant(local, [], [value]);
  }

  /** Adds a node and returns its output name (or `output` when given). */
  op(opType: keyof typeof MIN_OPSET, local: string, inputs: string[], attrs: AttributeProto[] = [], output?: string): string {
    const out = output ?? this.name(local);
    this.nodes.push({ name: this.name(`${local}_node`), opType, domain: '', input: inputs, output: [out], attribute: attrs });
    this.minOpset = Math.max(this.minOpset, MIN_OPSET[opType]);
    return out;
  }

  /** Moves `axis` of a rank-`rank` tensor last (or, with `inverse`, back from last). */
  transpose(local: string, input: string, axis: number, rank: number, inverse = false, output?: string): string {
    const toLast = [...Array(rank).keys()].filter((i) => i !== axis).concat(axis);
    const perm = inverse ? toLast.map((_, i) => toLast.indexOf(i)) : toLast;
    const attr: AttributeProto = { name: 'perm', type: AttributeType.INTS, ints: perm, floats: [], strings: [], tensors: [], graphs: [] };
    return this.op('Transpose', local, [input], [attr], output);
  }

  castToTarget(local: string, input: string): string {
    return this.op('Cast', local, [input], [intAttr('to', this.dataType)]);
  }

  /**
   * The strength as a tensor: a constant, or a float32 graph input with a
   * default (an initializer of the same name) that callers may override at run time.
   */
  strength(value: number, inputName?: string): string {
    if (!inputName) return this.scalar('strength', value);
    const existing = this.graph.isInput(inputName);
    if (!existing) {
      this.inputs.push({ name: inputName, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [] } } } });
      this.initializers.push(makeTensor(inputName, DataType.FLOAT, [], [value]));
    }
    return this.dataType === DataType.FLOAT ? inputName : this.castToTarget('strength', inputName);
  }
}

export function intAttr(name: string, value: number): AttributeProto {
  return { name, type: AttributeType.INT, i: value, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
}
