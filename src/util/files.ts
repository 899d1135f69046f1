/**
 * Output files are written to a temporary name beside their destination and
 * renamed into place only when complete, so a failure never leaves a
 * half-written model where the user asked for one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { temporaryFor } from './temporaries.js';

export class PendingFile {
  readonly tmp: string;
  private committed = false;

  constructor(readonly dest: string) {
    this.tmp = temporaryFor(dest);
  }

  commit(): void {
    fs.renameSync(this.tmp, this.dest);
    this.committed = true;
  }

  discard(): void {
    if (!this.committed) fs.rmSync(this.tmp, { force: true });
  }
}

/**
 * Runs `write` for each pending file, then renames them all into place; on
 * failure removes every temporary. A failure the environment causes (a full
 * disk, a read-only folder) is one line naming the output and the OS reason.
 */
export function writeAtomically(dests: string[], write: (files: PendingFile[]) => void): void {
  for (const d of dests) checkWritableDestination(d);
  const files = dests.map((d) => new PendingFile(d));
  try {
    write(files);
    for (const f of files) f.commit();
  } catch (err) {
    throw asWriteFailure(err, dests[0]);
  } finally {
    for (const f of files) f.discard();
  }
}

/** OS error codes that mean the environment, not sca, is at fault. */
const ENVIRONMENT_CODES = new Set([
  'ENOSPC',
  'EDQUOT',
  'EROFS',
  'EACCES',
  'EPERM',
  'ENOENT',
  'ENOTDIR',
  'EISDIR',
  'EMFILE',
  'ENFILE',
  'EFBIG',
  'EIO',
  'EXDEV',
  'ENAMETOOLONG',
]);

/** True for an fs error the environment causes: a full disk, a read-only or missing folder, too many open files. */
export function isEnvironmentFault(err: unknown): err is NodeJS.ErrnoException {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && ENVIRONMENT_CODES.has(code) && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

/** An environment fault while writing `dest` as one line (code CANNOT_WRITE); anything else unchanged. */
export function asWriteFailure(err: unknown, dest: string): unknown {
  if (!isEnvironmentFault(err)) return err;
  return new UsageError(`${dest}: cannot write: ${fsReason(err)}`, 'CANNOT_WRITE');
}

/** An output path must not be a folder: say so before anything is written. */
export function checkWritableDestination(dest: string): void {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dest);
  } catch {
    return;
  }
  if (stat.isDirectory()) throw new UsageError(`${dest}: is a folder; give a file name for the output`, 'CANNOT_WRITE');
}

/**
 * Refuses before writing when the output's filesystem has less free space
 * than `bytes` (what the write will add), so a long write does not fail at 80%.
 */
export function checkFreeSpace(dir: string, bytes: number, dest: string): void {
  let free: number;
  try {
    const s = fs.statfsSync(dir);
    free = Number(s.bavail) * Number(s.bsize);
  } catch {
    return; // unknown: let the write itself say
  }
  if (bytes > free) throw new UsageError(`${dest}: needs ${formatBytes(bytes)}, ${formatBytes(free)} free on its filesystem`, 'CANNOT_WRITE');
}

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} bytes`;
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

/** An fs error's reason in words, e.g. "no such file or directory (ENOENT)". */
export function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e !== 'object') return String(err);
  const words = (e.message ?? '')
    .replace(/^[A-Z]+: /, '')
    .replace(/, \w+ '.*$/s, '')
    .replace(/, \w+$/, '');
  return e.code ? `${words || e.code} (${e.code})` : words;
}

/** What a path that is not a regular file is, in words. */
function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * Checks that `file` is a regular file (following symlinks) and returns its
 * stat. A FIFO, device or directory is refused before anything opens it, so
 * a hostile path cannot make us hang on a pipe or read a device forever.
 */
export function statRegularFile(file: string, label: string): fs.Stats {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    throw new UsageError(`${label}: cannot read: ${fsReason(err)}`, 'NOT_FOUND');
  }
  if (!stat.isFile()) throw new UsageError(`${label}: is ${kindOf(stat)}, expected a regular file`);
  return stat;
}

/**
 * Opens a regular file for reading. The path is checked before opening, and
 * the open itself never blocks (O_NONBLOCK) and is checked again, so a file
 * swapped for a FIFO in between is refused rather than waited on.
 */
export function openRegularFile(file: string, label = file): { fd: number; size: number } {
  statRegularFile(file, label);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw new UsageError(`${label}: cannot read: ${fsReason(err)}`);
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new UsageError(`${label}: is ${kindOf(stat)}, expected a regular file`);
  }
  return { fd, size: stat.size };
}

/** True when `inner` is `dir` itself or lies below it (both already resolved). */
export function isInside(dir: string, inner: string): boolean {
  const rel = path.relative(dir, inner);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}
