/**
 * One step of the ablate / prune / fold walks, from a tensor and its channel
 * axis to the next tensor (through an op or a whole recognised pattern that
 * keeps the edit sound), to the weights to edit, or to a refusal that names
 * the pattern and a better place. The walks loop over these steps; all the
 * knowledge of ops lives in the registry, the weight table and the patterns.
 *
 *   up (producer side, ablate/prune): the anchored tensor's dims must become
 *   zero, so the walk goes back through zero-keeping ops to the op that
 *   writes them;
 *   down (reader side): every reader must see the edit: ablation and pruning
 *   pass through zero-keeping ops, a fold only through linear ones that
 *   commute with a map of the channels.
 */
import { nodeLabel, scalarOf, type GraphLookup, type NodeLike } from './lookup.js';
import { patternEndingAt, recognizePattern, type PatternMatch } from './patterns.js';
import { normalizationRefusal, opaqueRefusal, residualRefusal, rowScaleFoldRefusal, softmaxRefusal, type WeightEdit } from './refusals.js';
import { mapAxis, normAxis, opBehaviour, type AxisBehaviour } from './registry.js';
import { isLinearOp, linearOp, type LinearOp } from './weights.js';

export type Step =
  /** Continue at `tensor`, channel axis `axis` (each channel a run of `block` coordinates, when set). */
  | { kind: 'through'; nodes: NodeLike[]; tensor: string; axis: number; block?: number; pattern?: PatternMatch }
  /** Edit this weight op: the reading side (down) or the writing side (up). */
  | { kind: 'weight'; node: NodeLike; op: LinearOp }
  /** Up only: a constant added per channel (a separate bias Add); edit its entries and continue at `tensor`. */
  | { kind: 'bias'; node: NodeLike; bias: string; tensor: string; axis: number }
  /** Up only: BatchNormalization (per-channel affine) between the tensor and its writer; zero its scale and bias for the channels, then continue. */
  | { kind: 'channelAffine'; node: NodeLike; tensor: string; axis: number }
  /** Up only: a product of two activations (gated MLP): zeroing either factor's channels zeroes the product. */
  | { kind: 'product'; node: NodeLike; factors: [string, string]; axis: number }
  /** Down only: a node that reads only the tensor's shape (Shape, Size): values are not affected, the width is. */
  | { kind: 'shape'; node: NodeLike }
  | { kind: 'refuse'; message: string };

function rankOf(lookup: GraphLookup, tensor: string): number | undefined {
  return lookup.type?.(tensor)?.shape?.length;
}

function sameAxis(a: number, b: number, rank: number | undefined): boolean {
  if (a === b) return true;
  return rank !== undefined && normAxis(a, rank) === normAxis(b, rank);
}

/** Whether an op with this behaviour commutes with a linear map of the channels (a fold may pass it). */
function commutesWithChannelMap(node: NodeLike, behaviour: AxisBehaviour, lookup: GraphLookup): boolean {
  if (behaviour.kind === 'layout') return true;
  if (behaviour.kind === 'pool') return ['AveragePool', 'GlobalAveragePool'].includes(node.opType ?? '');
  if (behaviour.kind !== 'elementwise') return false;
  if (['Identity', 'Dropout'].includes(node.opType ?? '')) return true;
  // Scaling every channel by one scalar commutes with any linear map; per-channel scales do not.
  if (node.opType === 'Mul') return node.input.some((i) => scalarOf(lookup, i) !== undefined);
  if (node.opType === 'Div') return scalarOf(lookup, node.input[1]) !== undefined;
  return false;
}

function patternStep(m: PatternMatch, axis: number, lookup: GraphLookup, edit: WeightEdit, up: boolean): Step {
  const b = m.behaviour;
  const to = up ? m.input : m.output;
  const rank = rankOf(lookup, m.input) ?? rankOf(lookup, m.output);
  if (b.kind === 'normalize') return { kind: 'refuse', message: normalizationRefusal(m, edit) };
  if (m.params.skip && edit !== 'fold') return { kind: 'refuse', message: normalizationRefusal(m, edit) };
  if (b.kind === 'rowScale') {
    if (edit === 'fold') return { kind: 'refuse', message: rowScaleFoldRefusal(m) };
    if (!b.axes.every((a) => sameAxis(a, axis, rank))) {
      return {
        kind: 'refuse',
        message: `${m.label} at ${m.site} normalises over axis ${b.axes.join(', ')}, not the edited axis ${axis}; ${edit} through it is unsound`,
      };
    }
    return { kind: 'through', nodes: m.nodes, tensor: to, axis, pattern: m };
  }
  if (b.kind === 'elementwise') {
    if (edit === 'fold') {
      return {
        kind: 'refuse',
        message: `${m.label} at ${m.site} is not linear, so a map folded into the weights after it is not the map before it; fold into weights that read '${m.input}' directly, or patch it`,
      };
    }
    if (!b.zeroPreserving) {
      return {
        kind: 'refuse',
        message: `${m.label} at ${m.site} adds a bias before its nonlinearity, so zeroed dims do not stay zero; ${edit} through it is unsound`,
      };
    }
    return { kind: 'through', nodes: m.nodes, tensor: to, axis, pattern: m };
  }
  return { kind: 'refuse', message: `${m.label} at ${m.site}: ${edit} through it is not supported` };
}

/**
 * A QuantizeLinear → DequantizeLinear pair of an activation (QDQ static
 * quantization) with one scale and zero point: it keeps every coordinate in
 * place and maps 0 to exactly 0 (the zero point and back), so zeroed channels
 * stay zero through it.
 */
function samePair(q: NodeLike, dq: NodeLike, lookup: GraphLookup): boolean {
  if (dq.opType !== 'DequantizeLinear' || (dq.domain ?? '') !== '' || dq.input[0] !== q.output[0]) return false;
  const same = (a: string | undefined, b: string | undefined) => {
    if ((a ?? '') === (b ?? '')) return true;
    const [x, y] = [a ? lookup.constant(a)?.values : undefined, b ? lookup.constant(b)?.values : undefined];
    return x !== undefined && y !== undefined && x.length === y.length && x.every((v, i) => v === y[i]);
  };
  return same(q.input[1], dq.input[1]) && same(q.input[2], dq.input[2]);
}

/**
 * Dynamic int8 (onnxruntime's quantize_dynamic, transformers.js's q8): x is
 * quantized per tensor and read by MatMulInteger with the same zero point,
 * so (code - zero point) keeps each coordinate in place and a weight row the
 * edit zeroes ignores its channel whatever its code. The scale is computed
 * from the whole tensor, so it sees the edited tensor, as any patch of it
 * would. A fold would have to requantize: refused.
 */
function dynamicQuantizeStep(node: NodeLike, tensor: string, axis: number, lookup: GraphLookup, edit: WeightEdit): Step {
  const [codes, , zeroPoint] = node.output;
  if (edit === 'fold')
    return {
      kind: 'refuse',
      message: `DynamicQuantizeLinear at ${nodeLabel(node)} quantizes '${tensor}' for an integer MatMul: a fold would have to requantize it; patch '${tensor}' instead`,
    };
  const readers = lookup.uses(codes);
  const stray = readers.find((r) => r.opType !== 'MatMulInteger' || r.input[0] !== codes || r.input[2] !== zeroPoint);
  if (stray || !readers.length)
    return {
      kind: 'refuse',
      message: `DynamicQuantizeLinear at ${nodeLabel(node)}: its codes are read by ${stray ? `${stray.opType} at ${nodeLabel(stray)}` : 'nothing'}, not only as MatMulInteger data with its zero point`,
    };
  return { kind: 'through', nodes: [node], tensor: codes, axis };
}

/**
 * How the reader `node` of `tensor` (channels on `axis`) takes an edit of
 * those channels: pass through it, edit its weight, or refuse.
 */
export function stepDown(node: NodeLike, tensor: string, axis: number, lookup: GraphLookup, edit: WeightEdit): Step {
  if (['Shape', 'Size'].includes(node.opType ?? '')) return { kind: 'shape', node };
  if (node.opType === 'DynamicQuantizeLinear' && (node.domain ?? '') === '') return dynamicQuantizeStep(node, tensor, axis, lookup, edit);
  if (node.opType === 'QuantizeLinear' && (node.domain ?? '') === '') {
    const dq = lookup.uses(node.output[0]);
    if (edit !== 'fold' && dq.length === 1 && samePair(node, dq[0], lookup)) return { kind: 'through', nodes: [node, dq[0]], tensor: dq[0].output[0], axis };
    return {
      kind: 'refuse',
      message: `QuantizeLinear at ${nodeLabel(node)} quantizes '${tensor}' for ${dq.map((n) => `${n.opType} at ${nodeLabel(n)}`).join(', ') || 'nothing'}, not for one DequantizeLinear with the same scale and zero point${edit === 'fold' ? " (a fold would move the quantizer's range)" : ''}`,
    };
  }
  const pattern = recognizePattern(node, lookup);
  if (pattern && pattern.input === tensor) return patternStep(pattern, axis, lookup, edit, false);
  const rank = rankOf(lookup, tensor) ?? (node.opType === 'Gemm' ? 2 : undefined);
  const behaviour = opBehaviour(node, lookup);
  const out = node.output[0];
  switch (behaviour.kind) {
    case 'linear': {
      const op = linearOp(node, tensor, lookup);
      if (!isLinearOp(op)) return { kind: 'refuse', message: op.refused };
      if (!sameAxis(op.dataAxis, axis, rank)) {
        return { kind: 'refuse', message: `${node.opType} at ${nodeLabel(node)} contracts axis ${op.dataAxis} of '${tensor}', not the edited axis ${axis}` };
      }
      if (edit === 'fold' && !op.fold) return { kind: 'refuse', message: op.foldRefusal ?? `${node.opType} at ${nodeLabel(node)} cannot take a fold` };
      return { kind: 'weight', node, op };
    }
    case 'elementwise':
      if (edit === 'fold') {
        if (commutesWithChannelMap(node, behaviour, lookup)) return { kind: 'through', nodes: [node], tensor: out, axis };
        return {
          kind: 'refuse',
          message: `${node.opType} at ${nodeLabel(node)} is not a scalar linear op, so a map folded into the weights after it is not the map before it; fold into weights that read '${tensor}' directly`,
        };
      }
      if (!behaviour.zeroPreserving)
        return { kind: 'refuse', message: opaqueRefusal(node, 'it maps 0 to another value, so zeroed dims do not stay zero', edit) };
      return { kind: 'through', nodes: [node], tensor: out, axis };
    case 'product':
      if (edit === 'fold')
        return {
          kind: 'refuse',
          message: `${node.opType} at ${nodeLabel(node)} multiplies '${tensor}' by another activation, so a map of its channels cannot be folded past it`,
        };
      return { kind: 'through', nodes: [node], tensor: out, axis };
    case 'merge':
      return { kind: 'refuse', message: residualRefusal(node, tensor, edit) };
    case 'normalize':
      return { kind: 'refuse', message: softmaxRefusal(node, behaviour.axes, edit, behaviour.toEnd) };
    case 'pool':
      if (!sameAxis(axis, 1, rank))
        return { kind: 'refuse', message: `${node.opType} at ${nodeLabel(node)} pools the axes after the channels; the edited axis ${axis} is one of them` };
      if (edit === 'fold' && !commutesWithChannelMap(node, behaviour, lookup))
        return { kind: 'refuse', message: `${node.opType} at ${nodeLabel(node)} is not linear, so a map of the channels cannot be folded past it` };
      return { kind: 'through', nodes: [node], tensor: out, axis };
    case 'reduce': {
      if (behaviour.axes === 'all' || behaviour.axes.some((a) => sameAxis(a, axis, rank))) {
        return { kind: 'refuse', message: `${node.opType} at ${nodeLabel(node)} reduces over the edited axis` };
      }
      if (edit === 'fold' && !['ReduceSum', 'ReduceMean'].includes(node.opType ?? ''))
        return { kind: 'refuse', message: `${node.opType} at ${nodeLabel(node)} is not linear` };
      const a = rank === undefined ? axis : normAxis(axis, rank);
      const dropped = behaviour.keepdims || rank === undefined ? 0 : behaviour.axes.filter((x) => normAxis(x, rank) < a).length;
      return { kind: 'through', nodes: [node], tensor: out, axis: axis < 0 || behaviour.keepdims ? axis : a - dropped };
    }
    case 'layout': {
      const mapped = mapAxis(node, axis, lookup);
      if (!mapped)
        return {
          kind: 'refuse',
          message: `${node.opType} at ${nodeLabel(node)} splits, merges or drops the edited axis (or its shapes are unknown), so the channels cannot be followed past it`,
        };
      return { kind: 'through', nodes: [node], tensor: out, axis: mapped.axis, ...(mapped.block ? { block: mapped.block } : {}) };
    }
    case 'channelAffine':
      return { kind: 'refuse', message: opaqueRefusal(node, 'it adds a per-channel shift, so zeroed channels do not stay zero', edit) };
    case 'rowScale':
      // Single-node row scalings are patterns (matched above); anything else here is unknown territory.
      return { kind: 'refuse', message: opaqueRefusal(node, 'it rescales each row', edit) };
    case 'opaque':
      return { kind: 'refuse', message: opaqueRefusal(node, behaviour.reason, edit) };
  }
}

/** The input axis of a layout op that lands on output `axis` one to one, if any. */
function inverseAxis(node: NodeLike, axis: number, lookup: GraphLookup): number | undefined {
  const rank = rankOf(lookup, node.input[0]);
  const outRank = rankOf(lookup, node.output[0]);
  if (rank === undefined) return undefined;
  const target = outRank === undefined ? axis : normAxis(axis, outRank);
  for (let a = 0; a < rank; a++) {
    const m = mapAxis(node, a, lookup);
    if (m && !m.block && (m.axis === target || (outRank === undefined && m.axis === axis))) return a;
  }
  return undefined;
}

/**
 * How the writer of `tensor` (channels on `axis`) takes an ablation or
 * pruning of those channels: the weight op that writes them, something to
 * pass through on the way (a bias Add, a BatchNorm, a zero-keeping op or
 * pattern), or a refusal.
 */
export function stepUp(tensor: string, axis: number, lookup: GraphLookup, edit: Exclude<WeightEdit, 'fold'>): Step {
  const node = lookup.producer(tensor);
  if (!node) return { kind: 'refuse', message: `'${tensor}' is a graph input or a constant: no op writes it, so there is no weight to edit` };
  if (node.opType === 'DequantizeLinear' && (node.domain ?? '') === '') {
    const q = lookup.producer(node.input[0]);
    if (q?.opType === 'QuantizeLinear' && (q.domain ?? '') === '' && samePair(q, node, lookup) && lookup.uses(q.output[0]).length === 1)
      return { kind: 'through', nodes: [node, q], tensor: q.input[0], axis };
  }
  const pattern = patternEndingAt(node, lookup);
  if (pattern) return patternStep(pattern, axis, lookup, edit, true);
  // Gemm's operands and result are matrices whatever the file declares.
  const rank = rankOf(lookup, tensor) ?? (node.opType === 'Gemm' ? 2 : undefined);
  const behaviour = opBehaviour(node, lookup);
  const data = (n: NodeLike) => n.input.find((i) => i && !lookup.weight(i)) ?? n.input[0];
  switch (behaviour.kind) {
    case 'linear': {
      const op = linearOp(node, data(node), lookup);
      if (!isLinearOp(op)) return { kind: 'refuse', message: op.refused };
      if (!sameAxis(op.outAxis, axis, rank))
        return { kind: 'refuse', message: `${node.opType} at ${nodeLabel(node)} writes axis ${op.outAxis} of '${tensor}', not the edited axis ${axis}` };
      return { kind: 'weight', node, op };
    }
    case 'elementwise': {
      const input = data(node);
      const constant = node.input.find((i) => i !== input && lookup.weight(i));
      if ((node.opType === 'Add' || node.opType === 'Sub') && constant && !behaviour.zeroPreserving) {
        return { kind: 'bias', node, bias: constant, tensor: input, axis };
      }
      if (!behaviour.zeroPreserving)
        return { kind: 'refuse', message: opaqueRefusal(node, 'it maps 0 to another value, so zeroing its input does not zero its output', edit) };
      return { kind: 'through', nodes: [node], tensor: input, axis };
    }
    case 'channelAffine':
      if (!sameAxis(axis, behaviour.axis, rank))
        return { kind: 'refuse', message: `${node.opType} at ${nodeLabel(node)} acts per channel on axis ${behaviour.axis}, not the edited axis ${axis}` };
      return { kind: 'channelAffine', node, tensor: node.input[0], axis };
    case 'pool':
      if (!sameAxis(axis, 1, rank)) return { kind: 'refuse', message: `${node.opType} at ${nodeLabel(node)} pools the edited axis` };
      return { kind: 'through', nodes: [node], tensor: node.input[0], axis };
    case 'product':
      return { kind: 'product', node, factors: [node.input[0], node.input[1]], axis };
    case 'merge':
      return { kind: 'refuse', message: residualRefusal(node, node.input[1], edit) };
    case 'normalize':
      return { kind: 'refuse', message: softmaxRefusal(node, behaviour.axes, edit, behaviour.toEnd) };
    case 'layout': {
      const a = inverseAxis(node, axis, lookup);
      if (a === undefined)
        return {
          kind: 'refuse',
          message: `${node.opType} at ${nodeLabel(node)} makes the edited axis out of several (or its shapes are unknown), so the channels cannot be traced to their writer`,
        };
      return { kind: 'through', nodes: [node], tensor: node.input[0], axis: a };
    }
    case 'reduce':
      return { kind: 'refuse', message: `${node.opType} at ${nodeLabel(node)} writes '${tensor}' as a reduction, not from weights` };
    case 'rowScale':
      return { kind: 'refuse', message: opaqueRefusal(node, 'it rescales each row', edit) };
    case 'opaque':
      return { kind: 'refuse', message: opaqueRefusal(node, behaviour.reason, edit) };
  }
}
