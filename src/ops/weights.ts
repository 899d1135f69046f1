/**
 * How weight-carrying ops map the channels of their data input and of their
 * output to axes of their weight tensors: which weight axis to zero or
 * delete to ablate a channel, and which 2-D orientation a low-rank fold
 * (src/weights/lowrank.ts) edits.
 *
 *   MatMul(x, B[K,N])                 reads B axis 0, writes B axis 1
 *   MatMul(W[M,K], x[..,K,N])         reads W axis 1, writes W axis 0 (x's axis -2)
 *   Gemm(A, B, C) transB=0 B[K,N]     reads B axis 0, writes B axis 1, bias C by output
 *   Gemm transB=1 B[N,K]              reads B axis 1, writes B axis 0
 *   Gemm transA=1                     the data's channels are its axis 0
 *   Conv(X, W[Cout, Cin/g, k..], B)   reads W axis 1 (within the group), writes W axis 0 and B
 *   ConvTranspose(X, W[Cin, Cout/g, k..], B)  reads W axis 0, writes W axis 1 (within the group) and B
 */
import { attrInt, nodeLabel, type GraphLookup, type NodeLike } from './lookup.js';
import { isDefaultDomain } from '../onnx/graph.js';

export interface WeightAxis {
  /** Index of the weight among the node's inputs. */
  input: number;
  /** Axis of the weight tensor that runs over the channels. */
  axis: number;
}

export interface LinearOp {
  op: 'MatMul' | 'Gemm' | 'Conv' | 'ConvTranspose';
  /** Index of the data (activation) input. */
  data: number;
  /** Axis of the data input whose channels the weight reads (may be negative: from the end). */
  dataAxis: number;
  /** Axis of the output whose channels the weight writes (may be negative). */
  outAxis: number;
  /** The weight axis that reads the data's channels: edit it to ablate an input channel or fold a map into the reader. */
  reads: WeightAxis;
  /** The weight axis that writes the output's channels: edit it (and the bias) to ablate an output channel. */
  writes: WeightAxis;
  /** Bias added per output channel, on this axis of the bias tensor (its last axis for Gemm). */
  bias?: WeightAxis;
  /** Conv/ConvTranspose channel groups (1 otherwise). */
  group: number;
  /** Shape of the weight. */
  weightDims: number[];
  /**
   * The weight as a [rows, cols] matrix for a low-rank fold into the reading
   * side, and which of its axes is the data's channel axis; undefined (with
   * `foldRefusal`) where the read is not one matrix product.
   */
  fold?: { rows: number; cols: number; axis: 0 | 1 };
  foldRefusal?: string;
  /** The weight is stored quantized (weightDims are its logical float shape); edits go through that encoding's view. */
  quantized?: 'MatMulNBits' | 'MatMulInteger';
}

export type LinearResult = LinearOp | { refused: string };

function isLinearOp(r: LinearResult): r is LinearOp {
  return !('refused' in r);
}
export { isLinearOp };

/**
 * How `node` reads `dataTensor` through its weight, or why it cannot be
 * described as one (the weight is computed, or both inputs are activations).
 */
export function linearOp(node: NodeLike, dataTensor: string, lookup: GraphLookup): LinearResult {
  const at = `${node.opType} '${nodeLabel(node)}'`;
  const dataIndex = node.input.indexOf(dataTensor);
  if (dataIndex < 0) return { refused: `${at} does not read '${dataTensor}'` };
  const weightOf = (i: number) => (node.input[i] ? lookup.weight(node.input[i]) : undefined);
  const computed = (i: number) => ({
    refused: `${at}: its weight '${node.input[i] ?? ''}' is computed in the graph (or a graph input), not a stored constant`,
  });
  switch (isDefaultDomain(node.domain) ? node.opType : `${node.domain}:${node.opType}`) {
    case 'MatMul': {
      const other = 1 - dataIndex;
      const w = weightOf(other);
      if (!w) return computed(other);
      if (w.dims.length !== 2) return { refused: `${at}: weight '${node.input[other]}' has shape [${w.dims.join(', ')}]; only matrix weights are edited` };
      const [rows, cols] = w.dims;
      if (dataIndex === 0) return dataTimesWeight([rows, cols]);
      return {
        op: 'MatMul',
        data: 1,
        dataAxis: -2,
        outAxis: -2,
        reads: { input: 0, axis: 1 },
        writes: { input: 0, axis: 0 },
        group: 1,
        weightDims: w.dims,
        fold: { rows, cols, axis: 1 },
      };
    }
    case 'Gemm': {
      if (dataIndex !== 0) return { refused: `${at} reads '${dataTensor}' as its ${dataIndex === 1 ? 'B' : 'C'} input; only data in A is supported` };
      const w = weightOf(1);
      if (!w) return computed(1);
      const transA = attrInt(node, 'transA', 0) === 1;
      const transB = attrInt(node, 'transB', 0) === 1;
      const [rows, cols] = w.dims;
      const bias = node.input[2] ? lookup.weight(node.input[2]) : undefined;
      if (node.input[2] && !bias) return computed(2);
      return {
        op: 'Gemm',
        data: 0,
        dataAxis: transA ? 0 : 1,
        outAxis: 1,
        reads: { input: 1, axis: transB ? 1 : 0 },
        writes: { input: 1, axis: transB ? 0 : 1 },
        ...(bias ? { bias: { input: 2, axis: Math.max(0, bias.dims.length - 1) } } : {}),
        group: 1,
        weightDims: w.dims,
        fold: { rows, cols, axis: transB ? 1 : 0 },
      };
    }
    case 'Conv':
    case 'ConvTranspose': {
      if (dataIndex !== 0) return { refused: `${at} reads '${dataTensor}' as a weight` };
      const w = weightOf(1);
      if (!w) return computed(1);
      const group = attrInt(node, 'group', 1);
      const bias = node.input[2] ? lookup.weight(node.input[2]) : undefined;
      if (node.input[2] && !bias) return computed(2);
      const conv = node.opType === 'Conv';
      const kernelIsOne = w.dims.slice(2).every((d) => d === 1);
      const fold = conv && group === 1 && kernelIsOne ? { rows: w.dims[0], cols: w.dims[1], axis: 1 as const } : undefined;
      const foldRefusal = fold
        ? undefined
        : `${at}: ${group !== 1 ? `group=${group} convolutions` : !conv ? 'ConvTranspose' : `a ${w.dims.slice(2).join('x')} kernel`} mixes positions or channel groups, so a map of the channels cannot be folded into it; patch its input instead`;
      return {
        op: conv ? 'Conv' : 'ConvTranspose',
        data: 0,
        dataAxis: 1,
        outAxis: 1,
        reads: { input: 1, axis: conv ? 1 : 0 },
        writes: { input: 1, axis: conv ? 0 : 1 },
        ...(bias ? { bias: { input: 2, axis: 0 } } : {}),
        group,
        weightDims: w.dims,
        ...(fold ? { fold } : { foldRefusal }),
      };
    }
    case 'MatMulInteger': {
      // int8/uint8 codes W [K, N] with a zero point per tensor or per column; the scale comes after, in a Mul.
      if (dataIndex !== 0) return { refused: `${at} reads '${dataTensor}' as its weight` };
      const w = weightOf(1);
      if (!w) return computed(1);
      if (node.input[3] && !weightOf(3)) return computed(3);
      if (w.dims.length !== 2) return { refused: `${at}: weight '${node.input[1]}' has shape [${w.dims.join(', ')}]; only matrix weights are edited` };
      return {
        ...dataTimesWeight([w.dims[0], w.dims[1]]),
        quantized: 'MatMulInteger',
        fold: undefined,
        foldRefusal: `${at} holds its weight as 8-bit codes: a fold would have to requantize it, which is not done yet; patch the tensor instead (inserted nodes, exact)`,
      };
    }
    case 'com.microsoft:MatMulNBits': {
      // Y = A W for the logical W [K, N] that the packed blocks of B encode (weights/nbits.ts reads and writes it).
      if (dataIndex !== 0) return { refused: `${at} reads '${dataTensor}' as its weight` };
      for (const i of [1, 2, 3]) if (node.input[i] && !weightOf(i)) return computed(i);
      if (node.input[4]) return { refused: `${at}: its g_idx input reorders the blocks, which this toolkit does not edit` };
      const K = attrInt(node, 'K', -1);
      const N = attrInt(node, 'N', -1);
      if (K <= 0 || N <= 0) return { refused: `${at} has no K and N attributes` };
      const bias = node.input[5] ? lookup.weight(node.input[5]) : undefined;
      if (node.input[5] && !bias) return computed(5);
      // A fold dequantizes, updates and requantizes the blocks, and reports the error that adds (rewrite/fold.ts).
      return { ...dataTimesWeight([K, N]), ...(bias ? { bias: { input: 5, axis: 0 } } : {}), quantized: 'MatMulNBits' };
    }
    default:
      return { refused: `${at} is not a weight op this toolkit edits (MatMul, Gemm, Conv, ConvTranspose, MatMulInteger, MatMulNBits)` };
  }
}

/** x [.., K] times a weight W [K, N] in input 1 (MatMul, and the quantized forms of it): reads W's rows, writes its columns. */
function dataTimesWeight([rows, cols]: number[]): LinearOp {
  return {
    op: 'MatMul',
    data: 0,
    dataAxis: -1,
    outAxis: -1,
    reads: { input: 1, axis: 0 },
    writes: { input: 1, axis: 1 },
    group: 1,
    weightDims: [rows, cols],
    fold: { rows, cols, axis: 0 },
  };
}

/** The weight slots a channel touches: an index on one weight axis, limited to a range of the other axis for grouped convolutions. */
export interface ChannelSlice {
  /** Index along the weight axis (LinearOp.reads.axis or writes.axis). */
  index: number;
  /** Range [start, end) of weight axis `otherAxis` the index applies to; undefined means all of it. */
  range?: [number, number];
  otherAxis?: number;
}

/**
 * Where data channel `c` sits in the weight. With groups, input channel c
 * belongs to group c / (Cin/g) and is column c % (Cin/g) of that group's
 * rows (Conv), or row c of the weight (ConvTranspose, which groups its
 * output axis instead).
 */
export function readSlice(op: LinearOp, c: number): ChannelSlice {
  if (op.group === 1 || op.op === 'ConvTranspose') return { index: c };
  const perGroupIn = op.weightDims[1];
  const perGroupOut = op.weightDims[0] / op.group;
  const g = Math.floor(c / perGroupIn);
  return { index: c % perGroupIn, range: [g * perGroupOut, (g + 1) * perGroupOut], otherAxis: 0 };
}

/** Where output channel `o` sits in the weight (and in the bias, at index `o`). */
export function writeSlice(op: LinearOp, o: number): ChannelSlice {
  if (op.group === 1 || op.op === 'Conv') return { index: o };
  const perGroupOut = op.weightDims[1];
  const perGroupIn = op.weightDims[0] / op.group;
  const g = Math.floor(o / perGroupOut);
  return { index: o % perGroupOut, range: [g * perGroupIn, (g + 1) * perGroupIn], otherAxis: 0 };
}
