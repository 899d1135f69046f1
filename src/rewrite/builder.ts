/**
 * Builds the small subgraph an intervention inserts: constants in the target
 * tensor's element type, nodes with unique names under a recognisable prefix,
 * and, given the model's opset, only op forms valid at that opset.
 *
 * Below opset 7, Add/Sub/Mul/Div/Pow/Greater broadcast only when told to
 * (`broadcast=1`), and then only their second input, which must match a
 * suffix of the first's shape (a scalar always does). The builder knows the
 * rank of everything it made from constants, so it puts the smaller operand
 * second (swapping Add and Mul, and writing `a - b` as `Neg(b) + a`, both
 * exact in IEEE arithmetic) and adds the attribute. Cast takes its target
 * type as a string below opset 6. An op with no valid form at the model's
 * opset is refused, naming the op and the opset: the opset of an existing
 * model is never raised, since that can change what its own nodes mean
 * (Gemm's `broadcast` and BatchNormalization's `is_test` went away in 7).
 */
import { UsageError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { makeValueInfo } from '../onnx/graph.js';
import { makeTensor } from '../onnx/tensor.js';
import { AttributeType, DataType, type AttributeProto, type NodeProto, type TensorProto, type ValueInfoProto } from '../onnx/types.js';

/** Opset in which each op we emit reached the form we rely on (numpy broadcasting from 7, Min's from 8). */
const MIN_OPSET: Record<string, number> = {
  MatMul: 1,
  Add: 7,
  Sub: 7,
  Mul: 7,
  Div: 7,
  Pow: 7,
  Greater: 7,
  Relu: 6,
  Cast: 6,
  Min: 8,
  Neg: 6,
  Clip: 6,
  Transpose: 1,
};

/** Ops with a legacy (broadcast=1) form below opset 7. */
const LEGACY_BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Greater']);
/** Ops whose earliest versions (opset 1) mean the same as the ones above for our inputs (only a legacy consumed_inputs attribute differs). */
const SAME_SINCE_1 = new Set(['MatMul', 'Relu', 'Neg', 'Clip', 'Cast', 'Transpose']);

const TYPE_NAMES: Record<number, string> = { [DataType.FLOAT]: 'FLOAT', [DataType.FLOAT16]: 'FLOAT16', [DataType.DOUBLE]: 'DOUBLE' };

export const NODE_PREFIX = 'sca/';

/** `sca/<kind>_<k>` with the first k no name of the graph (nested graphs included) starts with. */
export function uniquePrefix(graph: Graph, kind: string): string {
  const names = [...graph.allNames()];
  for (let k = 0; ; k++) {
    const prefix = `${NODE_PREFIX}${kind}_${k}`;
    if (!names.some((n) => n.startsWith(`${prefix}/`))) return prefix;
  }
}

/** The model's default-domain opset, which every inserted node is written for; refused when it imports none. */
export function insertionOpset(opset: number | undefined, label: string): number {
  if (opset === undefined) throw new UsageError(`${label}: the model imports no default-domain (ai.onnx) opset, so standard ONNX ops cannot be inserted`);
  return opset;
}

export interface BuilderOptions {
  /** The model's default-domain opset: every node is emitted in a form valid there, or refused. */
  opset?: number;
  /** The model's IR version: below 4, every added initializer is also listed as a graph input. */
  irVersion?: number;
}

export class SubgraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  /** Lowest opset the emitted forms need (only meaningful without options.opset). */
  minOpset = 1;
  private readonly taken: Set<string>;
  /** Rank of every tensor made only from constants; anything else has the target's full rank. */
  private readonly ranks = new Map<string, number>();

  /** `prefix` names everything this intervention adds, e.g. `sca/suppress_0`. */
  constructor(
    readonly graph: Graph,
    readonly prefix: string,
    readonly dataType: number,
    readonly options: BuilderOptions = {},
  ) {
    // Names in a nested graph must not shadow the main graph's either.
    this.taken = graph.root.allNames();
  }

  /** True when every added initializer must also be a graph input (IR version below 4). */
  get initializersAsInputs(): boolean {
    return this.options.irVersion !== undefined && Number(this.options.irVersion) < 4;
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
    this.ranks.set(name, dims.length);
    return name;
  }

  scalar(local: string, value: number): string {
    return this.constant(local, [], [value]);
  }

  /** Adds a node and returns its output name (or `output` when given). */
  op(opType: keyof typeof MIN_OPSET, local: string, inputs: string[], attrs: AttributeProto[] = [], output?: string): string {
    const out = output ?? this.name(local);
    const opset = this.options.opset;
    let inputsUsed = inputs;
    let attributes = attrs;
    if (opset !== undefined && opset < MIN_OPSET[opType]) {
      if (LEGACY_BROADCAST.has(opType)) {
        const [a, b] = inputs;
        if (this.rank(a) < this.rank(b)) {
          if (opType === 'Add' || opType === 'Mul') inputsUsed = [b, a];
          else if (opType === 'Sub') return this.op('Add', local, [this.op('Neg', `${local}_neg`, [b]), a], attrs, output);
          else
            throw new UsageError(
              `${opType} with a smaller first input has no form valid at the model's opset ${opset} (legacy broadcasting extends the second input only)`,
            );
        }
        attributes = [...attrs, intAttr('broadcast', 1)];
      } else if (opType === 'Cast' && opset < 6) {
        const to = attrs.find((a) => a.name === 'to')?.i;
        const typeName = TYPE_NAMES[Number(to)];
        if (!typeName) throw new UsageError(`Cast to element type ${to} has no form valid at the model's opset ${opset}`);
        attributes = [stringAttr('to', typeName)];
      } else if (!SAME_SINCE_1.has(opType)) {
        throw new UsageError(
          `sca needs ${opType}, which has no form valid at the model's opset ${opset} (it needs opset ${MIN_OPSET[opType]}); the opset of an existing model is not raised, as that can change what its nodes mean`,
        );
      }
    }
    this.nodes.push({ name: this.name(`${local}_node`), opType, domain: '', input: inputsUsed, output: [out], attribute: attributes });
    if (opset === undefined) this.minOpset = Math.max(this.minOpset, MIN_OPSET[opType]);
    const known = inputsUsed.map((i) => this.ranks.get(i));
    if (opType !== 'MatMul' && known.every((r) => r !== undefined)) this.ranks.set(out, Math.max(0, ...(known as number[])));
    return out;
  }

  /** min(max(x, 0), 1): Relu then Min from opset 8 (Min's broadcasting), Clip with attributes below. */
  clampUnit(local: string, x: string): string {
    const opset = this.options.opset;
    if (opset === undefined || opset >= 8) return this.op('Min', `${local}_clamped`, [this.op('Relu', `${local}_pos`, [x]), this.scalar('one', 1)]);
    return this.op('Clip', `${local}_clamped`, [x], [floatAttr('min', 0), floatAttr('max', 1)]);
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
   * The strength as a tensor: a constant, or a float32 scalar graph input
   * callers feed (with `optional`, backed by a default: an initializer of
   * the same name, which onnxruntime-node cannot override by a feed).
   */
  strength(value: number, inputName?: string, optional = false): string {
    if (!inputName) return this.scalar('strength', value);
    const existing = this.graph.root.isInput(inputName);
    if (!existing) {
      this.inputs.push({ name: inputName, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [] } } } });
      if (optional) this.initializers.push(makeTensor(inputName, DataType.FLOAT, [], [value]));
    }
    this.ranks.set(inputName, 0);
    return this.dataType === DataType.FLOAT ? inputName : this.castToTarget('strength', inputName);
  }

  /** Graph inputs that IR versions below 4 require for the added initializers (none from 4 on). */
  initializerInputs(): ValueInfoProto[] {
    if (!this.initializersAsInputs) return [];
    const listed = new Set([...this.graph.proto.input, ...this.inputs].map((v) => v.name));
    return this.initializers.filter((t) => !listed.has(t.name)).map((t) => makeValueInfo(t.name!, t.dataType!, t.dims.map(Number)));
  }

  /** Rank of a tensor for legacy broadcasting; the target and what comes from it count as highest. */
  private rank(name: string): number {
    return this.ranks.get(name) ?? Number.POSITIVE_INFINITY;
  }
}

export function intAttr(name: string, value: number): AttributeProto {
  return { name, type: AttributeType.INT, i: value, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
}

function floatAttr(name: string, value: number): AttributeProto {
  return { name, type: AttributeType.FLOAT, f: value, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
}

function stringAttr(name: string, value: string): AttributeProto {
  return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value), floats: [], ints: [], strings: [], tensors: [], graphs: [] };
}
