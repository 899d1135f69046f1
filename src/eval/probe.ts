/**
 * Finds a tensor's element type and shape by running the model once on
 * zeros with the tensor exposed as an extra output. Used when the file carries
 * no value info for an intermediate tensor (torch.onnx exports usually don't).
 */
import { UsageError } from '../errors.js';
import type { TensorInfo } from '../onnx/graph.js';
import { serializeModel, usesExternalData, type Model } from '../onnx/model.js';
import type { ModelProto } from '../onnx/types.js';
import { onnxTypeOf, openSession, zerosTensor, type ort } from './session.js';

/** Largest probe input (elements): far above any real model's fixed input, far below an allocation failure. */
const PROBE_MAX_ELEMENTS = 1 << 26;

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
      const elemType = input.type?.tensorType?.elemType;
      const dims = input.type?.tensorType?.shape?.dim.map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : 1)) ?? [1];
      // A hostile or broken shape must not become a huge (or negative) allocation.
      if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0) || dims.reduce((a, b) => a * b, 1) > PROBE_MAX_ELEMENTS) {
        throw new UsageError(`${label}: cannot run the model to find the shape of '${tensor}': input '${input.name}' has shape [${dims.join(', ')}]; add value_info for '${tensor}'`);
      }
      const zeros = zerosTensor(elemType, dims);
      if (!zeros) throw new UsageError(`${label}: cannot make a probe input for '${input.name}' (element type ${elemType})`);
      feeds[input.name] = zeros;
    }
    let result: Record<string, ort.Tensor>;
    try {
      result = await session.run(feeds, [tensor]);
    } catch (err) {
      throw new UsageError(`${label}: onnxruntime cannot run the model to find the shape of '${tensor}' (${String((err as Error).message).split('\n')[0]}); add value_info for it`);
    }
    const value = result[tensor];
    return { name: tensor, elemType: onnxTypeOf(value.type), shape: [...value.dims] };
  } finally {
    await session.release();
  }
}
