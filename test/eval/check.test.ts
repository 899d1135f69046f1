import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sca } from '../helpers/cli.js';
import { useTempDir } from '../helpers/tmp.js';

const CHECKS = new URL('../../models/checks/', import.meta.url).pathname;
const tmp = useTempDir('check');

describe('sca check', () => {
  it('the shipped passing spec exits 0, and --junit records every check', async () => {
    const junit = path.join(tmp(), 'out.xml');
    const r = await sca('check', path.join(CHECKS, 'red-removal.json'), '--junit', junit);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^6 passed, 0 failed$/m);
    const xml = fs.readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testsuite name="[^"]*red-removal.json" tests="6" failures="0">/);
    expect(xml.match(/<testcase /g)).toHaveLength(6);
  });

  it('the shipped failing spec exits 1 and says which checks failed and why', async () => {
    const junit = path.join(tmp(), 'out.xml');
    const r = await sca('check', path.join(CHECKS, 'red-too-strict.json'), '--junit', junit);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^PASS {2}suppression removes red/m);
    expect(r.out).toMatch(/^FAIL {2}no colour but red may change.*is above 0.0001/m);
    expect(r.out).toMatch(/^1 passed, 2 failed$/m);
    expect(fs.readFileSync(junit, 'utf8')).toMatch(/failures="2"/);
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['no checks', JSON.stringify({ intact: 'm.onnx', checks: [] }), /non-empty list/],
    ['unknown metric', JSON.stringify({ intact: 'm.onnx', checks: [{ patched: 'p.onnx', metric: 'accuracy', min: 1 }] }), /unknown metric 'accuracy'/],
    ['no bound', JSON.stringify({ intact: 'm.onnx', checks: [{ patched: 'p.onnx', metric: 'mse' }] }), /give a bound/],
    ['two model sources', JSON.stringify({ intact: 'm.onnx', checks: [{ patched: 'p.onnx', ablate: {}, metric: 'mse', max: 1 }] }), /exactly one of/],
    ['unknown colour', JSON.stringify({ intact: 'm.onnx', checks: [{ patched: 'p.onnx', metric: 'patched_mse', color: 'puce', min: 1 }] }), /needs "color"/],
    ['missing model', JSON.stringify({ intact: 'nope.onnx', checks: [{ patched: 'p.onnx', metric: 'mse', max: 1 }] }), /nope\.onnx: cannot read/],
    ['unknown field', JSON.stringify({ intact: 'm.onnx', check: [] }), /unknown field 'check'/],
  ])('a malformed spec (%s) exits 2 with one line', async (_name, text, message) => {
    const spec = path.join(tmp(), 'spec.json');
    fs.writeFileSync(spec, text);
    const r = await sca('check', spec, '--junit', path.join(tmp(), 'out.xml'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(path.join(tmp(), 'out.xml'))).toBe(false);
  });
});
