/**
 * Faults the environment causes while writing: a full disk, a read-only
 * folder, an output that is a folder, not enough free space. Each is one
 * line naming the path and the OS reason, exit 2, and nothing left behind.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sca } from '../helpers/cli.js';
import { useTempDir } from '../helpers/tmp.js';
import { fixturePath } from '../helpers/torchFixtures.js';
import { checkFreeSpace } from '../../src/util/files.js';

const tmp = useTempDir('write-faults');
const INPUT = fixturePath('gpt2_op14');
// The tmpfs tests mount filesystems, which needs root (.ci/run runs as root); elsewhere they show as skipped.
const isRoot = process.getuid?.() === 0;
const mounted: string[] = [];

/** A small tmpfs at `dir` (root only): `ro` for a read-only filesystem. */
function mountTmpfs(dir: string, options: string): boolean {
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
    mounted.push(dir);
    return true;
  } catch (err) {
    console.log(`skipping: cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]})`);
    return false;
  }
}

afterEach(() => {
  for (const dir of mounted.splice(0)) execFileSync('umount', [dir]);
});

const patchArgs = (out: string) => ['patch', INPUT, '-o', out, '--tensor', '/blocks.0/Add_1_output_0', '--dims', '1', '--mode', 'suppress'];

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));
}

describe('writing into a faulty environment', () => {
  it('an output that is a folder: one line, exit 2', async () => {
    const out = path.join(tmp(), 'taken');
    fs.mkdirSync(out);
    const r = await sca(...patchArgs(out));
    expect(r.code).toBe(2);
    expect(r.err).toBe(`sca: ${out}: is a folder; give a file name for the output\n`);
    expect(leftovers(tmp())).toEqual([]);
  });

  it.runIf(isRoot)('too little space for the model: refused up front, one line with both sizes, nothing written', async () => {
    const dir = path.join(tmp(), 'small');
    if (!mountTmpfs(dir, 'size=64k')) return;
    fs.writeFileSync(path.join(dir, 'filler'), Buffer.alloc(40 * 1024));
    const out = path.join(dir, 'out.onnx');
    const r = await sca(...patchArgs(out));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^sca: .*out\.onnx: needs [\d.]+ kB, [\d.]+ kB free on its filesystem\n$/);
    expect(fs.readdirSync(dir)).toEqual(['filler']);
  });

  it.runIf(isRoot)('a disk that fills up during a write: one line naming the path and ENOSPC, exit 2, nothing left', async () => {
    const dir = path.join(tmp(), 'full');
    if (!mountTmpfs(dir, 'size=64k')) return;
    // Fill the filesystem to the last block: the report's write fails with ENOSPC.
    const fd = fs.openSync(path.join(dir, 'filler'), 'w');
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(4096));
    } catch {
      // full
    } finally {
      fs.closeSync(fd);
    }
    const report = path.join(dir, 'report.html');
    const ids = path.join(tmp(), 'ids.json');
    fs.writeFileSync(ids, JSON.stringify({ input_ids: [[1, 2, 3, 4]] }));
    const r = await sca('compare', INPUT, INPUT, '--data', ids, '--report', report);
    expect(r.err).toMatch(/^sca: .*report\.html: cannot write: no space left on device \(ENOSPC\)\n$/);
    expect(r.code).toBe(2);
    expect(fs.readdirSync(dir)).toEqual(['filler']);
  });

  it.runIf(isRoot)('a read-only filesystem: one line naming the path and EROFS, exit 2', async () => {
    const dir = path.join(tmp(), 'ro');
    if (!mountTmpfs(dir, 'ro,size=1m')) return;
    const out = path.join(dir, 'out.onnx');
    const r = await sca(...patchArgs(out));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^sca: .*out\.onnx.*: .*\(EROFS\)\n$/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('the space check refuses before writing a byte', () => {
    const dir = tmp();
    expect(() => checkFreeSpace(dir, Number.MAX_SAFE_INTEGER, path.join(dir, 'huge.onnx'))).toThrow(/huge\.onnx: needs .* GB, .* free on its filesystem/);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(() => checkFreeSpace(dir, 1, path.join(dir, 'tiny.onnx'))).not.toThrow();
  });
});
