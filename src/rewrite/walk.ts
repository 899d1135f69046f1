/**
 * The ablate / prune walks over the op registry's steps (src/ops/step.ts):
 * up from the anchored tensor to the weight op(s) that write its channels,
 * and down over every reader to the weights that read them. The walks only
 * read the graph; they return a plan (which weight axes, biases and
 * BatchNorm entries to zero or delete, which Reshape targets and value
 * shapes pruning must shrink) or the refusal of the first step that cannot
 * be taken soundly, so a refused edit leaves the model untouched.
 */
import type { Graph } from '../ir/graph.js';
import { nodeLabel, type GraphLookup, type NodeLike } from '../ops/lookup.js';
import { mapAxis } from '../ops/registry.js';
import { strayLengthReader } from '../ops/shapeValues.js';
import { stepDown, stepUp, type Step } from '../ops/step.js';
import type { LinearOp } from '../ops/weights.js';
import type { PatternMatch } from '../ops/patterns.js';
import type { NodeProto } from '../onnx/types.js';

export type WalkEdit = 'ablation' | 'pruning';

/** A weight op whose output channels are the anchored ones (rows of W, entries of its bias). */
export interface WriterEdit {
  node: NodeProto;
  op: LinearOp;
}

/** A weight op that reads the anchored channels; each channel is `block` consecutive coordinates of its data axis. */
export interface ReaderEdit {
  node: NodeProto;
  op: LinearOp;
  block: number;
}

/** A per-channel constant between writer and tensor: a bias Add (its constant input) or a BatchNormalization. */
export type AffineEdit = { kind: 'bias'; node: NodeProto; bias: string; tensor: string; axis: number } | { kind: 'batchnorm'; node: NodeProto };

/** A tensor that carries the channels on `axis`, each channel `block` coordinates long: pruning shrinks its declared shape. */
export interface Carrier {
  tensor: string;
  axis: number;
  block: number;
}

/** A Reshape on the path whose output holds the channels on `axis` (as blocks of `block`). */
export interface ReshapeEdit {
  node: NodeProto;
  axis: number;
  block: number;
}

export interface WalkPlan {
  writers: WriterEdit[];
  affines: AffineEdit[];
  readers: ReaderEdit[];
  reshapes: ReshapeEdit[];
  carriers: Carrier[];
}

export type WalkResult = { plan: WalkPlan } | { refused: string };

interface Ctx {
  graph: Graph;
  lookup: GraphLookup;
  edit: WalkEdit;
}

function emptyPlan(): WalkPlan {
  return { writers: [], affines: [], readers: [], reshapes: [], carriers: [] };
}

function merge(into: WalkPlan, from: WalkPlan): void {
  into.writers.push(...from.writers);
  into.affines.push(...from.affines);
  into.readers.push(...from.readers);
  into.reshapes.push(...from.reshapes);
  into.carriers.push(...from.carriers);
}

function isConstant(lookup: GraphLookup, name: string): boolean {
  return Boolean(name) && lookup.weight(name) !== undefined;
}

const SHAPE_READERS = new Set(['Shape', 'Size']);

/** Ops whose constant inputs are axes or shapes, not values applied to the channels. */
const SHAPE_ONLY_INPUTS = new Set(['Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity', 'Dropout']);

/**
 * Pruning deletes channels from every tensor on the path, so a constant
 * operand with more than one value must shrink too; this walk shrinks only
 * biases, BatchNorm parameters and Reshape targets, and refuses the rest.
 */
function pruneBlocker(ctx: Ctx, nodes: NodeLike[], pattern: PatternMatch | undefined, onPath: string): string | undefined {
  if (ctx.edit !== 'pruning') return undefined;
  if (pattern && (pattern.params.scale || pattern.params.bias)) {
    return `${pattern.label} at ${pattern.site} has per-channel parameters, which pruning does not shrink; ablate instead (same outputs, shapes kept)`;
  }
  if (pattern) return undefined;
  for (const n of nodes) {
    if (n.opType === 'Expand') return `Expand at ${nodeLabel(n)} broadcasts to a fixed shape, which pruning does not rewrite; ablate instead`;
    if (SHAPE_ONLY_INPUTS.has(n.opType ?? '') || n.opType?.startsWith('Reduce')) continue;
    for (const i of n.input) {
      if (!i || i === onPath) continue;
      if (isConstant(ctx.lookup, i)) {
        const dims = ctx.lookup.weight(i)!.dims;
        if (dims.reduce((a, b) => a * b, 1) > 1) {
          return `${n.opType} at ${nodeLabel(n)} applies the constant '${i}' per coordinate, which pruning does not shrink; ablate instead (same outputs, shapes kept)`;
        }
      } else {
        return `${n.opType} at ${nodeLabel(n)} combines '${onPath}' with '${i}', which keeps its width: pruning would break the shapes; ablate instead`;
      }
    }
  }
  return undefined;
}

/** Tensors computed inside a pattern carry the channels too (their declared shapes shrink when they match). */
function patternCarriers(pattern: PatternMatch | undefined, axis: number, block: number): Carrier[] {
  if (!pattern) return [];
  return pattern.nodes.filter((n) => n.opType !== 'Constant').flatMap((n) => n.output.filter(Boolean).map((tensor) => ({ tensor, axis, block })));
}

/**
 * Up from `tensor` to the op(s) that write its channels. Every tensor passed
 * on the way must be read by the path alone: another reader would see the
 * edited weights' output, which the anchored tensor's ablation does not change.
 */
function walkUp(ctx: Ctx, start: string, startAxis: number, plan: WalkPlan): string | undefined {
  const { graph, lookup, edit } = ctx;
  let tensor = start;
  let axis = startAxis;
  let via: NodeLike[] | undefined;
  for (let guard = 0; guard < 1024; guard++) {
    if (via) {
      // A Shape or Size read sees no values, only the width, which ablation keeps.
      const side = lookup.uses(tensor).find((n) => !via!.includes(n) && !(edit === 'ablation' && SHAPE_READERS.has(n.opType ?? '')));
      if (side) {
        return `'${tensor}' (on the way from '${start}' to the weights that write it) is also read by ${side.opType} at ${nodeLabel(side)}, which would see the edit too; ${edit} at '${start}' is unsound: anchor at '${tensor}' instead, or patch '${start}'`;
      }
      if (graph.isOutput(tensor))
        return `'${tensor}' (on the way from '${start}' to the weights that write it) is a graph output, which the edit would change; patch '${start}' instead`;
      plan.carriers.push({ tensor, axis, block: 1 });
    }
    const step: Step = stepUp(tensor, axis, lookup, edit);
    switch (step.kind) {
      case 'refuse':
        return step.message;
      case 'weight':
        plan.writers.push({ node: step.node as NodeProto, op: step.op });
        return undefined;
      case 'through': {
        const blocked = pruneBlocker(ctx, step.nodes, step.pattern, step.tensor);
        if (blocked) return blocked;
        plan.carriers.push(...patternCarriers(step.pattern, axis, 1));
        const node = step.nodes[0];
        if (!step.pattern && node.opType === 'Reshape') plan.reshapes.push({ node: node as NodeProto, axis, block: 1 });
        via = step.pattern ? step.pattern.nodes : step.nodes;
        tensor = step.tensor;
        axis = step.axis;
        break;
      }
      case 'bias':
        plan.affines.push({ kind: 'bias', node: step.node as NodeProto, bias: step.bias, tensor: step.tensor, axis: step.axis });
        via = [step.node];
        tensor = step.tensor;
        axis = step.axis;
        break;
      case 'channelAffine':
        if (step.node.output.filter(Boolean).length > 1)
          return `BatchNormalization at ${nodeLabel(step.node)} is in training mode (it has running-statistics outputs); export the model in eval mode`;
        plan.affines.push({ kind: 'batchnorm', node: step.node as NodeProto });
        via = [step.node];
        tensor = step.tensor;
        axis = step.axis;
        break;
      case 'product': {
        // Zeroing either factor zeroes the product; pruning must shrink both.
        const messages: string[] = [];
        const found: WalkPlan[] = [];
        for (const factor of step.factors) {
          const branch = emptyPlan();
          const m = walkFactor(ctx, factor, step.axis, step.node, branch);
          if (m) messages.push(m);
          else found.push(branch);
          if (edit === 'ablation' && found.length) break;
        }
        if (edit === 'pruning' && messages.length) return messages[0];
        if (!found.length) return messages[0];
        for (const b of found) merge(plan, b);
        return undefined;
      }
      default:
        return `${edit} cannot pass '${tensor}' (step ${step.kind})`;
    }
  }
  return `the walk up from '${start}' did not reach a weight`;
}

function walkFactor(ctx: Ctx, factor: string, axis: number, product: NodeLike, plan: WalkPlan): string | undefined {
  const other = ctx.lookup.uses(factor).find((n) => n !== product);
  if (other)
    return `'${factor}' (a factor of Mul at ${nodeLabel(product)}) is also read by ${other.opType} at ${nodeLabel(other)}, which would see the edit too`;
  if (ctx.graph.isOutput(factor)) return `'${factor}' (a factor of Mul at ${nodeLabel(product)}) is a graph output, which the edit would change`;
  plan.carriers.push({ tensor: factor, axis, block: 1 });
  return walkUp(ctx, factor, axis, plan);
}

/** Down from `tensor` over every reader, to the weights that read its channels. */
function walkDown(ctx: Ctx, tensor: string, axis: number, block: number, plan: WalkPlan, seen: Set<NodeLike>, start: string): string | undefined {
  const { graph, lookup, edit } = ctx;
  if (edit === 'pruning' && graph.isOutput(tensor)) {
    return `'${tensor}' is a graph output, and pruning would change its shape; ablate instead (same values, shape kept)`;
  }
  const nested = graph.uses(tensor).find((u) => u.index < 0);
  if (nested) {
    const n = nested.node;
    return `cannot edit weights that read '${start}': node '${n.name || n.output[0]}' (${n.opType}) reads it inside its subgraph, which this edit cannot follow; patch '${start}' instead`;
  }
  for (const node of lookup.uses(tensor)) {
    if (seen.has(node)) continue;
    seen.add(node);
    const step = stepDown(node, tensor, axis, lookup, edit);
    switch (step.kind) {
      case 'refuse':
        return step.message;
      case 'shape':
        if (edit === 'pruning') {
          const stray = shapeReaderBlocker(lookup, node, tensor, axis);
          if (stray) return stray;
        }
        break;
      case 'weight':
        plan.readers.push({ node: node as NodeProto, op: step.op, block });
        break;
      case 'through': {
        for (const n of step.pattern ? step.pattern.nodes : step.nodes) seen.add(n);
        const blocked = pruneBlocker(ctx, step.nodes, step.pattern, tensor);
        if (blocked) return blocked;
        const next = block * (step.block ?? 1);
        plan.carriers.push(...patternCarriers(step.pattern, step.axis, next));
        if (!step.pattern && node.opType === 'Reshape') plan.reshapes.push({ node: node as NodeProto, axis: step.axis, block: next });
        plan.carriers.push({ tensor: step.tensor, axis: step.axis, block: next });
        const m = walkDown(ctx, step.tensor, step.axis, next, plan, seen, start);
        if (m) return m;
        break;
      }
      default:
        return `${node.opType} at ${nodeLabel(node)}: ${edit} cannot follow '${tensor}' through it`;
    }
  }
  return undefined;
}

/**
 * Pruning changes the length a Shape of `tensor` reads. That is sound where
 * the length only feeds a Reshape of `tensor` itself, as the length of the
 * axis the channels move to (torch's `x.view(-1, x.size(-1))`): the target
 * then follows the pruned width at run time. Anywhere else it is refused.
 */
function shapeReaderBlocker(lookup: GraphLookup, node: NodeLike, tensor: string, axis: number): string | undefined {
  const follows = (reshape: NodeLike, position: number) => {
    const m = reshape.input[0] === tensor ? mapAxis(reshape, axis, lookup) : undefined;
    return m !== undefined && !m.block && m.axis === position;
  };
  const stray = node.opType === 'Shape' ? strayLengthReader(lookup, node, tensor, axis, follows) : node;
  if (!stray) return undefined;
  const where = stray === node ? '' : ` (through ${node.opType} at ${nodeLabel(node)})`;
  return `${stray.opType} at ${nodeLabel(stray)} uses the length of axis ${axis} of '${tensor}'${where}, which pruning changes; ablate instead`;
}

/**
 * The plan for zeroing (ablation) or deleting (pruning) channels of `tensor`
 * on `axis`, or the refusal of the first step that cannot be taken.
 */
export function planChannelEdit(graph: Graph, lookup: GraphLookup, tensor: string, axis: number, edit: WalkEdit): WalkResult {
  const ctx: Ctx = { graph, lookup, edit };
  const plan = emptyPlan();
  plan.carriers.push({ tensor, axis, block: 1 });
  const up = walkUp(ctx, tensor, axis, plan);
  if (up) return { refused: up };
  const down = walkDown(ctx, tensor, axis, 1, plan, new Set(), tensor);
  if (down) return { refused: down };
  if (plan.readers.length === 0 && !graph.isOutput(tensor)) {
    return { refused: `no Gemm, MatMul or Conv reads '${tensor}', so there is nothing downstream to edit` };
  }
  return { plan };
}

/** How many channels a weight op writes (its output channel count). */
export function writtenChannels(op: LinearOp): number {
  if (op.op === 'ConvTranspose') return op.weightDims[1] * op.group;
  return op.weightDims[op.writes.axis];
}

/** How many coordinates of its data axis a weight op reads. */
export function readCoordinates(op: LinearOp): number {
  if (op.op === 'Conv') return op.weightDims[1] * op.group;
  return op.weightDims[op.reads.axis];
}

/** A Conv whose channel groups pruning would have to re-split. */
export function grouped(op: LinearOp): boolean {
  return op.group !== 1;
}
