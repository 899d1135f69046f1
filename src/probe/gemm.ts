/**
 * The dense products of maths/ (Gram matrices, Cholesky trailing updates)
 * on onnxruntime: a one-node Gemm graph, float64, built here with the
 * project's ONNX builders and run by onnxruntime's multi-threaded MLAS
 * kernels (about 100 GFLOP/s on two cores, against about 1 for the plain
 * loops). One session per (transA, transB, alpha), made on first use; tiny
 * products stay on the plain loops, where a session call would cost more
 * than the work.
 */
import * as ort from 'onnxruntime-node';
import { PLAIN, type Gemm, type Kernel } from '../maths/gemm.js';
import { attrFloat, attrInt, emptyGraph, newModel, node } from '../onnx/build.js';
import { makeValueInfo } from '../onnx/graph.js';
import { serializeModel } from '../onnx/model.js';
import { DataType } from '../onnx/types.js';

/** Products below this many multiply-adds run on the plain loops, by default. */
const SMALL = 1 << 16;

function gemmModel(transA: boolean, transB: boolean, alpha: number): Uint8Array {
  const graph = emptyGraph('sca_gemm');
  graph.node.push(
    node(
      'Gemm',
      ['A', 'B', 'C'],
      ['Y'],
      [attrInt('transA', transA ? 1 : 0), attrInt('transB', transB ? 1 : 0), attrFloat('alpha', alpha), attrFloat('beta', 1)],
    ),
  );
  graph.input.push(
    makeValueInfo('A', DataType.DOUBLE, ['a0', 'a1']),
    makeValueInfo('B', DataType.DOUBLE, ['b0', 'b1']),
    makeValueInfo('C', DataType.DOUBLE, ['m', 'n']),
  );
  graph.output.push(makeValueInfo('Y', DataType.DOUBLE, ['m', 'n']));
  return serializeModel(newModel(graph, 13));
}

export class OrtGemm implements Kernel {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  /** Multiply-adds done on onnxruntime and on the plain loops, for reports. */
  readonly work = { ort: 0, plain: 0 };

  /** threads: onnxruntime's intra-op threads (0: one per core); small: products below this many multiply-adds stay on the plain loops. */
  constructor(private options: { threads?: number; small?: number } = {}) {}

  private session(transA: boolean, transB: boolean, alpha: number): Promise<ort.InferenceSession> {
    const key = `${transA}:${transB}:${alpha}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = ort.InferenceSession.create(gemmModel(transA, transB, alpha), {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        // Each product's output is copied out at once: an arena would keep its peak for the session's life.
        enableCpuMemArena: false,
        enableMemPattern: false,
        intraOpNumThreads: this.options.threads ?? 0,
        logSeverityLevel: 4,
      });
      this.sessions.set(key, s);
    }
    return s;
  }

  async gemm(g: Gemm): Promise<void> {
    const work = g.m * g.n * g.k;
    if (work < (this.options.small ?? SMALL) || Math.fround(g.alpha) !== g.alpha) {
      this.work.plain += work;
      PLAIN.gemm(g);
      return;
    }
    let session: ort.InferenceSession;
    try {
      session = await this.session(g.transA, g.transB, g.alpha);
    } catch {
      // An onnxruntime build without float64 Gemm: the plain loops, slower but the same numbers.
      this.options = { ...this.options, small: Infinity };
      this.work.plain += work;
      PLAIN.gemm(g);
      return;
    }
    this.work.ort += work;
    const result = await session.run({
      A: new ort.Tensor('float64', g.a, g.transA ? [g.k, g.m] : [g.m, g.k]),
      B: new ort.Tensor('float64', g.b, g.transB ? [g.n, g.k] : [g.k, g.n]),
      C: new ort.Tensor('float64', g.c, [g.m, g.n]),
    });
    const y = result.Y;
    g.c.set(y.data as Float64Array);
    y.dispose();
  }

  async release(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) await (await s).release();
  }
}

/** Runs `f` with an onnxruntime Gemm kernel, released afterwards. */
export async function withOrtGemm<T>(f: (kernel: OrtGemm) => Promise<T>): Promise<T> {
  const kernel = new OrtGemm();
  try {
    return await f(kernel);
  } finally {
    await kernel.release();
  }
}
