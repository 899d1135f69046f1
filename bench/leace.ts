/**
 * Concept directions at language-model widths, each in a fresh process so its
 * peak RSS is its own; prints JSON on the last line. bench/leace_baseline.py
 * times numpy / scikit-learn on the same files.
 *
 *   node dist/bench/leace.js make D N X.npy Y.npy      write the hashed formula's rows (src/maths/hashed.ts), float32, and int32 labels
 *   node dist/bench/leace.js leace X.npy Y.npy         LEACE, the file read batch by batch into streamed moments (onnxruntime Gemm)
 *   node dist/bench/leace.js mean-diff X.npy Y.npy     mean-diff, streamed
 *   node dist/bench/leace.js probe X.npy Y.npy         the 5-fold cross-validated probe (sca probe's)
 *   node dist/bench/leace.js stream D N                LEACE over N rows generated batch by batch (never written)
 */
import fs from 'node:fs';
import { leaceFromMoments, meanDifferenceFromMoments } from '../src/anchors/fromData.js';
import { hashedRows, type HashedSpec } from '../src/maths/hashed.js';
import { Moments } from '../src/maths/moments.js';
import { OrtGemm } from '../src/probe/gemm.js';
import { crossValidatedProbe } from '../src/probe/probe.js';

const BATCH = 1024;
export const BENCH_CLASSES = 2;
/** A class offset of 1/32 per feature: a concept a probe finds, not one it cannot miss. */
export const benchSpec = (width: number): HashedSpec => ({ width, classes: BENCH_CLASSES, shift: 1 / 32, seed: 23 });

function peakRss(): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

function npyHeader(descr: string, shape: number[]): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header = header.padEnd(header.length + ((64 - (total % 64)) % 64), ' ') + '\n';
  const out = Buffer.alloc(10 + header.length);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  return out;
}

/** The shape and the byte offset of the data of a version 1 .npy file. */
function npyLayout(file: string): { shape: number[]; offset: number } {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(4096);
  fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  const length = head.readUInt16LE(8);
  const shape = /'shape':\s*\(([^)]*)\)/
    .exec(head.toString('latin1', 10, 10 + length))![1]
    .split(',')
    .filter((s) => s.trim())
    .map(Number);
  return { shape, offset: 10 + length };
}

function make(d: number, n: number, xFile: string, yFile: string): void {
  const spec = benchSpec(d);
  const fx = fs.openSync(xFile, 'w');
  const labels = new Int32Array(n);
  fs.writeSync(fx, npyHeader('<f4', [n, d]));
  for (let start = 0; start < n; start += BATCH) {
    const rows = Math.min(BATCH, n - start);
    const b = hashedRows(spec, start, rows);
    labels.set(b.labels, start);
    fs.writeSync(fx, new Uint8Array(b.data.buffer, 0, rows * d * 4));
  }
  fs.closeSync(fx);
  fs.writeFileSync(yFile, Buffer.concat([npyHeader('<i4', [n]), Buffer.from(labels.buffer)]));
}

/** Reads the rows of X batch by batch: one batch of memory, whatever N. */
function* readBatches(xFile: string): Generator<{ data: Float32Array; start: number; rows: number; width: number }> {
  const { shape, offset } = npyLayout(xFile);
  const [n, d] = shape;
  const data = new Float32Array(BATCH * d);
  const bytes = new Uint8Array(data.buffer);
  const fd = fs.openSync(xFile, 'r');
  try {
    for (let start = 0; start < n; start += BATCH) {
      const rows = Math.min(BATCH, n - start);
      fs.readSync(fd, bytes, 0, rows * d * 4, offset + start * d * 4);
      yield { data, start, rows, width: d };
    }
  } finally {
    fs.closeSync(fd);
  }
}

function readLabels(yFile: string): Int32Array {
  const { offset } = npyLayout(yFile);
  const bytes = fs.readFileSync(yFile);
  return new Int32Array(Uint8Array.prototype.slice.call(bytes, offset).buffer);
}

async function streamedFit(method: 'leace' | 'mean-diff', xFile: string, yFile: string): Promise<Record<string, number>> {
  const labels = readLabels(yFile);
  const kernel = new OrtGemm();
  const t0 = performance.now();
  let moments: Moments | undefined;
  for (const b of readBatches(xFile)) {
    moments ??= new Moments(b.width, { classes: BENCH_CLASSES, covariance: method === 'leace' });
    await moments.addAsync(b.data, b.rows, labels.subarray(b.start), kernel);
  }
  await moments!.flushAsync(kernel);
  const t1 = performance.now();
  const result: Record<string, number> = { rows: moments!.count, width: moments!.width, momentsSeconds: (t1 - t0) / 1000 };
  if (method === 'leace') {
    const fit = await leaceFromMoments(moments!, kernel);
    result.rank = fit.rank;
    result.eraserRank = fit.eraser.left.length;
  } else {
    meanDifferenceFromMoments(moments!);
  }
  result.seconds = (performance.now() - t0) / 1000;
  result.factorSeconds = result.seconds - result.momentsSeconds;
  await kernel.release();
  return result;
}

async function stream(d: number, n: number): Promise<Record<string, number>> {
  const spec = benchSpec(d);
  const kernel = new OrtGemm();
  const moments = new Moments(d, { classes: BENCH_CLASSES });
  const out = new Float32Array(BATCH * d);
  let generate = 0;
  const t0 = performance.now();
  for (let start = 0; start < n; start += BATCH) {
    const rows = Math.min(BATCH, n - start);
    const g = performance.now();
    const b = hashedRows(spec, start, rows, out);
    generate += performance.now() - g;
    await moments.addAsync(b.data, rows, b.labels, kernel);
  }
  const fit = await leaceFromMoments(moments, kernel);
  const total = (performance.now() - t0) / 1000;
  await kernel.release();
  return { rows: n, width: d, rank: fit.rank, generateSeconds: generate / 1000, seconds: total - generate / 1000 };
}

function probe(xFile: string, yFile: string): Record<string, number> {
  const labels = readLabels(yFile);
  const { shape } = npyLayout(xFile);
  const [n, d] = shape;
  const data = new Float32Array(n * d);
  for (const b of readBatches(xFile)) data.set(b.data.subarray(0, b.rows * d), b.start * d);
  const t0 = performance.now();
  const r = crossValidatedProbe({ rows: n, width: d, data }, labels, BENCH_CLASSES);
  return { rows: n, width: d, seconds: (performance.now() - t0) / 1000, accuracy: r.accuracy.value, auc: r.auc?.value ?? NaN };
}

async function main(): Promise<void> {
  const [mode, a, b, c, e] = process.argv.slice(2);
  let result: Record<string, number> = {};
  if (mode === 'make') make(Number(a), Number(b), c, e);
  else if (mode === 'leace' || mode === 'mean-diff') result = await streamedFit(mode, a, b);
  else if (mode === 'probe') result = probe(a, b);
  else if (mode === 'stream') result = await stream(Number(a), Number(b));
  else throw new Error(`bench/leace.js: unknown mode '${mode}'`);
  result.maxRssBytes = peakRss();
  console.log(JSON.stringify(result));
}

if (process.argv[1]?.endsWith('leace.js')) await main();
