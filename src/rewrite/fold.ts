/**
 * Folding a linear map of a tensor's channels into the weights that read it:
 * z -> z (I + c Q^T Q) for orthonormal rows Q (k x D), c = -b removing a share
 * b of the subspace, c = S amplifying it by 1+S. Only the reading side is
 * edited, so the tensor keeps its intact value and nothing upstream matters.
 *
 * The walk down goes through ops that commute with a map of the channels
 * (layout ops, scalar scaling, average pooling: src/ops/step.ts) to every
 * MatMul, Gemm (transB 0 or 1) or 1x1 Conv that reads them, and refuses at
 * anything else, naming the pattern (a GELU, a LayerNorm, a residual Add).
 * Each weight gets a rank-k update, W' = W + c Q^T (Q W), streamed in chunks
 * (src/weights/lowrank.ts): O(k D N), never the D x D map; a large weight's
 * update is written when the model is saved, straight into the output. A weight shared
 * with another reader (tied embeddings) is copied first.
 */
import { recordIntervention } from '../anchors/manifest.js';
import { UsageError } from '../errors.js';
import { lookupOf } from '../ops/irLookup.js';
import { IrModel } from '../ir/model.js';
import type { Model } from '../onnx/model.js';
import { nodeLabel } from '../ops/lookup.js';
import { stepDown } from '../ops/step.js';
import type { LinearOp } from '../ops/weights.js';
import { DataType, type NodeProto } from '../onnx/types.js';
import { foldLowRankToBytes, foldTensorLowRank } from '../weights/lowrank.js';
import { nbitsLayout, nbitsView, requantizeNBits, type Requantized } from '../weights/quantized.js';
import type { Target } from './intervention.js';
import { ownWeight } from './weights.js';

interface Reader {
  node: NodeProto;
  op: LinearOp;
}

/** Every weight op that reads `target`'s channels through channel-commuting ops. */
function findReaders(ir: IrModel, target: Target): Reader[] {
  const graph = ir.graph;
  const lookup = lookupOf(ir);
  const readers: Reader[] = [];
  const visit = (tensor: string, axis: number): void => {
    for (const { node, index } of graph.uses(tensor)) {
      if (index < 0)
        throw new UsageError(
          `cannot fold into the readers of '${target.tensor}': node '${nodeLabel(node)}' (${node.opType}) reads '${tensor}' inside its subgraph`,
          'REFUSED',
        );
      const step = stepDown(node, tensor, axis, lookup, 'fold');
      switch (step.kind) {
        case 'weight':
          if (!readers.some((r) => r.node === node)) readers.push({ node, op: step.op });
          break;
        case 'through':
          if (step.block && step.block > 1) {
            throw new UsageError(
              `cannot fold into the readers of '${target.tensor}': ${node.opType} at ${nodeLabel(node)} spreads each channel over ${step.block} coordinates; fold at its output instead`,
              'REFUSED',
            );
          }
          if (graph.isOutput(step.tensor))
            throw new UsageError(
              `cannot fold: '${step.tensor}' carries the edited channels to a graph output, which a fold into weights would leave unchanged`,
              'REFUSED',
            );
          visit(step.tensor, step.axis);
          break;
        case 'shape':
          break;
        case 'refuse':
          throw new UsageError(`cannot fold into the readers of '${target.tensor}': ${step.message}`, 'REFUSED');
        default:
          throw new UsageError(
            `cannot fold into the readers of '${target.tensor}': ${node.opType} at ${nodeLabel(node)} does not read it through a weight`,
            'REFUSED',
          );
      }
    }
  };
  visit(target.tensor, target.axis);
  if (readers.length === 0) throw new UsageError(`no MatMul, Gemm or 1x1 Conv reads '${target.tensor}', so there is no weight to fold into`);
  return readers;
}

/** What a fold into a quantized weight costs: its new encoding read back, against the unquantized update. */
export interface Requantization extends Requantized {
  weight: string;
  format: string;
}

export interface FoldOptions {
  /** Refuse a fold whose requantization error (max |w' - dequantized|) is above this. */
  requantizationTolerance?: number;
}

export function foldIntoReaders(
  model: Model,
  target: Target,
  basis: number[][],
  c: number,
  record: Record<string, unknown>,
  options: FoldOptions = {},
): { edited: string[]; requantized: Requantization[] } {
  const ir = new IrModel(model);
  const graph = ir.graph;
  if (graph.isOutput(target.tensor)) {
    throw new UsageError(`cannot fold into readers: '${target.tensor}' is a graph output, which folding would leave unchanged`, 'REFUSED');
  }
  const edited: string[] = [];
  const requantized: Requantization[] = [];
  for (const { node, op } of findReaders(ir, target)) {
    const fold = op.fold!;
    const input = op.reads.input;
    const name = node.input[input];
    if (!graph.initializer(name) || graph.isInput(name)) {
      throw new UsageError(`cannot fold into ${node.opType} at ${nodeLabel(node)}: its weight '${name}' is not a stored initializer`, 'REFUSED');
    }
    const width = fold.axis === 0 ? fold.rows : fold.cols;
    if (width !== target.width)
      throw new UsageError(`cannot fold into ${node.opType} at ${nodeLabel(node)}: its weight reads ${width} channels, the tensor has ${target.width}`);
    if (op.quantized === 'MatMulNBits') {
      const r = foldRequantized(model, graph, node, basis, c, options);
      requantized.push(r);
      edited.push(r.weight);
      continue;
    }
    const t = ownWeight(graph, node, input);
    foldTensorLowRank(t, model.baseDir, fold.axis, { basis, scale: c });
    edited.push(t.name!);
  }
  recordIntervention(model.proto, {
    kind: 'fold',
    tensor: target.tensor,
    axis: target.axis,
    ...record,
    edited,
    ...(requantized.length ? { requantized } : {}),
  });
  return { edited, requantized };
}

/** W' = W + c Qᵀ(Q W) on the dequantized MatMulNBits weight, stored back in its blocks with new scales (and zero points). */
function foldRequantized(model: Model, graph: IrModel['graph'], node: NodeProto, basis: number[][], c: number, options: FoldOptions): Requantization {
  const label = `MatMulNBits at ${nodeLabel(node)}`;
  const layout = nbitsLayout(node);
  const own = (i: number) => ownWeight(graph, node, i);
  const tensors = { b: own(1), scales: own(2), ...(node.input[3] ? { zeroPoints: own(3) } : {}) };
  const { K, N } = layout;
  // The same rank-k update as a float weight's (D on the rows), on the dequantized values.
  const dequantized = nbitsView(layout, tensors, model.baseDir, label).read();
  const matrix = { name: tensors.b.name ?? label, bytes: new Uint8Array(dequantized.buffer), dataType: DataType.FLOAT, rows: K, cols: N, axis: 0 as const };
  const w = new Float32Array(Uint8Array.from(foldLowRankToBytes(matrix, { basis, scale: c })).buffer);
  const error = requantizeNBits(layout, tensors, w, model.baseDir, label);
  const format = `${layout.bits}-bit, block ${layout.blockSize}${tensors.zeroPoints ? ', zero points' : ', symmetric'}`;
  if (options.requantizationTolerance !== undefined && error.maxError > options.requantizationTolerance) {
    throw new UsageError(
      `${label}: folding requantizes its ${format} weight with a max error of ${error.maxError.toExponential(2)}, above the tolerance ${options.requantizationTolerance}; patch the tensor instead (inserted nodes, exact)`,
      'REFUSED',
    );
  }
  return { weight: tensors.b.name!, format, ...error };
}
