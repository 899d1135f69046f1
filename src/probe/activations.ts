/**
 * Runs a model with intermediate tensors exposed (runtime/taps.ts, which
 * reads external data in place) and gathers their values as probe rows.
 */
import { UsageError } from '../errors.js';
import { sampleFeeds, type Dataset } from '../data/datasets.js';
import { tensorNumbers, type Device, type ort } from '../runtime/session.js';
import { openWithOutputs, resolveSource, type LoadedSource } from '../runtime/taps.js';
import type { Features } from '../maths/features.js';
import { Random } from '../maths/random.js';

/** A model to run: a file, or one built in memory (e.g. patched on the fly). */
export type ModelSource = string | LoadedSource;

export interface TensorRows {
  tensor: string;
  /** Shape of one run's value, batch axis first (from the last batch). */
  shape: number[];
  /** Feature axis, as a non-negative index into `shape`. */
  axis: number;
  /** Values at each position: examples x positions rows, each `width` long. */
  positions: Features;
  /** Positions per example (the product of the axes other than batch and feature). */
  perExample: number;
}

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16']);

function floatsOf(t: ort.Tensor, tensor: string, label: string): ArrayLike<number> {
  if (!FLOAT_TYPES.has(t.type)) throw new UsageError(`${label}: tensor '${tensor}' is ${t.type}; a probe reads float tensors`);
  // float16 values come decoded from their bit patterns, in a slow proxied array: converted once here.
  const values = tensorNumbers(t);
  return t.type === 'float16' ? Float32Array.from(values) : values;
}

/** One batch of one tensor's values, as probe rows. */
export interface ActivationBatch {
  tensor: string;
  /** This run's shape, batch axis first. */
  shape: number[];
  /** Feature axis, as a non-negative index into `shape`. */
  axis: number;
  width: number;
  /** Positions per example (the product of the axes other than batch and feature). */
  perExample: number;
  /** The batch holds examples [start, end) of the dataset. */
  start: number;
  end: number;
  /** (end - start) x perExample rows of `width` values, feature axis last. */
  rows: Float32Array;
}

export interface ActivationOptions {
  axis?: number;
  device?: Device;
  batchSize?: number;
}

/**
 * Runs the model over the dataset in batches and hands each tensor's rows
 * along `axis` (default the last) to `onBatch` as they come, so nothing
 * holds more than one batch: what streamed statistics (anchor --from-data)
 * read.
 */
export async function streamActivations(
  source: ModelSource,
  tensors: string[],
  dataset: Dataset,
  options: ActivationOptions,
  onBatch: (batch: ActivationBatch) => void | Promise<void>,
): Promise<void> {
  const resolved = resolveSource(source);
  const session = await openWithOutputs(resolved, tensors, options.device ?? 'cpu');
  const batchSize = options.batchSize ?? 256;
  const layout: Record<string, { shape: number[]; width: number; perExample: number }> = {};
  try {
    for (let start = 0; start < dataset.samples; start += batchSize) {
      const end = Math.min(start + batchSize, dataset.samples);
      const result = await session.run(sampleFeeds(dataset, start, end), tensors);
      for (const tensor of tensors) {
        const value = result[tensor];
        const shape = [...value.dims];
        if (shape.length < 2 || shape[0] !== end - start) {
          throw new UsageError(
            `${resolved.label}: tensor '${tensor}' has shape [${shape.join(', ')}]; a probe needs the example axis first and a feature axis`,
          );
        }
        const axis = options.axis === undefined ? shape.length - 1 : options.axis < 0 ? shape.length + options.axis : options.axis;
        if (!(axis >= 1 && axis < shape.length))
          throw new UsageError(`--axis ${options.axis}: tensor '${tensor}' has ${shape.length} axes (the first holds the examples)`);
        const width = shape[axis];
        const perExample = shape.slice(1).reduce((a, b) => a * b, 1) / width;
        const known = layout[tensor];
        if (known && (known.width !== width || known.perExample !== perExample)) {
          throw new UsageError(
            `${resolved.label}: tensor '${tensor}' changes shape between batches ([${known.shape.join(', ')}] then [${shape.join(', ')}]); give examples of one length`,
          );
        }
        layout[tensor] = { shape, width, perExample };
        const rows = gatherRows(floatsOf(value, tensor, resolved.label), shape, axis);
        await onBatch({ tensor, shape, axis, width, perExample, start, end, rows });
      }
    }
  } finally {
    await session.release();
  }
}

/** Runs the model over the dataset in batches and gathers each tensor's rows along `axis` (default the last). */
export async function collectActivations(source: ModelSource, tensors: string[], dataset: Dataset, options: ActivationOptions = {}): Promise<TensorRows[]> {
  const chunks: Record<string, Float32Array[]> = Object.fromEntries(tensors.map((t) => [t, []]));
  const last: Record<string, ActivationBatch> = {};
  await streamActivations(source, tensors, dataset, options, (b) => {
    chunks[b.tensor].push(b.rows);
    last[b.tensor] = b;
  });
  return tensors.map((tensor) => {
    const { shape, axis, width, perExample } = last[tensor];
    const total = chunks[tensor].reduce((n, c) => n + c.length, 0);
    const data = new Float32Array(total);
    let offset = 0;
    for (const c of chunks[tensor]) {
      data.set(c, offset);
      offset += c.length;
    }
    return { tensor, shape, axis, positions: { rows: total / width, width, data }, perExample };
  });
}

/** Reorders a row-major tensor so that the feature axis is last: rows are (example, other axes in order). */
function gatherRows(values: ArrayLike<number>, shape: number[], axis: number): Float32Array {
  const out = new Float32Array(values.length);
  if (axis === shape.length - 1) {
    out.set(values as ArrayLike<number>);
    return out;
  }
  const width = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = values.length / (width * inner);
  let k = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      for (let f = 0; f < width; f++) out[k++] = values[(o * width + f) * inner + i];
    }
  }
  return out;
}

/**
 * Probe rows for labels of a given count: one per example (positions
 * averaged, a linear summary, so an eraser fitted on it erases it exactly when
 * applied at every position) or one per position.
 */
export function rowsFor(t: TensorRows, labelCount: number, examples: number): { x: Features; rows: 'example' | 'position' } {
  const rows = rowsMode(t.tensor, t.perExample, labelCount, examples);
  if (rows === 'position' || t.perExample === 1) return { x: t.positions, rows };
  return { x: poolPositions(t.positions.data, examples, t.perExample, t.positions.width), rows };
}

/** Whether labels of this count label examples or positions; refuses any other count. */
export function rowsMode(tensor: string, perExample: number, labelCount: number, examples: number): 'example' | 'position' {
  if (perExample > 1 && labelCount === examples * perExample) return 'position';
  if (labelCount !== examples) {
    throw new UsageError(
      `--labels: ${labelCount} labels, but tensor '${tensor}' has ${examples} examples` + (perExample > 1 ? ` (or ${examples * perExample} positions)` : ''),
    );
  }
  return 'example';
}

/** A batch's rows as `rowsFor` gives them, with the labels that go with them. */
export function batchRows(b: ActivationBatch, mode: 'example' | 'position', labels: ArrayLike<number>): { x: Features; labels: ArrayLike<number> } {
  const examples = b.end - b.start;
  if (mode === 'position' || b.perExample === 1) {
    const [from, to] = mode === 'position' ? [b.start * b.perExample, b.end * b.perExample] : [b.start, b.end];
    return { x: { rows: to - from, width: b.width, data: b.rows }, labels: slice(labels, from, to) };
  }
  return { x: poolPositions(b.rows, examples, b.perExample, b.width), labels: slice(labels, b.start, b.end) };
}

function slice(labels: ArrayLike<number>, from: number, to: number): ArrayLike<number> {
  return ArrayBuffer.isView(labels) ? (labels as unknown as Int32Array).subarray(from, to) : Array.prototype.slice.call(labels, from, to);
}

/** Each example's positions averaged, in float64. */
function poolPositions(data: ArrayLike<number>, examples: number, perExample: number, width: number): Features {
  const out = new Float64Array(examples * width);
  for (let e = 0; e < examples; e++) {
    for (let p = 0; p < perExample; p++) {
      const off = (e * perExample + p) * width;
      for (let j = 0; j < width; j++) out[e * width + j] += data[off + j] / perExample;
    }
  }
  return { rows: examples, width, data: out };
}

/** Which rows a bounded probe keeps: `of` rows in all, `rows` of them chosen with `seed`. */
export interface RowSample {
  rows: number;
  of: number;
  seed: number;
}

export interface TensorSample {
  tensor: string;
  width: number;
  rows: 'example' | 'position';
  /** The kept rows, in their order in the data. */
  x: Features;
  labels: Int32Array;
  /** null when every row was kept. */
  sample: RowSample | null;
}

export interface SampleOptions extends ActivationOptions {
  /** Most rows to keep (default: 512 MiB of them: 2²⁹ / (4 · width), 8 bytes a value for rows averaged over positions). */
  maxRows?: number;
  seed?: number;
}

/** Rows kept by default for a width: 512 MiB of float32 values (or float64 for rows averaged over positions). */
export function defaultMaxRows(width: number, bytesPerValue = 4): number {
  return Math.max(1, Math.floor(2 ** 29 / (bytesPerValue * width)));
}

/**
 * The probe's rows, streamed: each batch is reduced to the rows `rowsFor`
 * would give, and only a seeded uniform sample of at most `maxRows` of them
 * is kept (Floyd's sampling, the same rows for every model given the same
 * data, labels and seed), so memory is bounded whatever the data's length.
 */
export async function sampleActivations(
  source: ModelSource,
  tensors: string[],
  dataset: Dataset,
  labels: Int32Array,
  options: SampleOptions = {},
): Promise<TensorSample[]> {
  const seed = options.seed ?? 0;
  const state = new Map<
    string,
    {
      mode: 'example' | 'position';
      width: number;
      keep: Int32Array | null;
      data: Float32Array | Float64Array;
      labels: Int32Array;
      at: number;
      next: number;
      of: number;
    }
  >();
  await streamActivations(source, tensors, dataset, options, (b) => {
    let s = state.get(b.tensor);
    if (!s) {
      const mode = rowsMode(b.tensor, b.perExample, labels.length, dataset.samples);
      const of = mode === 'position' ? dataset.samples * b.perExample : dataset.samples;
      const pooled = mode === 'example' && b.perExample > 1;
      const cap = options.maxRows ?? defaultMaxRows(b.width, pooled ? 8 : 4);
      const keep = of > cap ? chooseRows(of, cap, seed) : null;
      const n = keep ? keep.length : of;
      s = {
        mode,
        width: b.width,
        keep,
        data: pooled ? new Float64Array(n * b.width) : new Float32Array(n * b.width),
        labels: new Int32Array(n),
        at: 0,
        next: 0,
        of,
      };
      state.set(b.tensor, s);
    }
    const { x, labels: batchLabels } = batchRows(b, s.mode, labels);
    const first = s.mode === 'position' ? b.start * b.perExample : b.start;
    const w = b.width;
    if (!s.keep) {
      s.data.set(x.data.subarray(0, x.rows * w), s.at * w);
      s.labels.set(batchLabels, s.at);
      s.at += x.rows;
      return;
    }
    while (s.next < s.keep.length && s.keep[s.next] < first + x.rows) {
      const r = s.keep[s.next] - first;
      s.data.set(x.data.subarray(r * w, (r + 1) * w), s.next * w);
      s.labels[s.next] = batchLabels[r];
      s.next++;
    }
  });
  return tensors.map((tensor) => {
    const s = state.get(tensor);
    if (!s) throw new UsageError('--data: no examples to probe');
    const rows = s.labels.length;
    return {
      tensor,
      width: s.width,
      rows: s.mode,
      x: { rows, width: s.width, data: s.data },
      labels: s.labels,
      sample: s.keep ? { rows, of: s.of, seed } : null,
    };
  });
}

/** `k` of 0..n-1, uniformly, sorted (Floyd's algorithm: memory for k, not n). */
export function chooseRows(n: number, k: number, seed: number): Int32Array {
  const random = new Random(seed);
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = random.int(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return Int32Array.from(chosen).sort();
}
