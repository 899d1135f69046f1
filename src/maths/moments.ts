/**
 * Streamed first and second moments of labelled rows, in float64, so the
 * number of rows is bounded by time, not memory: the count, mean and class
 * means, and the covariance Σ = M2 / n as a BlockSymmetric (D²/2 numbers).
 * Memory: the D x D half plus one buffer of `blockRows` rows.
 *
 * Numerics. First moments are sums of x - s, with s the mean of the first
 * rows added, so a large common offset cancels before anything is summed.
 * The second moment is Chan, Golub and LeVeque's pairwise update: each
 * buffered block is centred on its own mean, its Gram matrix is added, and
 * the shift between the block's mean and the running mean enters as one
 * extra row, sqrt(n·b/(n+b))·(mean_block - mean), in the same product. The
 * Gram products are yielded to a kernel (gemm.ts): plain loops, or
 * onnxruntime's Gemm for widths in the thousands.
 */
import { UsageError } from '../errors.js';
import { PLAIN, runAsync, runSync, type Kernel, type Steps, type SyncKernel } from './gemm.js';
import { BlockSymmetric } from './symmetric.js';

export interface MomentsOptions {
  /** Number of classes of the labels (0: no labels). */
  classes?: number;
  /** Keep the covariance (default true); mean-diff needs only the class sums. */
  covariance?: boolean;
  /** Rows buffered per Gram product (default: about 64 MB of buffer, at most 2048 rows). */
  blockRows?: number;
  /** Block size of the covariance's storage (default 256). */
  blockSize?: number;
}

export const DEFAULT_BLOCK_SIZE = 256;

export function defaultBlockRows(width: number): number {
  return Math.max(64, Math.min(2048, Math.floor(2 ** 26 / (8 * Math.max(width, 1)))));
}

export class Moments {
  readonly classes: number;
  readonly counts: Float64Array;
  count = 0;
  private shift: Float64Array | null = null;
  /** Σ (x - shift) when there are no classes; with classes, the class sums hold it. */
  private readonly sum: Float64Array;
  private readonly classSums: Float64Array[];
  private readonly blockRows: number;
  private m2: BlockSymmetric | null;
  private m2Count = 0;
  /** Running mean of the rows in m2, relative to the shift. */
  private readonly runMean: Float64Array;
  /** Buffered rows relative to the shift, transposed: width x (blockRows + 1), and their labels. */
  private buffer: Float64Array | null = null;
  private bufferLabels: Int32Array | null = null;
  private buffered = 0;

  constructor(
    readonly width: number,
    options: MomentsOptions = {},
  ) {
    this.classes = options.classes ?? 0;
    this.counts = new Float64Array(this.classes);
    this.sum = new Float64Array(width);
    this.classSums = Array.from({ length: this.classes }, () => new Float64Array(width));
    this.blockRows = options.blockRows ?? defaultBlockRows(width);
    this.m2 = options.covariance === false ? null : new BlockSymmetric(width, options.blockSize ?? DEFAULT_BLOCK_SIZE);
    this.runMean = new Float64Array(this.m2 ? width : 0);
  }

  get hasCovariance(): boolean {
    return this.m2 !== null;
  }

  /** Adds `rows` rows of `data` (row-major, `width` each) with their labels, using the plain loops for products. */
  add(data: ArrayLike<number>, rows: number, labels?: ArrayLike<number>, kernel: SyncKernel = PLAIN): void {
    runSync(this.ingest(data, rows, labels), kernel);
  }

  /** As `add`, with products on an asynchronous kernel (onnxruntime). */
  async addAsync(data: ArrayLike<number>, rows: number, labels: ArrayLike<number> | undefined, kernel: Kernel): Promise<void> {
    await runAsync(this.ingest(data, rows, labels), kernel);
  }

  /** Folds the buffered rows into the covariance; needed before reading it. */
  flush(kernel: SyncKernel = PLAIN): void {
    runSync(this.flushing(), kernel);
  }

  async flushAsync(kernel: Kernel): Promise<void> {
    await runAsync(this.flushing(), kernel);
  }

  *ingest(data: ArrayLike<number>, rows: number, labels?: ArrayLike<number>): Steps<void> {
    const d = this.width;
    if (data.length < rows * d) throw new Error(`Moments.add: ${data.length} values for ${rows} rows of ${d}`);
    if (this.classes > 0 && (!labels || labels.length < rows)) throw new Error(`Moments.add: ${labels?.length ?? 0} labels for ${rows} rows`);
    if (rows === 0) return;
    for (let i = 0; i < rows && this.classes > 0; i++) {
      const c = labels![i];
      if (!(Number.isInteger(c) && c >= 0 && c < this.classes)) throw new UsageError(`labels: ${c} is not a class index in 0..${this.classes - 1}`);
    }
    if (!this.shift) this.shift = firstMean(data, rows, d);
    const shift = this.shift;
    if (!this.m2) {
      // Class sums only (mean-diff): one contiguous pass.
      for (let i = 0; i < rows; i++) {
        const c = this.classes > 0 ? labels![i] : -1;
        const target = c >= 0 ? this.classSums[c] : this.sum;
        if (c >= 0) this.counts[c]++;
        const off = i * d;
        for (let j = 0; j < d; j++) target[j] += data[off + j] - shift[j];
      }
      this.checkFinite(data, rows, this.count);
      this.count += rows;
      return;
    }
    const stride = this.blockRows + 1;
    this.buffer ??= new Float64Array(d * stride);
    this.bufferLabels ??= new Int32Array(this.blockRows);
    const buffer = this.buffer;
    for (let i = 0; i < rows;) {
      // Up to 8 rows at a time into the transposed buffer: one cache line per feature.
      const t = Math.min(8, rows - i, this.blockRows - this.buffered);
      const col = this.buffered;
      for (let j = 0; j < d; j++) {
        const base = j * stride + col;
        const sj = shift[j];
        for (let r = 0; r < t; r++) buffer[base + r] = data[(i + r) * d + j] - sj;
      }
      for (let r = 0; r < t; r++) {
        const c = this.classes > 0 ? labels![i + r] : 0;
        this.bufferLabels[col + r] = c;
        if (this.classes > 0) this.counts[c]++;
      }
      this.buffered += t;
      this.count += t;
      i += t;
      if (this.buffered === this.blockRows) yield* this.flushing();
    }
  }

  /** Sums of NaN or infinity are not finite: then find the row to name. */
  private checkFinite(data: ArrayLike<number>, rows: number, before: number): void {
    const sums = this.classes > 0 ? this.classSums : [this.sum];
    if (sums.every((s) => s.every(Number.isFinite))) return;
    const d = this.width;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < d; j++) {
        const v = data[i * d + j];
        if (!Number.isFinite(v)) throw new UsageError(`activations: row ${before + i + 1} has a value that is not finite (${v})`);
      }
    }
    throw new UsageError('activations: their sums overflow float64');
  }

  *flushing(): Steps<void> {
    const nb = this.buffered;
    const m2 = this.m2;
    const buffer = this.buffer;
    const labels = this.bufferLabels;
    if (!m2 || !buffer || !labels || nb === 0) return;
    const d = this.width;
    const stride = this.blockRows + 1;
    const n = this.m2Count;
    const blockMean = new Float64Array(d);
    const cols = n > 0 ? nb + 1 : nb;
    const factor = Math.sqrt((n * nb) / (n + nb));
    const perClass = new Float64Array(Math.max(this.classes, 1));
    for (let j = 0; j < d; j++) {
      const row = j * stride;
      let s = 0;
      if (this.classes > 0) {
        perClass.fill(0);
        for (let c = 0; c < nb; c++) perClass[labels[c]] += buffer[row + c];
        for (let k = 0; k < this.classes; k++) {
          this.classSums[k][j] += perClass[k];
          s += perClass[k];
        }
      } else {
        for (let c = 0; c < nb; c++) s += buffer[row + c];
        this.sum[j] += s;
      }
      if (!Number.isFinite(s)) {
        for (let c = 0; c < nb; c++)
          if (!Number.isFinite(buffer[row + c])) throw new UsageError(`activations: row ${n + c + 1} has a value that is not finite (${buffer[row + c]})`);
        throw new UsageError('activations: their sums overflow float64');
      }
      const mu = s / nb;
      blockMean[j] = mu;
      for (let c = 0; c < nb; c++) buffer[row + c] -= mu;
      if (n > 0) buffer[row + nb] = factor * (mu - this.runMean[j]);
      // Rows `cols` long, packed so that the block is a plain (d x cols) matrix.
      if (cols !== stride) buffer.copyWithin(j * cols, row, row + cols);
    }
    for (let b = 0; b < m2.blocks; b++) {
      const rows = m2.rowsOf(b);
      const width = m2.colsOf(b);
      const first = b * m2.bs;
      yield {
        c: m2.block(b),
        a: buffer.subarray(first * cols, (first + rows) * cols),
        b: buffer.subarray(0, width * cols),
        m: rows,
        n: width,
        k: cols,
        transA: false,
        transB: true,
        alpha: 1,
      };
    }
    for (let j = 0; j < d; j++) this.runMean[j] += n > 0 ? ((blockMean[j] - this.runMean[j]) * nb) / (n + nb) : blockMean[j];
    this.m2Count += nb;
    this.buffered = 0;
  }

  /** Σ (x - shift) over every row: the class sums' total when there are classes. */
  private total(): Float64Array {
    if (this.classes === 0) return this.sum;
    const out = new Float64Array(this.width);
    for (const s of this.classSums) for (let j = 0; j < this.width; j++) out[j] += s[j];
    return out;
  }

  private ensureFlushed(what: string): void {
    if (this.buffered > 0) throw new Error(`Moments.${what}: ${this.buffered} rows are still buffered; call flush first`);
  }

  /** Mean of every row. */
  mean(): Float64Array {
    const out = new Float64Array(this.width);
    if (!this.shift || this.count === 0) return out;
    this.ensureFlushed('mean');
    const sum = this.total();
    for (let j = 0; j < this.width; j++) out[j] = this.shift[j] + sum[j] / this.count;
    return out;
  }

  /** Mean of each class's rows (zeros for a class with none). */
  classMeans(): Float64Array[] {
    this.ensureFlushed('classMeans');
    return this.classSums.map((s, c) => {
      const out = new Float64Array(this.width);
      if (!this.shift || this.counts[c] === 0) return out;
      for (let j = 0; j < this.width; j++) out[j] = this.shift[j] + s[j] / this.counts[c];
      return out;
    });
  }

  /** mean_c - mean for each class, computed before the shift is added back (no cancellation). */
  classOffsets(): Float64Array[] {
    this.ensureFlushed('classOffsets');
    const sum = this.total();
    return this.classSums.map((s, c) => {
      const out = new Float64Array(this.width);
      if (this.counts[c] === 0 || this.count === 0) return out;
      for (let j = 0; j < this.width; j++) out[j] = s[j] / this.counts[c] - sum[j] / this.count;
      return out;
    });
  }

  /** The cross-covariance of the rows with their one-hot labels: column c is (n_c / n)(mean_c - mean). */
  crossCovariance(): Float64Array[] {
    return this.classOffsets().map((o, c) => o.map((v) => (v * this.counts[c]) / this.count));
  }

  /** Σ = M2 / n (divided by n, not n - 1), a copy. */
  covariance(): BlockSymmetric {
    const m2 = this.requireM2('covariance');
    const out = new BlockSymmetric(m2.n, m2.bs, Float64Array.from(m2.data));
    scale(out.data, 1 / this.count);
    return out;
  }

  /** Σ = M2 / n without a copy: the moments give up their covariance (for a factorisation that overwrites it). */
  takeCovariance(): BlockSymmetric {
    const m2 = this.requireM2('takeCovariance');
    scale(m2.data, 1 / this.count);
    this.m2 = null;
    this.buffer = null;
    this.bufferLabels = null;
    return m2;
  }

  private requireM2(what: string): BlockSymmetric {
    this.ensureFlushed(what);
    if (!this.m2) throw new Error(`Moments.${what}: the covariance was not kept`);
    if (this.count === 0) throw new Error(`Moments.${what}: no rows`);
    return this.m2;
  }

  /** Adds another accumulator's rows to this one (Chan's merge); both must be flushed. */
  merge(other: Moments): void {
    this.ensureFlushed('merge');
    other.ensureFlushed('merge');
    if (other.width !== this.width || other.classes !== this.classes || !!other.m2 !== !!this.m2) {
      throw new Error('Moments.merge: the accumulators differ in width, classes or covariance');
    }
    if (other.count === 0) return;
    if (this.m2 && other.m2 && other.m2.bs !== this.m2.bs) throw new Error('Moments.merge: different block sizes');
    if (!this.shift) this.shift = Float64Array.from(other.shift!);
    const d = this.width;
    const delta = other.shift!.map((v, j) => v - this.shift![j]);
    if (this.classes === 0) for (let j = 0; j < d; j++) this.sum[j] += other.sum[j] + other.count * delta[j];
    for (let c = 0; c < this.classes; c++) {
      this.counts[c] += other.counts[c];
      for (let j = 0; j < d; j++) this.classSums[c][j] += other.classSums[c][j] + other.counts[c] * delta[j];
    }
    if (this.m2 && other.m2) {
      const n = this.m2Count;
      const nb = other.m2Count;
      const shiftOfMeans = other.runMean.map((v, j) => v + delta[j] - this.runMean[j]);
      const f = (n * nb) / (n + nb);
      const a = this.m2;
      for (let b = 0; b < a.blocks; b++) {
        const rows = a.rowsOf(b);
        const cols = a.colsOf(b);
        const off = a.offsets[b];
        for (let r = 0; r < rows; r++) {
          const i = b * a.bs + r;
          const si = f * shiftOfMeans[i];
          for (let j = 0; j < cols; j++) a.data[off + r * cols + j] += other.m2.data[off + r * cols + j] + si * shiftOfMeans[j];
        }
      }
      for (let j = 0; j < d; j++) this.runMean[j] += (shiftOfMeans[j] * nb) / (n + nb);
      this.m2Count += nb;
    }
    this.count += other.count;
  }
}

function firstMean(data: ArrayLike<number>, rows: number, d: number): Float64Array {
  const m = new Float64Array(d);
  for (let i = 0; i < rows; i++) for (let j = 0; j < d; j++) m[j] += data[i * d + j];
  for (let j = 0; j < d; j++) {
    m[j] /= rows;
    if (!Number.isFinite(m[j])) m[j] = 0; // the row check reports the value
  }
  return m;
}

function scale(a: Float64Array, s: number): void {
  for (let i = 0; i < a.length; i++) a[i] *= s;
}
