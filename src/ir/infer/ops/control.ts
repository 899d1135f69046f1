/**
 * If, Loop and Scan, best effort: bodies are inferred with the outer values
 * visible (ctx.subgraph); where branches or iterations disagree the dim
 * becomes a fresh symbol, and where ranks disagree the shape is unknown.
 */
import { dimsEqual, isConcrete, type Dim } from '../dims.js';
import { Elem, stop, type InferContext, type Known, type Rule } from '../types.js';
import { attrInt, attrInts, getAttr, has, tensor } from '../util.js';

function body(ctx: InferContext, node: { opType?: string }, graph: unknown, inputs: (Known | undefined)[]): Known[] {
  if (!ctx.subgraph) stop(`${node.opType} needs its body inferred, which only inferGraph does`);
  if (!graph) stop(`${node.opType} has no body graph`);
  return ctx.subgraph(graph as never, inputs);
}

/** One type for two that should agree: equal dims kept, differing dims fresh, differing ranks unknown. */
function agree(a: Known | undefined, b: Known | undefined, ctx: InferContext): { known: Known; reason?: string } {
  const ta = a?.type;
  const tb = b?.type;
  if (!ta || !tb) return { known: tensor(ta?.elemType ?? tb?.elemType), reason: 'a branch output has no known type' };
  if (ta.elemType !== tb.elemType) return { known: {}, reason: `branches give element types ${ta.elemType} and ${tb.elemType}` };
  if (!ta.shape || !tb.shape || ta.shape.length !== tb.shape.length)
    return { known: tensor(ta.elemType), reason: 'branches give outputs of different or unknown ranks' };
  const sb = tb.shape;
  return {
    known: tensor(
      ta.elemType,
      ta.shape.map((d, i) => (dimsEqual(d, sb[i]) ? d : ctx.fresh())),
    ),
  };
}

const ifRule: Rule = (node, inputs, ctx) => {
  const cond = inputs[0]?.value?.[0];
  const thenG = getAttr(node, 'then_branch')?.g;
  const elseG = getAttr(node, 'else_branch')?.g;
  if (isConcrete(cond)) return body(ctx, node, cond !== 0 ? thenG : elseG, []);
  const a = body(ctx, node, thenG, []);
  const b = body(ctx, node, elseG, []);
  const merged = node.output.map((_, i) => agree(a[i], b[i], ctx));
  const failed = merged.find((m) => m.reason);
  if (failed)
    stop(
      `If: ${failed.reason}`,
      merged.map((m) => m.known),
    );
  return merged.map((m) => m.known);
};

/** A loop-carried value keeps its type; dims that change across iterations become fresh. */
function carried(initial: Known | undefined, after: Known | undefined, ctx: InferContext): Known {
  const t = initial?.type;
  if (!t) return tensor(after?.type?.elemType);
  return agree({ type: t }, after, ctx).known;
}

const loop: Rule = (node, inputs, ctx) => {
  const n = node.input.length - 2;
  const initial = inputs.slice(2).map((k) => (k?.type ? { type: k.type } : undefined));
  const outs = body(ctx, node, getAttr(node, 'body')?.g, [tensor(Elem.INT64, []), tensor(Elem.BOOL, []), ...initial]);
  const trip = has(node, 0) && !has(node, 1) ? inputs[0]?.value?.[0] : undefined;
  const iterations: Dim = trip ?? ctx.fresh('loop');
  return node.output.map((_, i) => {
    if (i < n) return carried(initial[i], outs[i + 1], ctx);
    const s = outs[i + 1]?.type;
    return s?.shape ? tensor(s.elemType, [iterations, ...s.shape]) : tensor(s?.elemType);
  });
};

const scan: Rule = (node, inputs, ctx) => {
  if (ctx.opset < 9) stop('Scan before opset 9');
  const m = attrInt(node, 'num_scan_inputs') ?? stop('Scan has no num_scan_inputs');
  const n = node.input.length - m;
  const inAxes = attrInts(node, 'scan_input_axes') ?? new Array<number>(m).fill(0);
  const outAxes = attrInts(node, 'scan_output_axes');
  let seq: Dim | undefined;
  const bodyInputs: (Known | undefined)[] = inputs.slice(0, n);
  for (let j = 0; j < m; j++) {
    const t = inputs[n + j]?.type;
    if (!t?.shape) {
      bodyInputs.push(tensor(t?.elemType));
      continue;
    }
    const axis = inAxes[j] < 0 ? inAxes[j] + t.shape.length : inAxes[j];
    seq ??= t.shape[axis];
    bodyInputs.push(
      tensor(
        t.elemType,
        t.shape.filter((_, i) => i !== axis),
      ),
    );
  }
  const outs = body(ctx, node, getAttr(node, 'body')?.g, bodyInputs);
  return node.output.map((_, i) => {
    if (i < n) return carried(inputs[i], outs[i], ctx);
    const s = outs[i]?.type;
    if (!s?.shape) return tensor(s?.elemType);
    const rank = s.shape.length + 1;
    const a0 = outAxes?.[i - n] ?? 0;
    const axis = a0 < 0 ? a0 + rank : a0;
    const shape = [...s.shape];
    shape.splice(axis, 0, seq ?? ctx.fresh('scan'));
    return tensor(s.elemType, shape);
  });
};

export const controlRules: Record<string, Rule> = { If: ifRule, Loop: loop, Scan: scan };
