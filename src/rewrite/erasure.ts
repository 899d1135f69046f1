/**
 * A LEACE eraser (src/anchors/fromData.ts) put into a model: the affine map
 * x -> x - ((x - μ) Rᵀ) L on the last axis, for R (right) and L (left) the
 * eraser's r x D factors, either
 * - inserted after the tensor as Sub, MatMul, MatMul, Sub nodes (like
 *   suppression, spliced with insertAfter), or
 * - folded into every reader: for y = x W + b, W' = W - Rᵀ (L W) and
 *   b' = b + (R μ)ᵀ (L W), so no node runs at all.
 * The fold only reads through Gemm and MatMul that take the tensor directly:
 * past any other op (an activation, a LayerNorm) the map no longer commutes,
 * and the fold refuses, naming the node.
 */
import { recordIntervention, type Anchor } from '../anchors/manifest.js';
import type { Eraser } from '../anchors/fromData.js';
import { UsageError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { IrModel } from '../ir/model.js';
import type { ValueType } from '../ir/types.js';
import { makeTensor, setTensorFloats, tensorFloats } from '../onnx/tensor.js';
import { DataType, type NodeProto } from '../onnx/types.js';
import { orthonormalize } from '../maths/basis.js';
import { lookupOf } from '../ops/irLookup.js';
import { isLinearOp, linearOp } from '../ops/weights.js';
import { insertionOpset, SubgraphBuilder, uniquePrefix } from './builder.js';
import { checkFoldable, insertAtPlacement, placeIntervention } from './placement.js';
import type { AppliedPatch, Intervention } from './intervention.js';
import { tensorType } from './target.js';
import { ownWeight } from './weights.js';

const FLOAT16_MAX = 65504;

export function buildErasure(b: SubgraphBuilder, z: string, out: string, e: Eraser): void {
  const d = e.mean.length;
  const r = e.right.length;
  const rightT: number[] = [];
  for (let j = 0; j < d; j++) for (let k = 0; k < r; k++) rightT.push(e.right[k][j]);
  const centred = b.op('Sub', 'centred', [z, b.constant('mean', [d], e.mean)]);
  const coeff = b.op('MatMul', 'coeff', [centred, b.constant('right_t', [d, r], rightT)]);
  const delta = b.op('MatMul', 'delta', [coeff, b.constant('left', [r, d], e.left.flat())]);
  b.op('Sub', 'erase', [z, delta], [], out);
}

/** `sca patch --concept C` for a concept whose anchor carries an eraser; it acts on the tensor's last axis. */
export function applyErasure(ir: IrModel, anchor: Anchor, options: { fold?: boolean; shapes?: ReadonlyMap<string, ValueType> }, label = 'model'): AppliedPatch {
  const e = anchor.eraser!;
  const tensor = anchor.tensor;
  ir.graph.require(tensor, label);
  const place = placeIntervention(ir, tensor, label);
  const type = tensorType(ir, tensor, label, options.shapes);
  const rank = type.shape.length;
  if (anchor.axis !== undefined && (anchor.axis + rank) % rank !== rank - 1) {
    throw new UsageError(`${label}: concept '${anchor.concept}' is anchored on axis ${anchor.axis} of '${tensor}'; its eraser acts on the last axis only`);
  }
  const width = type.shape[rank - 1];
  if (width !== e.mean.length)
    throw new UsageError(`${label}: the eraser for '${tensor}' has ${e.mean.length} values but the tensor's last axis has ${width ?? 'an unknown length'}`);
  const basis = orthonormalize(e.left);
  const intervention: Intervention = {
    mode: 'suppress',
    target: { kind: 'subspace', basis, tensor, axis: rank - 1, rank, width: e.mean.length },
    strength: 1,
    projection: 'full',
  };
  const base = { tensor, concept: anchor.concept, axis: rank - 1, intervention };
  const record = { concept: anchor.concept, mode: 'erase', method: anchor.provenance?.method ?? 'leace', rank: e.left.length };
  if (options.fold) {
    checkFoldable(place, label, 'the eraser');
    const edited = foldErasure(ir, tensor, e, label);
    recordIntervention(ir.proto, { kind: 'fold', tensor, ...record, edited });
    return { ...base, prefix: '(folded into weights)', nodes: 0 };
  }
  const largest = Math.max(...[e.mean, ...e.left, ...e.right].map((v) => Math.max(...v.map(Math.abs))));
  if (type.elemType === DataType.FLOAT16 && !(largest < FLOAT16_MAX)) {
    throw new UsageError(
      `${label}: the eraser for '${tensor}' has a coefficient of ${largest.toPrecision(3)}, beyond float16's range; it cannot be inserted in this float16 model`,
    );
  }
  const opset = insertionOpset(ir.opset(), label);
  const b = new SubgraphBuilder(ir.graph, uniquePrefix(ir.graph, 'erase'), type.elemType!, { opset, irVersion: Number(ir.proto.irVersion) });
  const placed = insertAtPlacement(ir, place, type, b, ({ input, output }) => buildErasure(b, input, output, e), label, options.shapes);
  recordIntervention(ir.proto, { kind: 'patch', tensor, ...record, prefix: b.prefix, ...placed.record });
  return { ...base, prefix: b.prefix, nodes: b.nodes.length, ...placed.result };
}

function attr(node: NodeProto, name: string): number | undefined {
  const a = node.attribute.find((x) => x.name === name);
  return a === undefined ? undefined : (a.f ?? (a.i === undefined ? undefined : Number(a.i)));
}

const describe = (node: NodeProto): string => `node '${node.name || node.output[0]}' (${node.opType})`;

/** A reader's weight as W (D x N) for y = x W, whichever way the file stores it. */
interface Reader {
  node: NodeProto;
  /** Weight stored as [N, D] (Gemm transB = 1). */
  transposed: boolean;
}

/**
 * The direct readers of `tensor` and how each reads it, from the op
 * registry's weight descriptions (ops/weights.ts), as the fold walk uses
 * them. The eraser is affine, so only a matrix product reading the tensor
 * itself can take it: its constant shift would change through a scaling or
 * layout step on the way.
 */
function readersOf(ir: IrModel, tensor: string): Reader[] {
  const lookup = lookupOf(ir);
  return ir.graph.uses(tensor).map(({ node, index }) => {
    const op = index === 0 && !node.input.slice(1).includes(tensor) ? linearOp(node, tensor, lookup) : undefined;
    if (op && isLinearOp(op) && (op.op === 'Gemm' || op.op === 'MatMul') && op.data === 0 && op.fold) {
      if (op.op === 'Gemm' && op.dataAxis !== 1) throw new UsageError(`cannot fold the eraser into ${describe(node)}: transA is not supported`, 'REFUSED');
      if (op.op === 'Gemm' && ((attr(node, 'alpha') ?? 1) !== 1 || (attr(node, 'beta') ?? 1) !== 1))
        throw new UsageError(`cannot fold the eraser into ${describe(node)}: alpha and beta must be 1`, 'REFUSED');
      return { node, transposed: op.fold.axis === 1 };
    }
    throw new UsageError(
      `cannot fold the eraser into the readers of '${tensor}': ${describe(node)} reads it, and the erasure does not pass through a ${node.opType}; insert it instead (drop --fold)`,
      'REFUSED',
    );
  });
}

/** The bias added to a reader's output: Gemm's C, or the initializer of the one Add after a MatMul. */
function biasOf(graph: Graph, reader: Reader, width: number): { node: NodeProto; input: number } | undefined {
  const { node } = reader;
  if (node.opType === 'Gemm') return node.input[2] ? { node, input: 2 } : undefined;
  const users = graph.consumers(node.output[0]);
  if (users.length !== 1 || users[0].opType !== 'Add' || graph.isOutput(node.output[0])) return undefined;
  const add = users[0];
  const input = add.input.findIndex((name, i) => name !== node.output[0] && i < 2 && graph.initializer(name) && !graph.isInput(name));
  if (input < 0) return undefined;
  const t = graph.initializer(add.input[input])!;
  const n = t.dims.reduce<number>((a, v) => a * Number(v), 1);
  return n === width ? { node: add, input } : undefined;
}

export function foldErasure(ir: IrModel, tensor: string, e: Eraser, label = 'model'): string[] {
  const graph = ir.graph;
  if (graph.isOutput(tensor)) {
    throw new UsageError(`${label}: cannot fold into the readers of '${tensor}': it is a graph output, which folding would leave unchanged`);
  }
  const readers = readersOf(ir, tensor);
  if (readers.length === 0) throw new UsageError(`${label}: nothing reads '${tensor}'`);
  const d = e.mean.length;
  const r = e.right.length;
  const rMu = e.right.map((row) => row.reduce((s, v, j) => s + v * e.mean[j], 0));
  const edited: string[] = [];
  for (const reader of readers) {
    const stored = graph.isInput(reader.node.input[1]) ? undefined : graph.initializer(reader.node.input[1]);
    if (!stored) throw new UsageError(`${label}: cannot fold into ${describe(reader.node)}: its weight '${reader.node.input[1]}' is not a stored initializer`);
    if (stored.dims.length !== 2) throw new UsageError(`${label}: cannot fold into ${describe(reader.node)}: its weight is not a matrix`);
    const [rows, cols] = stored.dims.map(Number);
    const n = reader.transposed ? rows : cols;
    if ((reader.transposed ? cols : rows) !== d)
      throw new UsageError(`${label}: weight '${stored.name}' of ${describe(reader.node)} does not read ${d} features`);
    const w = tensorFloats(stored, ir.baseDir);
    const at = (i: number, j: number): number => (reader.transposed ? w[j * cols + i] : w[i * cols + j]);
    // LW: r x N, the readers' response to each erased direction.
    const lw = e.left.map((l) =>
      Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let i = 0; i < d; i++) s += l[i] * at(i, j);
        return s;
      }),
    );
    const shift = Array.from({ length: n }, (_, j) => lw.reduce((s, row, k) => s + rMu[k] * row[j], 0));
    const bias = biasOf(graph, reader, n);
    const largest = Math.max(...shift.map(Math.abs));
    if (!bias && largest > 1e-6 * Math.max(1, ...Array.from(w, Math.abs))) {
      throw new UsageError(
        `${label}: cannot fold into ${describe(reader.node)}: the eraser shifts its output by a constant and it has no bias to take it; insert the eraser instead (drop --fold)`,
      );
    }
    const out = new Float64Array(rows * cols);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < n; j++) {
        let s = at(i, j);
        for (let k = 0; k < r; k++) s -= e.right[k][i] * lw[k][j];
        out[reader.transposed ? j * cols + i : i * cols + j] = s;
      }
    }
    const weight = ownWeight(graph, reader.node, 1);
    setTensorFloats(weight, out);
    edited.push(weight.name!);
    if (bias) {
      const t = ownWeight(graph, bias.node, bias.input);
      const values = tensorFloats(t, ir.baseDir);
      setTensorFloats(
        t,
        Array.from(values, (v, j) => v + shift[j]),
      );
      edited.push(t.name!);
    } else if (reader.node.opType === 'Gemm' && largest > 0) {
      // A Gemm without C gets one, so the small constant term is kept exactly.
      const taken = graph.allNames();
      let name = `${reader.node.name || reader.node.output[0]}/sca_bias`;
      for (let k = 1; taken.has(name); k++) name = `${reader.node.name || reader.node.output[0]}/sca_bias_${k}`;
      graph.addInitializers([makeTensor(name, stored.dataType ?? DataType.FLOAT, [n], shift)]);
      graph.setInput(reader.node, 2, name);
      edited.push(name);
    }
  }
  return edited;
}
