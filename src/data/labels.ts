/**
 * `--labels FILE`: one label per example (or per position, see activations),
 * as a .npy array (integers, floats holding whole numbers, or booleans) or a
 * JSON list (numbers, booleans or strings). Classes are the distinct values,
 * sorted, numbered 0..k-1.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { parseNpy } from './npy.js';

export interface Labels {
  /** Class index of each example. */
  values: Int32Array;
  /** Class names, in index order. */
  classes: string[];
  /** Where they came from, for reports. */
  source: string;
}

export function loadLabels(file: string): Labels {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new UsageError(`--labels: cannot read ${file}`);
  }
  const ext = path.extname(file).toLowerCase();
  let raw: (number | string | boolean)[];
  if (ext === '.npy') {
    const array = parseNpy(bytes, file);
    // [N] or [N, 1]: one per example; [N, T] (shaped like a decoder's input_ids): one per position, flattened row by row.
    if (array.shape.length > 2) {
      throw new UsageError(`${file}: labels must be one per example [N] or one per position [N, T], got shape [${array.shape.join(', ')}]`);
    }
    raw = Array.from(array.data as ArrayLike<number | bigint>, (v) => (array.dtype === 'b1' ? v !== 0 : Number(v)));
  } else if (ext === '.json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(parsed) || !parsed.every((v) => ['number', 'string', 'boolean'].includes(typeof v))) {
      throw new UsageError(`${file}: labels must be a JSON list of numbers, strings or booleans`);
    }
    raw = parsed as (number | string | boolean)[];
  } else {
    throw new UsageError(`--labels: ${file} is not .npy or .json`);
  }
  if (raw.some((v) => typeof v === 'number' && !Number.isFinite(v))) throw new UsageError(`${file}: a label is not a finite number`);
  return labelsFrom(raw, file);
}

export function labelsFrom(raw: (number | string | boolean)[], source: string): Labels {
  if (raw.length === 0) throw new UsageError(`${source}: no labels`);
  const distinct = [...new Set(raw)];
  distinct.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b))));
  const index = new Map(distinct.map((v, i) => [v, i]));
  return { values: Int32Array.from(raw, (v) => index.get(v)!), classes: distinct.map(String), source };
}

/** redness(r,g,b) = r (1 - g/2 - b/2), as in the paper's rare labels (SCA.md). */
export function redness([r, g, b]: [number, number, number]): number {
  return r * (1 - g / 2 - b / 2);
}

/** `--labels redness` on the colour cube: "red" is redness > 0.5. */
export const REDNESS_LABELS = 'redness';

export function rednessLabels(colors: [number, number, number][]): Labels {
  return labelsFrom(
    colors.map((c) => redness(c) > 0.5),
    'redness > 0.5',
  );
}
