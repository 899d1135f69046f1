/**
 * The installed command as a user runs it: the built file executed through
 * its shebang (npm ci builds it), real exit codes, real stderr.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FIXTURE_MODEL } from '../helpers/fixture.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

function run(...args: string[]) {
  return spawnSync(CLI, args, { encoding: 'utf8', timeout: 60_000 });
}

describe('the sca executable', () => {
  it('is built and executable (npm ci runs the build)', () => {
    expect(fs.existsSync(CLI), 'run npm run build').toBe(true);
    expect(fs.statSync(CLI).mode & 0o111).not.toBe(0);
  });

  it('runs a command and exits 0', () => {
    const r = run('inspect', FIXTURE_MODEL, '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).nodes).toBe(51);
  });

  it('answers bad input with one line on stderr and exit code 2, no stack trace', () => {
    const r = run('inspect', '/nonexistent/model.onnx');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('sca: /nonexistent/model.onnx: cannot read: no such file or directory (ENOENT)\n');
    expect(r.stdout).toBe('');
  });
});
