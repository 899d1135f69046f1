/** Running models in onnxruntime for tests, with intermediate tensors exposed as outputs. */
import * as ort from 'onnxruntime-node';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { serializeModel, type Model } from '../../src/onnx/model.js';
import type { ModelProto } from '../../src/onnx/types.js';

ort.env.logLevel = 'error';

export async function run(m: Model | ModelProto, feeds: Record<string, ort.Tensor>, extraOutputs: string[] = []): Promise<Record<string, ort.Tensor>> {
  const proto = 'proto' in m ? m.proto : m;
  const graph = proto.graph!;
  const outputs = [...graph.output, ...extraOutputs.filter((n) => !graph.output.some((o) => o.name === n)).map((n) => ({ name: n }))];
  const session = await ort.InferenceSession.create(serializeModel({ ...proto, graph: { ...graph, output: outputs } }));
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

export function f32(data: number[], dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(data), dims);
}

export { ort, makeValueInfo };
