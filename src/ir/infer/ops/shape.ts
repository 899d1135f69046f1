/**
 * Ops that move, cut, join or compute shapes: Shape, Reshape, Flatten,
 * Transpose, (Un)Squeeze, Concat, Split, Slice, Gather, Expand, Range, Tile,
 * Pad, ConstantOfShape, Constant, ... Small values travel through all of
 * them, which is how Reshape targets built from Shape chains resolve.
 */
import { addDims, canonicalDim, ceilDiv, exactDiv, isConcrete, mulDims, productOf, subDims, type Dim } from '../dims.js';
import { knownOfTensor } from '../constants.js';
import { Elem, stop, type Known, type NodeLike, type Rule } from '../types.js';
import {
  BIG,
  attrInt,
  attrInts,
  attrTensor,
  concreteShape,
  countOf,
  has,
  intsOf,
  normAxis,
  shapeOf,
  stridesOf,
  tensor,
  typeOf,
  unravel,
  valueOf,
} from '../util.js';

/** Values of `shape` taken at the given index list on each axis (cartesian product, row-major). */
function take(values: Dim[], shape: number[], lists: number[][]): Dim[] {
  const strides = stridesOf(shape);
  const out: Dim[] = [];
  const walk = (axis: number, offset: number): void => {
    if (axis === shape.length) {
      out.push(values[offset]);
      return;
    }
    for (const i of lists[axis]) walk(axis + 1, offset + i * strides[axis]);
  };
  walk(0, 0);
  return out;
}

function withValueOf(k: Known | undefined): { values: Dim[]; shape: number[] } | undefined {
  const shape = concreteShape(k?.type?.shape);
  return k?.value && shape ? { values: k.value, shape } : undefined;
}

const constant: Rule = (node) => {
  const t = attrTensor(node, 'value');
  if (t) return [knownOfTensor(t)];
  const a = node.attribute[0];
  switch (a?.name) {
    case 'value_float':
      return [tensor(Elem.FLOAT, [], [a.f ?? 0])];
    case 'value_floats':
      return [tensor(Elem.FLOAT, [a.floats.length], a.floats.length <= 64 ? [...a.floats] : undefined)];
    case 'value_int':
      return [tensor(Elem.INT64, [], [Number(a.i ?? 0)])];
    case 'value_ints':
      return [tensor(Elem.INT64, [a.ints.length], a.ints.map(Number))];
    case 'value_string':
      return [tensor(Elem.STRING, [])];
    case 'value_strings':
      return [tensor(Elem.STRING, [a.strings.length])];
    default:
      return stop(`Constant has no value attribute I can read (${a?.name ?? 'none'})`);
  }
};

/** Clamps a slice bound for a concrete length, as ONNX Shape and Slice do. */
function clampBound(v: number, len: number, lo: number, hi: number): number {
  const r = v < 0 ? v + len : v;
  return Math.min(Math.max(r, lo), hi);
}

const shape: Rule = (node, inputs, ctx) => {
  const s = shapeOf(node, inputs, 0);
  let start = 0;
  let end = s.length;
  if (ctx.opset >= 15) {
    start = clampBound(attrInt(node, 'start', 0), s.length, 0, s.length);
    end = clampBound(attrInt(node, 'end', s.length), s.length, 0, s.length);
  }
  const dims = s.slice(start, Math.max(start, end));
  return [tensor(Elem.INT64, [dims.length], dims)];
};

const size: Rule = (node, inputs) => [tensor(Elem.INT64, [], [productOf(shapeOf(node, inputs, 0))])];

/** Output shape of Reshape(input, target): 0 copies (unless allowzero), -1 takes what is left. */
export function reshapeTarget(input: Dim[] | undefined, target: Dim[], allowzero: boolean): Dim[] {
  const out = target.map((d, i) => {
    if (d === 0 && !allowzero) {
      if (!input || i >= input.length) stop(`Reshape copies dim ${i} (0 in the target) of an input of unknown rank`);
      return input[i];
    }
    return d;
  });
  const inferAt = out.findIndex((d) => d === -1);
  if (inferAt >= 0) {
    if (!input) stop('Reshape has -1 in its target and an input of unknown rank');
    const others = productOf(out.filter((_, i) => i !== inferAt));
    const q = exactDiv(productOf(input), others);
    if (q === undefined) stop(`Reshape -1: ${productOf(input)} elements do not divide by ${others}`);
    out[inferAt] = q;
  }
  return out.map(canonicalDim);
}

const reshape: Rule = (node, inputs, ctx) => {
  const t = typeOf(node, inputs, 0);
  let target: Dim[];
  if (ctx.opset < 5) target = attrInts(node, 'shape') ?? stop('Reshape has no shape attribute');
  else {
    const tv = inputs[1]?.value;
    if (!tv) {
      const len = inputs[1]?.type?.shape?.[0];
      const reason = `the target shape (input 1, '${node.input[1]}') is not known (not a constant or a shape computation)`;
      if (isConcrete(len))
        stop(reason, [
          tensor(
            t.elemType,
            Array.from({ length: len }, () => ctx.fresh()),
          ),
        ]);
      stop(reason, [tensor(t.elemType)]);
    }
    target = tv;
  }
  const out = reshapeTarget(t.shape, target, ctx.opset >= 14 && attrInt(node, 'allowzero', 0) === 1);
  return [tensor(t.elemType, out, inputs[0]?.value)];
};

const flatten: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const s = shapeOf(node, inputs, 0);
  let axis = attrInt(node, 'axis', 1);
  if (axis < 0) axis += s.length;
  if (axis < 0 || axis > s.length) stop(`Flatten axis ${attrInt(node, 'axis', 1)} is out of range for rank ${s.length}`);
  return [tensor(t.elemType, [productOf(s.slice(0, axis)), productOf(s.slice(axis))], inputs[0]?.value)];
};

const transpose: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const s = shapeOf(node, inputs, 0);
  const perm = attrInts(node, 'perm') ?? s.map((_, i) => s.length - 1 - i);
  if (perm.length !== s.length) stop(`Transpose perm [${perm}] does not fit rank ${s.length}`);
  const out = perm.map((p) => s[normAxis(p, s.length)]);
  let value: Dim[] | undefined;
  const v = withValueOf(inputs[0]);
  if (v) {
    const strides = stridesOf(v.shape);
    const outShape = out as number[];
    value = Array.from({ length: countOf(outShape) }, (_, f) => {
      const idx = unravel(f, outShape);
      return v.values[idx.reduce((acc, x, i) => acc + x * strides[perm[i]], 0)];
    });
  }
  return [tensor(t.elemType, out, value)];
};

/** Axes from the attribute (before `inputFrom`) or from input 1 (from that opset on). */
function axesOf(node: NodeLike, inputs: (Known | undefined)[], opset: number, inputFrom: number, at = 1): number[] | undefined {
  if (opset < inputFrom) return attrInts(node, 'axes');
  return has(node, at) ? intsOf(node, inputs, at) : undefined;
}

const squeeze: Rule = (node, inputs, ctx) => {
  const t = typeOf(node, inputs, 0);
  const s = shapeOf(node, inputs, 0);
  const axes = axesOf(node, inputs, ctx.opset, 13);
  let out: Dim[];
  if (axes === undefined) {
    if (s.some((d) => !isConcrete(d))) stop(`Squeeze without axes over symbolic dims [${s}]`);
    out = s.filter((d) => d !== 1);
  } else {
    const drop = new Set(axes.map((a) => normAxis(a, s.length, node)));
    out = s.filter((_, i) => !drop.has(i));
  }
  return [tensor(t.elemType, out, inputs[0]?.value)];
};

const unsqueeze: Rule = (node, inputs, ctx) => {
  const t = typeOf(node, inputs, 0);
  const s = shapeOf(node, inputs, 0);
  const axes = axesOf(node, inputs, ctx.opset, 13) ?? stop('Unsqueeze has no axes');
  const rank = s.length + axes.length;
  const at = new Set(axes.map((a) => normAxis(a, rank, node)));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(at.has(i) ? 1 : s[j++]);
  return [tensor(t.elemType, out, inputs[0]?.value)];
};

const concat: Rule = (node, inputs, ctx) => {
  const present = node.input.map((_, i) => i).filter((i) => has(node, i));
  const elemType = present.map((i) => inputs[i]?.type?.elemType).find((e) => e !== undefined);
  if (elemType === undefined) stop('no input of Concat has a known type');
  const shapes = present.map((i) => inputs[i]?.type?.shape);
  const first = shapes.find((s) => s !== undefined);
  if (!first) stop('no input of Concat has a known rank', [tensor(elemType)]);
  const axis = normAxis(attrInt(node, 'axis', 0), first.length, node);
  const out = [...first];
  let total: Dim = 0;
  for (let k = 0; k < shapes.length; k++) {
    const s = shapes[k];
    if (!s)
      stop(`input ${present[k]} ('${node.input[present[k]]}') has unknown rank`, [
        tensor(
          elemType,
          first.map((d, i) => (i === axis ? ctx.fresh() : d)),
        ),
      ]);
    if (s.length !== first.length) stop(`Concat inputs have ranks ${first.length} and ${s.length}`);
    total = addDims(total, s[axis]);
    for (let i = 0; i < out.length; i++) if (i !== axis && !isConcrete(out[i]) && isConcrete(s[i])) out[i] = s[i];
  }
  out[axis] = total;
  let value: Dim[] | undefined;
  const vs = present.map((i) => withValueOf(inputs[i]));
  if (vs.every((v) => v !== undefined)) {
    const outer = countOf(vs[0]!.shape.slice(0, axis));
    value = [];
    for (let o = 0; o < outer; o++) {
      for (const v of vs) {
        const chunk = countOf(v!.shape.slice(axis));
        value.push(...v!.values.slice(o * chunk, (o + 1) * chunk));
      }
    }
  }
  return [tensor(elemType, out, value)];
};

const split: Rule = (node, inputs, ctx) => {
  const t = typeOf(node, inputs, 0);
  const n = node.output.length;
  const s = shapeOf(node, inputs, 0);
  const axis = normAxis(attrInt(node, 'axis', 0), s.length, node);
  const d = s[axis];
  let parts: Dim[];
  const given = ctx.opset < 13 ? attrInts(node, 'split') : has(node, 1) ? valueOf(node, inputs, 1) : undefined;
  if (given && given.length > 0) parts = given;
  else if (ctx.opset >= 18 && attrInt(node, 'num_outputs') !== undefined) {
    const k = attrInt(node, 'num_outputs')!;
    const each = ceilDiv(d, k);
    parts = Array.from({ length: n }, (_, i) => (i < n - 1 ? each : subDims(d, mulDims(each, n - 1))));
  } else {
    const each = exactDiv(d, n);
    if (each === undefined) stop(`Split of ${d} into ${n} equal parts`);
    parts = Array.from({ length: n }, () => each);
  }
  const v = withValueOf(inputs[0]);
  let offset = 0;
  return parts.map((p) => {
    const outShape = s.map((x, i) => (i === axis ? p : x));
    let value: Dim[] | undefined;
    if (v && isConcrete(p)) {
      const lists = v.shape.map((len, i) => (i === axis ? Array.from({ length: p }, (_, j) => offset + j) : Array.from({ length: len }, (_, j) => j)));
      value = take(v.values, v.shape, lists);
      offset += p;
    }
    return tensor(t.elemType, outShape, value);
  });
};

/** Length and (for a concrete length) the indices of one sliced axis. */
function sliceAxis(len: Dim, start: Dim, end: Dim, step: number): { len: Dim; indices?: number[] } {
  if (step === 0) stop('Slice step 0');
  if (isConcrete(len) && isConcrete(start) && isConcrete(end)) {
    let s: number;
    let e: number;
    if (step > 0) {
      s = clampBound(start, len, 0, len);
      e = clampBound(end, len, 0, len);
    } else {
      s = clampBound(start, len, -1, len - 1);
      e = clampBound(end, len, -1, len - 1);
    }
    const n = Math.max(0, Math.ceil((e - s) / step));
    return { len: n, indices: Array.from({ length: n }, (_, i) => s + i * step) };
  }
  // A symbolic length or bound: the bounds are taken to lie within the axis,
  // as the exporter wrote them for (torch slices x[:, :n] with n <= len).
  const resolve = (b: Dim, forEnd: boolean): Dim => {
    if (!isConcrete(b)) return b;
    if (step > 0) {
      if (b >= BIG) return len;
      if (b <= -BIG) return 0;
    } else {
      if (b >= BIG) return subDims(len, 1);
      if (b <= -BIG) return -1;
    }
    if (b < 0) return addDims(len, b);
    if (forEnd && step > 0 && isConcrete(len)) return Math.min(b, len);
    return b;
  };
  const s = resolve(start, false);
  const e = resolve(end, true);
  const span = step > 0 ? subDims(e, s) : subDims(s, e);
  if (isConcrete(span) && span <= 0) return { len: 0 };
  return { len: ceilDiv(span, Math.abs(step)) };
}

const slice: Rule = (node, inputs, ctx) => {
  const t = typeOf(node, inputs, 0);
  const s = shapeOf(node, inputs, 0);
  let starts: Dim[];
  let ends: Dim[];
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (ctx.opset < 10) {
    starts = attrInts(node, 'starts') ?? stop('Slice has no starts');
    ends = attrInts(node, 'ends') ?? stop('Slice has no ends');
    axes = attrInts(node, 'axes');
  } else {
    starts = valueOf(node, inputs, 1);
    ends = valueOf(node, inputs, 2);
    if (has(node, 3)) axes = intsOf(node, inputs, 3);
    if (has(node, 4)) steps = intsOf(node, inputs, 4);
  }
  axes ??= starts.map((_, i) => i);
  const out = [...s];
  const v = withValueOf(inputs[0]);
  const lists: (number[] | undefined)[] | undefined = v?.shape.map((len) => Array.from({ length: len }, (_, j) => j));
  axes.forEach((a, k) => {
    const axis = normAxis(a, s.length, node);
    const r = sliceAxis(s[axis], starts[k], ends[k], steps?.[k] ?? 1);
    out[axis] = r.len;
    if (lists) lists[axis] = r.indices;
  });
  const value = v && lists!.every((l) => l !== undefined) ? take(v.values, v.shape, lists as number[][]) : undefined;
  return [tensor(t.elemType, out, value)];
};

const gather: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const s = shapeOf(node, inputs, 0);
  const ind = shapeOf(node, inputs, 1);
  const axis = normAxis(attrInt(node, 'axis', 0), s.length, node);
  const out = [...s.slice(0, axis), ...ind, ...s.slice(axis + 1)];
  let value: Dim[] | undefined;
  const v = withValueOf(inputs[0]);
  const iv = inputs[1]?.value;
  if (v && iv && iv.every(isConcrete)) {
    const len = v.shape[axis];
    const lists = v.shape.map((l, i) => (i === axis ? (iv as number[]).map((x) => (x < 0 ? x + len : x)) : Array.from({ length: l }, (_, j) => j)));
    if (lists[axis].every((x) => x >= 0 && x < len)) value = take(v.values, v.shape, lists);
  }
  return [tensor(t.elemType, out, value)];
};

const gatherElements: Rule = (node, inputs) => [tensor(typeOf(node, inputs, 0).elemType, shapeOf(node, inputs, 1))];

const gatherND: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const s = shapeOf(node, inputs, 0);
  const ind = shapeOf(node, inputs, 1);
  const b = attrInt(node, 'batch_dims', 0);
  const last = ind[ind.length - 1];
  if (!isConcrete(last)) stop(`GatherND index depth ${last} is symbolic`);
  return [tensor(t.elemType, [...ind.slice(0, -1), ...s.slice(b + last)])];
};

const sameAsData: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  return [tensor(t.elemType, t.shape)];
};

const constantOfShape: Rule = (node, inputs) => {
  const dims = valueOf(node, inputs, 0);
  const vt = attrTensor(node, 'value');
  const fill = vt ? knownOfTensor(vt) : { type: { elemType: Elem.FLOAT }, value: [0] };
  const elemType = fill.type?.elemType ?? Elem.FLOAT;
  const shapeOut = concreteShape(dims);
  const value = shapeOut && fill.value && countOf(shapeOut) <= 64 ? Array.from({ length: countOf(shapeOut) }, () => fill.value![0]) : undefined;
  return [tensor(elemType, dims, value)];
};

const expand: Rule = (node, inputs, ctx) => {
  const t = typeOf(node, inputs, 0);
  const s = shapeOf(node, inputs, 0);
  const target = inputs[1]?.value;
  if (!target) {
    const len = inputs[1]?.type?.shape?.[0];
    const reason = `the target shape (input 1, '${node.input[1]}') is not known`;
    if (isConcrete(len))
      stop(reason, [
        tensor(
          t.elemType,
          Array.from({ length: Math.max(len, s.length) }, () => ctx.fresh()),
        ),
      ]);
    stop(reason, [tensor(t.elemType)]);
  }
  // Expand's broadcast: a 1 in the target keeps the input's length.
  const rank = Math.max(s.length, target.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = i - (rank - s.length) >= 0 ? s[i - (rank - s.length)] : 1;
    const y = i - (rank - target.length) >= 0 ? target[i - (rank - target.length)] : 1;
    out.push(y === 1 ? x : x === 1 || !isConcrete(x) || isConcrete(y) ? y : x);
  }
  let value: Dim[] | undefined;
  const v = withValueOf(inputs[0]);
  const outShape = concreteShape(out);
  if (v && outShape && countOf(outShape) <= 64) {
    const lists = outShape.map((len, i) => {
      const src = i - (rank - v.shape.length) >= 0 ? v.shape[i - (rank - v.shape.length)] : 1;
      return Array.from({ length: len }, (_, j) => (src === 1 ? 0 : j));
    });
    value = take(v.values, [...new Array<number>(rank - v.shape.length).fill(1), ...v.shape], lists);
  }
  return [tensor(t.elemType, out, value)];
};

const range: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const [start] = valueOf(node, inputs, 0);
  const [limit] = valueOf(node, inputs, 1);
  const [delta] = valueOf(node, inputs, 2);
  if (!isConcrete(delta) || delta === 0) stop(`Range delta ${delta} is not a nonzero constant`);
  let n: Dim;
  if (isConcrete(start) && isConcrete(limit)) n = Math.max(0, Math.ceil((limit - start) / delta));
  else if (delta > 0) n = ceilDiv(subDims(limit, start), delta);
  else stop('Range with symbolic bounds and a negative delta');
  const value = isConcrete(n) && n <= 64 ? Array.from({ length: n }, (_, i) => addDims(start, i * delta)) : undefined;
  return [tensor(t.elemType, [n], value)];
};

const tile: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const s = shapeOf(node, inputs, 0);
  const reps = valueOf(node, inputs, 1);
  if (reps.length !== s.length) stop(`Tile repeats [${reps}] do not fit rank ${s.length}`);
  const out = s.map((d, i) => mulDims(d, reps[i]));
  let value: Dim[] | undefined;
  const v = withValueOf(inputs[0]);
  const outShape = concreteShape(out);
  if (v && outShape && countOf(outShape) <= 64) {
    value = take(
      v.values,
      v.shape,
      outShape.map((len, i) => Array.from({ length: len }, (_, j) => j % v.shape[i])),
    );
  }
  return [tensor(t.elemType, out, value)];
};

const pad: Rule = (node, inputs, ctx) => {
  const t = typeOf(node, inputs, 0);
  const s = shapeOf(node, inputs, 0);
  const r = s.length;
  let pads: Dim[];
  let axes = s.map((_, i) => i);
  if (ctx.opset < 11) pads = attrInts(node, 'pads') ?? attrInts(node, 'paddings') ?? stop('Pad has no pads');
  else {
    if (!inputs[1]?.value)
      stop(`the pads (input 1, '${node.input[1]}') are not known`, [
        tensor(
          t.elemType,
          s.map(() => ctx.fresh()),
        ),
      ]);
    pads = inputs[1].value;
    if (ctx.opset >= 18 && has(node, 3)) axes = intsOf(node, inputs, 3).map((a) => normAxis(a, r, node));
  }
  if (pads.length !== 2 * axes.length) stop(`Pad has ${pads.length} pads for ${axes.length} axes`);
  const out = [...s];
  axes.forEach((a, k) => {
    out[a] = addDims(addDims(s[a], pads[k]), pads[k + axes.length]);
  });
  return [tensor(t.elemType, out)];
};

const nonZero: Rule = (node, inputs, ctx) => [tensor(Elem.INT64, [shapeOf(node, inputs, 0).length, ctx.fresh('nonzero')])];

const topK: Rule = (node, inputs, ctx) => {
  const t = typeOf(node, inputs, 0);
  const s = shapeOf(node, inputs, 0);
  const axis = normAxis(attrInt(node, 'axis', -1), s.length, node);
  const k = ctx.opset < 10 ? (attrInt(node, 'k') ?? stop('TopK has no k')) : valueOf(node, inputs, 1)[0];
  const out = s.map((d, i) => (i === axis ? k : d));
  return [tensor(t.elemType, out), tensor(Elem.INT64, out)];
};

const oneHot: Rule = (node, inputs) => {
  const s = shapeOf(node, inputs, 0);
  const depth = valueOf(node, inputs, 1)[0];
  const vt = typeOf(node, inputs, 2).elemType;
  const rank = s.length + 1;
  const axis = normAxis(attrInt(node, 'axis', -1), rank, node);
  const d = isConcrete(depth) ? Math.trunc(depth) : depth;
  return [tensor(vt, [...s.slice(0, axis), d, ...s.slice(axis)])];
};

const depthToSpace: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const [n, c, h, w] = shapeOf(node, inputs, 0);
  const b = attrInt(node, 'blocksize', 1);
  const toSpace = node.opType === 'DepthToSpace';
  const cOut = toSpace ? exactDiv(c, b * b) : mulDims(c, b * b);
  if (cOut === undefined) stop(`DepthToSpace: ${c} channels do not divide by ${b * b}`);
  const hw = (d: Dim) => (toSpace ? mulDims(d, b) : (exactDiv(d, b) ?? stop(`SpaceToDepth: ${d} does not divide by ${b}`)));
  return [tensor(t.elemType, [n, cOut, hw(h), hw(w)])];
};

export const shapeRules: Record<string, Rule> = {
  Constant: constant,
  Shape: shape,
  Size: size,
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Concat: concat,
  Split: split,
  Slice: slice,
  Gather: gather,
  GatherElements: gatherElements,
  GatherND: gatherND,
  ScatterND: sameAsData,
  ScatterElements: sameAsData,
  Scatter: sameAsData,
  ConstantOfShape: constantOfShape,
  Expand: expand,
  Range: range,
  Tile: tile,
  Pad: pad,
  NonZero: nonZero,
  TopK: topK,
  OneHot: oneHot,
  DepthToSpace: depthToSpace,
  SpaceToDepth: depthToSpace,
};
