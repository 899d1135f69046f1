/** Parsers for CLI option values; each names the option at fault in its error. */
import fs from 'node:fs';
import { UsageError } from '../errors.js';
import { fsReason, statRegularFile } from './files.js';

export function numberList(option: string, text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  if (parts.some((p) => p === '') || values.some((v) => !Number.isFinite(v))) {
    throw new UsageError(`${option}: '${text}' is not a comma-separated list of numbers`);
  }
  return values;
}

export function intList(option: string, text: string): number[] {
  const values = numberList(option, text);
  if (!values.every(Number.isInteger)) throw new UsageError(`${option}: '${text}' must list whole numbers`);
  return values;
}

export function number(option: string, text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new UsageError(`${option}: '${text}' is not a number`);
  return v;
}

export function integer(option: string, text: string): number {
  const v = number(option, text);
  if (!Number.isInteger(v)) throw new UsageError(`${option}: '${text}' must be a whole number`);
  return v;
}

export function positiveInt(option: string, text: string): number {
  const v = number(option, text);
  if (!Number.isInteger(v) || v < 1) throw new UsageError(`${option}: '${text}' must be a whole number of at least 1`);
  return v;
}

export function readJsonFile(option: string, file: string): unknown {
  let text: string;
  if (fs.existsSync(file)) statRegularFile(file, `${option}: ${file}`); // a FIFO would block the read forever
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${option}: cannot read ${file}: ${fsReason(err)}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}
