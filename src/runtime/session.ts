/**
 * onnxruntime-node sessions on CPU or CUDA. The CUDA execution provider is
 * not bundled with onnxruntime-node: its install script downloads it, and this
 * project skips that download by default (see README, "GPU").
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import { UsageError } from '../errors.js';
import { Float16Array } from '@petamoriken/float16';
import { elementCount, makeTensor, setTensorFloats } from '../onnx/tensor.js';
import { DataType, type ModelProto } from '../onnx/types.js';

export type Device = 'cpu' | 'cuda';

/** onnxruntime's name for each TensorProto.DataType the toolkit feeds or reads. */
export const ORT_TYPE: Record<number, ort.Tensor.Type> = {
  [DataType.FLOAT]: 'float32',
  [DataType.DOUBLE]: 'float64',
  [DataType.INT32]: 'int32',
  [DataType.INT64]: 'int64',
  [DataType.UINT8]: 'uint8',
  [DataType.INT8]: 'int8',
  [DataType.BOOL]: 'bool',
  [DataType.FLOAT16]: 'float16',
};

export function onnxTypeOf(type: ort.Tensor.Type): number | undefined {
  const found = Object.entries(ORT_TYPE).find(([, t]) => t === type);
  return found ? Number(found[0]) : undefined;
}

const ZEROS: Partial<Record<ort.Tensor.Type, (n: number) => ort.Tensor.DataType>> = {
  float32: (n) => new Float32Array(n),
  float64: (n) => new Float64Array(n),
  int32: (n) => new Int32Array(n),
  int64: (n) => new BigInt64Array(n),
  uint8: (n) => new Uint8Array(n),
  int8: (n) => new Int8Array(n),
  bool: (n) => new Uint8Array(n),
  float16: (n) => new Uint16Array(n),
};

/** A tensor of zeros of an ONNX element type, or undefined for types the toolkit cannot feed. */
export function zerosTensor(elemType: number | undefined, dims: number[]): ort.Tensor | undefined {
  const type = elemType === undefined ? undefined : ORT_TYPE[elemType];
  const make = type ? ZEROS[type] : undefined;
  return type && make ? new ort.Tensor(type, make(dims.reduce((a, b) => a * b, 1)) as never, dims) : undefined;
}

/**
 * A tensor's values as numbers. onnxruntime hands float16 outputs over as their raw 16-bit patterns in a Uint16Array; reading those as
 * numbers gives garbage such as 41014 for 9.1, so they are decoded here.
 */
export function tensorNumbers(t: ort.Tensor): ArrayLike<number> {
  switch (t.type) {
    case 'float16':
      return new Float16Array((t.data as Uint16Array).buffer, (t.data as Uint16Array).byteOffset, t.size);
    case 'int64':
    case 'uint64':
      return Array.from(t.data as BigInt64Array, Number);
    case 'string':
      throw new UsageError('a string tensor has no numeric values to compare');
    default:
      return t.data as Float32Array;
  }
}

export const DEVICES: Device[] = ['cpu', 'cuda'];

const CUDA_HELP =
  'the CUDA execution provider is not installed; install it with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` (needs CUDA 12 and cuDNN 9 on the machine)';

/** Folder holding onnxruntime-node's native libraries for this platform. */
function bindingDir(): string {
  const require = createRequire(import.meta.url);
  const root = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(root, 'bin', 'napi-v6', process.platform, process.arch);
}

export function cudaAvailable(): boolean {
  return fs.existsSync(path.join(bindingDir(), 'libonnxruntime_providers_cuda.so'));
}

export function parseDevice(value: string): Device {
  if (!DEVICES.includes(value as Device)) throw new UsageError(`\`device\`: expected cpu or cuda, got '${value}'`);
  return value as Device;
}

/**
 * `externalDataDir`: for a model given as bytes whose weights live in external
 * data, the folder its locations are relative to (onnxruntime's
 * session.model_external_initializers_file_folder_path), so a model with
 * extra outputs can run from memory against the original data files.
 */
export async function openSession(model: string | Uint8Array, device: Device = 'cpu', externalDataDir?: string): Promise<ort.InferenceSession> {
  if (device === 'cuda' && !cudaAvailable()) throw new UsageError(CUDA_HELP, 'NO_CUDA');
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: device === 'cuda' ? ['cuda'] : ['cpu'],
    graphOptimizationLevel: 'all',
    // Warnings such as 'initializer appears in graph inputs' are expected for
    // strength inputs, and errors reach the user as one line of ours (the
    // shape probe expects some), so onnxruntime itself logs only fatal ones.
    // Set per session, so importing the library changes no process-wide setting.
    logSeverityLevel: 4,
    ...(externalDataDir ? { extra: { session: { model_external_initializers_file_folder_path: externalDataDir } } } : {}),
  };
  try {
    return typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  } catch (err) {
    const label = typeof model === 'string' ? model : 'model';
    throw new UsageError(`${label}: onnxruntime cannot load it (${firstLine((err as Error).message)})`, 'BAD_MODEL');
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

export { ort };

/**
 * A copy of the model with some of its inputs set to fixed scalar or vector
 * values: an overridable input (backed by an initializer, such as an optional
 * `--strength-input`) gets new default values, which is how the toolkit sets
 * it, since onnxruntime-node ignores feeds for such inputs; a required float
 * input (a required `--strength-input`) becomes a constant of the model, so
 * callers that cannot feed it (transformers.js) can run it. The model passed
 * in is unchanged.
 */
export function withInputValues(proto: ModelProto, values: Record<string, number | number[]>): ModelProto {
  const graph = proto.graph!;
  const initializer = graph.initializer.map((t) => {
    if (!t.name || !(t.name in values)) return t;
    const v = values[t.name];
    const list = Array.isArray(v) ? v : [v];
    if (list.length !== elementCount(t.dims)) throw new UsageError(`input '${t.name}' takes ${elementCount(t.dims)} values, got ${list.length}`);
    const copy = { ...t };
    setTensorFloats(copy, list);
    return copy;
  });
  const baked = new Set<string>();
  for (const name of Object.keys(values)) {
    const input = graph.input.find((i) => i.name === name);
    if (input && graph.initializer.some((t) => t.name === name)) continue;
    const type = input?.type?.tensorType;
    const dims = type?.shape?.dim.map((d) => (d.dimValue === undefined ? undefined : Number(d.dimValue)));
    if (!input || type?.elemType !== DataType.FLOAT || !dims || dims.some((d) => d === undefined)) {
      throw new UsageError(`'${name}' is not an input of the model that can be set (a float input of fixed shape, or one with a default)`, 'NOT_FOUND');
    }
    const v = values[name];
    const list = Array.isArray(v) ? v : [v];
    if (list.length !== elementCount(dims as number[]))
      throw new UsageError(`input '${name}' takes ${elementCount(dims as number[])} values, got ${list.length}`);
    initializer.push(makeTensor(name, DataType.FLOAT, dims as number[], list));
    baked.add(name);
  }
  return { ...proto, graph: { ...graph, initializer, input: graph.input.filter((i) => !baked.has(i.name ?? '')) } };
}
