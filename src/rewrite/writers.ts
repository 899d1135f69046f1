/**
 * Abliteration as a weight edit: every weight that writes into the residual
 * stream (the token and position embeddings, each attention output
 * projection and MLP down projection, and their biases) is orthogonalised
 * against a direction a on its output side, W' = W (I - a aᵀ), so no layer
 * ever writes a and (z·a) = 0 in the stream everywhere. This equals
 * projecting every residual tensor (an inserted full suppression at each),
 * since r' = P r + P branch(P r) at every step.
 *
 * The writers are found from the residual chain (ir/residual.ts) by the op
 * registry's steps up from each branch output, through layout ops (Hugging
 * Face's Conv1D Reshapes) and bias Adds only: a projection commutes with
 * nothing else. Anything else is refused, naming the node.
 */
import { UsageError } from '../errors.js';
import { IrModel } from '../ir/model.js';
import { residualChain, residualTensors } from '../ir/residual.js';
import type { Model } from '../onnx/model.js';
import type { NodeProto } from '../onnx/types.js';
import { lookupOf } from '../ops/irLookup.js';
import { nodeLabel } from '../ops/lookup.js';
import { normAxis } from '../ops/registry.js';
import { stepUp } from '../ops/step.js';
import { normalize } from '../maths/basis.js';
import { foldTensorLowRank } from '../weights/lowrank.js';
import { weightView } from '../weights/view.js';
import { ownWeight } from './weights.js';

/** Ops a projection of the channel axis passes through unchanged (it only moves coordinates around). */
const LAYOUT = new Set(['Reshape', 'Transpose', 'Identity', 'Squeeze', 'Unsqueeze', 'Flatten']);

export interface WritersResult {
  /** The residual tensors of the stream, in order. */
  stream: string[];
  /** Weights and biases orthogonalised. */
  edited: string[];
}

/** v - (v·a) a along `axis` of a row-major tensor of `dims` (biases; matrices go through the low-rank fold). */
function projectAxis(values: Float32Array, dims: number[], axis: number, a: number[]): void {
  const width = dims[axis];
  const inner = dims.slice(axis + 1).reduce((x, y) => x * y, 1);
  const outer = values.length / (width * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const base = o * width * inner + i;
      let dot = 0;
      for (let c = 0; c < width; c++) dot += values[base + c * inner] * a[c];
      for (let c = 0; c < width; c++) values[base + c * inner] -= dot * a[c];
    }
}

export function orthogonaliseWriters(model: Model, tensor: string, direction: number[], label = 'model'): WritersResult {
  const ir = new IrModel(model);
  const graph = ir.graph;
  graph.require(tensor, label);
  const chain = residualChain(graph, tensor);
  if (!chain) throw new UsageError(`${label}: '${tensor}' is not written by a residual Add (r + branch(r)); give a tensor of the residual stream`, 'REFUSED');
  const a = normalize(direction, 'the direction');
  const lookup = lookupOf(ir);
  const edited: string[] = [];
  const done = new Set<string>();
  const project = (node: NodeProto, input: number, axis: number) => {
    const t = ownWeight(graph, node, input);
    if (done.has(t.name!)) return;
    const dims = t.dims.map(Number);
    const ax = normAxis(axis, dims.length);
    if (dims[ax] !== a.length)
      throw new UsageError(`${label}: the direction has ${a.length} values, but '${t.name}' writes ${dims[ax]} channels into the stream`);
    if (dims.length === 2) {
      // W (I - a aᵀ) on the written axis: the streamed rank-1 fold that --fold uses (embeddings at LLM widths are large).
      foldTensorLowRank(t, model.baseDir, ax as 0 | 1, { basis: [a], scale: -1 });
    } else {
      const view = weightView(t, model.baseDir);
      const values = view.read();
      projectAxis(values, dims, ax, a);
      view.write(values);
    }
    done.add(t.name!);
    edited.push(t.name!);
  };
  const writes = chain.flatMap((s) => s.writes);
  // The stream may start at an embedding lookup directly (no embedding sum): that lookup writes it too.
  if (chain[0].from) writes.unshift(chain[0].from);
  // A fused skip norm may add a bias into the stream too, which is not a weight this walk reaches.
  for (const step of chain) {
    const node = graph.producer(step.tensor) ?? graph.consumers(step.from ?? '').find((n) => n.opType?.startsWith('Skip'));
    const biasAt = node?.opType === 'SkipLayerNormalization' ? 4 : node?.opType === 'SkipSimplifiedLayerNormalization' ? 3 : -1;
    if (biasAt >= 0 && node!.input[biasAt]) {
      throw new UsageError(
        `${label}: ${node!.opType} at ${nodeLabel(node!)} adds a bias into the stream, which this edit does not orthogonalise; patch with --layers all instead`,
        'REFUSED',
      );
    }
  }
  for (const w of writes) {
    let t = w;
    let axis = -1;
    for (let guard = 0; guard < 64; guard++) {
      const node = graph.producer(t);
      if (node?.opType === 'Gather' && lookup.weight(node.input[0]) && (node.attribute.find((x) => x.name === 'axis')?.i ?? 0) === 0) {
        project(node, 0, -1); // an embedding table [V, D]: each row is what one token writes
        break;
      }
      const step = stepUp(t, axis, lookup, 'ablation');
      if (step.kind === 'weight') {
        project(step.node as NodeProto, step.op.writes.input, step.op.writes.axis);
        if (step.op.bias && step.node.input[step.op.bias.input]) project(step.node as NodeProto, step.op.bias.input, step.op.bias.axis);
        break;
      }
      if (step.kind === 'bias') {
        project(step.node as NodeProto, step.node.input.indexOf(step.bias), -1);
        t = step.tensor;
        axis = step.axis;
        continue;
      }
      if (step.kind === 'through' && !step.pattern && step.nodes.every((n) => LAYOUT.has(n.opType ?? ''))) {
        t = step.tensor;
        axis = step.axis;
        continue;
      }
      const why =
        step.kind === 'refuse'
          ? step.message
          : `${step.kind === 'through' ? step.nodes.map((n) => `${n.opType} at ${nodeLabel(n)}`).join(', ') : step.kind} is not linear in the channels`;
      throw new UsageError(
        `${label}: cannot orthogonalise the writer of '${w}' (added to the stream at '${chain.find((s) => s.writes.includes(w))?.tensor ?? w}'): ${why}`,
        'REFUSED',
      );
    }
  }
  return { stream: residualTensors(chain), edited };
}
