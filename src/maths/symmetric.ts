/**
 * A symmetric n x n matrix kept as its lower block rows: block row b holds
 * rows [b·bs, (b+1)·bs) and columns [0, (b+1)·bs), row-major, one after
 * another. That is half the memory of the full matrix (plus the upper halves
 * of the diagonal blocks, which are carried along and never read), and every
 * block row is a contiguous matrix a Gemm can update in one call. Element
 * (i, j) is read from row max(i, j), column min(i, j).
 */
export class BlockSymmetric {
  readonly offsets: number[];

  constructor(
    readonly n: number,
    readonly bs: number,
    readonly data: Float64Array = new Float64Array(BlockSymmetric.size(n, bs)),
  ) {
    if (!(bs >= 1)) throw new Error(`block size ${bs}`);
    if (data.length < BlockSymmetric.size(n, bs)) throw new Error(`BlockSymmetric(${n}, ${bs}) needs ${BlockSymmetric.size(n, bs)} numbers`);
    this.offsets = [];
    let off = 0;
    for (let b = 0; b * bs < n; b++) {
      this.offsets.push(off);
      off += this.rowsOf(b) * this.colsOf(b);
    }
    this.offsets.push(off);
  }

  /** Numbers needed for size n with blocks of bs. */
  static size(n: number, bs: number): number {
    let total = 0;
    for (let b = 0; b * bs < n; b++) total += Math.min(bs, n - b * bs) * Math.min((b + 1) * bs, n);
    return total;
  }

  get blocks(): number {
    return this.offsets.length - 1;
  }

  rowsOf(b: number): number {
    return Math.min(this.bs, this.n - b * this.bs);
  }

  colsOf(b: number): number {
    return Math.min((b + 1) * this.bs, this.n);
  }

  /** Block row b as a view: rowsOf(b) x colsOf(b), row-major. */
  block(b: number): Float64Array {
    return this.data.subarray(this.offsets[b], this.offsets[b + 1]);
  }

  /** Position of (i, j) for i >= j. */
  at(i: number, j: number): number {
    const b = Math.floor(i / this.bs);
    return this.offsets[b] + (i - b * this.bs) * this.colsOf(b) + j;
  }

  get(i: number, j: number): number {
    return i >= j ? this.data[this.at(i, j)] : this.data[this.at(j, i)];
  }

  set(i: number, j: number, v: number): void {
    this.data[i >= j ? this.at(i, j) : this.at(j, i)] = v;
  }

  diagonal(): Float64Array {
    return Float64Array.from({ length: this.n }, (_, i) => this.data[this.at(i, i)]);
  }

  toDense(): Float64Array {
    const out = new Float64Array(this.n * this.n);
    for (let i = 0; i < this.n; i++) for (let j = 0; j <= i; j++) out[i * this.n + j] = out[j * this.n + i] = this.data[this.at(i, j)];
    return out;
  }

  static fromDense(dense: ArrayLike<number>, n: number, bs: number): BlockSymmetric {
    const s = new BlockSymmetric(n, bs);
    for (let b = 0; b < s.blocks; b++) {
      const rows = s.rowsOf(b);
      const cols = s.colsOf(b);
      const off = s.offsets[b];
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) s.data[off + r * cols + j] = dense[(b * bs + r) * n + j];
    }
    return s;
  }
}
