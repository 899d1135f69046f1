/**
 * The last resort for a shape: run the model once with the tensors exposed
 * as extra outputs. Used only when neither the file nor shape inference gives
 * the length of the axis an edit needs. Every symbolic input dim is set to 1
 * and then 2 (an output axis that changes with them is reported as unknown,
 * not as the probe's length),
 * the inputs must fit a fixed memory bound (a declared [100000, 100000] input
 * is refused, not allocated), and external data is read where the original
 * model's locations point.
 */
import { UsageError } from '../errors.js';
import type { ValueType } from '../ir/types.js';
import type { Model } from '../onnx/model.js';
import { elementBytes } from '../onnx/tensor.js';
import { onnxTypeOf, zerosTensor, type ort } from './session.js';
import { openTapped } from './taps.js';
import { numericDim } from '../onnx/graph.js';

/** Largest total size of the zero inputs the probe may allocate. */
export const PROBE_INPUT_LIMIT = 64 * 2 ** 20;

export async function probeShapes(model: Model, tensors: string[], label = 'model'): Promise<Map<string, ValueType>> {
  const proto = model.proto;
  const graph = proto.graph!;
  const initializers = new Set(graph.initializer.map((t) => t.name));
  const zeroFeeds = (symbolic: number): Record<string, ort.Tensor> => {
    const feeds: Record<string, ort.Tensor> = {};
    let bytes = 0;
    for (const input of graph.input) {
      if (!input.name || initializers.has(input.name)) continue;
      const elemType = input.type?.tensorType?.elemType;
      const dims = input.type?.tensorType?.shape?.dim.map((d) => numericDim(d) ?? symbolic) ?? [symbolic];
      // A hostile or broken shape must not become a huge (or negative) allocation.
      if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new UsageError(`${label}: cannot run the model to find the shapes needed: input '${input.name}' has shape [${dims.join(', ')}]`);
      }
      bytes += dims.reduce((a, b) => a * b, 1) * (elementBytes(elemType) ?? 8);
      if (bytes > PROBE_INPUT_LIMIT) {
        throw new UsageError(
          `${label}: cannot infer the shapes needed, and running the model to find them would need inputs of ${(bytes / 2 ** 20).toFixed(0)} MiB or more (limit ${PROBE_INPUT_LIMIT / 2 ** 20} MiB)`,
        );
      }
      const zeros = zerosTensor(elemType, dims);
      if (!zeros) throw new UsageError(`${label}: cannot make a probe input for '${input.name}' (element type ${elemType})`);
      feeds[input.name] = zeros;
    }
    return feeds;
  };
  const ones = zeroFeeds(1);
  const twos = zeroFeeds(2);
  // External data is read from the model's own folder: nothing is written anywhere.
  const session = await openTapped(model, proto, tensors, 'cpu');
  try {
    const first = await session.run(ones, tensors).catch((err: Error) => {
      throw new UsageError(
        `${label}: cannot infer the shapes needed, and onnxruntime cannot run the model to find them (${String(err.message).split('\n')[0]})`,
      );
    });
    // A model that fixes its batch size inside the graph may refuse 2: then only the first run speaks.
    const second = await session.run(twos, tensors).catch(() => first);
    return new Map(
      tensors.map((t) => {
        const a = first[t].dims;
        const b = second[t].dims;
        const shape = a.map((d, i) => (b.length === a.length && b[i] === d ? d : undefined));
        return [t, { elemType: onnxTypeOf(first[t].type), shape }];
      }),
    );
  } finally {
    await session.release();
  }
}
