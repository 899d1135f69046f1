/**
 * onnxruntime as an oracle for inference: every intermediate tensor is made
 * a graph output, the model runs on concrete inputs, and each actual shape
 * (and the values of small int64 tensors) must equal what inference
 * predicted, its symbols bound to the input sizes.
 */
import path from 'node:path';
import { expect } from 'vitest';
import { makeValueInfo } from '../../../src/onnx/graph.js';
import { saveModel, serializeModel, type Model } from '../../../src/onnx/model.js';
import { DataType, type ModelProto } from '../../../src/onnx/types.js';
import { ort, ORT_TYPE } from '../../../src/runtime/session.js';
import { evaluateDim } from '../../../src/ir/infer/dims.js';
import { inferModel } from '../../../src/ir/infer/graph.js';
import { Random } from '../../../src/maths/random.js';

export interface Feed {
  name: string;
  elemType: number;
  dims: number[];
  maxInt?: number;
}

function feedTensor(f: Feed, seed: number): ort.Tensor {
  const r = new Random(seed);
  const n = f.dims.reduce((a, b) => a * b, 1);
  if (f.elemType === DataType.INT64)
    return new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: n }, () => BigInt(r.int(f.maxInt ?? 2))),
      f.dims,
    );
  return new ort.Tensor(
    'float32',
    Float32Array.from({ length: n }, () => r.next() * 2 - 1),
    f.dims,
  );
}

/**
 * Runs `model` with every node output exposed and checks each against
 * inference (done without value_info). A model with external data is saved
 * into `tmpDir` first (onnxruntime then reads its data file). Returns how
 * many tensors were compared.
 */
export async function checkAgainstRuntime(
  model: ModelProto | Model,
  feeds: (Feed | [string, ort.Tensor])[],
  env: Record<string, number>,
  tmpDir?: string,
): Promise<number> {
  const declared = new Map(('proto' in model ? model.proto : model).graph!.input.map((i) => [i.name, i.type?.tensorType?.shape?.dim ?? []]));
  for (const f of feeds) {
    const [name, dims] = Array.isArray(f) ? [f[0], f[1].dims] : [f.name, f.dims];
    // Each symbol of a graph input is bound to the fed size, and must be bound the same way wherever it appears.
    declared.get(name)?.forEach((d, i) => {
      if (!d.dimParam) return;
      expect(env[d.dimParam] ?? dims[i], `size bound to '${d.dimParam}'`).toBe(dims[i]);
      env[d.dimParam] = dims[i];
    });
  }
  const proto = 'proto' in model ? model.proto : model;
  const r = inferModel(proto, { useValueInfo: false });
  const g = proto.graph!;
  const names = g.node.flatMap((n) => n.output).filter((o) => o !== '');
  const exposed: ModelProto = {
    ...proto,
    graph: { ...g, valueInfo: [], output: names.map((n) => makeValueInfo(n, r.values.get(n)?.type?.elemType ?? DataType.FLOAT)) },
  };
  let source: string | Uint8Array;
  if ('proto' in model && tmpDir) {
    source = path.join(tmpDir, 'exposed.onnx');
    saveModel({ ...model, proto: exposed }, source);
  } else source = serializeModel(exposed);
  // 'basic': onnxruntime-node 1.30 segfaults at level 'all' on gpt2_op14 with its attention intermediates exposed.
  const session = await ort.InferenceSession.create(source as string, { graphOptimizationLevel: 'basic' });
  const out = await session.run(Object.fromEntries(feeds.map((f, i) => (Array.isArray(f) ? f : [f.name, feedTensor(f, i + 1)]))));
  await session.release();
  let compared = 0;
  for (const name of names) {
    const known = r.values.get(name);
    const actual = out[name];
    expect(known?.type?.shape, `inferred shape of '${name}' (${r.stopFor(name)?.reason ?? ''})`).toBeDefined();
    const predicted = known!.type!.shape!.map((d) => evaluateDim(d, (s) => env[s]));
    expect(predicted, `shape of '${name}'`).toEqual([...actual.dims]);
    expect(ORT_TYPE[known!.type!.elemType], `element type of '${name}'`).toBe(actual.type);
    if (known!.value && actual.type === 'int64') {
      const values = known!.value.map((d) => evaluateDim(d, (s) => env[s]));
      expect(values, `value of '${name}'`).toEqual(Array.from(actual.data as BigInt64Array, Number));
    }
    compared++;
  }
  return compared;
}
