/**
 * `--json [FILE]`, the same on every command: bare (or `-`) prints the JSON
 * to stdout and nothing else; with a file name writes it there (atomically)
 * and the command prints its usual text.
 */
import { writeTextFile } from '../util/files.js';
import type { Io } from './context.js';

export type JsonOption = boolean | string | undefined;

export const JSON_FLAG = '--json [file]';
export const JSON_HELP = 'print the result as JSON, or write it to a file';

/** Emits the JSON as `--json` asks; true when it went to stdout (print nothing more). */
export function emitJson(io: Io, option: JsonOption, value: unknown): boolean {
  if (option === undefined || option === false) return false;
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (option === true || option === '-') {
    io.out(text);
    return true;
  }
  writeTextFile(option, text);
  return false;
}
