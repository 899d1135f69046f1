/**
 * Network layers: MatMul, Gemm, Einsum, convolutions and pooling,
 * normalisations, Resize/Upsample.
 */
import { addDims, ceilDiv, floorDiv, isConcrete, mulDims, subDims, type Dim } from '../dims.js';
import { Elem, stop, type InferContext, type NodeLike, type Rule } from '../types.js';
import { attrInt, attrInts, attrString, broadcast, has, normAxis, shapeOf, tensor, typeOf, unify } from '../util.js';

const matMul: Rule = (node, inputs, ctx) => {
  const t = typeOf(node, inputs, 0);
  const a = shapeOf(node, inputs, 0);
  const b = shapeOf(node, inputs, 1);
  if (a.length === 0 || b.length === 0) stop('MatMul of a scalar');
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const batch = broadcast(a2.slice(0, -2), b2.slice(0, -2), ctx);
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]);
  if (b.length > 1) out.push(b2[b2.length - 1]);
  const outElem = node.opType === 'MatMulInteger' ? Elem.INT32 : t.elemType;
  return [tensor(outElem, out)];
};

const gemm: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const a = shapeOf(node, inputs, 0);
  const b = shapeOf(node, inputs, 1);
  if (a.length !== 2 || b.length !== 2) stop(`Gemm of ranks ${a.length} and ${b.length}`);
  const m = attrInt(node, 'transA', 0) ? a[1] : a[0];
  const n = attrInt(node, 'transB', 0) ? b[0] : b[1];
  return [tensor(t.elemType, [m, n])];
};

interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  autoPad: string;
}

function windowOf(node: NodeLike, spatial: number, kernel: number[] | undefined): Window {
  const k = attrInts(node, 'kernel_shape') ?? kernel ?? stop(`${node.opType} has no kernel_shape`);
  if (k.length !== spatial) stop(`${node.opType} kernel_shape [${k}] does not fit ${spatial} spatial dims`);
  return {
    kernel: k,
    strides: attrInts(node, 'strides') ?? k.map(() => 1),
    dilations: attrInts(node, 'dilations') ?? k.map(() => 1),
    pads: attrInts(node, 'pads') ?? k.map(() => 0).concat(k.map(() => 0)),
    autoPad: attrString(node, 'auto_pad', 'NOTSET'),
  };
}

/** Output length of one windowed axis (Conv and pools), PyTorch's ceil_mode rule included. */
function windowed(len: Dim, w: Window, i: number, ceilMode: boolean): Dim {
  const s = w.strides[i];
  if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') return ceilDiv(len, s);
  const pb = w.autoPad === 'VALID' ? 0 : w.pads[i];
  const pe = w.autoPad === 'VALID' ? 0 : w.pads[i + w.kernel.length];
  const span = subDims(addDims(len, pb + pe), w.dilations[i] * (w.kernel[i] - 1) + 1);
  if (!ceilMode) return addDims(floorDiv(span, s), 1);
  let out = addDims(ceilDiv(span, s), 1);
  // A last window that would start in the right padding is dropped.
  if (isConcrete(out) && isConcrete(len) && (out - 1) * s >= len + pb) out -= 1;
  return out;
}

const conv: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const x = shapeOf(node, inputs, 0);
  const wShape = inputs[1]?.type?.shape;
  if (x.length < 3) stop(`Conv input of rank ${x.length}`);
  const spatial = x.length - 2;
  const kernel = wShape?.slice(2).every(isConcrete) ? (wShape.slice(2) as number[]) : undefined;
  const w = windowOf(node, spatial, kernel);
  const m = wShape?.[0] ?? stop(`Conv weight ('${node.input[1]}') has unknown shape`);
  return [tensor(t.elemType, [x[0], m, ...x.slice(2).map((d, i) => windowed(d, w, i, false))])];
};

const convTranspose: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const x = shapeOf(node, inputs, 0);
  const wShape = shapeOf(node, inputs, 1);
  const spatial = x.length - 2;
  const kernel = wShape.slice(2).every(isConcrete) ? (wShape.slice(2) as number[]) : undefined;
  const w = windowOf(node, spatial, kernel);
  const channels = mulDims(wShape[1], attrInt(node, 'group', 1));
  const given = attrInts(node, 'output_shape');
  const outPad = attrInts(node, 'output_padding') ?? w.kernel.map(() => 0);
  const dims = x.slice(2).map((d, i) => {
    if (given) return given[given.length - spatial + i];
    if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') return mulDims(d, w.strides[i]);
    const pads = w.autoPad === 'VALID' ? 0 : w.pads[i] + w.pads[i + spatial];
    const grown = mulDims(subDims(d, 1), w.strides[i]);
    return addDims(grown, outPad[i] + (w.kernel[i] - 1) * w.dilations[i] + 1 - pads);
  });
  return [tensor(t.elemType, [x[0], channels, ...dims])];
};

const pool: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const x = shapeOf(node, inputs, 0);
  const w = windowOf(node, x.length - 2, undefined);
  const ceilMode = attrInt(node, 'ceil_mode', 0) === 1;
  const out = [x[0], x[1], ...x.slice(2).map((d, i) => windowed(d, w, i, ceilMode))];
  const outs = [tensor(t.elemType, out)];
  if (node.output.length > 1) outs.push(tensor(Elem.INT64, out));
  return outs;
};

const globalPool: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const x = shapeOf(node, inputs, 0);
  return [tensor(t.elemType, [x[0], x[1], ...x.slice(2).map(() => 1)])];
};

const batchNorm: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const x = shapeOf(node, inputs, 0);
  const c = x[1] ?? stop('BatchNormalization of a scalar');
  const meanType = inputs[3]?.type?.elemType ?? t.elemType;
  return node.output.map((_, i) => (i === 0 ? tensor(t.elemType, x) : tensor(meanType, [c])));
};

/** LayerNormalization (ONNX, and com.microsoft's): Y like X; Mean and InvStdDev keep the leading axes. */
export const layerNorm: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const x = shapeOf(node, inputs, 0);
  const axis = normAxis(attrInt(node, 'axis', -1), x.length, node);
  const stash = attrInt(node, 'stash_type', Elem.FLOAT);
  const reduced = x.map((d, i) => (i < axis ? d : 1));
  return node.output.map((_, i) => (i === 0 ? tensor(t.elemType, x) : tensor(stash, reduced)));
};

const sameShape: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  return [tensor(t.elemType, t.shape)];
};

/** Output dims from Resize/Upsample scales: exact for integer scales, fresh for fractional scales of symbols. */
function scaled(x: Dim[], scales: Dim[], ctx: InferContext): Dim[] {
  return x.map((d, i) => {
    const s = scales[i];
    if (!isConcrete(s)) stop(`scale ${s} is symbolic`);
    if (isConcrete(d)) return Math.floor(d * s);
    return Number.isInteger(s) ? mulDims(d, s) : ctx.fresh();
  });
}

const resize: Rule = (node, inputs, ctx) => {
  const t = typeOf(node, inputs, 0);
  const x = shapeOf(node, inputs, 0);
  const partial = [
    tensor(
      t.elemType,
      x.map((d, i) => (i < 2 ? d : ctx.fresh())),
    ),
  ];
  if (node.opType === 'Upsample' && ctx.opset < 9) return [tensor(t.elemType, scaled(x, attrInts(node, 'scales') ?? stop('Upsample has no scales'), ctx))];
  const scalesAt = node.opType === 'Upsample' || ctx.opset < 11 ? 1 : 2;
  const axes = ctx.opset >= 18 && attrInts(node, 'axes') ? attrInts(node, 'axes')!.map((a) => normAxis(a, x.length, node)) : x.map((_, i) => i);
  const sizes = node.opType === 'Resize' && has(node, 3) ? inputs[3]?.value : undefined;
  if (node.opType === 'Resize' && has(node, 3) && (inputs[3]?.type?.shape?.[0] ?? 1) !== 0) {
    if (!sizes) stop(`the sizes (input 3, '${node.input[3]}') are not known`, partial);
    if (attrString(node, 'keep_aspect_ratio_policy', 'stretch') !== 'stretch') stop('Resize keep_aspect_ratio_policy other than stretch', partial);
    const out = [...x];
    axes.forEach((a, k) => (out[a] = sizes[k]));
    return [tensor(t.elemType, out)];
  }
  const scales = has(node, scalesAt) ? inputs[scalesAt]?.value : undefined;
  if (!scales) stop(`the scales (input ${scalesAt}, '${node.input[scalesAt] ?? ''}') are not known`, partial);
  const full = x.map(() => 1 as Dim);
  axes.forEach((a, k) => (full[a] = scales[k]));
  return [tensor(t.elemType, scaled(x, full, ctx))];
};

/** Einsum over explicit ('ab,bc->ac') and implicit equations, with '...'. */
const einsum: Rule = (node, inputs, ctx) => {
  const eq = attrString(node, 'equation').replace(/\s/g, '');
  const [lhs, rhs] = eq.split('->');
  const terms = lhs.split(',');
  if (terms.length !== node.input.length) stop(`Einsum equation '${eq}' has ${terms.length} terms for ${node.input.length} inputs`);
  const letters = new Map<string, Dim>();
  const counts = new Map<string, number>();
  let ellipsis: Dim[] = [];
  const elemType = typeOf(node, inputs, 0).elemType;
  terms.forEach((term, k) => {
    const s = shapeOf(node, inputs, k);
    const [before, after = ''] = term.split('...');
    const hasEllipsis = term.includes('...');
    const nEll = s.length - before.length - after.length;
    if (nEll < 0 || (!hasEllipsis && nEll !== 0)) stop(`Einsum term '${term}' does not fit rank ${s.length}`);
    const labelled = [...before.split('').map((c, i) => [c, s[i]] as const), ...after.split('').map((c, i) => [c, s[before.length + nEll + i]] as const)];
    for (const [c, d] of labelled) {
      const prev = letters.get(c);
      letters.set(c, prev === undefined || prev === 1 ? d : d === 1 ? prev : unify(prev, d));
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    if (hasEllipsis)
      ellipsis = ellipsis.length ? broadcast(ellipsis, s.slice(before.length, before.length + nEll), ctx) : s.slice(before.length, before.length + nEll);
  });
  const outTerm =
    rhs ??
    `...${[...counts.keys()]
      .filter((c) => counts.get(c) === 1)
      .sort()
      .join('')}`;
  const out: Dim[] = [];
  const [ob, oa = ''] = outTerm.split('...');
  for (const c of ob) out.push(letters.get(c) ?? stop(`Einsum output label '${c}' is on no input`));
  if (outTerm.includes('...')) out.push(...ellipsis);
  for (const c of oa) out.push(letters.get(c) ?? stop(`Einsum output label '${c}' is on no input`));
  return [tensor(elemType, out)];
};

export const nnRules: Record<string, Rule> = {
  MatMul: matMul,
  MatMulInteger: matMul,
  Gemm: gemm,
  Einsum: einsum,
  Conv: conv,
  ConvTranspose: convTranspose,
  MaxPool: pool,
  AveragePool: pool,
  LpPool: pool,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  GlobalLpPool: globalPool,
  BatchNormalization: batchNorm,
  InstanceNormalization: sameShape,
  GroupNormalization: sameShape,
  LayerNormalization: layerNorm,
  Resize: resize,
  Upsample: resize,
};
