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

export async function probeTensorInfo(model: Model, tensor: string, label = 'model'): Promise<TensorInfo> {
  const proto = model.proto;
  const graph = proto.graph!;
  const probe: ModelProto = { ...proto, graph: { ...graph, output: [...graph.output, { name: tensor }] } };
  // External data is read in place, from the folder the model was loaded from.
  const session = await openSession(serializeModel(probe), 'cpu', usesExternalData(model) ? model.baseDir : undefined);
  try {
    const initializers = new Set(graph.initializer.map((t) => t.name));
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of graph.input) {
      if (!input.name || initializers.has(input.name)) continue;
      const elemType = input.type?.tensorType?.elemType;
      const dims = input.type?.tensorType?.shape?.dim.map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : 1)) ?? [1];
      const zeros = zerosTensor(elemType, dims);
      if (!zeros) throw new UsageError(`${label}: cannot make a probe input for '${input.name}' (element type ${elemType})`);
      feeds[input.name] = zeros;
    }
    const result = await session.run(feeds, [tensor]);
    const value = result[tensor];
    return { name: tensor, elemType: onnxTypeOf(value.type), shape: [...value.dims] };
  } finally {
    await session.release();
  }
}
