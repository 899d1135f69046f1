/**
 * What a small integer tensor computed from Shape holds, element by element.
 * torch.onnx exports `x.view(-1, x.size(-1))` and `x.view(*x.shape[:-1], n)`
 * (Hugging Face's Conv1D) as Reshapes whose targets are built in the graph
 * from Shape, Gather, Slice, Squeeze, Unsqueeze and Concat. Pruning shrinks an
 * axis, so it must know which target element is that axis's length, and
 * whether it is a stored number (to shrink) or read from the pruned tensor
 * itself (which follows by itself).
 */
import { attrInt, type GraphLookup, type NodeLike } from './lookup.js';
import { normAxis } from './registry.js';

/** One element: a known number, or the length of axis `axis` of tensor `of` as Shape reads it at run time. */
export type ShapeElement = { value: number } | { lengthOf: string; axis: number };

/** Ops that move shape elements around without computing new ones. */
const MOVERS = new Set(['Gather', 'Slice', 'Squeeze', 'Unsqueeze', 'Concat', 'Identity', 'Cast', 'Shape']);

/** The elements of `tensor`, when it is a constant or a shape computed by MOVERS only; undefined otherwise. */
export function shapeElements(lookup: GraphLookup, tensor: string, depth = 0): ShapeElement[] | undefined {
  const constant = lookup.constant(tensor);
  if (constant && constant.dims.length <= 1) return constant.values.map((value) => ({ value }));
  const node = lookup.producer(tensor);
  if (!node || depth > 32 || !MOVERS.has(node.opType ?? '')) return undefined;
  const from = (i: number) => (node.input[i] ? shapeElements(lookup, node.input[i], depth + 1) : undefined);
  switch (node.opType) {
    case 'Shape': {
      const rank = lookup.type?.(node.input[0])?.shape?.length;
      if (rank === undefined) return undefined;
      const start = clampAxis(attrInt(node, 'start', 0), rank);
      const end = clampAxis(attrInt(node, 'end', rank), rank);
      return Array.from({ length: Math.max(0, end - start) }, (_, i) => ({ lengthOf: node.input[0], axis: start + i }));
    }
    case 'Identity':
    case 'Squeeze':
    case 'Unsqueeze':
      return from(0);
    case 'Cast':
      // Shapes are int64; a Cast to another integer type keeps every value a shape can hold.
      return [6, 7].includes(attrInt(node, 'to', 0)) ? from(0) : undefined;
    case 'Concat': {
      const parts = node.input.map((_, i) => from(i));
      return parts.every((p) => p !== undefined) ? parts.flat() : undefined;
    }
    case 'Gather': {
      const data = from(0);
      const indices = lookup.constant(node.input[1])?.values;
      if (!data || !indices || attrInt(node, 'axis', 0) !== 0) return undefined;
      const picked = indices.map((i) => data[normAxis(i, data.length)]);
      return picked.every((p) => p !== undefined) ? picked : undefined;
    }
    case 'Slice':
      return sliceElements(lookup, node, from(0));
  }
  return undefined;
}

function sliceElements(lookup: GraphLookup, node: NodeLike, data: ShapeElement[] | undefined): ShapeElement[] | undefined {
  const value = (i: number) => (node.input[i] ? lookup.constant(node.input[i])?.values : undefined);
  const [starts, ends, axes, steps] = [value(1), value(2), node.input[3] ? value(3) : [0], node.input[4] ? value(4) : [1]];
  if (!data || !starts || !ends || !axes || !steps || starts.length !== 1 || (axes[0] !== 0 && axes[0] !== -1)) return undefined;
  if (steps[0] !== 1) return undefined;
  const n = data.length;
  return data.slice(clampAxis(starts[0], n), clampAxis(ends[0], n));
}

/** A Shape or Slice bound: negative counts from the end, and out-of-range values clamp. */
function clampAxis(v: number, n: number): number {
  const a = v < 0 ? v + n : v;
  return Math.min(Math.max(a, 0), n);
}

/** True when `e` is the run-time length of axis `axis` of `tensor`. */
export function isLengthOf(e: ShapeElement | undefined, tensor: string, axis: number): boolean {
  return e !== undefined && 'lengthOf' in e && e.lengthOf === tensor && e.axis === axis;
}

/**
 * Where the length of axis `axis` of `tensor`, read by `shape` (a Shape node),
 * ends up: undefined when every value computed from it either leaves that
 * length out or puts it in a Reshape target exactly where `accepts` says the
 * pruned length belongs; otherwise the node at which it goes somewhere else.
 */
export function strayLengthReader(
  lookup: GraphLookup,
  shape: NodeLike,
  tensor: string,
  axis: number,
  accepts: (reshape: NodeLike, position: number) => boolean,
): NodeLike | undefined {
  const visit = (value: string, depth: number): NodeLike | undefined => {
    for (const user of lookup.uses(value)) {
      if (user.opType === 'Reshape' && user.input[1] === value) {
        const elements = shapeElements(lookup, value);
        if (!elements) return user;
        const position = elements.findIndex((e) => isLengthOf(e, tensor, axis));
        if (position >= 0 && !accepts(user, position)) return user;
        continue;
      }
      if (!MOVERS.has(user.opType ?? '') || depth > 32) return user;
      for (const out of user.output.filter(Boolean)) {
        const elements = shapeElements(lookup, out);
        if (!elements || lookup.isOutput?.(out)) return user;
        if (!elements.some((e) => isLengthOf(e, tensor, axis))) continue;
        const stray = visit(out, depth + 1);
        if (stray) return stray;
      }
    }
    return undefined;
  };
  return lookup.isOutput?.(shape.output[0]) ? shape : visit(shape.output[0], 0);
}
