/**
 * Directions given on the command line or in plans: inline numbers
 * (`v,v,...`, several separated by `;`) or `@FILE`, a `.npy` array ([D] for
 * one direction, [k, D] for a subspace; float32, float64 or float16) or a
 * JSON file (`[...]` or `[[...], ...]`). A 4096-wide residual-stream
 * direction is a file, not 4096 numbers typed out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import { UsageError } from '../errors.js';
import { parseNpy } from './npy.js';
import { numberList } from '../util/options.js';

/** `--direction` values (each inline or `@FILE`) as a list of directions; files are relative to `baseDir`. */
export function parseDirectionOptions(option: string, values: string[], baseDir = '.'): number[][] {
  return values.flatMap((v) =>
    v.trim().startsWith('@') ? readDirectionFile(option, path.resolve(baseDir, v.trim().slice(1))) : v.split(';').map((d) => numberList(option, d)),
  );
}

/** One direction (an anchor): `@FILE` must hold [D] or [1, D]. */
export function parseSingleDirection(option: string, value: string, baseDir = '.'): number[] {
  const all = parseDirectionOptions(option, [value], baseDir);
  if (all.length !== 1) throw new UsageError(`${option}: expected one direction, got ${all.length}`);
  return all[0];
}

/**
 * A plan or check entry's `directions`: a list whose items are number lists
 * or "@FILE" strings, or one "@FILE" string. Files are relative to `baseDir`
 * (the plan's folder).
 */
export function resolvePlanDirections(label: string, value: unknown, baseDir: string): number[][] | undefined {
  if (value === undefined) return undefined;
  const items = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(items)) throw new UsageError(`${label}: "directions" must be a list of number lists or "@FILE" strings`);
  return items.flatMap((item): number[][] => {
    if (typeof item === 'string') {
      if (!item.startsWith('@')) throw new UsageError(`${label}: "directions" entry '${item}' is neither a number list nor "@FILE"`);
      return readDirectionFile(label, path.resolve(baseDir, item.slice(1)));
    }
    if (!Array.isArray(item) || item.length === 0 || !item.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new UsageError(`${label}: "directions" entries must be non-empty lists of finite numbers or "@FILE" strings`);
    }
    return [item as number[]];
  });
}

/** Reads `file` as one direction or k directions of equal length, checking every value is finite. */
export function readDirectionFile(option: string, file: string): number[][] {
  const where = `${option} @${file}`;
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`${where}: cannot read (${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : (e.code ?? e.message)})`);
  }
  const rows = file.toLowerCase().endsWith('.npy') || bytes.subarray(0, 6).toString('latin1') === '\x93NUMPY' ? fromNpy(where, bytes) : fromJson(where, bytes);
  if (rows.length === 0 || rows[0].length === 0) throw new UsageError(`${where}: holds no values`);
  rows.forEach((row, j) => {
    const bad = row.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new UsageError(`${where}: value ${rows.length > 1 ? `[${j}, ${bad}]` : bad} is ${row[bad]}; directions must be finite`);
    if (row.every((v) => v === 0)) throw new UsageError(`${where}: direction ${j} is all zeros`);
  });
  return rows;
}

function fromNpy(where: string, bytes: Uint8Array): number[][] {
  const arr = parseNpy(bytes, where);
  if (!['f4', 'f8', 'f2'].includes(arr.dtype)) throw new UsageError(`${where}: dtype ${arr.dtype}; directions must be float32, float64 or float16`);
  if (arr.shape.length !== 1 && arr.shape.length !== 2) {
    throw new UsageError(`${where}: shape [${arr.shape.join(', ')}]; expected [D] for one direction or [k, D] for a subspace`);
  }
  const values =
    arr.dtype === 'f2'
      ? Array.from(new Float16Array((arr.data as Uint16Array).buffer, (arr.data as Uint16Array).byteOffset, arr.data.length))
      : Array.from(arr.data as Float32Array | Float64Array);
  if (arr.shape.length === 1) return [values];
  const [k, d] = arr.shape;
  return Array.from({ length: k }, (_, j) => values.slice(j * d, (j + 1) * d));
}

function fromJson(where: string, bytes: Uint8Array): number[][] {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new UsageError(`${where}: neither a .npy file nor valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(value)) throw new UsageError(`${where}: expected a JSON list [...] or a list of lists [[...], ...]`);
  if (value.length === 0) throw new UsageError(`${where}: holds no values`);
  const rows = (Array.isArray(value[0]) ? value : [value]) as unknown[][];
  for (const row of rows) {
    if (!Array.isArray(row) || row.some((x) => Array.isArray(x))) {
      throw new UsageError(`${where}: expected [D] (one direction) or [k, D] (a subspace); nesting deeper than two levels or mixed`);
    }
    if (row.some((x) => typeof x !== 'number')) throw new UsageError(`${where}: holds a value that is not a number`);
  }
  const width = rows[0].length;
  const ragged = rows.findIndex((r: unknown[]) => r.length !== width);
  if (ragged >= 0) throw new UsageError(`${where}: direction ${ragged} has ${rows[ragged].length} values, direction 0 has ${width}`);
  return rows as number[][];
}
