/**
 * Shape inference over 30-block transformer graphs (no weight data is read),
 * against a plain pass over the same nodes (each input looked up, each output
 * stored): the floor any walk over the graph pays.
 */
import type { GraphProto, ModelProto, NodeProto } from '../src/onnx/types.js';
import { newModel } from '../src/onnx/build.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { DataType } from '../src/onnx/types.js';
import { inferModel } from '../src/ir/infer/graph.js';
import { buildGraph } from '../scripts/synthetic.js';
import { gpt2Like } from '../scripts/torchlike.js';

export interface InferenceRow {
  figure: string;
  seconds: number;
  baselineSeconds: number;
  nodes: number;
}

function best(n: number, f: () => void): number {
  f(); // warm-up
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    min = Math.min(min, (performance.now() - t) / 1000);
  }
  return min;
}

function plainPass(nodes: readonly NodeProto[]): number {
  const seen = new Map<string, { op: string }>();
  let reads = 0;
  for (const n of nodes) {
    for (const i of n.input) if (seen.has(i)) reads++;
    for (const o of n.output) seen.set(o, { op: n.opType ?? '' });
  }
  return reads;
}

function syntheticModel(withValueInfo: boolean): ModelProto {
  const { graph, weights } = buildGraph({ dim: 2048, layers: 30, vocab: 1024 });
  // Weight headers only: inference reads dims, never data.
  for (const w of weights) graph.initializer.push(makeTensor(w.name, DataType.FLOAT, w.dims, []));
  const g: GraphProto = withValueInfo ? graph : { ...graph, valueInfo: [] };
  return newModel(g, 17);
}

export function benchInferenceGraphs(): InferenceRow[] {
  const models: [string, ModelProto, boolean][] = [
    ['synthetic, 30 blocks, no value_info', syntheticModel(false), false],
    ['synthetic, 30 blocks, value_info checked', syntheticModel(true), true],
    [
      'torch-style GPT-2, 30 blocks (Shape chains)',
      gpt2Like({ opset: 14, d: 768, heads: 12, layers: 30, vocab: 1024, maxPos: 64, withWeights: false }).model,
      false,
    ],
  ];
  return models.map(([label, model, useValueInfo]) => {
    const nodes = model.graph!.node;
    const r = inferModel(model, { useValueInfo });
    const unknown = nodes.flatMap((n) => n.output).filter((o) => !r.values.get(o)?.type?.shape).length;
    if (unknown > 0) throw new Error(`${label}: ${unknown} outputs without a shape`);
    return {
      figure: `infer shapes, ${label}`,
      seconds: best(20, () => inferModel(model, { useValueInfo })),
      baselineSeconds: best(20, () => plainPass(nodes)),
      nodes: nodes.length,
    };
  });
}
