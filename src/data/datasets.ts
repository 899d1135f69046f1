/**
 * Inputs for comparing models: the built-in colour cube, or the user's data
 * from .npy, .npz (several inputs by name) or JSON. Everything is checked
 * against the model's inputs up front, so a mismatch is one clear line
 * instead of an onnxruntime error halfway through a run.
 */
import fs from 'node:fs';
import { Float16Array } from '@petamoriken/float16';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { statRegularFile } from '../util/files.js';
import type { GraphProto } from '../onnx/types.js';
import { DataType } from '../onnx/types.js';
import { parseNpy, parseNpz, type NpyArray, type NumericArray } from './npy.js';
import { ORT_TYPE, ort } from '../runtime/session.js';
import { numericDim } from '../onnx/graph.js';
import { fillDecoderInputs, isDecoder, TOKEN_IDS } from './decoder.js';

export interface ModelInput {
  name: string;
  elemType: number;
  /** Axes after the first (the sample axis); undefined entries are symbolic. */
  sampleShape: (number | undefined)[];
  /** Every axis, the first included. */
  shape: (number | undefined)[];
}

export interface InputData {
  type: ort.Tensor.Type;
  /** Shape of one sample (axes after the first). */
  sampleShape: number[];
  data: NumericArray;
}

export interface Dataset {
  name: string;
  samples: number;
  inputs: Record<string, InputData>;
  /** A label per sample, for per-group tables. */
  groups?: string[];
  /** The colour of each sample, for the colour cube (RGB in 0..1). */
  colors?: [number, number, number][];
  /** Tensors fed whole to every batch, not split by sample (a merged decoder's use_cache_branch). */
  fixed?: Record<string, ort.Tensor>;
  /** Inputs built here rather than read from the data (a decoder's mask, positions and empty cache). */
  filled?: string[];
  /** A decoder's attention mask, flat [samples * tokens]: 0 marks padding, whose positions per-position labels skip. */
  mask?: Uint8Array;
}

const NPY_TYPE: Record<string, ort.Tensor.Type> = {
  f4: 'float32',
  f8: 'float64',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  b1: 'bool',
  i1: 'int8',
  f2: 'float16',
};

/** The inputs a caller must feed: graph inputs without a default (initializer). */
export function requiredInputs(graph: GraphProto): ModelInput[] {
  const defaults = new Set(graph.initializer.map((t) => t.name));
  return graph.input
    .filter((v) => v.name && !defaults.has(v.name))
    .map((v) => {
      const t = v.type?.tensorType;
      const dims = t?.shape?.dim ?? [];
      const shape = dims.map((d) => numericDim(d));
      return { name: v.name!, elemType: t?.elemType ?? DataType.FLOAT, sampleShape: shape.slice(1), shape };
    });
}

/**
 * A dataset a domain provides by name (the colour domain's `color-cube[:N]`),
 * tried before `spec` is read as a file. `load` returns undefined when the
 * spec is not its name.
 */
export interface DatasetSource {
  /** How the name is written, for messages: `color-cube[:N]`. */
  syntax: string;
  load(spec: string, inputs: ModelInput[]): Dataset | undefined;
}

const SOURCES: DatasetSource[] = [];

/** Called by a domain as it is loaded (src/domains/). */
export function registerDatasetSource(source: DatasetSource): void {
  if (!SOURCES.includes(source)) SOURCES.push(source);
}

const expected = () => [...SOURCES.map((s) => s.syntax), 'a .npy, .npz or .json file'].join(' or ');

/** Parses `--data`: a dataset a domain names (`color-cube[:N]`), or a .npy, .npz or .json file. */
export function loadDataset(spec: string, inputs: ModelInput[]): Dataset {
  for (const source of SOURCES) {
    const named = source.load(spec, inputs);
    if (named) return named;
  }
  let bytes: Buffer;
  if (fs.existsSync(spec)) statRegularFile(spec, `--data ${spec}`); // a FIFO would block the read forever
  try {
    bytes = fs.readFileSync(spec);
  } catch {
    throw new UsageError(`\`data\`: cannot read ${spec} (expected ${expected()})`, 'BAD_DATA');
  }
  const ext = path.extname(spec).toLowerCase();
  let arrays: Record<string, NpyArray>;
  const decoder = isDecoder(inputs);
  if (ext === '.npy') {
    if (inputs.length !== 1 && !decoder)
      throw new UsageError(
        `${spec}: a .npy file holds one array but the model takes ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); use .npz or .json`,
        'BAD_DATA',
      );
    // A decoder's .npy is its token ids; the rest is built from them.
    arrays = { [decoder ? TOKEN_IDS : inputs[0].name]: parseNpy(bytes, spec) };
  } else if (ext === '.npz') {
    arrays = parseNpz(bytes, spec);
  } else if (ext === '.json') {
    arrays = parseJsonData(bytes.toString('utf8'), spec, inputs);
  } else {
    throw new UsageError(`\`data\`: ${spec} is not .npy, .npz or .json`, 'BAD_DATA');
  }
  if (!decoder) return datasetFromArrays(arrays, inputs, spec);
  const built = fillDecoderInputs(arrays, inputs, spec);
  const dataset = datasetFromArrays(
    built.arrays,
    inputs.filter((i) => !(i.name in built.fixed)),
    spec,
  );
  return { ...dataset, fixed: built.fixed, filled: built.filled, ...(built.mask ? { mask: built.mask } : {}) };
}

function parseJsonData(text: string, label: string, inputs: ModelInput[]): Record<string, NpyArray> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${label}: not valid JSON (${(err as Error).message})`, 'BAD_DATA');
  }
  const named: Record<string, unknown> = Array.isArray(parsed)
    ? inputs.length === 1
      ? { [inputs[0].name]: parsed }
      : {}
    : (parsed as Record<string, unknown>);
  if (Array.isArray(parsed) && inputs.length !== 1)
    throw new UsageError(`${label}: a bare JSON list feeds one input, but the model takes ${inputs.length}; use {"name": [...]}`, 'BAD_DATA');
  const out: Record<string, NpyArray> = {};
  for (const [name, value] of Object.entries(named)) {
    const shape: number[] = [];
    for (let v: unknown = value; Array.isArray(v); v = v[0]) shape.push(v.length);
    const flat = (value as unknown[]).flat(Infinity) as unknown[];
    if (flat.length !== shape.reduce((a, b) => a * b, 1) || !flat.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new UsageError(`${label}: '${name}' must be a rectangular nested list of numbers`, 'BAD_DATA');
    }
    out[name] = { dtype: 'f8', shape, data: Float64Array.from(flat as number[]) };
  }
  return out;
}

/** float16 values as the raw bit patterns onnxruntime expects in a Uint16Array. */
export function float16Bits(values: ArrayLike<number>): Uint16Array {
  const half = new Float16Array(values.length);
  for (let i = 0; i < values.length; i++) half[i] = values[i];
  return new Uint16Array(half.buffer);
}

function convert(array: NpyArray, want: ort.Tensor.Type, label: string): NumericArray {
  const have = NPY_TYPE[array.dtype];
  if (have === want) return array.data;
  // Plain numbers (JSON, float64 files) are converted to the float or integer type the model expects.
  if (have === 'float64' && want === 'float32') return Float32Array.from(array.data as Float64Array);
  // A float16 model fed float32 or float64 data: round to float16, as a cast in the model would.
  if ((have === 'float64' || have === 'float32') && want === 'float16') return float16Bits(array.data as Float64Array | Float32Array);
  if (have === 'float64' && (want === 'int64' || want === 'int32')) {
    const values = array.data as Float64Array;
    if (!values.every(Number.isInteger)) throw new UsageError(`${label}: expects whole numbers (${want})`, 'BAD_DATA');
    return want === 'int64' ? BigInt64Array.from(values, (v) => BigInt(v)) : Int32Array.from(values);
  }
  if (have === 'int32' && want === 'int64') return BigInt64Array.from(array.data as Int32Array, (v) => BigInt(v));
  throw new UsageError(`${label}: the model expects ${want}, the data is ${have}`, 'BAD_DATA');
}

function datasetFromArrays(arrays: Record<string, NpyArray>, inputs: ModelInput[], label: string): Dataset {
  const dataset: Dataset = { name: label, samples: -1, inputs: {} };
  for (const input of inputs) {
    const array = arrays[input.name];
    if (!array) {
      throw new UsageError(
        `${label}: no data for input '${input.name}' (has ${
          Object.keys(arrays)
            .map((k) => `'${k}'`)
            .join(', ') || 'nothing'
        })`,
        'BAD_DATA',
      );
    }
    const where = `${label}: input '${input.name}'`;
    if (array.shape.length !== input.sampleShape.length + 1) {
      throw new UsageError(`${where} has rank ${input.sampleShape.length + 1} in the model but the data has shape [${array.shape.join(', ')}]`, 'BAD_DATA');
    }
    input.sampleShape.forEach((d, i) => {
      if (d !== undefined && d !== array.shape[i + 1]) {
        throw new UsageError(`${where}: axis ${i + 1} must be ${d}, the data has ${array.shape[i + 1]} (shape [${array.shape.join(', ')}])`, 'BAD_DATA');
      }
    });
    if (dataset.samples >= 0 && array.shape[0] !== dataset.samples) {
      throw new UsageError(`${label}: inputs disagree on the number of samples (${dataset.samples} vs ${array.shape[0]} for '${input.name}')`, 'BAD_DATA');
    }
    dataset.samples = array.shape[0];
    const type = ORT_TYPE[input.elemType];
    if (!type) throw new UsageError(`${where}: element type ${input.elemType} is not supported`, 'BAD_DATA');
    dataset.inputs[input.name] = { type, sampleShape: array.shape.slice(1), data: convert(array, type, where) };
  }
  for (const extra of Object.keys(arrays)) {
    if (!inputs.some((i) => i.name === extra))
      throw new UsageError(`${label}: '${extra}' is not an input of the model (inputs: ${inputs.map((i) => i.name).join(', ')})`, 'BAD_DATA');
  }
  if (dataset.samples === 0) throw new UsageError(`${label}: no samples`, 'BAD_DATA');
  return dataset;
}

/** `--groups FILE`: a JSON list with a label per sample, or {"label": [sample indices]}. */
export function loadGroups(file: string, samples: number): string[] {
  let parsed: unknown;
  if (fs.existsSync(file)) statRegularFile(file, `--groups ${file}`); // a FIFO would block the read forever
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new UsageError(`\`groups\`: cannot read ${file} as JSON`, 'BAD_DATA');
  }
  if (Array.isArray(parsed)) {
    if (parsed.length !== samples) throw new UsageError(`\`groups\`: ${file} has ${parsed.length} labels for ${samples} samples`, 'BAD_DATA');
    return parsed.map(String);
  }
  const labels = new Array<string>(samples).fill('(none)');
  for (const [label, indices] of Object.entries(parsed as Record<string, unknown>)) {
    if (!Array.isArray(indices)) throw new UsageError(`\`groups\`: '${label}' must list sample indices`, 'BAD_DATA');
    for (const i of indices as unknown[]) {
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= samples)
        throw new UsageError(`\`groups\`: index ${i} of '${label}' is out of range (0 to ${samples - 1})`, 'BAD_DATA');
      labels[i] = label;
    }
  }
  return labels;
}

/** Samples [start, end) of every input, as feeds with the batch axis first. */
export function sampleFeeds(dataset: Dataset, start: number, end: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = { ...dataset.fixed };
  for (const [name, input] of Object.entries(dataset.inputs)) {
    const per = input.sampleShape.reduce((a, b) => a * b, 1);
    feeds[name] = new ort.Tensor(input.type, input.data.subarray(start * per, end * per) as never, [end - start, ...input.sampleShape]);
  }
  return feeds;
}
