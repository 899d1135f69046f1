import fs from 'node:fs';
import path from 'node:path';
import { getFloat16, setFloat16 } from '@petamoriken/float16';
import { describe, expect, it } from 'vitest';
import { FileRange } from '../../src/onnx/codec.js';
import { loadModel, saveModel } from '../../src/onnx/model.js';
import { makeTensor, tensorBytes } from '../../src/onnx/tensor.js';
import { DataType } from '../../src/onnx/types.js';
import { BFLOAT16, decodeChunk, encodeChunk, toBfloatBits, toHalfBits } from '../../src/weights/elements.js';
import { FoldedWeight, foldLowRankToBytes, foldTensorLowRank, type WeightMatrix } from '../../src/weights/lowrank.js';
import { simdKernels } from '../../src/weights/kernels.js';
import { model, randomValues } from '../helpers/graphs.js';
import { useTempDir } from '../helpers/tmp.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { node } from '../../src/onnx/build.js';

/** k orthonormal rows of length d (Gram-Schmidt on seeded random vectors). */
function orthonormal(k: number, d: number, seed: number): number[][] {
  const out: number[][] = [];
  for (let j = 0; j < k; j++) {
    const v = randomValues(d, seed + j);
    for (const u of out) {
      const dot = u.reduce((s, x, i) => s + x * v[i], 0);
      for (let i = 0; i < d; i++) v[i] -= dot * u[i];
    }
    const norm = Math.hypot(...v);
    out.push(v.map((x) => x / norm));
  }
  return out;
}

/** The dense maths: M = I + s QᵀQ; W' = M W (D rows) or W M (D columns). */
function denseReference(w: Float64Array, rows: number, cols: number, axis: 0 | 1, basis: number[][], scale: number): Float64Array {
  const d = axis === 0 ? rows : cols;
  const m = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0) + scale * basis.reduce((s, q) => s + q[i] * q[j], 0)));
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let s = 0;
      if (axis === 0) for (let t = 0; t < rows; t++) s += m[r][t] * w[t * cols + c];
      else for (let t = 0; t < cols; t++) s += w[r * cols + t] * m[t][c];
      out[r * cols + c] = s;
    }
  }
  return out;
}

const TYPES = [
  { name: 'float32', dataType: DataType.FLOAT, bytes: 4, ulp: 2 ** -23 },
  { name: 'float16', dataType: DataType.FLOAT16, bytes: 2, ulp: 2 ** -10 },
  { name: 'bfloat16', dataType: BFLOAT16, bytes: 2, ulp: 2 ** -7 },
  { name: 'float64', dataType: DataType.DOUBLE, bytes: 8, ulp: 2 ** -52 },
];

function encode(values: number[], dataType: number, bytesPer: number): Uint8Array {
  const out = new Uint8Array(values.length * bytesPer);
  encodeChunk(Float64Array.from(values), values.length, dataType, out);
  return out;
}

function decode(bytes: Uint8Array, dataType: number, bytesPer: number): Float64Array {
  const aligned = new Uint8Array(bytes);
  const out = new Float64Array(bytes.length / bytesPer);
  decodeChunk(aligned, dataType, out);
  return out;
}

describe('element conversion', () => {
  it('rounds float16 like the float16 library, subnormals and overflow included', () => {
    const view = new DataView(new ArrayBuffer(2));
    const samples = [
      0,
      -0,
      1,
      -2.5,
      65504,
      65520,
      1e6,
      6e-8,
      3e-8,
      2.98e-8,
      1e-4,
      0.1,
      1 / 3,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      NaN,
      Infinity,
      ...randomValues(2000, 5, 70000),
    ];
    for (const v of samples) {
      setFloat16(view, 0, v, true);
      expect(toHalfBits(v), String(v)).toBe(view.getUint16(0, true));
    }
    const decoded = decode(encode(samples, DataType.FLOAT16, 2), DataType.FLOAT16, 2);
    samples.forEach((v, i) => {
      setFloat16(view, 0, v, true);
      expect(Object.is(decoded[i], getFloat16(view, 0, true)) || (Number.isNaN(v) && Number.isNaN(decoded[i]))).toBe(true);
    });
  });

  it('rounds bfloat16 to nearest even on float32 bits', () => {
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
    expect(toBfloatBits(1 + 2 ** -8)).toBe(0x3f80);
    expect(toBfloatBits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(toBfloatBits(-2)).toBe(0xc000);
    expect(toBfloatBits(NaN) & 0x7fc0).toBe(0x7fc0);
    const vals = randomValues(500, 9, 100);
    const back = decode(encode(vals, BFLOAT16, 2), BFLOAT16, 2);
    vals.forEach((v, i) => expect(Math.abs(back[i] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -8));
  });
});

describe('low-rank fold', () => {
  const shapes: [number, number][] = [
    [7, 5],
    [6, 11],
  ];
  for (const type of TYPES) {
    for (const axis of [0, 1] as const) {
      for (const k of [1, 3]) {
        it(`${type.name}, D on axis ${axis}, k=${k}: matches I + s QᵀQ applied densely, chunks splitting rows`, () => {
          for (const [rows, cols] of shapes) {
            const d = axis === 0 ? rows : cols;
            const basis = orthonormal(k, d, 100 + k);
            const bytes = encode(randomValues(rows * cols, 7 + rows), type.dataType, type.bytes);
            const stored = decode(bytes, type.dataType, type.bytes);
            for (const scale of [-1, 0.75]) {
              const expected = denseReference(stored, rows, cols, axis, basis, scale);
              const w: WeightMatrix = { name: 'w', bytes, dataType: type.dataType, rows, cols, axis };
              // 3 elements per chunk: chunks start and end in the middle of rows.
              for (const chunkBytes of [3 * type.bytes, 7 * type.bytes, 1 << 20]) {
                const got = decode(foldLowRankToBytes(w, { basis, scale }, { chunkBytes }), type.dataType, type.bytes);
                const worst = Math.max(...Array.from(got, (g, i) => Math.abs(g - expected[i]) / Math.max(1, Math.abs(expected[i]))));
                // Rounding to the element type once, plus float64 accumulation noise.
                expect(worst).toBeLessThanOrEqual(type.ulp + 1e-12);
              }
            }
          }
        });
      }
    }
  }

  it('removes the subspace: folded weights are blind to it', () => {
    const [rows, cols] = [9, 4];
    const basis = orthonormal(2, rows, 3);
    const bytes = encode(randomValues(rows * cols, 1), DataType.FLOAT, 4);
    const folded = decode(foldLowRankToBytes({ name: 'w', bytes, dataType: DataType.FLOAT, rows, cols, axis: 0 }, { basis, scale: -1 }), DataType.FLOAT, 4);
    // z = q0 + q1 has no component outside the subspace, so z W' = 0.
    for (let c = 0; c < cols; c++) {
      let y = 0;
      for (let r = 0; r < rows; r++) y += (basis[0][r] + basis[1][r]) * folded[r * cols + c];
      expect(Math.abs(y)).toBeLessThan(1e-6);
    }
  });

  const dir = useTempDir('lowrank');

  it('streams from external data straight into the saved output, and from a file range', () => {
    const [rows, cols] = [64, 48];
    const values = randomValues(rows * cols, 4);
    const basis = orthonormal(1, cols, 8);
    const inline = makeTensor('w', DataType.FLOAT, [rows, cols], values);
    const expected = foldLowRankToBytes(
      { name: 'w', bytes: inline.rawData as Uint8Array, dataType: DataType.FLOAT, rows, cols, axis: 1 },
      { basis, scale: -1 },
    );

    const src = model({
      node: [node('Gemm', ['x', 'w'], ['y'], [{ name: 'transB', type: 2, i: 1, floats: [], ints: [], strings: [], tensors: [], graphs: [] }])],
      initializer: [makeTensor('w', DataType.FLOAT, [rows, cols], values), makeTensor('other', DataType.FLOAT, [rows, cols], randomValues(rows * cols, 5))],
      input: [makeValueInfo('x', DataType.FLOAT, ['N', cols])],
      output: [makeValueInfo('y', DataType.FLOAT, ['N', rows])],
    });
    const srcFile = path.join(dir(), 'src.onnx');
    saveModel(src, srcFile, { externalData: true });
    const loaded = loadModel(srcFile);
    const t = loaded.proto.graph!.initializer[0];
    foldTensorLowRank(t, loaded.baseDir, 1, { basis, scale: -1 }, { chunkBytes: 1000, inMemoryBytes: 0 });
    // Nothing is computed or written until the model is saved.
    expect(t.rawData).toBeInstanceOf(FoldedWeight);
    expect(fs.readdirSync(dir()).sort()).toEqual(['src.onnx', 'src.onnx.data']);
    saveModel(loaded, path.join(dir(), 'out.onnx'));
    expect(fs.readdirSync(dir()).sort()).toEqual(['out.onnx', 'out.onnx.data', 'src.onnx', 'src.onnx.data']);
    const out = loadModel(path.join(dir(), 'out.onnx'));
    expect(Buffer.from(tensorBytes(out.proto.graph!.initializer[0], out.baseDir))).toEqual(Buffer.from(expected));
    expect(Buffer.from(tensorBytes(out.proto.graph!.initializer[1], out.baseDir))).toEqual(Buffer.from(tensorBytes(src.proto.graph!.initializer[1], '/')));
    // The other weight stays external; the folded one joins it, and the replaced bytes are not carried along.
    expect(fs.statSync(path.join(dir(), 'out.onnx.data')).size).toBeLessThanOrEqual(fs.statSync(`${srcFile}.data`).size + 4096);
    // The input's external data is untouched.
    const again = loadModel(srcFile);
    expect(decode(tensorBytes(again.proto.graph!.initializer[0], again.baseDir), DataType.FLOAT, 4)).toEqual(Float64Array.from(Float32Array.from(values)));

    // From a FileRange (a lazily loaded weight), inline in the saved model; and a fold of the folded weight.
    const raw = path.join(dir(), 'raw.bin');
    fs.writeFileSync(raw, Buffer.concat([Buffer.alloc(6), inline.rawData as Uint8Array]));
    const lazy = new FoldedWeight(
      { name: 'w', bytes: new FileRange(raw, 6, rows * cols * 4), dataType: DataType.FLOAT, rows, cols, axis: 1 },
      { basis, scale: -1 },
      { chunkBytes: 1000 },
    );
    expect(Buffer.from(lazy.read())).toEqual(Buffer.from(expected));
    const twice = foldLowRankToBytes({ name: 'w', bytes: lazy, dataType: DataType.FLOAT, rows, cols, axis: 1 }, { basis, scale: 1 });
    const undone = decode(twice, DataType.FLOAT, 4);
    // Removing q then amplifying by 2 along it leaves the weight blind to q still.
    for (let r = 0; r < rows; r++) expect(Math.abs(basis[0].reduce((s, x, c) => s + x * undone[r * cols + c], 0))).toBeLessThan(1e-5);
  });

  it('refuses a direction of the wrong length and a weight of the wrong size', () => {
    const bytes = encode(randomValues(12, 1), DataType.FLOAT, 4);
    expect(() => foldLowRankToBytes({ name: 'w', bytes, dataType: DataType.FLOAT, rows: 3, cols: 4, axis: 0 }, { basis: [[1, 0, 0, 0]], scale: -1 })).toThrow(
      /direction has 4 values, the weight's folded axis has 3/,
    );
    expect(() => foldLowRankToBytes({ name: 'w', bytes, dataType: DataType.FLOAT, rows: 4, cols: 4, axis: 0 }, { basis: [[1, 0, 0, 0]], scale: -1 })).toThrow(
      /holds 48 bytes/,
    );
    expect(() => foldLowRankToBytes({ name: 'w', bytes, dataType: DataType.INT32, rows: 3, cols: 4, axis: 0 }, { basis: [[1, 0, 0]], scale: -1 })).toThrow(
      /int32/,
    );
  });
});

describe('SIMD kernels', () => {
  const kernels = simdKernels();
  it('are available on the Node versions this package supports', () => {
    expect(kernels).toBeDefined();
  });

  // The kernels against the plain loops, which the dense tests above hold to the maths.
  for (const type of TYPES.slice(0, 3)) {
    for (const axis of [0, 1] as const) {
      for (const k of [1, 2]) {
        it(`${type.name}, D on axis ${axis}, k=${k}: the same weight as the plain loops${axis === 0 && k === 1 ? ', bit for bit' : ''}`, () => {
          // 37 columns: rows of 4-element vectors plus a tail, chunks ending mid-row and mid-vector.
          const [rows, cols] = [23, 37];
          const basis = orthonormal(k, axis === 0 ? rows : cols, 40 + k);
          const bytes = encode(randomValues(rows * cols, 11, 3), type.dataType, type.bytes);
          const w: WeightMatrix = { name: 'w', bytes, dataType: type.dataType, rows, cols, axis };
          for (const chunkBytes of [13 * type.bytes, 101 * type.bytes, 1 << 20]) {
            for (const scale of [-1, 2.5]) {
              const plain = decode(foldLowRankToBytes(w, { basis, scale }, { chunkBytes, simd: false }), type.dataType, type.bytes);
              const simd = decode(foldLowRankToBytes(w, { basis, scale }, { chunkBytes }), type.dataType, type.bytes);
              if (axis === 0 && k === 1) expect(simd).toEqual(plain);
              // Otherwise the sums are taken in another order: one rounding of the element type apart at most.
              else simd.forEach((v, i) => expect(Math.abs(v - plain[i])).toBeLessThanOrEqual(type.ulp * Math.max(1, Math.abs(plain[i])) * 1.01));
            }
          }
        });
      }
    }
  }

  it('the committed module is kernels.wat compiled', async () => {
    // @ts-expect-error: a plain .mjs script without types
    const { compileKernels } = await import('../../scripts/build-kernels.mjs');
    const { KERNELS_WASM } = await import('../../src/weights/kernels.wasm.js');
    expect(await compileKernels()).toBe(KERNELS_WASM);
  });
});
