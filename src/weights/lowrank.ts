/**
 * Folding a linear map of rank k into the weight that reads a tensor, in
 * O(k·D·N) and streamed: W' = W + s·Qᵀ(Q W) when D is W's row axis (MatMul
 * weight [D,N]), W' = W + s·(W Qᵀ)Q when D is its column axis (Gemm transB=1
 * weight [N,D], Conv 1x1 weight [N,D,1,1]). Q holds k orthonormal rows of
 * length D; s = -1 removes the subspace (z -> z - zQᵀQ), s = -b removes a
 * share b of it, s = S amplifies it by 1+S.
 *
 * Two passes over the weight, one chunk at a time: the first accumulates the
 * small k×N (or N×k) product when the fold is made, the second writes W'
 * chunk by chunk when the model is saved, straight into the output file (with
 * D on the column axis, one pass: each row's product needs only that row).
 * Memory is that product plus a chunk or two, whatever the weight's size; its
 * bytes come from memory, a range of the model file, or external data alike.
 * The loops run in WebAssembly SIMD where available (kernels.ts), else in the
 * plain TypeScript below, which the tests hold the kernels to.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { FileRange, LazyBytes, type Bytes } from '../onnx/codec.js';
import { externalRef, isExternal, setRawData, tensorBytes } from '../onnx/tensor.js';
import { DataType, type TensorProto } from '../onnx/types.js';
import { readAt } from '../util/files.js';
import { chunkValues, decodeChunk, encodeChunk, floatElementBytes, workArray, type Work } from './elements.js';
import { reserve, simdKernels, type Kernels } from './kernels.js';

/** What to fold: W' = W + scale · (W's D axis projected onto span(basis)). */
export interface LowRankMap {
  /** k orthonormal rows of length D (orthonormalise first: this is not checked beyond lengths). */
  basis: ArrayLike<number>[];
  /** -1 removes the subspace, -b removes a share b, S amplifies by 1+S. */
  scale: number;
}

/** A weight viewed as a row-major [rows, cols] matrix, with D on `axis`. */
export interface WeightMatrix {
  /** For messages. */
  name: string;
  bytes: Bytes;
  dataType: number;
  rows: number;
  cols: number;
  /** 0: D is the row axis (MatMul B [D,N]); 1: D is the column axis (Gemm transB=1 B [N,D], Conv 1x1 W [N,D,1,1]). */
  axis: 0 | 1;
}

export interface FoldOptions {
  /** Bytes per read chunk (rounded down to whole elements); default 1 MiB. Tests set it small to split rows. */
  chunkBytes?: number;
  /** Folds smaller than this are computed at once and kept in memory (default IN_MEMORY_FOLD); larger ones when the model is saved. */
  inMemoryBytes?: number;
  /** false: the plain TypeScript loops even where the SIMD kernels would serve (tests and the bench compare the two). */
  simd?: boolean;
}

// Small enough that a chunk read is still in cache when the kernels run over it (16 MiB was slower than 4, 4 than 1).
const DEFAULT_CHUNK = 1 << 20;

/** Folds smaller than this are kept in memory; larger ones stay lazy until saving streams them into the output. */
export const IN_MEMORY_FOLD = 16 << 20;

/** Reads a weight's bytes one chunk at a time, from memory or a file. */
class ChunkReader {
  private readonly buffer: Uint8Array;
  private readonly source: Uint8Array | FileRange;
  private fd: number | undefined;

  constructor(source: Bytes, chunkBytes: number) {
    // Bytes computed by an earlier fold of the same weight are made whole: a second fold of one weight is rare.
    this.source = source instanceof LazyBytes && !(source instanceof FileRange) ? source.read() : source;
    this.buffer = new Uint8Array(Math.min(chunkBytes, source.length));
    if (this.source instanceof FileRange) this.fd = fs.openSync(this.source.file, 'r');
  }

  /** Bytes [offset, offset+length) of the source, valid until the next call. */
  read(offset: number, length: number, elementBytes: number): Uint8Array {
    const src = this.source;
    if (src instanceof FileRange) return this.readInto(this.buffer.subarray(0, length), offset);
    const view = src.subarray(offset, offset + length);
    // Typed-array views need aligned bytes; inline weights can sit anywhere in the model buffer.
    if (view.byteOffset % elementBytes === 0) return view;
    this.buffer.set(view);
    return this.buffer.subarray(0, length);
  }

  /** Fills `into` with the bytes from `offset` on. */
  readInto(into: Uint8Array, offset: number): Uint8Array {
    const src = this.source;
    if (!(src instanceof FileRange)) {
      into.set(src.subarray(offset, offset + into.length));
    } else if (readAt(this.fd!, into, src.offset + offset) < into.length) {
      throw new UsageError(`${src.file} ended early while folding (changed while in use?)`);
    }
    return into;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

function basisMatrix(map: LowRankMap, width: number, name: string): Float64Array {
  const k = map.basis.length;
  if (k === 0) throw new UsageError(`fold into '${name}': the basis is empty`);
  const q = new Float64Array(k * width);
  map.basis.forEach((row, j) => {
    if (row.length !== width) throw new UsageError(`fold into '${name}': a direction has ${row.length} values, the weight's folded axis has ${width}`);
    for (let d = 0; d < width; d++) q[j * width + d] = row[d];
  });
  return q;
}

/** What one fold computes, fixed before any byte is read. */
interface FoldPlan {
  w: WeightMatrix;
  elementBytes: number;
  /** Elements per chunk. */
  chunk: number;
  k: number;
  /** D: the length of a basis row. */
  width: number;
  /** The basis, k x width, row-major. */
  q: Float64Array;
  scale: number;
  /** D on the column axis with whole rows per chunk: the product is found row by row as W' is written. */
  onePass: boolean;
  /** The small product: Q W (k x cols) for axis 0, W Qᵀ (rows x k) for axis 1. */
  p: Float64Array;
}

function planFold(w: WeightMatrix, map: LowRankMap, options: FoldOptions): FoldPlan {
  const { rows, cols, axis, dataType } = w;
  const elementBytes = floatElementBytes(dataType, w.name);
  if (w.bytes.length !== rows * cols * elementBytes) {
    throw new UsageError(`weight '${w.name}' holds ${w.bytes.length} bytes; [${rows}, ${cols}] needs ${rows * cols * elementBytes}`);
  }
  const width = axis === 0 ? rows : cols;
  const k = map.basis.length;
  const q = basisMatrix(map, width, w.name);
  let chunk = Math.max(1, Math.floor((options.chunkBytes ?? DEFAULT_CHUNK) / elementBytes));
  // With D on the column axis, row r of W Qᵀ needs row r of W alone: chunks of whole rows take one pass, not two.
  const onePass = axis === 1 && chunk >= cols;
  if (onePass) chunk -= chunk % cols;
  return {
    w,
    elementBytes,
    chunk: Math.min(chunk, rows * cols),
    k,
    width,
    q,
    scale: map.scale,
    onePass,
    p: new Float64Array(axis === 0 ? k * cols : rows * k),
  };
}

/**
 * A weight with a low-rank map folded in, computed when it is needed: the
 * first pass (the small product) runs now, so a bad source fails here; the
 * second streams W' into the saved file chunk by chunk, never whole.
 */
export class FoldedWeight extends LazyBytes {
  readonly length: number;
  private readonly plan: FoldPlan;
  private readonly simd: boolean;

  constructor(w: WeightMatrix, map: LowRankMap, options: FoldOptions = {}) {
    super();
    this.plan = planFold(w, map, options);
    this.length = w.bytes.length;
    // float64 weights are rare enough to stay with the plain loops.
    this.simd = options.simd !== false && w.dataType !== DataType.DOUBLE && simdKernels() !== undefined;
    if (!this.plan.onePass) this.pass();
  }

  read(): Uint8Array {
    const out = Buffer.allocUnsafeSlow(this.length);
    this.stream((chunk, at) => out.set(chunk, at));
    return out;
  }

  stream(sink: (chunk: Uint8Array, offset: number) => void): void {
    // The one-pass product is found afresh on every stream.
    if (this.plan.onePass) this.plan.p.fill(0);
    this.pass(sink);
  }

  /** Without a sink: the first pass. With one: W' chunk by chunk. */
  private pass(sink?: (chunk: Uint8Array, offset: number) => void): void {
    const reader = new ChunkReader(this.plan.w.bytes, this.plan.chunk * this.plan.elementBytes);
    try {
      if (this.simd) simdPass(this.plan, reader, simdKernels()!, sink);
      else plainPass(this.plan, reader, sink);
    } finally {
      reader.close();
    }
  }
}

/** Calls `segment(r, c0, n, i)` for each row's run in a chunk: elements i..i+n of the chunk are W[r][c0..c0+n). */
function forEachRowRun(start: number, count: number, cols: number, segment: (r: number, c0: number, n: number, i: number) => void): void {
  for (let i = 0; i < count;) {
    const r = Math.floor((start + i) / cols);
    const c0 = start + i - r * cols;
    const n = Math.min(cols - c0, count - i);
    segment(r, c0, n, i);
    i += n;
  }
}

function plainPass(plan: FoldPlan, reader: ChunkReader, sink?: (chunk: Uint8Array, offset: number) => void): void {
  const { w, elementBytes, chunk, k, width, q, p, scale, onePass } = plan;
  const { rows, cols, axis, dataType } = w;
  const total = rows * cols;
  const scratch = workArray(dataType, chunk);
  // float32 and float64 results go straight into the output bytes; 16-bit ones via the scratch values.
  const direct = dataType === DataType.FLOAT || dataType === DataType.DOUBLE;
  const out = new Uint8Array(sink ? chunk * elementBytes : 0);
  const outValues = !direct ? scratch : dataType === DataType.DOUBLE ? new Float64Array(out.buffer) : new Float32Array(out.buffer);
  const coef = new Float64Array(k);
  for (let start = 0; start < total; start += chunk) {
    const count = Math.min(chunk, total - start);
    const values = chunkValues(reader.read(start * elementBytes, count * elementBytes, elementBytes), dataType, scratch);
    forEachRowRun(start, count, cols, (r, c0, n, i) => {
      if (!sink || onePass) {
        for (let j = 0; j < k; j++) {
          if (axis === 0) accumulateRun(values, i, n, q[j * width + r], p, j * cols + c0);
          else p[r * k + j] += dotRun(values, i, n, q, j * cols + c0);
        }
      }
      if (!sink) return;
      // Row r's update is a combination of rows of Q W (axis 0) or of basis rows (axis 1), as in simdPass.
      for (let j = 0; j < k; j++) coef[j] = scale * (axis === 0 ? q[j * width + r] : p[r * k + j]);
      updateRun(values, outValues, i, n, axis === 0 ? p : q, c0, cols, coef);
    });
    if (!sink) continue;
    const bytes = out.subarray(0, count * elementBytes);
    if (!direct) encodeChunk(outValues, count, dataType, bytes);
    sink(bytes, start * elementBytes);
  }
}

/**
 * The same passes with the chunk in the SIMD kernels' memory: float32 bytes
 * are read straight into it, 16-bit ones decoded into it. The results are
 * those of the plain loops (bit for bit with one basis row on D = rows).
 */
function simdPass(plan: FoldPlan, reader: ChunkReader, kernels: Kernels, sink?: (chunk: Uint8Array, offset: number) => void): void {
  const { w, elementBytes, chunk, k, width, q, p, scale, onePass } = plan;
  const { rows, cols, axis, dataType } = w;
  const total = rows * cols;
  const [qAt, pAt, rowAt, chunkAt] = reserve(kernels, [q.byteLength, axis === 0 ? p.byteLength : 0, 8 * cols, 4 * chunk]);
  const buffer = kernels.memory.buffer;
  new Float64Array(buffer, qAt, q.length).set(q);
  // Axis 0 keeps Q W in the kernels' memory; axis 1's W Qᵀ is one small sum per row and basis row, kept here.
  const pInMemory = axis === 0 ? new Float64Array(buffer, pAt, p.length) : undefined;
  pInMemory?.set(p);
  const row = new Float64Array(buffer, rowAt, cols);
  const values = new Float32Array(buffer, chunkAt, chunk);
  const direct = dataType === DataType.FLOAT;
  const staging = direct ? undefined : new Uint8Array(chunk * elementBytes);
  const out = sink && !direct ? new Uint8Array(chunk * elementBytes) : undefined;
  const coef = new Float64Array(k);
  for (let start = 0; start < total; start += chunk) {
    const count = Math.min(chunk, total - start);
    if (direct) reader.readInto(new Uint8Array(buffer, chunkAt, count * 4), start * 4);
    else decodeChunk(reader.readInto(staging!.subarray(0, count * elementBytes), start * elementBytes), dataType, values);
    forEachRowRun(start, count, cols, (r, c0, n, i) => {
      const at = chunkAt + 4 * i;
      if (!sink || onePass) {
        for (let j = 0; j < k; j++) {
          if (axis === 0) {
            const a = q[j * width + r];
            if (a !== 0) kernels.acc(at, pAt + 8 * (j * cols + c0), n, a);
          } else {
            p[r * k + j] += kernels.dot(at, qAt + 8 * (j * cols + c0), n);
          }
        }
      }
      if (!sink) return;
      // Row r's update is a combination of basis rows (axis 1) or of rows of Q W (axis 0).
      const from = axis === 0 ? pAt : qAt;
      for (let j = 0; j < k; j++) coef[j] = scale * (axis === 0 ? q[j * width + r] : p[r * k + j]);
      if (k === 1) {
        kernels.update(at, at, from + 8 * c0, n, coef[0]);
        return;
      }
      row.fill(0, 0, n);
      for (let j = 0; j < k; j++) kernels.acc64(from + 8 * (j * cols + c0), rowAt, n, coef[j]);
      kernels.update(at, at, rowAt, n, 1);
    });
    if (!sink) continue;
    if (direct) {
      sink(new Uint8Array(buffer, chunkAt, count * 4), start * 4);
    } else {
      encodeChunk(values, count, dataType, out!.subarray(0, count * elementBytes));
      sink(out!.subarray(0, count * elementBytes), start * elementBytes);
    }
  }
  if (pInMemory) p.set(pInMemory);
}

// The plain loops over one row's run of a chunk: elements i..i+n of the
// chunk are W[r][c0..c0+n) (forEachRowRun).

/** p[at + t] += a * w[i + t]. */
function accumulateRun(w: Work, i: number, n: number, a: number, p: Float64Array, at: number): void {
  if (a === 0) return;
  const base = at - i;
  for (let t = i; t < i + n; t++) p[base + t] += a * w[t];
}

/** Sum of w[i + t] * q[at + t]. */
function dotRun(w: Work, i: number, n: number, q: Float64Array, at: number): number {
  const base = at - i;
  let s = 0;
  for (let t = i; t < i + n; t++) s += w[t] * q[base + t];
  return s;
}

/**
 * dst = src + sum_j coef[j] * from[j][c0..c0+n), `from` holding k rows of
 * length `cols`. Every element of the run is written, so dst needs no copy
 * of src first.
 */
function updateRun(src: Work, dst: Work, i: number, n: number, from: Float64Array, c0: number, cols: number, coef: Float64Array): void {
  const k = coef.length;
  const base = c0 - i;
  if (k === 1) {
    const a = coef[0];
    for (let t = i; t < i + n; t++) dst[t] = src[t] + a * from[base + t];
    return;
  }
  for (let t = i; t < i + n; t++) {
    let s = src[t];
    for (let j = 0; j < k; j++) s += coef[j] * from[j * cols + base + t];
    dst[t] = s;
  }
}

/** W' in memory: for small weights and tests. */
export function foldLowRankToBytes(w: WeightMatrix, map: LowRankMap, options: FoldOptions = {}): Uint8Array {
  return new FoldedWeight(w, map, options).read();
}

/**
 * The 2-D view of a weight tensor with D on `axis` of its dims. Conv weights
 * [N, D, 1, ...] count as [N, D]; anything else of rank above 2 is refused.
 */
export function weightMatrix(t: TensorProto, baseDir: string, axis: 0 | 1): WeightMatrix {
  const dims = t.dims.map(Number);
  const name = t.name ?? '(unnamed)';
  if (dims.length < 2 || dims.slice(2).some((d) => d !== 1)) {
    throw new UsageError(`weight '${name}' has shape [${dims.join(', ')}]; folding needs a matrix or a 1x1 Conv kernel`);
  }
  return { name, bytes: weightBytes(t, baseDir), dataType: t.dataType ?? 0, rows: dims[0], cols: dims[1], axis };
}

/** The weight's bytes without reading them when they are in a file: external data becomes a FileRange. */
export function weightBytes(t: TensorProto, baseDir: string): Bytes {
  if (isExternal(t)) {
    const ref = externalRef(t);
    const file = path.resolve(baseDir, ref.location);
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      throw new UsageError(`external data file ${file} for tensor '${t.name}' not found`);
    }
    const length = ref.length ?? size - ref.offset;
    if (ref.offset + length > size) throw new UsageError(`external data for tensor '${t.name}' runs past the end of ${file} (truncated?)`);
    return new FileRange(file, ref.offset, length);
  }
  if (t.rawData) return t.rawData;
  return tensorBytes(t, baseDir);
}

/**
 * Folds `map` into weight `t` with D on `axis`, replacing its contents with
 * raw_data and keeping its name, dims and element type: small weights at
 * once, large ones as a FoldedWeight that saving streams into the output. To
 * edit one reader of a shared weight, fold a copy (rewrite/weights.ts
 * ownWeight): the original's bytes are read, never changed.
 */
export function foldTensorLowRank(t: TensorProto, baseDir: string, axis: 0 | 1, map: LowRankMap, options: FoldOptions = {}): void {
  const folded = new FoldedWeight(weightMatrix(t, baseDir, axis), map, options);
  setRawData(t, folded.length < (options.inMemoryBytes ?? IN_MEMORY_FOLD) ? folded.read() : folded);
}
