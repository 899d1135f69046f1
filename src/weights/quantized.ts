/**
 * Quantized weights behind the weight-view seam (view.ts): a MatMulNBits
 * weight's packed blocks, and integer codes with a zero point (MatMulInteger,
 * DequantizeLinear-fed QDQ weights and biases).
 *
 * A com.microsoft MatMulNBits weight is seen as the logical float matrix
 * W [K, N] the op multiplies by, behind the weight-view seam (view.ts).
 *
 * Encoding (onnxruntime's ContribOperators.md): B is uint8 [N, blocks,
 * block_size·bits/8], column n of W in blocks of `block_size` along K, the
 * last block padded; codes are packed low bits first (two 4-bit codes a byte,
 * the first in the low nibble). scales hold one float per (n, block);
 * zero_points, when given, are packed the same way per (n, block), else
 * 2^(bits-1). W[k, n] = (code - zero_point) · scale.
 *
 * Writes keep the encoding. An entry set to exactly 0 gets its block's zero
 * point as its code, which dequantizes to exactly 0: that is an ablation,
 * bit for bit in the quantized domain. Any other change would need a new
 * quantization and is refused, naming the weight.
 */
import { UsageError } from '../errors.js';
import { setRawData, setTensorFloats, tensorBytes, tensorFloats } from '../onnx/tensor.js';
import { DataType, type TensorProto } from '../onnx/types.js';
import { attrInt, type NodeLike } from '../ops/lookup.js';
import type { WeightView } from './view.js';

export interface NBitsLayout {
  K: number;
  N: number;
  bits: number;
  blockSize: number;
}

/** The layout a MatMulNBits node declares (K, N, bits, block_size). */
export function nbitsLayout(node: NodeLike): NBitsLayout {
  return { K: attrInt(node, 'K', 0), N: attrInt(node, 'N', 0), bits: attrInt(node, 'bits', 4), blockSize: attrInt(node, 'block_size', 32) };
}

export interface NBitsTensors {
  b: TensorProto;
  scales: TensorProto;
  zeroPoints?: TensorProto;
}

export function nbitsView(layout: NBitsLayout, t: NBitsTensors, baseDir: string, label: string): WeightView {
  const { K, N, bits, blockSize } = layout;
  if (bits !== 4 && bits !== 8) throw new UsageError(`${label}: MatMulNBits with ${bits} bits; only 4 and 8 are edited`, 'REFUSED');
  if (t.b.dataType !== DataType.UINT8) throw new UsageError(`${label}: MatMulNBits weight '${t.b.name}' is not uint8`, 'REFUSED');
  if (t.zeroPoints && t.zeroPoints.dataType !== DataType.UINT8)
    throw new UsageError(`${label}: MatMulNBits zero points '${t.zeroPoints.name}' are not packed uint8 (float zero points are not edited)`, 'REFUSED');
  const blocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const codes = Uint8Array.from(tensorBytes(t.b, baseDir));
  if (codes.length !== N * blocks * blob)
    throw new UsageError(`${label}: MatMulNBits weight '${t.b.name}' holds ${codes.length} bytes, not N·blocks·blob = ${N * blocks * blob}`, 'BAD_MODEL');
  const scales = tensorFloats(t.scales, baseDir);
  if (scales.length !== N * blocks)
    throw new UsageError(`${label}: MatMulNBits scales '${t.scales.name}' hold ${scales.length} values, not N·blocks = ${N * blocks}`, 'BAD_MODEL');
  const zpBytes = t.zeroPoints ? tensorBytes(t.zeroPoints, baseDir) : undefined;
  const zpRow = Math.ceil(blocks / perByte);
  const zeroPoint = (n: number, block: number): number =>
    zpBytes ? (zpBytes[n * zpRow + Math.floor(block / perByte)] >> ((block % perByte) * bits)) & mask : 1 << (bits - 1);
  const at = (k: number, n: number) => {
    const block = Math.floor(k / blockSize);
    const j = k % blockSize;
    return { block, byte: (n * blocks + block) * blob + Math.floor(j / perByte), shift: (j % perByte) * bits };
  };
  const dequantize = (): Float32Array => {
    const w = new Float32Array(K * N);
    for (let n = 0; n < N; n++)
      for (let k = 0; k < K; k++) {
        const { block, byte, shift } = at(k, n);
        w[k * N + n] = (((codes[byte] >> shift) & mask) - zeroPoint(n, block)) * scales[n * blocks + block];
      }
    return w;
  };
  return {
    name: t.b.name ?? '',
    dims: [K, N],
    read: dequantize,
    write(values, dims) {
      if (dims && (dims[0] !== K || dims[1] !== N))
        throw new UsageError(
          `${label}: pruning MatMulNBits weight '${t.b.name}' would repack its blocks, which is not done yet; ablate instead (same outputs)`,
          'REFUSED',
        );
      const before = dequantize();
      for (let i = 0; i < values.length; i++) {
        if (values[i] === before[i]) continue;
        const [k, n] = [Math.floor(i / N), i % N];
        if (values[i] !== 0)
          throw new UsageError(
            `${label}: MatMulNBits weight '${t.b.name}' [${k}, ${n}] would change to a value its ${bits}-bit code cannot hold exactly; use an inserted patch`,
            'REFUSED',
          );
        const { block, byte, shift } = at(k, n);
        codes[byte] = (codes[byte] & ~(mask << shift)) | (zeroPoint(n, block) << shift);
      }
      setRawData(t.b, codes);
    },
  };
}

/**
 * Integer codes with a zero point (MatMulInteger's int8/uint8 weight with a
 * zero point per tensor or per column; a QDQ weight or int32 bias behind
 * DequantizeLinear, per tensor or per `axis`) seen as code - zero point: the
 * scale multiplies elsewhere. As for MatMulNBits, an entry set to 0 gets its
 * zero point as its code, exactly; any other change is refused.
 */
export function integerView(b: TensorProto, zeroPoint: TensorProto | undefined, baseDir: string, label: string, axis = -1): WeightView {
  const type = b.dataType;
  if (type !== DataType.INT8 && type !== DataType.UINT8 && type !== DataType.INT32)
    throw new UsageError(`${label}: weight codes '${b.name}' are not int8, uint8 or int32`, 'REFUSED');
  const dims = b.dims.map(Number);
  const raw = Uint8Array.from(tensorBytes(b, baseDir));
  const typed = (bytes: Uint8Array) => (type === DataType.INT8 ? new Int8Array(bytes.buffer) : type === DataType.INT32 ? new Int32Array(bytes.buffer) : bytes);
  const codes = typed(raw);
  const zps = zeroPoint ? typed(Uint8Array.from(tensorBytes(zeroPoint, baseDir))) : typed(new Uint8Array(type === DataType.INT32 ? 4 : 1));
  const ax = axis < 0 ? axis + dims.length : axis;
  const along = dims[ax];
  if (zps.length !== 1 && zps.length !== along)
    throw new UsageError(`${label}: zero point '${zeroPoint?.name}' has ${zps.length} values, not 1 or ${along}`, 'BAD_MODEL');
  const inner = dims.slice(ax + 1).reduce((a, b2) => a * b2, 1);
  const zp = (i: number) => zps[zps.length === 1 ? 0 : Math.floor(i / inner) % along];
  const read = () => Float32Array.from(codes as ArrayLike<number>, (c, i) => c - zp(i));
  return {
    name: b.name ?? '',
    dims,
    read,
    write(values, newDims) {
      if (newDims && newDims.some((d, i) => d !== dims[i]))
        throw new UsageError(`${label}: pruning quantized weight '${b.name}' is not done yet; ablate instead (same outputs)`, 'REFUSED');
      const before = read();
      for (let i = 0; i < values.length; i++) {
        if (values[i] === before[i]) continue;
        if (values[i] !== 0)
          throw new UsageError(
            `${label}: quantized weight '${b.name}' entry ${i} would change to a value its code cannot hold exactly; use an inserted patch`,
            'REFUSED',
          );
        codes[i] = zp(i);
      }
      setRawData(b, raw);
    },
  };
}

export interface Requantized {
  /** Largest and root-mean-square |dequantized - wanted| over the weight's entries. */
  maxError: number;
  rmsError: number;
}

/**
 * Stores `w` [K, N] in the MatMulNBits encoding of `t` (same bits and
 * blocks), with new scales and, where the weight has them, zero points: per
 * (column, block), asymmetric over [min(w, 0), max(w, 0)] in 2^bits - 1
 * steps with zp = round(-min / scale), or symmetric with zp = 2^(bits-1) and
 * scale = max|w| / (2^(bits-1) - 1). Returns the error this adds against `w`.
 */
export function requantizeNBits(layout: NBitsLayout, t: NBitsTensors, w: Float32Array, baseDir: string, label: string): Requantized {
  const { K, N, bits, blockSize } = layout;
  const blocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const perByte = 8 / bits;
  const top = (1 << bits) - 1;
  const codes = new Uint8Array(N * blocks * blob);
  const scales = new Float32Array(N * blocks);
  const zpRow = Math.ceil(blocks / perByte);
  const zps = t.zeroPoints ? new Uint8Array(N * zpRow) : undefined;
  for (let n = 0; n < N; n++)
    for (let b = 0; b < blocks; b++) {
      const ks = Array.from({ length: Math.min(blockSize, K - b * blockSize) }, (_, j) => b * blockSize + j);
      const v = ks.map((k) => w[k * N + n]);
      let zp: number;
      let scale: number;
      if (zps) {
        const [lo, hi] = [Math.min(0, ...v), Math.max(0, ...v)];
        scale = (hi - lo) / top;
        zp = scale > 0 ? Math.min(top, Math.max(0, Math.round(-lo / scale))) : 0;
        zps[n * zpRow + Math.floor(b / perByte)] |= zp << ((b % perByte) * bits);
      } else {
        zp = 1 << (bits - 1);
        scale = Math.max(...v.map(Math.abs)) / (zp - 1);
      }
      scales[n * blocks + b] = scale;
      ks.forEach((_k, j) => {
        const q = scale > 0 ? Math.min(top, Math.max(0, Math.round(v[j] / scale) + zp)) : zp;
        codes[(n * blocks + b) * blob + Math.floor(j / perByte)] |= q << ((j % perByte) * bits);
      });
      // Padding past K in the last block holds the zero point, so it dequantizes to 0.
      for (let j = ks.length; j < blockSize; j++) codes[(n * blocks + b) * blob + Math.floor(j / perByte)] |= zp << ((j % perByte) * bits);
    }
  if (!scales.every(Number.isFinite)) throw new UsageError(`${label}: the folded weight holds a value that is not finite`, 'REFUSED');
  setRawData(t.b, codes);
  setTensorFloats(t.scales, scales);
  if (zps && t.zeroPoints) setRawData(t.zeroPoints, zps);
  // The error as stored (float16 scales round too): the new encoding read back, against what was wanted.
  const back = nbitsView(layout, t, baseDir, label).read();
  let max = 0;
  let sq = 0;
  for (let i = 0; i < w.length; i++) {
    const e = Math.abs(back[i] - w[i]);
    max = Math.max(max, e);
    sq += e * e;
  }
  return { maxError: max, rmsError: Math.sqrt(sq / w.length) };
}
