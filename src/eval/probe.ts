/**
 * Finds a tensor's element type and shape by running the model once on
 * zeros with the tensor exposed as an extra output. Used when the file carries
 * no value info for an intermediate tensor (torch.onnx exports usually don't).
 */
import { UsageError } from '../errors.js';
import type { TensorInfo } from '../onnx/graph.js';
import { serializeModel, usesExternalData, type Model } from '../onnx/model.js';
import { DataType, type ModelProto } from '../onnx/types.js';
import { openSession, ort } from './session.js';

const ORT_TYPES: Record<string, number> = {
  float32: DataType.FLOAT, float16: DataType.FLOAT16, float64: DataType.DOUBLE, int32: DataType.INT32,
  int64: DataType.INT64, int8: DataType.INT8, uint8: DataType.UINT8, bool: DataType.BOOL,
};

export async function probeTensorInfo(model: Model, tensor: string, label = 'model'): Promise<TensorInfo> {
  if (usesExternalData(model)) {
    throw new UsageError(`${label}: tensor '${tensor}' has no type or shape in the file; add value_info for it (onnx shape inference) and try again`);
  }
  const proto = model.proto;
  const graph = proto.graph!;
  const probe: ModelProto = { ...proto, graph: { ...graph, output: [...graph.output, { name: tensor }] } };
  const session = await openSession(serializeModel(probe));
  try {
    const initializers = new Set(graph.initializer.map((t) => t.name));
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of graph.input) {
      if (!input.name || initializers.has(input.name)) continue;
      feeds[input.name] = zeros(input.name, input.type?.tensorType?.elemType, input.type?.tensorType?.shape?.dim.map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : 1)) ?? [1]);
    }
    const result = await session.run(feeds, [tensor]);
    const value = result[tensor];
    return { name: tensor, elemType: ORT_TYPES[value.type], shape: [...value.dims] };
  } finally {
    await session.release();
  }
}

function zeros(name: string, elemType: number | undefined, dims: number[]): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  switch (elemType) {
    case DataType.FLOAT:
      return new ort.Tensor('float32', new Float32Array(n), dims);
    case DataType.FLOAT16:
      return new ort.Tensor('float16', new Uint16Array(n), dims);
    case DataType.DOUBLE:
      return new ort.Tensor('float64', new Float64Array(n), dims);
    case DataType.INT64:
      return new ort.Tensor('int64', new BigInt64Array(n), dims);
    case DataType.INT32:
      return new ort.Tensor('int32', new Int32Array(n), dims);
    case DataType.BOOL:
      return new ort.Tensor('bool', new Uint8Array(n), dims);
    default:
      throw new UsageError(`cannot make probe input for '${name}' (element type ${elemType})`);
  }
}
