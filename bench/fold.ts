/**
 * Benchmark child for folds into one weight, run in a fresh process so its
 * peak RSS is its own (see measure.ts):
 *
 *   node dist/bench/fold.js make OUT.onnx ROWS COLS [--external|--gemm]   writes x -> MatMul(w0) -> h -> MatMul(w) -> y
 *                                                                   (--gemm: h -> Gemm(w [COLS, ROWS], transB=1) -> y)
 *   node dist/bench/fold.js lowrank IN.onnx OUT.onnx [--plain]     streams a rank-1 removal into w (src/weights/lowrank.ts);
 *                                                                   --plain: without the SIMD kernels
 *
 * Prints {code, seconds, maxRssBytes} as JSON on the last line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { attrInt, emptyGraph, newModel, node } from '../src/onnx/build.js';
import { makeValueInfo } from '../src/onnx/graph.js';
import { loadModel, saveModel } from '../src/onnx/model.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { DataType } from '../src/onnx/types.js';
import { Random } from '../src/maths/random.js';
import { isLinearOp, linearOp, lookupFromGraph } from '../src/ops/index.js';
import { foldTensorLowRank } from '../src/weights/lowrank.js';

function unit(d: number): number[] {
  const r = new Random(3);
  const v = Array.from({ length: d }, () => r.next() - 0.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function make(file: string, rows: number, cols: number, external: boolean, gemm: boolean): void {
  const r = new Random(1);
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < w.length; i++) w[i] = r.next() - 0.5;
  const w0 = new Float32Array(8 * rows);
  for (let i = 0; i < w0.length; i++) w0[i] = r.next() - 0.5;
  const graph = {
    ...emptyGraph('fold-bench'),
    node: [node('MatMul', ['x', 'w0'], ['h']), gemm ? node('Gemm', ['h', 'w'], ['y'], [attrInt('transB', 1)]) : node('MatMul', ['h', 'w'], ['y'])],
    initializer: [makeTensor('w0', DataType.FLOAT, [8, rows], w0), makeTensor('w', DataType.FLOAT, gemm ? [cols, rows] : [rows, cols], w)],
    input: [makeValueInfo('x', DataType.FLOAT, ['N', 8])],
    output: [makeValueInfo('y', DataType.FLOAT, ['N', cols])],
  };
  saveModel({ proto: newModel(graph, 17, 'sca-bench'), baseDir: path.dirname(path.resolve(file)) }, file, { externalData: external });
}

const [mode, a, b, c, d] = process.argv.slice(2);
const started = performance.now();
if (mode === 'make') {
  make(a, Number(b), Number(c), d === '--external', d === '--gemm');
} else {
  const model = loadModel(a);
  const graph = model.proto.graph!;
  const w = graph.initializer.find((t) => t.name === 'w')!;
  // The registry says which weight axis reads h: rows for MatMul, columns for Gemm transB=1.
  const op = linearOp(graph.node[1], 'h', lookupFromGraph(graph));
  if (!isLinearOp(op) || !op.fold) throw new Error('unexpected bench graph');
  const direction = unit(op.fold.axis === 0 ? op.fold.rows : op.fold.cols);
  if (mode === 'lowrank') {
    foldTensorLowRank(w, model.baseDir, op.fold.axis, { basis: [direction], scale: -1 }, { simd: c !== '--plain' });
    saveModel(model, b);
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}
const seconds = (performance.now() - started) / 1000;
const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
console.log(JSON.stringify({ code: 0, seconds, maxRssBytes: hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024 }));
