/**
 * Folding a linear map of rank k into the weight that reads a tensor, in
 * O(k·D·N) and streamed: W' = W + s·Qᵀ(Q W) when D is W's row axis (MatMul
 * weight [D,N]), W' = W + s·(W Qᵀ)Q when D is its column axis (Gemm transB=1
 * weight [N,D], Conv 1x1 weight [N,D,1,1]). Q holds k orthonormal rows of
 * length D; s = -1 removes the subspace (z -> z - zQᵀQ), s = -b removes a
 * share b of it, s = S amplifies it by 1+S.
 *
 * Two passes over the weight, one chunk at a time: the first accumulates the
 * small k×N (or N×k) product, the second writes W' chunk by chunk (with D on
 * the column axis, one pass: each row's product needs only that row). Memory
 * is that product plus two chunks, whatever the weight's size; its bytes
 * come from memory, a range of the model file, or external data alike.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { FileRange, type Bytes } from '../onnx/codec.js';
import { externalRef, isExternal, setRawData, tensorBytes } from '../onnx/tensor.js';
import { DataType, type TensorProto } from '../onnx/types.js';
import { readAt, writeAll } from '../util/files.js';
import { chunkValues, encodeChunk, floatElementBytes, workArray, type Work } from './elements.js';

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
  /** Bytes per read chunk (rounded down to whole elements); default 4 MiB. Tests set it small to split rows. */
  chunkBytes?: number;
  /** foldTensorLowRank keeps results smaller than this in memory (default IN_MEMORY_FOLD), larger ones in a scratch file. */
  inMemoryBytes?: number;
}

const DEFAULT_CHUNK = 4 << 20;

/** Reads a weight's bytes one aligned chunk at a time, from memory or a file. */
class ChunkReader {
  private readonly buffer: Uint8Array;
  private fd: number | undefined;

  constructor(private readonly source: Bytes, readonly chunkBytes: number) {
    this.buffer = new Uint8Array(Math.min(chunkBytes, source.length));
    if (source instanceof FileRange) this.fd = fs.openSync(source.file, 'r');
  }

  /** Bytes [offset, offset+length) of the source, valid until the next call. */
  read(offset: number, length: number, elementBytes: number): Uint8Array {
    const src = this.source;
    if (src instanceof FileRange) {
      const into = this.buffer.subarray(0, length);
      if (readAt(this.fd!, into, src.offset + offset) < length) throw new UsageError(`${src.file} ended early while folding (changed while in use?)`);
      return into;
    }
    const view = src.subarray(offset, offset + length);
    // Typed-array views need aligned bytes; inline weights can sit anywhere in the model buffer.
    if (view.byteOffset % elementBytes === 0) return view;
    this.buffer.set(view);
    return this.buffer.subarray(0, length);
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

/**
 * Streams W' to `write(chunk, byteOffset)` in order. `chunk` is reused after
 * `write` returns: copy it or write it out.
 */
export function foldLowRankStream(w: WeightMatrix, map: LowRankMap, write: (chunk: Uint8Array, byteOffset: number) => void, options: FoldOptions = {}): void {
  const { rows, cols, axis, dataType } = w;
  const elementBytes = floatElementBytes(dataType, w.name);
  const total = rows * cols;
  if (w.bytes.length !== total * elementBytes) {
    throw new UsageError(`weight '${w.name}' holds ${w.bytes.length} bytes; [${rows}, ${cols}] needs ${total * elementBytes}`);
  }
  const width = axis === 0 ? rows : cols;
  const q = basisMatrix(map, width, w.name);
  const k = map.basis.length;
  let chunkElements = Math.max(1, Math.floor((options.chunkBytes ?? DEFAULT_CHUNK) / elementBytes));
  // With D on the column axis, row r of W Qᵀ needs row r of W alone: chunks of whole rows take one pass, not two.
  const onePass = axis === 1 && chunkElements >= cols;
  if (onePass) chunkElements -= chunkElements % cols;
  const reader = new ChunkReader(w.bytes, chunkElements * elementBytes);
  const scratch = workArray(dataType, Math.min(chunkElements, total));
  // axis 0: p = Q W (k x cols); axis 1: p = W Qᵀ (rows x k).
  const p = new Float64Array(axis === 0 ? k * cols : rows * k);
  const read = (start: number, count: number) => chunkValues(reader.read(start * elementBytes, count * elementBytes, elementBytes), dataType, scratch);
  try {
    if (!onePass) {
      for (let start = 0; start < total; start += chunkElements) {
        const count = Math.min(chunkElements, total - start);
        const values = read(start, count);
        if (axis === 0) accumulateRowAxis(values, start, count, cols, q, k, rows, p);
        else accumulateColAxis(values, start, count, cols, q, k, p);
      }
    }
    const out = new Uint8Array(scratch.length * elementBytes);
    // float32 and float64 results go straight into the output bytes; 16-bit ones via the scratch values.
    const direct = dataType === DataType.FLOAT || dataType === DataType.DOUBLE;
    const outValues = dataType === DataType.DOUBLE ? new Float64Array(out.buffer) : direct ? new Float32Array(out.buffer) : scratch;
    const coef = new Float64Array(k);
    for (let start = 0; start < total; start += chunkElements) {
      const count = Math.min(chunkElements, total - start);
      const values = read(start, count);
      if (onePass) accumulateColAxis(values, start, count, cols, q, k, p);
      if (axis === 0) updateRowAxis(values, outValues, start, count, cols, q, k, rows, p, map.scale, coef);
      else updateColAxis(values, outValues, start, count, cols, q, k, p, map.scale, coef);
      const bytes = out.subarray(0, count * elementBytes);
      if (!direct) encodeChunk(outValues, count, dataType, bytes);
      write(bytes, start * elementBytes);
    }
  } finally {
    reader.close();
  }
}

// Element i of a chunk starting at flat index `start` is W[r][c] with
// r*cols + c = start + i; each loop walks one row's segment of the chunk.

function accumulateRowAxis(w: Work, start: number, count: number, cols: number, q: Float64Array, k: number, width: number, p: Float64Array): void {
  for (let i = 0; i < count; ) {
    const r = Math.floor((start + i) / cols);
    const c0 = start + i - r * cols;
    const n = Math.min(cols - c0, count - i);
    for (let j = 0; j < k; j++) {
      const qjr = q[j * width + r];
      if (qjr === 0) continue;
      const base = j * cols + c0 - i;
      for (let t = i; t < i + n; t++) p[base + t] += qjr * w[t];
    }
    i += n;
  }
}

function accumulateColAxis(w: Work, start: number, count: number, cols: number, q: Float64Array, k: number, p: Float64Array): void {
  for (let i = 0; i < count; ) {
    const r = Math.floor((start + i) / cols);
    const c0 = start + i - r * cols;
    const n = Math.min(cols - c0, count - i);
    for (let j = 0; j < k; j++) {
      const qBase = j * cols + c0 - i;
      let s = 0;
      for (let t = i; t < i + n; t++) s += w[t] * q[qBase + t];
      p[r * k + j] += s;
    }
    i += n;
  }
}

/** dst = src + update; the first basis row writes every element, so dst needs no copy of src first. */
function updateRowAxis(src: Work, dst: Work, start: number, count: number, cols: number, q: Float64Array, k: number, width: number, p: Float64Array, scale: number, coef: Float64Array): void {
  for (let i = 0; i < count; ) {
    const r = Math.floor((start + i) / cols);
    const c0 = start + i - r * cols;
    const n = Math.min(cols - c0, count - i);
    for (let j = 0; j < k; j++) coef[j] = scale * q[j * width + r];
    if (k === 1) {
      const a = coef[0];
      const base = c0 - i;
      for (let t = i; t < i + n; t++) dst[t] = src[t] + a * p[base + t];
    } else {
      for (let t = i; t < i + n; t++) {
        const c = c0 + t - i;
        let s = src[t];
        for (let j = 0; j < k; j++) s += coef[j] * p[j * cols + c];
        dst[t] = s;
      }
    }
    i += n;
  }
}

function updateColAxis(src: Work, dst: Work, start: number, count: number, cols: number, q: Float64Array, k: number, p: Float64Array, scale: number, coef: Float64Array): void {
  for (let i = 0; i < count; ) {
    const r = Math.floor((start + i) / cols);
    const c0 = start + i - r * cols;
    const n = Math.min(cols - c0, count - i);
    for (let j = 0; j < k; j++) coef[j] = scale * p[r * k + j];
    if (k === 1) {
      const a = coef[0];
      const base = c0 - i;
      for (let t = i; t < i + n; t++) dst[t] = src[t] + a * q[base + t];
    } else {
      for (let t = i; t < i + n; t++) {
        const c = c0 + t - i;
        let s = src[t];
        for (let j = 0; j < k; j++) s += coef[j] * q[j * cols + c];
        dst[t] = s;
      }
    }
    i += n;
  }
}

/** W' in memory: for small weights and tests. */
export function foldLowRankToBytes(w: WeightMatrix, map: LowRankMap, options: FoldOptions = {}): Uint8Array {
  const out = new Uint8Array(w.bytes.length);
  foldLowRankStream(w, map, (chunk, at) => out.set(chunk, at), options);
  return out;
}

/** W' written to `file` (created or truncated); returns the range that saveModel copies from. */
export function foldLowRankToFile(w: WeightMatrix, map: LowRankMap, file: string, options: FoldOptions = {}): FileRange {
  const fd = fs.openSync(file, 'w');
  try {
    foldLowRankStream(w, map, (chunk, at) => writeAll(fd, chunk, at), options);
  } finally {
    fs.closeSync(fd);
  }
  return new FileRange(file, 0, w.bytes.length);
}

/**
 * Temporary files for folded weights, beside the output (never outside the
 * folders the user named). The model points at them (FileRange) until it is
 * saved; call dispose() after saveModel, success or not. A process that dies
 * first removes them on exit.
 */
export class ScratchFiles {
  private readonly files: string[] = [];
  private readonly onExit = () => this.dispose();

  constructor(readonly dir: string, private readonly stem = 'sca') {
    process.once('exit', this.onExit);
  }

  /** A fresh file name in `dir`; the caller creates the file. */
  next(): string {
    const file = path.join(this.dir, `.${this.stem}.fold-${process.pid}-${this.files.length}-${Math.random().toString(36).slice(2, 8)}`);
    this.files.push(file);
    return file;
  }

  dispose(): void {
    for (const f of this.files.splice(0)) fs.rmSync(f, { force: true });
    process.removeListener('exit', this.onExit);
  }
}

/** Weights smaller than this are folded in memory; larger ones go to a scratch file. */
export const IN_MEMORY_FOLD = 16 << 20;

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
 * raw_data (in memory for small weights or without `scratch`, else a scratch file) and keeping
 * its name, dims and element type. To edit one reader of a shared weight,
 * pass a copy (the original's bytes are read, never changed).
 */
export function foldTensorLowRank(t: TensorProto, baseDir: string, axis: 0 | 1, map: LowRankMap, scratch: ScratchFiles | undefined, options: FoldOptions = {}): void {
  const w = weightMatrix(t, baseDir, axis);
  // Without a scratch folder (a library caller that saves elsewhere) the result stays in memory.
  const inMemory = !scratch || w.bytes.length < (options.inMemoryBytes ?? IN_MEMORY_FOLD);
  const bytes = inMemory ? foldLowRankToBytes(w, map, options) : foldLowRankToFile(w, map, scratch.next(), options);
  setRawData(t, bytes);
}

/**
 * A folded copy of `t` named `name`, for one reader of a shared weight (tied
 * embeddings): `t` keeps its bytes for its other readers. The caller adds
 * the copy to the graph and points the reader at it.
 */
export function foldedCopy(t: TensorProto, name: string, baseDir: string, axis: 0 | 1, map: LowRankMap, scratch: ScratchFiles, options: FoldOptions = {}): TensorProto {
  const copy: TensorProto = { ...t, name, dims: [...t.dims], externalData: [...t.externalData], floatData: [], int32Data: [], stringData: [], int64Data: [], doubleData: [], uint64Data: [] };
  const w = weightMatrix(t, baseDir, axis);
  setRawData(copy, w.bytes.length < (options.inMemoryBytes ?? IN_MEMORY_FOLD) ? foldLowRankToBytes(w, map, options) : foldLowRankToFile(w, map, scratch.next(), options));
  return copy;
}

