/**
 * Interrupting a write: SIGINT, SIGTERM and SIGHUP while `sca` writes a
 * large model leave no temporary file (hidden ones included), exit 128 + the
 * signal number after one line, and never touch the input; after SIGKILL,
 * the next write of the same output removes the stale temporary, says so,
 * and writes the same bytes as an uninterrupted run.
 */
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticModel } from '../../scripts/synthetic.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
let dir = '';
let input = '';
let inputHash = '';

const hash = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sca-signals-'));
  input = path.join(dir, 'big.onnx');
  // Large enough that writing it takes a measurable time (about 300 MB).
  writeSyntheticModel(input, { dim: 2048, layers: 9, vocab: 32 });
  inputHash = hash(input);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const temporaries = () => fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));

/** Runs `sca args` and sends `signal` once its temporary output holds data; `group` kills the supervisor and the command alike. */
function interrupt(args: string[], signal: NodeJS.Signals, group = false): Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], detached: group });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setInterval(() => {
      const tmp = temporaries()[0];
      if (tmp && fs.statSync(path.join(dir, tmp)).size > 0) {
        clearInterval(timer);
        if (group) process.kill(-p.pid!, signal);
        else p.kill(signal);
      }
    }, 1);
    p.on('exit', (code, sig) => {
      clearInterval(timer);
      resolve({ code, signal: sig, err });
    });
  });
}

const PATCH = ['patch', 'big.onnx', '-o', 'out.onnx', '--tensor', 'blocks.0.act', '--dims', '1', '--mode', 'suppress'];
const FOLD = ['patch', 'big.onnx', '-o', 'out.onnx', '--tensor', 'blocks.0.act', '--dims', '1', '--mode', 'suppress', '--fold'];

describe('interrupting a write', () => {
  it.each([
    ['SIGINT', 130, PATCH],
    ['SIGTERM', 143, FOLD],
    ['SIGHUP', 129, PATCH],
  ] as const)('%s: exit %i, one line, no temporary left, input unchanged', async (signal, code, args) => {
    const r = await interrupt([...args], signal);
    expect(r.code).toBe(code);
    expect(r.err).toBe(`sca: interrupted by ${signal}; removed 1 unfinished temporary output, so nothing is half-written\n`);
    expect(temporaries()).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'out.onnx'))).toBe(false);
    expect(hash(input)).toBe(inputHash);
  });

  it('SIGKILL: the next write removes the stale temporary, says so, and writes what an uninterrupted run writes', async () => {
    const r = await interrupt([...PATCH], 'SIGKILL', true);
    expect(r.signal).toBe('SIGKILL');
    const stale = temporaries();
    expect(stale).toHaveLength(1);
    const again = spawnSync(process.execPath, [CLI, ...PATCH], { cwd: dir, encoding: 'utf8' });
    expect(again.status).toBe(0);
    expect(again.stderr).toContain(`sca: removed ${stale[0]}, left by an earlier write (process `);
    expect(temporaries()).toEqual([]);
    const clean = spawnSync(process.execPath, [CLI, ...PATCH.slice(0, 3), 'clean.onnx', ...PATCH.slice(4)], { cwd: dir, encoding: 'utf8' });
    expect(clean.status).toBe(0);
    expect(hash(path.join(dir, 'out.onnx'))).toBe(hash(path.join(dir, 'clean.onnx')));
    expect(hash(input)).toBe(inputHash);
  });
});
