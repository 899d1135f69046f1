/**
 * Permanent removal of an anchored concept by editing weights (SCA.md,
 * "Interventions"):
 * - ablate: zero the producer rows (and bias entries) that write the
 *   reserved dims and the consumer columns that read them; shapes unchanged;
 * - prune: delete those rows and columns, shrinking the anchored axis.
 * The walks over the op registry that find those weights are in walk.ts; a
 * direction (not axis-aligned) is folded into the readers instead (fold.ts).
 */
import { readAnchors, recordIntervention, writeAnchors, type Anchor } from '../anchors/manifest.js';
import { UsageError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { IrModel } from '../ir/model.js';
import type { Model } from '../onnx/model.js';
import { DataType, type ModelProto, type NodeProto, type TensorProto } from '../onnx/types.js';
import { layoutOf } from '../ir/layout.js';
import { lookupOf } from '../ops/irLookup.js';
import { attrInt, nodeLabel, type GraphLookup } from '../ops/lookup.js';
import { mapAxis, normAxis } from '../ops/registry.js';
import { shapeElements } from '../ops/shapeValues.js';
import { readSlice, writeSlice, type ChannelSlice } from '../ops/weights.js';
import { editAxis, type AxisSlices } from './channels.js';
import { integerView, nbitsLayout, nbitsView } from '../weights/quantized.js';
import type { WeightView } from '../weights/view.js';
import { planChannelEdit, readCoordinates, writtenChannels, type Carrier, type ReshapeEdit, type WalkPlan } from './walk.js';
import { ownWeight } from './weights.js';

export interface AblationResult {
  tensor: string;
  dims: number[];
  pruned: boolean;
  /** Initializers that were changed (after any copy of a shared weight). */
  edited: string[];
}

/** After pruning, anchors on the tensor lose the deleted dims; an anchor left with none is gone. */
function remapAnchors(proto: ModelProto, tensor: string, dims: number[]): void {
  const anchors = readAnchors(proto);
  if (anchors.length === 0) return;
  const shift = (i: number) => i - dims.filter((d) => d < i).length;
  const kept: Anchor[] = [];
  for (const a of anchors) {
    if (a.tensor !== tensor) {
      kept.push(a);
      continue;
    }
    if (a.dims?.some((d) => dims.includes(d))) continue;
    kept.push({
      ...a,
      ...(a.dims ? { dims: a.dims.map(shift) } : {}),
      ...(a.direction ? { direction: a.direction.filter((_, i) => !dims.includes(i)) } : {}),
    });
  }
  proto.metadataProps = proto.metadataProps.filter((p) => p.key !== 'sca.anchors');
  if (kept.length) writeAnchors(proto, kept);
}

export interface AblateOptions {
  prune?: boolean;
  concept?: string;
  /** Axis of the tensor holding the channels; by default 1 for a channel-first map (Conv, BatchNorm, pooling), else the last. */
  axis?: number;
}

/**
 * The op registry's lookup over the IR, where a weight is a stored constant.
 * Below IR version 4 every initializer is also listed as a graph input (its
 * default value); such initializers are the model's weights and are edited.
 */
function editLookup(ir: IrModel): GraphLookup {
  const base = lookupOf(ir);
  const version = ir.proto.irVersion === undefined ? undefined : Number(ir.proto.irVersion);
  if (version === undefined || version >= 4) return base;
  return {
    ...base,
    weight(name) {
      const t = ir.graph.initializer(name);
      return t ? { dims: t.dims.map(Number), dataType: t.dataType } : base.weight(name);
    },
  };
}

const constantOf = (graph: Graph, name: string | undefined) => (name ? (graph.initializer(name) ?? graph.constantTensor(name)) : undefined);

/** A QDQ weight: input `input` of `node` is a DequantizeLinear of stored codes, read by `node` alone (else the edit would reach its other readers). */
function dequantizedWeight(graph: Graph, node: NodeProto, input: number): NodeProto | undefined {
  const dq = graph.producer(node.input[input]);
  if (dq?.opType !== 'DequantizeLinear' || (dq.domain ?? '') !== '' || !constantOf(graph, dq.input[0])) return undefined;
  if (graph.uses(dq.output[0]).length > 1)
    throw new UsageError(
      `cannot edit the weight of ${node.opType} at ${nodeLabel(node)}: its DequantizeLinear at ${nodeLabel(dq)} is read by other nodes too`,
      'REFUSED',
    );
  return dq;
}

/** The view of a quantized weight input (MatMulNBits' packed B, MatMulInteger's codes), or undefined for plain float weights. */
function quantizedView(graph: Graph, node: NodeProto, input: number, b: TensorProto, baseDir: string): WeightView | undefined {
  if (node.opType === 'MatMulInteger' && !node.domain && input === 1)
    return integerView(b, constantOf(graph, node.input[3]), baseDir, `MatMulInteger at ${nodeLabel(node)}`);
  if (node.opType !== 'MatMulNBits' || node.domain !== 'com.microsoft' || input !== 1) return undefined;
  const label = `MatMulNBits at ${nodeLabel(node)}`;
  const scales = constantOf(graph, node.input[2]);
  if (!scales) throw new UsageError(`${label}: its scales are not a stored constant`, 'REFUSED');
  const zeroPoints = constantOf(graph, node.input[3]);
  return nbitsView(nbitsLayout(node), { b, scales, ...(zeroPoints ? { zeroPoints } : {}) }, baseDir, label);
}

/** The constant behind input `input` of `node`, owned by that node alone (a shared initializer is copied first). */
function ownTensor(graph: Graph, node: NodeProto, input: number): TensorProto {
  const name = node.input[input];
  if (graph.initializer(name)) return ownWeight(graph, node, input);
  const t = graph.constantTensor(name);
  if (!t)
    throw new UsageError(
      `cannot edit '${name}' of ${node.opType} at ${nodeLabel(node)}: it is computed in the graph or a graph input, not a stored constant`,
      'REFUSED',
    );
  if (graph.uses(name).length > 1 || graph.isOutput(name)) {
    throw new UsageError(
      `cannot edit '${name}' of ${node.opType} at ${nodeLabel(node)}: it comes from Constant '${graph.producer(name)?.name ?? name}', which other nodes read too`,
      'REFUSED',
    );
  }
  return t;
}

/** One weight (input `input` of `node`) and the slices of it to zero or delete. */
interface TensorEdit {
  node: NodeProto;
  input: number;
  slices: AxisSlices[];
}

function slicesOf(list: ChannelSlice[], axis: number): AxisSlices[] {
  if (list.every((s) => !s.range)) return [{ axis, indices: list.map((s) => s.index) }];
  return list.map((s) => ({ axis, indices: [s.index], ...(s.range ? { range: s.range } : {}) }));
}

/** Where a separate bias Add's constant holds the channels: its axis once broadcast against the data, which must have one entry per channel. */
function biasEdit(lookup: GraphLookup, a: { node: NodeProto; bias: string; tensor: string; axis: number }, channels: number, dims: number[]): TensorEdit {
  const shape = lookup.weight(a.bias)!.dims;
  const rank = lookup.type?.(a.tensor)?.shape?.length ?? lookup.type?.(a.node.output[0])?.shape?.length;
  const at = rank !== undefined ? normAxis(a.axis, rank) - (rank - shape.length) : a.axis < 0 ? shape.length + a.axis : -1;
  if (at < 0 || shape[at] !== channels) {
    throw new UsageError(
      `${a.node.opType} at ${nodeLabel(a.node)} adds '${a.bias}' [${shape.join(', ')}], which does not hold one entry per channel (${channels}): zeroing one channel's share of it would change the others; patch the tensor instead`,
      'REFUSED',
    );
  }
  return { node: a.node, input: a.node.input.indexOf(a.bias), slices: [{ axis: at, indices: dims }] };
}

/** Every weight slice the plan zeroes or deletes, checked against the channel count before anything changes. */
function tensorEdits(lookup: GraphLookup, tensor: string, axis: number, plan: WalkPlan, dims: number[], prune: boolean): TensorEdit[] {
  const counts = [...new Set(plan.writers.map((w) => writtenChannels(w.op)))];
  if (counts.length !== 1) throw new UsageError(`the weights that write '${tensor}' disagree on its channel count (${counts.join(', ')})`);
  const channels = counts[0];
  const shape = lookup.type?.(tensor)?.shape;
  const width = shape ? shape[normAxis(axis, shape.length)] : undefined;
  if (typeof width === 'number' && width !== channels) {
    throw new UsageError(
      `axis ${axis} of '${tensor}' has ${width} entries, but ${plan.writers[0].node.opType} at ${nodeLabel(plan.writers[0].node)} writes ${channels} channels: give the channel axis with axis`,
    );
  }
  for (const d of dims)
    if (d >= channels) throw new UsageError(`dim ${d} is out of range: '${tensor}' has ${channels} channels on axis ${axis} (0 to ${channels - 1})`);
  const edits: TensorEdit[] = [];
  for (const { node, op } of plan.writers) {
    if (prune && op.group !== 1)
      throw new UsageError(
        `cannot prune the output channels of ${op.op} at ${nodeLabel(node)}: it has group=${op.group}, and deleting channels would re-split its groups; ablate instead`,
        'REFUSED',
      );
    edits.push({
      node,
      input: op.writes.input,
      slices: slicesOf(
        dims.map((d) => writeSlice(op, d)),
        op.writes.axis,
      ),
    });
    if (op.bias) {
      const b = lookup.weight(node.input[op.bias.input])!.dims;
      if (b[op.bias.axis] !== channels) {
        throw new UsageError(
          `${op.op} at ${nodeLabel(node)} has bias '${node.input[op.bias.input]}' [${b.join(', ')}], which does not hold one entry per channel (${channels}); patch the tensor instead`,
          'REFUSED',
        );
      }
      edits.push({ node, input: op.bias.input, slices: [{ axis: op.bias.axis, indices: dims }] });
    }
  }
  for (const a of plan.affines) {
    if (a.kind === 'bias') edits.push(biasEdit(lookup, a, channels, dims));
    else for (const input of prune ? [1, 2, 3, 4] : [1, 2]) edits.push({ node: a.node, input, slices: [{ axis: 0, indices: dims }] });
  }
  for (const { node, op, block } of plan.readers) {
    const read = readCoordinates(op);
    if (read !== channels * block) {
      throw new UsageError(
        `${op.op} at ${nodeLabel(node)} reads ${read} coordinates where '${tensor}' has ${channels} channels${block > 1 ? ` of ${block} each` : ''}; patch the tensor instead`,
        'REFUSED',
      );
    }
    if (prune && op.group !== 1)
      throw new UsageError(
        `cannot prune the input channels of ${op.op} at ${nodeLabel(node)}: it has group=${op.group}, and deleting channels would re-split its groups; ablate instead`,
        'REFUSED',
      );
    const coords = dims.flatMap((d) => Array.from({ length: block }, (_, k) => d * block + k));
    edits.push({
      node,
      input: op.reads.input,
      slices: slicesOf(
        coords.map((c) => readSlice(op, c)),
        op.reads.axis,
      ),
    });
  }
  return edits;
}

/** Shrinks the channel axis of the declared shapes of the tensors that carried the pruned channels. */
function shrinkShapes(graph: Graph, carriers: Carrier[], channels: number, removed: number): void {
  const byName = new Map<string, Carrier>();
  for (const c of carriers) if (!byName.has(c.tensor)) byName.set(c.tensor, c);
  const g = graph.proto;
  for (const v of [...g.valueInfo, ...g.output, ...g.input]) {
    const c = v.name ? byName.get(v.name) : undefined;
    const dims = v.type?.tensorType?.shape?.dim;
    if (!c || !dims) continue;
    const a = normAxis(c.axis, dims.length);
    const d = dims[a];
    // Tensors inside a pattern (a row norm, say) may hold 1 where the channels were: only the channel-wide ones shrink.
    if (d?.dimValue !== undefined && Number(d.dimValue) === channels * c.block) d.dimValue = channels * c.block - removed * c.block;
  }
}

/** Pruning: the Reshape targets that name the channel axis's length get the new length. */
function shrinkReshapes(graph: Graph, lookup: GraphLookup, reshapes: ReshapeEdit[], removed: number, edited: string[]): void {
  const byNode = new Map(reshapes.map((r) => [r.node, r]));
  for (const r of byNode.values()) {
    const target = lookup.constant(r.node.input[1])?.values;
    if (!target) {
      shrinkComputedTarget(graph, lookup, r, removed, edited);
      continue;
    }
    const a = normAxis(r.axis, target.length);
    if (!(target[a] > 0)) continue; // 0 (copy) and -1 (infer) follow the new length by themselves
    target[a] -= removed * r.block;
    const shape = ownTensor(graph, r.node, 1);
    shape.rawData = new Uint8Array(BigInt64Array.from(target, (v) => BigInt(v)).buffer);
    shape.int64Data = [];
    shape.dataType = DataType.INT64;
    edited.push(shape.name ?? r.node.input[1]);
  }
}

/**
 * A Reshape target built in the graph (torch's `x.view(*x.shape[:-1], n)`:
 * Concat of lengths read by Shape and a stored n). The element at the
 * channel axis is either read from the pruned input itself, which follows by
 * itself, or a stored number in one of the Concat's inputs, which shrinks.
 */
function shrinkComputedTarget(graph: Graph, lookup: GraphLookup, r: ReshapeEdit, removed: number, edited: string[]): void {
  const refuse = (why: string) => {
    throw new UsageError(`cannot prune through Reshape at ${nodeLabel(r.node)}: ${why}`, 'REFUSED');
  };
  const elements = shapeElements(lookup, r.node.input[1]);
  if (!elements) return refuse('its target shape is computed by ops this toolkit does not follow');
  const a = normAxis(r.axis, elements.length);
  const element = elements[a];
  if ('lengthOf' in element) {
    const m = element.lengthOf === r.node.input[0] ? mapAxis(r.node, element.axis, lookup) : undefined;
    if (m && !m.block && m.axis === a && r.block === 1) return;
    return refuse(`its target's length at axis ${a} is read from '${element.lengthOf}', which pruning does not shrink the same way`);
  }
  if (!(element.value > 0)) return; // 0 (copy) and -1 (infer) follow the new length by themselves
  const concat = graph.producer(r.node.input[1]);
  if (concat?.opType !== 'Concat') return refuse(`its target's length at axis ${a} is not a stored number pruning can find`);
  if (graph.uses(concat.output[0]).length > 1 || graph.isOutput(concat.output[0]))
    return refuse(`its target, from Concat at ${nodeLabel(concat)}, is read by other nodes too`);
  // Find the Concat input holding element a.
  let offset = a;
  for (let i = 0; i < concat.input.length; i++) {
    const part = shapeElements(lookup, concat.input[i])!;
    if (offset >= part.length) {
      offset -= part.length;
      continue;
    }
    const stored = lookup.constant(concat.input[i]);
    if (!stored) return refuse(`its target's length at axis ${a} comes from '${concat.input[i]}', which is computed`);
    const values = [...stored.values];
    values[offset] -= removed * r.block;
    const t = ownTensor(graph, concat, i);
    t.rawData = new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer);
    t.int64Data = [];
    t.dataType = DataType.INT64;
    edited.push(t.name || concat.input[i]);
    return;
  }
}

/** A value only nested graphs define (a merged decoder's branches): their weights come from the main graph, shared, which the walk does not follow. */
export function refuseNested(ir: IrModel, tensor: string, edit: string): void {
  if (ir.graph.defines(tensor)) return;
  const scopes = ir.scopesDefining(tensor);
  if (!scopes.length) return;
  throw new UsageError(
    `'${tensor}' is computed inside ${scopes.map((s) => s.graph.scopeLabel()).join(' and ')}, whose weights are read from the main graph; ${edit} through nested graphs is not supported: patch the tensor instead (sca patch acts in every branch), or edit the model without the If (optimum's decoder_model.onnx / decoder_with_past_model.onnx, or transformers.js's model.onnx)`,
    'REFUSED',
  );
}

/**
 * Zeroes (ablation) or deletes (pruning) channels `dims` of `tensor`: the
 * weights that write them (with their bias, bias Adds and BatchNorm entries)
 * and the weights that read them, found by walking the op registry's steps
 * up and down from the tensor. Refuses, naming the pattern at fault, where
 * the edit would not equal zeroing the channels.
 */
export function ablateDims(model: Model, tensor: string, dims: number[], options: AblateOptions = {}): AblationResult {
  const ir = new IrModel(model);
  const graph = ir.graph;
  refuseNested(ir, tensor, options.prune ? 'pruning' : 'ablation');
  graph.require(tensor);
  if (dims.length === 0) throw new UsageError('dims: the list is empty');
  if (new Set(dims).size !== dims.length || dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new UsageError(`dims: [${dims.join(', ')}] must be distinct whole numbers of 0 or more`);
  }
  const rank = ir.types.get(tensor)?.shape?.length;
  let axis: number;
  if (options.axis !== undefined && rank !== undefined) {
    axis = options.axis < 0 ? rank + options.axis : options.axis;
    if (!(Number.isInteger(axis) && axis >= 0 && axis < rank))
      throw new UsageError(`axis ${options.axis} is out of range for '${tensor}', which has rank ${rank}`);
  } else if (options.axis !== undefined) {
    if (options.axis !== -1) throw new UsageError(`the rank of '${tensor}' is not known, so axis ${options.axis} cannot be checked; give axis -1 or none`);
    axis = -1;
  } else if (rank !== undefined) {
    axis = layoutOf(graph, tensor) === 'channel-first' && rank >= 2 ? 1 : rank - 1;
  } else {
    axis = -1;
  }
  const prune = Boolean(options.prune);
  const lookup = editLookup(ir);
  const walked = planChannelEdit(graph, lookup, tensor, axis, prune ? 'pruning' : 'ablation');
  if ('refused' in walked) throw new UsageError(`cannot ${prune ? 'prune' : 'ablate'} '${tensor}': ${walked.refused}`, 'REFUSED');
  const plan = walked.plan;
  const edits = tensorEdits(lookup, tensor, axis, plan, dims, prune);
  const channels = writtenChannels(plan.writers[0].op);
  const edited: string[] = [];
  for (const e of edits) {
    const dq = dequantizedWeight(graph, e.node, e.input);
    const t = dq ? ownTensor(graph, dq, 0) : ownTensor(graph, e.node, e.input);
    const view = dq
      ? integerView(t, constantOf(graph, dq.input[2]), model.baseDir, `DequantizeLinear at ${nodeLabel(dq)}`, attrInt(dq, 'axis', 1))
      : quantizedView(graph, e.node, e.input, t, model.baseDir);
    editAxis(model, t, e.slices, prune ? 'prune' : 'zero', view);
    edited.push(t.name!);
  }
  if (prune) {
    shrinkReshapes(graph, lookup, plan.reshapes, dims.length, edited);
    shrinkShapes(graph, plan.carriers, channels, dims.length);
    remapAnchors(model.proto, tensor, dims);
  }
  recordIntervention(model.proto, {
    kind: prune ? 'prune' : 'ablate',
    tensor,
    ...(options.concept ? { concept: options.concept } : {}),
    axis,
    dims: [...dims].sort((a, b) => a - b),
    edited,
  });
  return { tensor, dims, pruned: prune, edited };
}
