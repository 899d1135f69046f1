/**
 * Runs a model with intermediate tensors exposed (runtime/taps.ts, which
 * reads external data in place) and gathers their values as probe rows.
 */
import { UsageError } from '../errors.js';
import { sampleFeeds, type Dataset } from '../data/datasets.js';
import { tensorNumbers, type Device, type ort } from '../runtime/session.js';
import { openWithOutputs, resolveSource, type LoadedSource } from '../runtime/taps.js';
import type { Features } from '../maths/features.js';

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

/** Runs the model over the dataset in batches and gathers each tensor's rows along `axis` (default the last). */
export async function collectActivations(
  source: ModelSource,
  tensors: string[],
  dataset: Dataset,
  options: { axis?: number; device?: Device; batchSize?: number } = {},
): Promise<TensorRows[]> {
  const resolved = resolveSource(source);
  const session = await openWithOutputs(resolved, tensors, options.device ?? 'cpu');
  const batchSize = options.batchSize ?? 256;
  const chunks: Record<string, Float32Array[]> = Object.fromEntries(tensors.map((t) => [t, []]));
  const layout: Record<string, { shape: number[]; axis: number; width: number; perExample: number }> = {};
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
        layout[tensor] = { shape, axis, width, perExample };
        chunks[tensor].push(gatherRows(floatsOf(value, tensor, resolved.label), shape, axis));
      }
    }
  } finally {
    await session.release();
  }
  return tensors.map((tensor) => {
    const { shape, axis, width, perExample } = layout[tensor];
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
  if (t.perExample > 1 && labelCount === examples * t.perExample) return { x: t.positions, rows: 'position' };
  if (labelCount !== examples) {
    throw new UsageError(
      `--labels: ${labelCount} labels, but tensor '${t.tensor}' has ${examples} examples` +
        (t.perExample > 1 ? ` (or ${examples * t.perExample} positions)` : ''),
    );
  }
  if (t.perExample === 1) return { x: t.positions, rows: 'example' };
  const width = t.positions.width;
  const data = new Float64Array(examples * width);
  for (let e = 0; e < examples; e++) {
    for (let p = 0; p < t.perExample; p++) {
      const off = (e * t.perExample + p) * width;
      for (let j = 0; j < width; j++) data[e * width + j] += t.positions.data[off + j] / t.perExample;
    }
  }
  return { x: { rows: examples, width, data }, rows: 'example' };
}
