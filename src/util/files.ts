/**
 * Output files are written to a temporary name beside their destination and
 * renamed into place only when complete, so a failure never leaves a
 * half-written model where the user asked for one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';

export class PendingFile {
  readonly tmp: string;
  private committed = false;

  constructor(readonly dest: string) {
    this.tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  }

  commit(): void {
    fs.renameSync(this.tmp, this.dest);
    this.committed = true;
  }

  discard(): void {
    if (!this.committed) fs.rmSync(this.tmp, { force: true });
  }
}

/** Runs `write` for each pending file, then renames them all into place; on failure removes every temporary. */
export function writeAtomically(dests: string[], write: (files: PendingFile[]) => void): void {
  const files = dests.map((d) => new PendingFile(d));
  try {
    write(files);
    for (const f of files) f.commit();
  } finally {
    for (const f of files) f.discard();
  }
}

/** Writes every byte of `data` at `position` (or the current position), looping over short writes. */
export function writeAll(fd: number, data: Uint8Array, position?: number): void {
  let done = 0;
  while (done < data.length) {
    const n = fs.writeSync(fd, data, done, data.length - done, position === undefined ? null : position + done);
    done += n;
  }
}

/** Reads into `into` from `position` until it is full or the file ends; returns the bytes read. */
export function readAt(fd: number, into: Uint8Array, position: number): number {
  let done = 0;
  while (done < into.length) {
    const n = fs.readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

export function sameFile(a: string, b: string): boolean {
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** Writes a whole text file atomically; its folder must exist. */
export function writeTextFile(dest: string, text: string): void {
  if (!fs.existsSync(path.dirname(path.resolve(dest)))) throw new UsageError(`${dest}: folder ${path.dirname(path.resolve(dest))} does not exist`);
  writeAtomically([dest], ([file]) => fs.writeFileSync(file.tmp, text));
}
