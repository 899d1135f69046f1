/**
 * Temporary outputs: every file or folder sca writes goes first to a hidden
 * name beside its destination, `.<name>.tmp-<pid>-<random>`, and is renamed
 * into place only when complete. The writer's pid in the name is what lets
 * the rest of this module clean up after a writer that did not finish:
 *
 * - a writer killed outright (SIGKILL, power loss) leaves its temporary; the
 *   next write of the same output removes it once that pid is gone, and says so;
 * - a command interrupted by SIGINT, SIGTERM or SIGHUP is cleaned up by the
 *   `sca` process that supervises it (cli.ts): the writes are synchronous, so
 *   a signal handler in the writing process itself would only run after the
 *   write had finished.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

// Always 8 characters, so the cleanup patterns below match every name this writes.
const RANDOM = () => crypto.randomBytes(4).toString('hex');

/** The temporary name for `dest`, carrying this process's pid. */
export function temporaryFor(dest: string): string {
  removeStaleTemporaries(dest);
  return path.join(path.dirname(dest), `.${path.basename(dest)}.tmp-${process.pid}-${RANDOM()}`);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process not yet reaped by its parent is a zombie: it writes nothing more.
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Where a notice about removed stale temporaries goes; the CLI points it at stderr, the library stays quiet. */
let notice: (line: string) => void = () => {};
export function onTemporaryNotice(sink: (line: string) => void): void {
  notice = sink;
}

/** Removes temporaries of `dest` left by writers that no longer run. */
export function removeStaleTemporaries(dest: string): void {
  const dir = path.dirname(dest);
  const pattern = new RegExp(`^\\.${escape(path.basename(dest))}\\.tmp-(\\d+)-[a-z0-9]+$`);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    notice(`removed ${path.join(dir, name)}, left by an earlier write (process ${m[1]}) that did not finish`);
  }
}

/** Temporaries of process `pid` in `dirs` (not recursive): what an interrupted command left. */
export function temporariesOf(pid: number, dirs: Iterable<string>): string[] {
  const pattern = new RegExp(`^\\..+\\.tmp-${pid}-[a-z0-9]+$`);
  const found: string[] = [];
  for (const dir of new Set(dirs)) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) if (pattern.test(name)) found.push(path.join(dir, name));
  }
  return found;
}

/** Folders an output may be written to, from a command line: each argument's folder, and the argument itself when it is one. */
export function foldersNamedIn(argv: string[]): string[] {
  const dirs: string[] = [];
  for (const arg of argv) {
    const value = arg.startsWith('-') && arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : arg;
    if (!value || value.startsWith('-')) continue;
    const full = path.resolve(value);
    dirs.push(path.dirname(full));
    try {
      if (fs.statSync(full).isDirectory()) dirs.push(full);
    } catch {
      // not there (yet): its folder is enough
    }
  }
  return dirs;
}
