import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sca } from '../helpers/cli.js';
import { useTempDir } from '../helpers/tmp.js';
import { COLOR_DECODER_HIDDEN, COLOR_LATENT, COLOR_MODEL } from '../helpers/colorModel.js';

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
    expect(xml).toMatch(/<testsuite name="[^"]*red-removal.json" tests="6" failures="0" errors="0" time="[0-9.]+">/);
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
    // CI still gets a report: one test case with the error.
    const xml = fs.readFileSync(path.join(tmp(), 'out.xml'), 'utf8');
    expect(xml).toMatch(/<testsuite [^>]*tests="1" failures="0" errors="1"/);
    expect(xml).toMatch(/<testcase classname="sca.check" name="spec" time="[0-9.]+"><error message="[^"]*spec\.json: /);
  });
});

describe('sca check refuses a spec that could pass by mistake', () => {
  const MODEL = new URL('../../models/color-isolated.onnx', import.meta.url).pathname;
  const base = (check: Record<string, unknown>, top: Record<string, unknown> = {}) =>
    JSON.stringify({ intact: MODEL, ...top, checks: [{ patched: MODEL, metric: 'mse', max: 1 }, check] });

  it.each([
    [
      'top level',
      JSON.stringify({ intact: MODEL, dat: 'color-cube', checks: [{ patched: MODEL, metric: 'mse', max: 1 }] }),
      /spec\.json: unknown field 'dat' \(did you mean 'data'\?\)/,
    ],
    ['check', base({ patched: MODEL, metric: 'mse', maxx: 1, max: 1 }), /spec\.json: checks\[1\]: unknown field 'maxx'/],
    [
      'patch',
      base({ patch: { concept: 'red', mode: 'suppress', strenght: 0.3 }, metric: 'mse', min: 0 }),
      /spec\.json: checks\[1\]\.patch: unknown field 'strenght' \(did you mean 'strength'/,
    ],
    [
      'patch list',
      base({
        patch: [
          { concept: 'red', mode: 'suppress' },
          { concept: 'red', mode: 'steer', strenth: 1 },
        ],
        metric: 'mse',
        min: 0,
      }),
      /checks\[1\]\.patch\[1\]: unknown field 'strenth'/,
    ],
    [
      'falloff',
      base({ patch: { concept: 'red', mode: 'suppress', falloff: { threshold: 0, strength: 1, powr: 2 } }, metric: 'mse', min: 0 }),
      /checks\[1\]\.patch\.falloff: unknown field 'powr'/,
    ],
    ['ablate', base({ ablate: { concept: 'red', prun: true }, metric: 'mse', min: 0 }), /checks\[1\]\.ablate: unknown field 'prun'/],
    [
      'mistyped value',
      base({ patch: { concept: 'red', mode: 'suppress', strength: '0.3' }, metric: 'mse', min: 0 }),
      /checks\[1\]\.patch\.strength: must be a finite number/,
    ],
    ['min above max', base({ patched: MODEL, metric: 'mse', min: 1, max: 0.1 }), /checks\[1\]: "min" 1 is above "max" 0\.1/],
    [
      'unknown colour in a list',
      base({ patched: MODEL, metric: 'max_off_target_mse', colors: ['green', 'bleu'], max: 1 }),
      /checks\[1\]\.colors\[1\]: unknown colour 'bleu'/,
    ],
    [
      'typo in a concept',
      base({ name: 'red is gone', patch: { concept: 'rde', mode: 'suppress' }, metric: 'mse', min: 0 }),
      /spec\.json: checks\[1\] \("red is gone"\): .*'rde'/,
    ],
    [
      'strength out of range',
      base({ patch: { concept: 'red', mode: 'suppress', strength: 2 }, metric: 'mse', min: 0 }),
      /spec\.json: checks\[1\]: strength 2 is out of range for suppress: it takes from 0 to 1/,
    ],
  ])('%s: exits 2 naming the spec and the JSON path', async (_name, text, message) => {
    const spec = path.join(tmp(), 'spec.json');
    fs.writeFileSync(spec, text);
    const junit = path.join(tmp(), 'out.xml');
    const r = await sca('check', spec, '--junit', junit);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(fs.readFileSync(junit, 'utf8')).toMatch(/errors="1"/);
  });

  it('gives the OS reason when the spec cannot be read', async () => {
    const r = await sca('check', path.join(tmp(), 'missing.json'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot read .*missing\.json: no such file or directory \(ENOENT\)/);
  });

  it('a FIFO as the spec is refused at once, not waited on', async () => {
    const fifo = path.join(tmp(), 'spec.json');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const r = await sca('check', fifo);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/spec\.json: is a FIFO \(named pipe\), expected a regular file/);
  });

  it('JUnit test cases carry their time', async () => {
    const spec = path.join(tmp(), 'spec.json');
    fs.writeFileSync(
      spec,
      JSON.stringify({
        intact: MODEL,
        data: 'color-cube:3',
        checks: [
          { patched: MODEL, metric: 'mse', max: 0 },
          { patched: MODEL, metric: 'cosine', min: 0.999 },
        ],
      }),
    );
    const junit = path.join(tmp(), 'out.xml');
    const r = await sca('check', spec, '--junit', junit);
    expect(r.code).toBe(0);
    const xml = fs.readFileSync(junit, 'utf8');
    expect(xml.match(/<testcase [^>]*time="\d+\.\d{3}"/g)).toHaveLength(2);
    expect(xml).toMatch(/<testsuite [^>]*time="\d+\.\d{3}"/);
  });
});

describe('sca check probe metrics', () => {
  const model = COLOR_MODEL;

  it('probe_accuracy, probe_auc and purity of the intact or patched model, with bounds', async () => {
    const spec = path.join(tmp(), 'probe.json');
    fs.writeFileSync(
      spec,
      JSON.stringify({
        intact: model,
        data: 'color-cube',
        checks: [
          {
            name: 'red readable before',
            patch: { concept: 'red', mode: 'suppress' },
            metric: 'probe_accuracy',
            tensor: COLOR_LATENT,
            model: 'intact',
            min: 0.95,
          },
          { name: 'red unreadable after suppression', patch: { concept: 'red', mode: 'suppress' }, metric: 'probe_accuracy', tensor: COLOR_LATENT, max: 0.85 },
          { name: 'auc after ablation', ablate: { concept: 'red' }, metric: 'probe_auc', tensor: COLOR_DECODER_HIDDEN, labels: 'redness', min: 0.9 },
          { name: 'purity', patch: { concept: 'red', mode: 'suppress' }, metric: 'purity', tensor: COLOR_LATENT, model: 'intact', min: 0.6, max: 0.8 },
        ],
      }),
    );
    const r = await sca('check', spec);
    expect(r.err).toBe('');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^PASS {2}red readable before/m);
    // Suppression leaves red linearly readable well above chance at the bottleneck (0.87 on the shipped isolated model): the bound fails, and says why.
    expect(r.out).toMatch(/^FAIL {2}red unreadable after suppression.*0\.8[5-9]\d+ is above 0\.85/m);
    expect(r.out).toMatch(/^PASS {2}auc after ablation/m);
    expect(r.out).toMatch(/^PASS {2}purity/m);
  });

  it('a probe metric without a tensor is a bad spec (exit 2)', async () => {
    const spec = path.join(tmp(), 'bad.json');
    fs.writeFileSync(spec, JSON.stringify({ intact: model, checks: [{ patch: { concept: 'red', mode: 'suppress' }, metric: 'probe_auc', min: 0.5 }] }));
    const r = await sca('check', spec);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/checks\[0\]: probe_auc needs "tensor"/);
  });
});

describe('sca check runs the same verbs as the commands', () => {
  it('an on-the-fly ablate of a direction anchor gives the model bytes sca ablate writes', async () => {
    const anchored = new URL('../../models/color-anchored.onnx', import.meta.url).pathname;
    const out = path.join(tmp(), 'ablated.onnx');
    const r = await sca('ablate', anchored, '-o', out, '--concept', 'red');
    expect(r.code).toBe(0);
    const { patchedSource } = await import('../../src/api/check.js');
    const { serializeModel } = await import('../../src/onnx/model.js');
    const source = await patchedSource({ ablate: { concept: 'red' }, metric: 'mse', max: 1 } as never, anchored, tmp());
    if (typeof source === 'string') throw new Error('expected a model');
    expect(Buffer.compare(Buffer.from(serializeModel(source.model.proto)), fs.readFileSync(out))).toBe(0);
  });

  it('a spec ablating a direction anchor runs (it used to be refused)', async () => {
    const anchored = new URL('../../models/color-anchored.onnx', import.meta.url).pathname;
    const spec = path.join(tmp(), 'spec.json');
    fs.writeFileSync(
      spec,
      JSON.stringify({
        intact: anchored,
        data: 'color-cube:4',
        checks: [{ name: 'red goes', ablate: { concept: 'red' }, metric: 'ratio', color: 'red', min: 10 }],
      }),
    );
    const r = await sca('check', spec);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^1 passed, 0 failed$/m);
  });
});
