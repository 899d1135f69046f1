/** Reductions (axes as attribute, or as input from opset 13 for ReduceSum and 18 for the rest) and ArgMax/ArgMin. */
import { addDims, mulDims, type Dim } from '../dims.js';
import { Elem, type Rule } from '../types.js';
import { attrInt, attrInts, has, intsOf, normAxis, shapeOf, tensor, typeOf } from '../util.js';

const VALUE_REDUCERS: Partial<Record<string, (a: Dim, b: Dim) => Dim>> = { ReduceSum: addDims, ReduceProd: mulDims };

function reduce(axesInputFrom: number): Rule {
  return (node, inputs, ctx) => {
    const t = typeOf(node, inputs, 0);
    const s = shapeOf(node, inputs, 0);
    const keep = attrInt(node, 'keepdims', 1) === 1;
    let axes: number[] | undefined;
    if (ctx.opset < axesInputFrom) axes = attrInts(node, 'axes');
    else if (has(node, 1)) axes = intsOf(node, inputs, 1);
    if ((axes === undefined || axes.length === 0) && ctx.opset >= axesInputFrom && attrInt(node, 'noop_with_empty_axes', 0) === 1) {
      return [tensor(t.elemType, s, inputs[0]?.value)];
    }
    const all = axes === undefined || axes.length === 0;
    const reduced = new Set(all ? s.map((_, i) => i) : axes!.map((a) => normAxis(a, s.length, node)));
    const out: Dim[] = [];
    s.forEach((d, i) => {
      if (!reduced.has(i)) out.push(d);
      else if (keep) out.push(1);
    });
    const f = VALUE_REDUCERS[node.opType ?? ''];
    const v = inputs[0]?.value;
    const value = f && v && s.length === 1 && reduced.size === 1 ? [v.reduce(f, node.opType === 'ReduceProd' ? 1 : 0)] : undefined;
    return [tensor(t.elemType, out, value)];
  };
}

const argReduce: Rule = (node, inputs) => {
  const s = shapeOf(node, inputs, 0);
  const axis = normAxis(attrInt(node, 'axis', 0), s.length, node);
  const keep = attrInt(node, 'keepdims', 1) === 1;
  const out = keep ? s.map((d, i) => (i === axis ? 1 : d)) : s.filter((_, i) => i !== axis);
  return [tensor(Elem.INT64, out)];
};

const REDUCE = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

export const reduceRules: Record<string, Rule> = {
  ...Object.fromEntries(REDUCE.map((op) => [op, reduce(18)])),
  ReduceSum: reduce(13),
  ArgMax: argReduce,
  ArgMin: argReduce,
};
