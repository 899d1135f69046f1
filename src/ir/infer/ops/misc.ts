/**
 * Less common ops, for coverage beyond transformer and CNN exports:
 * quantisation, random generators, recurrent layers, losses, detection and
 * data-dependent ops (whose lengths become fresh symbols).
 */
import { isConcrete, type Dim } from '../dims.js';
import { Elem, stop, type Rule } from '../types.js';
import { attrInt, attrInts, attrString, has, shapeOf, tensor, typeOf, valueOf } from '../util.js';
import { nnRules } from './nn.js';

const sameShapeAs =
  (elemType: (node: Parameters<Rule>[0], inputs: Parameters<Rule>[1]) => number): Rule =>
  (node, inputs) => [tensor(elemType(node, inputs), shapeOf(node, inputs, 0))];

/** The `dtype` attribute, or the input's type. */
const dtypeOr: Rule = (node, inputs) => [tensor(attrInt(node, 'dtype') ?? typeOf(node, inputs, 0).elemType, shapeOf(node, inputs, 0))];

const quantize = sameShapeAs((node, inputs) => (has(node, 2) ? typeOf(node, inputs, 2).elemType : attrInt(node, 'output_dtype') || Elem.UINT8));
const dequantize = sameShapeAs((node, inputs) => attrInt(node, 'output_dtype') || typeOf(node, inputs, 1).elemType);

const dynamicQuantize: Rule = (node, inputs) => [tensor(Elem.UINT8, shapeOf(node, inputs, 0)), tensor(Elem.FLOAT, []), tensor(Elem.UINT8, [])];

const random: Rule = (node) => [tensor(attrInt(node, 'dtype', Elem.FLOAT), attrInts(node, 'shape') ?? stop(`${node.opType} has no shape`))];

/** RNN, GRU, LSTM: Y [seq, dirs, batch, hidden] (layout 0) or [batch, seq, dirs, hidden]; Y_h and Y_c [dirs, batch, hidden]. */
const recurrent: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const x = shapeOf(node, inputs, 0);
  const hidden = attrInt(node, 'hidden_size') ?? stop(`${node.opType} has no hidden_size`);
  const dirs = attrString(node, 'direction', 'forward') === 'bidirectional' ? 2 : 1;
  const layout = attrInt(node, 'layout', 0);
  const [seq, batch] = layout === 0 ? [x[0], x[1]] : [x[1], x[0]];
  const y = layout === 0 ? [seq, dirs, batch, hidden] : [batch, seq, dirs, hidden];
  const state = layout === 0 ? [dirs, batch, hidden] : [batch, dirs, hidden];
  return node.output.map((_, i) => tensor(t.elemType, i === 0 ? y : state));
};

/** NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: the target's shape unreduced, else a scalar. */
const loss: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const out = attrString(node, 'reduction', 'mean') === 'none' ? shapeOf(node, inputs, 1) : [];
  return node.output.map((_, i) => (i === 0 ? tensor(t.elemType, out) : tensor(t.elemType, shapeOf(node, inputs, 0))));
};

const nonMaxSuppression: Rule = (_node, _inputs, ctx) => [tensor(Elem.INT64, [ctx.fresh('nms'), 3])];

const compress: Rule = (node, inputs, ctx) => {
  const t = typeOf(node, inputs, 0);
  const s = shapeOf(node, inputs, 0);
  const axis = attrInt(node, 'axis');
  if (axis === undefined) return [tensor(t.elemType, [ctx.fresh('compress')])];
  const a = axis < 0 ? axis + s.length : axis;
  return [
    tensor(
      t.elemType,
      s.map((d, i) => (i === a ? ctx.fresh('compress') : d)),
    ),
  ];
};

const unique: Rule = (node, inputs, ctx) => {
  const t = typeOf(node, inputs, 0);
  const s = shapeOf(node, inputs, 0);
  const axis = attrInt(node, 'axis');
  const n = ctx.fresh('unique');
  const y = axis === undefined ? [n] : s.map((d, i) => (i === (axis < 0 ? axis + s.length : axis) ? n : d));
  const total: Dim =
    axis === undefined ? s.reduce<Dim>((a, b) => (isConcrete(a) && isConcrete(b) ? a * b : ctx.fresh()), 1) : s[axis < 0 ? axis + s.length : axis];
  return [tensor(t.elemType, y), tensor(Elem.INT64, [n]), tensor(Elem.INT64, [total]), tensor(Elem.INT64, [n])];
};

const gridSample: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const x = shapeOf(node, inputs, 0);
  const grid = shapeOf(node, inputs, 1);
  return [tensor(t.elemType, [x[0], x[1], ...grid.slice(1, -1)])];
};

const det: Rule = (node, inputs) => [tensor(typeOf(node, inputs, 0).elemType, shapeOf(node, inputs, 0).slice(0, -2))];

const window: Rule = (node, inputs) => [tensor(attrInt(node, 'output_datatype', Elem.FLOAT), [valueOf(node, inputs, 0)[0]])];

const maxUnpool: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const x = shapeOf(node, inputs, 0);
  if (has(node, 2)) return [tensor(t.elemType, valueOf(node, inputs, 2))];
  const k = attrInts(node, 'kernel_shape') ?? stop('MaxUnpool has no kernel_shape');
  const strides = attrInts(node, 'strides') ?? k.map(() => 1);
  const pads = attrInts(node, 'pads') ?? [...k.map(() => 0), ...k.map(() => 0)];
  return [
    tensor(t.elemType, [
      x[0],
      x[1],
      ...x.slice(2).map((d, i) => {
        if (!isConcrete(d)) stop(`MaxUnpool over symbolic dim ${d}`);
        return (d - 1) * strides[i] + k[i] - pads[i] - pads[i + k.length];
      }),
    ]),
  ];
};

/** QLinearMatMul/QLinearConv read (x, x_scale, x_zp, w, ...): the float rule on inputs 0 and 3, typed like y_zero_point. */
function qlinear(base: Rule): Rule {
  return (node, inputs, ctx) => {
    const outs = base(node, [inputs[0], inputs[3]], ctx);
    return [tensor(typeOf(node, inputs, 7).elemType, outs[0].type?.shape)];
  };
}

const convInteger: Rule = (node, inputs, ctx) => [tensor(Elem.INT32, nnRules.Conv(node, inputs, ctx)[0].type?.shape)];

export const miscRules: Record<string, Rule> = {
  QuantizeLinear: quantize,
  DequantizeLinear: dequantize,
  DynamicQuantizeLinear: dynamicQuantize,
  EyeLike: dtypeOr,
  RandomUniformLike: dtypeOr,
  RandomNormalLike: dtypeOr,
  Bernoulli: dtypeOr,
  RandomUniform: random,
  RandomNormal: random,
  RNN: recurrent,
  GRU: recurrent,
  LSTM: recurrent,
  NegativeLogLikelihoodLoss: loss,
  SoftmaxCrossEntropyLoss: loss,
  NonMaxSuppression: nonMaxSuppression,
  Compress: compress,
  Unique: unique,
  GridSample: gridSample,
  ReverseSequence: sameShapeAs((node, inputs) => typeOf(node, inputs, 0).elemType),
  Det: det,
  HannWindow: window,
  HammingWindow: window,
  BlackmanWindow: window,
  MaxUnpool: maxUnpool,
  QLinearMatMul: qlinear(nnRules.MatMul),
  QLinearConv: qlinear(nnRules.Conv),
  ConvInteger: convInteger,
  SimplifiedLayerNormalization: nnRules.LayerNormalization,
  RMSNormalization: nnRules.LayerNormalization,
};
