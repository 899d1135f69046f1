/**
 * What the toolkit knows about each op, keyed by (domain, op type, opset):
 * how it treats the axes of its data input, whether it keeps zeros at zero,
 * and, for layout ops, where an input axis ends up. The ablate, prune and
 * fold walks ask `opBehaviour` at every node instead of keeping lists of
 * their own; weight-carrying ops are described in weights.ts.
 */
import { attr, attrInt, attrInts, scalarOf, type GraphLookup, type NodeLike } from './lookup.js';
import { domainKey } from '../onnx/graph.js';

/**
 * How an op (or a recognised pattern) treats the coordinates of its data input:
 * - elementwise: output coordinate i depends on input coordinate i alone,
 *   on every axis (broadcast constants included); `zeroPreserving` when f(0) = 0;
 * - product: Mul of two activations: coordinates stay independent and a zero
 *   in either input gives a zero (gated MLPs);
 * - rowScale: the row over `axes` is multiplied by a positive number computed
 *   from the whole row (L2 normalisation, RMSNorm): zeros stay zero, but a
 *   linear map folded before it is not the same map after it;
 * - normalize: the row over `axes` (with `toEnd`, every axis from axes[0]
 *   on) is re-centred or re-weighted (LayerNorm, Softmax): a zeroed
 *   coordinate does not stay zero, and the others change;
 * - pool: spatial axes (2 on) are pooled; channels (axis 1) stay independent
 *   and a zeroed channel stays zero;
 * - reduce: the listed axes are summed, averaged, ... away (or kept as 1);
 * - layout: coordinates are moved, not changed (mapAxis says where);
 * - linear: a weight-carrying op (weights.ts);
 * - merge: Add or Sub of two activations (a residual connection);
 * - channelAffine: y = a_c x + b_c per channel of `axis` (BatchNormalization
 *   at inference): channels independent, zeros kept only when b_c = 0;
 * - opaque: anything the registry does not know or that mixes coordinates.
 */
export type AxisBehaviour =
  | { kind: 'elementwise'; zeroPreserving: boolean }
  | { kind: 'product' }
  | { kind: 'rowScale'; axes: number[] }
  | { kind: 'normalize'; axes: number[]; toEnd?: boolean }
  | { kind: 'pool' }
  | { kind: 'reduce'; axes: number[] | 'all'; keepdims: boolean }
  | { kind: 'layout' }
  | { kind: 'linear' }
  | { kind: 'merge' }
  | { kind: 'channelAffine'; axis: number }
  | { kind: 'opaque'; reason: string };

type Rule = (node: NodeLike, lookup: GraphLookup, opset: number) => AxisBehaviour;

interface OpSpec {
  /** First opset of its domain this rule applies to. */
  since: number;
  rule: Rule;
}

const elementwise =
  (zeroPreserving: boolean): Rule =>
  () => ({ kind: 'elementwise', zeroPreserving });

/** Unary ops with f(0) = 0 that act on each element alone. */
const ZERO_KEEPING = [
  'Identity',
  'Relu',
  'Tanh',
  'LeakyRelu',
  'Neg',
  'Dropout',
  'Elu',
  'Selu',
  'Celu',
  'Softsign',
  'HardSwish',
  'Mish',
  'Gelu',
  'Erf',
  'Abs',
  'Sign',
  'Sin',
  'Sinh',
  'Tan',
  'Asin',
  'Asinh',
  'Atan',
  'Atanh',
  'Sqrt',
  'Floor',
  'Ceil',
  'Round',
  'Shrink',
  'ThresholdedRelu',
  'Cast',
  'CastLike',
];
/** Unary ops acting on each element alone that move 0 somewhere else. */
const ZERO_MOVING = ['Sigmoid', 'HardSigmoid', 'Softplus', 'Exp', 'Log', 'Cos', 'Cosh', 'Acos', 'Acosh', 'Reciprocal', 'Not', 'IsNaN', 'IsInf'];

/** Binary elementwise ops: behaviour with one constant operand, by whether f(0, c) = 0 for the constant c. */
function binary(node: NodeLike, lookup: GraphLookup): AxisBehaviour {
  const [a, b] = node.input;
  // A constant too large (or too far away: external data, lazily loaded) to read here is still a constant.
  const isA = Boolean(a) && (lookup.constant(a) !== undefined || lookup.weight(a) !== undefined);
  const isB = Boolean(b) && (lookup.constant(b) !== undefined || lookup.weight(b) !== undefined);
  const op = node.opType;
  if (!isA && !isB) {
    if (op === 'Add' || op === 'Sub') return { kind: 'merge' };
    if (op === 'Mul') return { kind: 'product' };
    return { kind: 'opaque', reason: `${op} of two computed tensors` };
  }
  if (isA && isB) return { kind: 'elementwise', zeroPreserving: false };
  const dataFirst = !isA;
  // Unread values count as unknown: only Mul keeps zeros whatever they are.
  const c = lookup.constant(dataFirst ? b : a)?.values ?? [NaN];
  switch (op) {
    case 'Mul':
      return { kind: 'elementwise', zeroPreserving: true };
    case 'Div':
      // x / c keeps zeros (c = 0 aside, which no exporter writes); c / x does not.
      return { kind: 'elementwise', zeroPreserving: dataFirst && c.every((v) => v !== 0 && !Number.isNaN(v)) };
    case 'Add':
    case 'Sub':
      return { kind: 'elementwise', zeroPreserving: c.every((v) => v === 0) };
    case 'Pow':
      return { kind: 'elementwise', zeroPreserving: dataFirst && c.every((v) => v > 0) };
    case 'Max':
      return { kind: 'elementwise', zeroPreserving: c.every((v) => v <= 0) };
    case 'Min':
      return { kind: 'elementwise', zeroPreserving: c.every((v) => v >= 0) };
    default:
      return { kind: 'elementwise', zeroPreserving: false };
  }
}

function clip(node: NodeLike, lookup: GraphLookup, opset: number): AxisBehaviour {
  const lo = opset < 11 ? (attr(node, 'min')?.f ?? -Infinity) : node.input[1] ? scalarOf(lookup, node.input[1]) : -Infinity;
  const hi = opset < 11 ? (attr(node, 'max')?.f ?? Infinity) : node.input[2] ? scalarOf(lookup, node.input[2]) : Infinity;
  if (lo === undefined || hi === undefined) return { kind: 'opaque', reason: 'Clip with computed bounds' };
  return { kind: 'elementwise', zeroPreserving: lo <= 0 && hi >= 0 };
}

/** Axes of a Reduce op: an attribute before `inputSince`, input 1 from then on. Undefined when computed. */
export function reduceAxes(node: NodeLike, lookup: GraphLookup, opset: number, inputSince: number): number[] | 'all' | undefined {
  let axes: number[] | undefined;
  if (opset < inputSince) axes = attrInts(node, 'axes');
  else if (node.input[1]) {
    const c = lookup.constant(node.input[1]);
    if (!c) return undefined;
    axes = c.values;
  }
  if (axes && axes.length) return axes;
  return opset >= inputSince && attrInt(node, 'noop_with_empty_axes', 0) ? [] : 'all';
}

const reduce =
  (inputSince: number): Rule =>
  (node, lookup, opset) => {
    const axes = reduceAxes(node, lookup, opset, inputSince);
    if (axes === undefined) return { kind: 'opaque', reason: `${node.opType} over computed axes` };
    return { kind: 'reduce', axes, keepdims: attrInt(node, 'keepdims', 1) === 1 };
  };

/** Softmax before opset 13 flattens to 2-D at `axis` (default 1) and normalises over all axes from there. */
function softmax(node: NodeLike, _lookup: GraphLookup, opset: number): AxisBehaviour {
  if (opset >= 13) return { kind: 'normalize', axes: [attrInt(node, 'axis', -1)] };
  return { kind: 'normalize', axes: [attrInt(node, 'axis', 1)], toEnd: true };
}

const REGISTRY = new Map<string, OpSpec[]>();

function define(domain: string, ops: string[], since: number, rule: Rule): void {
  for (const op of ops) {
    const key = `${domain}:${op}`;
    const list = REGISTRY.get(key) ?? [];
    list.push({ since, rule });
    list.sort((a, b) => b.since - a.since);
    REGISTRY.set(key, list);
  }
}

define('', ZERO_KEEPING, 1, elementwise(true));
define('', ZERO_MOVING, 1, elementwise(false));
define('', ['PRelu'], 1, elementwise(true));
define('', ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min'], 1, binary);
define('', ['Clip'], 1, clip);
define('', ['Softmax', 'LogSoftmax', 'Hardmax'], 1, softmax);
define('', ['LayerNormalization'], 17, (node) => ({ kind: 'normalize', axes: [attrInt(node, 'axis', -1)], toEnd: true }));
define('', ['RMSNormalization'], 23, (node) => ({ kind: 'rowScale', axes: [attrInt(node, 'axis', -1)] }));
define('', ['LpNormalization'], 1, (node) => ({ kind: 'rowScale', axes: [attrInt(node, 'axis', -1)] }));
define('', ['InstanceNormalization', 'GroupNormalization', 'MeanVarianceNormalization', 'LRN'], 1, (node) => ({
  kind: 'opaque',
  reason: `${node.opType} re-centres or mixes channels`,
}));
define('', ['BatchNormalization'], 1, () => ({ kind: 'channelAffine', axis: 1 }));
define('', ['ReduceSum'], 1, reduce(13));
define('', ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'], 1, reduce(18));
define('', ['Transpose', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Expand'], 1, () => ({ kind: 'layout' }));
define('', ['Gemm', 'MatMul', 'Conv', 'ConvTranspose'], 1, () => ({ kind: 'linear' }));
define('', ['MatMulInteger'], 10, () => ({ kind: 'linear' }));
define('', ['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool', 'GlobalLpPool'], 1, () => ({ kind: 'pool' }));
// com.microsoft contrib ops that optimum/onnxruntime transformers write.
define('com.microsoft', ['Gelu', 'FastGelu', 'BiasGelu', 'QuickGelu'], 1, (node) => ({
  kind: 'elementwise',
  zeroPreserving: node.opType === 'Gelu' || node.opType === 'QuickGelu' || !node.input[1],
}));
define('com.microsoft', ['SkipLayerNormalization', 'LayerNormalization'], 1, () => ({ kind: 'normalize', axes: [-1] }));
define('com.microsoft', ['SkipSimplifiedLayerNormalization', 'SimplifiedLayerNormalization'], 1, () => ({ kind: 'rowScale', axes: [-1] }));
define('com.microsoft', ['FusedMatMul', 'MatMulNBits'], 1, () => ({ kind: 'linear' }));

export { domainKey };

/** How `node` treats the coordinates of its data input, at the opset the model imports for its domain. */
export function opBehaviour(node: NodeLike, lookup: GraphLookup): AxisBehaviour {
  const domain = domainKey(node.domain);
  const specs = REGISTRY.get(`${domain}:${node.opType}`);
  if (!specs)
    return { kind: 'opaque', reason: `${node.opType ?? '?'}${domain ? ` (${domain})` : ''} is not an op this toolkit knows how coordinates pass through` };
  const opset = lookup.opset?.(domain) ?? (domain ? 1 : 17);
  const spec = specs.find((s) => s.since <= opset);
  if (!spec) return { kind: 'opaque', reason: `${node.opType} is not defined at opset ${opset}` };
  return spec.rule(node, lookup, opset);
}

/** Every op the registry has a behaviour for, as `domain:op` ('' for the default domain). */
export function knownOpKeys(): string[] {
  return [...REGISTRY.keys()];
}

/** Whether the registry knows `opType` in `domain` at all. */
export function knownOp(domain: string | undefined, opType: string): boolean {
  return REGISTRY.has(`${domainKey(domain)}:${opType}`);
}

/** Normalises a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/**
 * Where coordinate `axis` of a layout op's input goes: the output axis, and
 * `block` when each input coordinate becomes a run of that many output
 * coordinates (Flatten/Reshape of [N, C, H, W] to [N, C*H*W]: block H*W).
 * Undefined when the axis is split, merged with a longer axis before it, or
 * dropped, or when shapes needed to tell are unknown.
 */
export interface AxisMap {
  axis: number;
  block?: number;
}

export function mapAxis(node: NodeLike, axis: number, lookup: GraphLookup): AxisMap | undefined {
  const inShape = lookup.type?.(node.input[0])?.shape;
  const rank = inShape?.length;
  const opset = lookup.opset?.('') ?? 17;
  switch (node.opType) {
    case 'Identity':
      return { axis };
    case 'Transpose': {
      const perm = attrInts(node, 'perm') ?? (rank === undefined ? undefined : Array.from({ length: rank }, (_, i) => rank - 1 - i));
      if (!perm) return undefined;
      const a = normAxis(axis, perm.length);
      const out = perm.indexOf(a);
      return out < 0 ? undefined : { axis: out };
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const axes = opset >= 13 ? (node.input[1] ? lookup.constant(node.input[1])?.values : undefined) : attrInts(node, 'axes');
      if (rank === undefined || !axes) return undefined;
      const a = normAxis(axis, rank);
      if (node.opType === 'Squeeze') {
        const gone = axes.map((x) => normAxis(x, rank));
        if (gone.includes(a)) return undefined;
        return { axis: a - gone.filter((g) => g < a).length };
      }
      const outRank = rank + axes.length;
      const added = axes.map((x) => normAxis(x, outRank)).sort((x, y) => x - y);
      let out = a;
      for (const x of added) if (x <= out) out++;
      return { axis: out };
    }
    case 'Flatten': {
      if (!inShape) return undefined;
      const f = normAxis(attrInt(node, 'axis', 1), inShape.length);
      return mapThroughShapes(inShape, [f === 1 ? inShape[0] : product(inShape.slice(0, f)), product(inShape.slice(f))], normAxis(axis, inShape.length));
    }
    case 'Reshape': {
      // A target computed in the graph (Shape, Gather, Concat: torch's x.view(-1, x.size(-1))) leaves the inferred shape.
      const target = lookup.constant(node.input[1])?.values;
      if (!inShape) return undefined;
      const out = (target && resolveReshape(inShape, target, attrInt(node, 'allowzero', 0) === 1)) ?? lookup.type?.(node.output[0])?.shape;
      return out ? mapThroughShapes(inShape, out, normAxis(axis, inShape.length)) : undefined;
    }
    case 'Expand':
      // Broadcasting keeps every coordinate where it is (new leading axes shift it).
      if (rank === undefined) return undefined;
      {
        const outRank = lookup.type?.(node.output[0])?.shape?.length;
        return outRank === undefined ? undefined : { axis: normAxis(axis, rank) + outRank - rank };
      }
    default:
      return undefined;
  }
}

/**
 * A Reshape target with 0 (copy the input's length) and -1 (infer) resolved.
 * Copied lengths may be symbolic; -1 needs every other length known.
 */
export function resolveReshape(inShape: Dim[], target: number[], allowZero = false): Dim[] | undefined {
  const out: Dim[] = target.map((t, i) => (t === 0 && !allowZero ? inShape[i] : t));
  const infer = out.indexOf(-1);
  if (infer >= 0) {
    // A symbolic length copied to the same place (batch, sequence) cancels out of both products.
    const cancels = (i: number) => typeof inShape[i] === 'string' && out[i] === inShape[i];
    const total = product(inShape.filter((_, i) => !cancels(i)));
    const rest = product(out.filter((_, i) => i !== infer && !cancels(i)));
    if (total === undefined || !rest) return undefined;
    out[infer] = total / rest;
  }
  return out;
}

type Dim = number | string | undefined;

/**
 * Where input axis `a` goes when `inShape` is viewed as `outShape` (same
 * elements, row-major). Leading axes equal in both (symbolic batch and
 * sequence lengths included) are matched first.
 */
export function mapThroughShapes(inShape: Dim[], outShape: Dim[], a: number): AxisMap | undefined {
  let lead = 0;
  while (lead < a && lead < outShape.length && inShape[lead] !== undefined && inShape[lead] === outShape[lead]) lead++;
  const inRest = inShape.slice(lead);
  const outRest = outShape.slice(lead);
  const at = a - lead;
  const before = product(inRest.slice(0, at));
  const len = inRest[at];
  if (typeof len !== 'number') return undefined;
  if (before === undefined) return mapByTail(inRest, outRest, at, lead);
  let acc = 1;
  for (let b = 0; b < outRest.length; b++) {
    const d = outRest[b];
    if (typeof d !== 'number') return undefined;
    if (acc === before) {
      if (d === len) return { axis: lead + b };
      // The axis merged with the axes after it: each coordinate becomes a block.
      const after = product(inRest.slice(at + 1));
      if (after !== undefined && d === len * after) return after === 1 ? { axis: lead + b } : { axis: lead + b, block: after };
      if (d === 1) continue;
      return undefined;
    }
    if (acc > before) return undefined;
    acc *= d;
  }
  return undefined;
}

/**
 * The same mapping counted from the end, for leading lengths that are
 * symbolic and merged or split ([batch, seq, D] viewed as [batch*seq, D], as
 * Hugging Face's Conv1D does). A Reshape keeps the element count, so when the
 * axis has the same length and the same number of coordinates after it on
 * both sides, the lengths before it multiply to the same number too, and each
 * coordinate keeps its place. Unknown trailing lengths, or an axis of length
 * 1 (which could be any of several), give no mapping.
 */
function mapByTail(inRest: Dim[], outRest: Dim[], at: number, lead: number): AxisMap | undefined {
  const len = inRest[at] as number;
  const after = product(inRest.slice(at + 1));
  if (after === undefined || len === 1) return undefined;
  let tail = 1;
  for (let b = outRest.length - 1; b >= 0; b--) {
    const d = outRest[b];
    if (tail === after && d === len) return { axis: lead + b };
    // The axis merged with the axes after it ([.., C, H, W] as [.., C*H*W]): each coordinate becomes a block.
    if (tail === 1 && after > 1 && d === len * after) return { axis: lead + b, block: after };
    if (typeof d !== 'number' || tail > after) return undefined;
    tail *= d;
  }
  return undefined;
}

function product(dims: Dim[]): number | undefined {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return undefined;
    p *= d;
  }
  return p;
}
