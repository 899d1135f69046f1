/**
 * Elementwise ops: unary, numpy-broadcast binary and variadic ops,
 * comparisons, logic, Where, Cast. Integer arithmetic on small values is
 * carried out (on symbols too), since torch builds shapes with it.
 */
import { addDims, dimsEqual, isConcrete, mulDims, subDims, truncDiv, type Dim } from '../dims.js';
import { Elem, isIntegerType, stop, type InferContext, type Known, type NodeLike, type Rule } from '../types.js';
import { attrInt, broadcast, broadcastIndex, countOf, elemOf, has, shapeOf, tensor, typeOf } from '../util.js';

type ValueFn = (xs: Dim[], elemType: number) => Dim | undefined;

/**
 * Applies `f` entry by entry over broadcast values, or undefined when some
 * input value is unknown or `f` cannot say.
 */
function mapValues(inputs: (Known | undefined)[], idx: number[], outShape: Dim[], elemType: number, f: ValueFn): Dim[] | undefined {
  const vals: Dim[][] = [];
  const shapes: number[][] = [];
  for (const i of idx) {
    const k = inputs[i];
    if (!k?.value || !k.type?.shape) return undefined;
    vals.push(k.value);
    shapes.push(k.type.shape as number[]);
  }
  if (!outShape.every(isConcrete)) return undefined;
  const out = outShape as number[];
  const maps = shapes.map((s) => broadcastIndex(s, out));
  const n = countOf(out);
  const result = new Array<Dim>(n);
  const xs = new Array<Dim>(vals.length);
  for (let p = 0; p < n; p++) {
    for (let j = 0; j < vals.length; j++) xs[j] = vals[j][maps[j][p]];
    const r = f(xs, elemType);
    if (r === undefined) return undefined;
    result[p] = r;
  }
  return result;
}

const num = (xs: Dim[]): xs is number[] => xs.every(isConcrete);

/** Symbols are lengths, so never negative: decides a < b where that alone settles it. */
function less(a: Dim, b: Dim): boolean | undefined {
  if (isConcrete(a) && isConcrete(b)) return a < b;
  if (dimsEqual(a, b)) return false;
  if (isConcrete(b) && b <= 0) return false;
  if (isConcrete(a) && a < 0) return true;
  return undefined;
}

const flag = (b: boolean | undefined): Dim | undefined => (b === undefined ? undefined : b ? 1 : 0);

const VALUE_OPS: Partial<Record<string, ValueFn>> = {
  Add: ([a, b]) => addDims(a, b),
  Sub: ([a, b]) => subDims(a, b),
  Mul: ([a, b]) => mulDims(a, b),
  Div: ([a, b], t) => (isIntegerType(t) ? (b === 0 ? undefined : truncDiv(a, b)) : isConcrete(a) && isConcrete(b) ? a / b : undefined),
  Mod: (xs) => (num(xs) && xs[1] !== 0 ? xs[0] - Math.floor(xs[0] / xs[1]) * xs[1] : undefined),
  Pow: (xs) => (num(xs) ? xs[0] ** xs[1] : undefined),
  Max: (xs) => xs.reduce<Dim | undefined>((m, x) => (m === undefined ? undefined : less(m, x) === undefined ? undefined : less(m, x) ? x : m), xs[0]),
  Min: (xs) => xs.reduce<Dim | undefined>((m, x) => (m === undefined ? undefined : less(x, m) === undefined ? undefined : less(x, m) ? x : m), xs[0]),
  Sum: (xs) => xs.reduce(addDims),
  Equal: ([a, b]) => (dimsEqual(a, b) ? 1 : isConcrete(a) && isConcrete(b) ? 0 : (isConcrete(a) && a < 0) || (isConcrete(b) && b < 0) ? 0 : undefined),
  Less: ([a, b]) => flag(less(a, b)),
  Greater: ([a, b]) => flag(less(b, a)),
  LessOrEqual: ([a, b]) => flag(less(b, a) === undefined ? undefined : !less(b, a)),
  GreaterOrEqual: ([a, b]) => flag(less(a, b) === undefined ? undefined : !less(a, b)),
  And: (xs) => (num(xs) ? Number(xs[0] !== 0 && xs[1] !== 0) : undefined),
  Or: (xs) => (num(xs) ? Number(xs[0] !== 0 || xs[1] !== 0) : undefined),
  Xor: (xs) => (num(xs) ? Number((xs[0] !== 0) !== (xs[1] !== 0)) : undefined),
};

const UNARY_VALUES: Partial<Record<string, (x: number) => number>> = {
  Neg: (x) => -x,
  Abs: Math.abs,
  Floor: Math.floor,
  Ceil: Math.ceil,
  Round: (x) => Math.round(x),
  Sqrt: Math.sqrt,
  Relu: (x) => Math.max(0, x),
  Reciprocal: (x) => 1 / x,
  Sign: Math.sign,
  Not: (x) => Number(x === 0),
};

function outputElem(node: NodeLike, inputs: (Known | undefined)[], idx: number[]): number {
  for (const i of idx) {
    const e = elemOf(inputs, i);
    if (e !== undefined) return e;
  }
  return stop(`no input of ${node.opType} has a known type`);
}

/** Broadcast shape of inputs `idx`, or a stop keeping the element type. */
function broadcastAll(node: NodeLike, inputs: (Known | undefined)[], idx: number[], ctx: InferContext, elemType: number, outCount = 1): Dim[] {
  let shape: Dim[] | undefined;
  for (const i of idx) {
    const s = inputs[i]?.type?.shape;
    if (!s)
      stop(
        `input ${i} ('${node.input[i]}') has unknown rank`,
        Array.from({ length: outCount }, () => tensor(elemType)),
      );
    shape = shape ? broadcast(shape, s, ctx) : s;
  }
  return shape!;
}

function broadcasting(resultElem?: number): Rule {
  return (node, inputs, ctx) => {
    const idx = node.input.map((_, i) => i).filter((i) => has(node, i));
    const inElem = outputElem(node, inputs, idx);
    const elemType = resultElem ?? inElem;
    // Before opset 7 (and always for PRelu) B broadcasts to A: the output is A's shape.
    const legacy = (ctx.opset < 7 && idx.length === 2 && !['Max', 'Min', 'Sum', 'Mean'].includes(node.opType ?? '')) || node.opType === 'PRelu';
    const shape = legacy
      ? (inputs[0]?.type?.shape ?? stop(`input 0 ('${node.input[0]}') has unknown rank`, [tensor(elemType)]))
      : broadcastAll(node, inputs, idx, ctx, elemType);
    // Mod with fmod=1 is C's fmod (sign of the dividend), not the floor modulo.
    const f =
      node.opType === 'Mod' && attrInt(node, 'fmod', 0) === 1
        ? (xs: Dim[]) => (num(xs) && xs[1] !== 0 ? xs[0] % xs[1] : undefined)
        : VALUE_OPS[node.opType ?? ''];
    return [tensor(elemType, shape, f && mapValues(inputs, idx, shape, inElem, f))];
  };
}

/** Output 0 like input 0; small values pass through `f` when given. */
function sameAsInput(f?: (x: number) => number): Rule {
  return (node, inputs) => {
    const t = typeOf(node, inputs, 0);
    const v = inputs[0]?.value;
    const value = f && v && v.every(isConcrete) ? (v as number[]).map(f) : undefined;
    return [tensor(t.elemType, t.shape, node.opType === 'Identity' ? v : value)];
  };
}

function toBool(): Rule {
  return (node, inputs) => [tensor(Elem.BOOL, shapeOf(node, inputs, 0))];
}

function castValue(v: Dim[] | undefined, to: number): Dim[] | undefined {
  if (!v) return undefined;
  if (to === Elem.BOOL) return v.every(isConcrete) ? v.map((x) => Number(x !== 0)) : undefined;
  if (isIntegerType(to)) return v.every((x) => !isConcrete(x) || Number.isFinite(x)) ? v.map((x) => (isConcrete(x) ? Math.trunc(x) : x)) : undefined;
  return v;
}

const cast: Rule = (node, inputs) => {
  const to = attrInt(node, 'to');
  if (to === undefined) stop('Cast has no "to" attribute');
  const shape = inputs[0]?.type?.shape;
  if (!shape) stop(`input 0 ('${node.input[0]}') has unknown rank`, [tensor(to)]);
  return [tensor(to, shape, castValue(inputs[0]?.value, to))];
};

const castLike: Rule = (node, inputs) => {
  const to = typeOf(node, inputs, 1).elemType;
  const shape = inputs[0]?.type?.shape;
  if (!shape) stop(`input 0 ('${node.input[0]}') has unknown rank`, [tensor(to)]);
  return [tensor(to, shape, castValue(inputs[0]?.value, to))];
};

const where: Rule = (node, inputs, ctx) => {
  const elemType = outputElem(node, inputs, [1, 2]);
  const shape = broadcastAll(node, inputs, [0, 1, 2], ctx, elemType);
  const value = mapValues(inputs, [0, 1, 2], shape, elemType, ([c, x, y]) => (isConcrete(c) ? (c !== 0 ? x : y) : dimsEqual(x, y) ? x : undefined));
  return [tensor(elemType, shape, value)];
};

const dropout: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const outs = [tensor(t.elemType, t.shape, inputs[0]?.value)];
  if (node.output.length > 1) outs.push(tensor(Elem.BOOL, t.shape));
  return outs;
};

const UNARY = [
  'Relu',
  'Sigmoid',
  'Tanh',
  'Exp',
  'Log',
  'Sqrt',
  'Reciprocal',
  'Neg',
  'Abs',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Erf',
  'Sin',
  'Cos',
  'Tan',
  'Asin',
  'Acos',
  'Atan',
  'Sinh',
  'Cosh',
  'Asinh',
  'Acosh',
  'Atanh',
  'LeakyRelu',
  'Elu',
  'Selu',
  'Celu',
  'ThresholdedRelu',
  'HardSigmoid',
  'HardSwish',
  'Softplus',
  'Softsign',
  'Mish',
  'Gelu',
  'Softmax',
  'LogSoftmax',
  'Hardmax',
  'Clip',
  'Shrink',
  'Not',
  'Identity',
  'CumSum',
  'Trilu',
  'LRN',
  'LpNormalization',
  'MeanVarianceNormalization',
  'BitwiseNot',
  'QuickGelu',
];

export const elementwiseRules: Record<string, Rule> = {
  ...Object.fromEntries(UNARY.map((op) => [op, sameAsInput(UNARY_VALUES[op])])),
  ...Object.fromEntries(
    ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'PRelu', 'BitShift', 'Max', 'Min', 'Sum', 'Mean', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor'].map((op) => [
      op,
      broadcasting(),
    ]),
  ),
  ...Object.fromEntries(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor'].map((op) => [op, broadcasting(Elem.BOOL)])),
  IsNaN: toBool(),
  IsInf: toBool(),
  Cast: cast,
  CastLike: castLike,
  Where: where,
  Dropout: dropout,
};
