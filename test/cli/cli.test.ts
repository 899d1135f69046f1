import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sca } from '../helpers/cli.js';
import { loadModel, serializeModel } from '../../src/onnx/model.js';
import { FIXTURE_LATENT, FIXTURE_MODEL } from '../helpers/fixture.js';
import { gemmAutoencoder } from '../helpers/graphs.js';
import { useTempDir } from '../helpers/tmp.js';

const tmp = useTempDir('cli');

describe('sca inspect', () => {
  it('shows inputs, outputs, opsets, nodes and anchors', async () => {
    const r = await sca('inspect', FIXTURE_MODEL);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/input +rgb +float32 \[batch, 3\]/);
    expect(r.out).toMatch(/ai\.onnx 14/);
    expect(r.out).toMatch(/nodes +51/);
    expect(r.out).toMatch(/anchors none recorded/);
  });

  it('--json is machine readable', async () => {
    const r = await sca('inspect', FIXTURE_MODEL, '--json');
    const s = JSON.parse(r.out);
    expect(s).toMatchObject({ irVersion: 7, nodes: 51, opsets: [{ domain: 'ai.onnx', version: 14 }], anchors: [] });
    expect(s.inputs).toEqual([{ name: 'rgb', type: 'float32', shape: ['batch', 3] }]);
  });
});

describe('sca inspect after patches', () => {
  it('lists a strength input as required by default, with the strength it was patched at', async () => {
    const out = path.join(tmp(), 'p.onnx');
    await sca(
      'patch',
      FIXTURE_MODEL,
      '-o',
      out,
      '--tensor',
      FIXTURE_LATENT,
      '--dims',
      '0',
      '--mode',
      'suppress',
      '--strength',
      '0.5',
      '--strength-input',
      'red_strength',
    );
    const r = await sca('inspect', out);
    expect(r.out).toMatch(/input +red_strength +float32 \[\]  a patch's strength: required \(patched at 0\.5\)/);
  });

  it('lists an optional strength input as optional, with its default', async () => {
    const out = path.join(tmp(), 'p.onnx');
    await sca(
      'patch',
      FIXTURE_MODEL,
      '-o',
      out,
      '--tensor',
      FIXTURE_LATENT,
      '--dims',
      '0',
      '--mode',
      'suppress',
      '--strength',
      '0.5',
      '--strength-input',
      'red_strength',
      '--strength-input-optional',
    );
    const r = await sca('inspect', out);
    expect(r.out).toMatch(/input +red_strength +float32 \[\] +optional, default 0\.5/);
    expect(r.out).toMatch(/applied 1\. suppress \(sca\/suppress_0\) on \/bottleneck\/Div_output_0/);
  });
});

describe('sca compare --set', () => {
  it('runs one patched file at any strength: 0 is the intact model', async () => {
    const out = path.join(tmp(), 'p.onnx');
    await sca('patch', FIXTURE_MODEL, '-o', out, '--tensor', FIXTURE_LATENT, '--direction', '1,0,0,0,0', '--mode', 'suppress', '--strength-input', 'k');
    const at = async (...extra: string[]) => JSON.parse((await sca('compare', FIXTURE_MODEL, out, '--json', '-', ...extra)).out).outputs[0].mse as number;
    const full = await at();
    expect(full).toBeGreaterThan(1e-3);
    expect(await at('--set', 'k=0')).toBe(0);
    const half = await at('--set', 'k=0.5');
    expect(half).toBeGreaterThan(0);
    expect(half).toBeLessThan(full);
    const bad = await sca('compare', FIXTURE_MODEL, out, '--set', 'rgb=1');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/'rgb' is not an input of the model that can be set/);
  });
});

describe('sca compare --device cuda without the CUDA provider', () => {
  it('says how to install it and exits 2', async () => {
    const r = await sca('compare', FIXTURE_MODEL, FIXTURE_MODEL, '--device', 'cuda');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/CUDA execution provider is not installed; install it with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node`/);
  });
});

describe('sca anchor, then sca patch --concept', () => {
  it('resolves tensor and direction from the recorded anchor, and inspect shows both', async () => {
    const anchored = path.join(tmp(), 'anchored.onnx');
    expect(
      (await sca('anchor', FIXTURE_MODEL, '-o', anchored, '--concept', 'red', '--tensor', FIXTURE_LATENT, '--direction', '1,0,0,0,0', '--dims', '0')).code,
    ).toBe(0);
    const out = path.join(tmp(), 'safe.onnx');
    const r = await sca('patch', anchored, '-o', out, '--concept', 'red', '--mode', 'suppress');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/suppress on '\/bottleneck\/Div_output_0' axis 1 \[red\], half projection/);
    const s = JSON.parse((await sca('inspect', out, '--json')).out);
    expect(s.anchors).toEqual([{ concept: 'red', tensor: FIXTURE_LATENT, direction: [1, 0, 0, 0, 0], dims: [0] }]);
    expect(s.interventions[0]).toMatchObject({ kind: 'patch', mode: 'suppress', concept: 'red', basis: [[1, 0, 0, 0, 0]] });
  });

  it('--plan stacks several interventions in one call', async () => {
    const plan = path.join(tmp(), 'plan.json');
    fs.writeFileSync(
      plan,
      JSON.stringify([
        { tensor: FIXTURE_LATENT, mode: 'suppress', dims: [0] },
        { tensor: FIXTURE_LATENT, mode: 'steer', directions: [[0, 1, 0, 0, 0]], strength: 0.2 },
      ]),
    );
    const out = path.join(tmp(), 'p.onnx');
    expect((await sca('patch', FIXTURE_MODEL, '-o', out, '--plan', plan)).code).toBe(0);
    expect(loadModel(out).proto.graph!.node.filter((n) => n.name?.startsWith('sca/')).length).toBeGreaterThan(2);
  });
});

describe('bad input: one line, exit code 2, no output file', () => {
  const good = ['--tensor', FIXTURE_LATENT, '--mode', 'suppress'];
  const cases: [string, (d: string) => string[], RegExp][] = [
    ['missing model', (d) => ['patch', path.join(d, 'nope.onnx'), ...good, '--dims', '0'], /nope\.onnx: cannot read/],
    [
      'truncated model',
      (d) => {
        const f = path.join(d, 't.onnx');
        fs.writeFileSync(f, fs.readFileSync(FIXTURE_MODEL).subarray(0, 4000));
        return ['patch', f, ...good, '--dims', '0'];
      },
      /truncated or corrupt/,
    ],
    ['unknown tensor', () => ['patch', FIXTURE_MODEL, '--tensor', 'bottleneck', '--mode', 'suppress', '--dims', '0'], /no tensor named 'bottleneck'/],
    ['wrong-length direction', () => ['patch', FIXTURE_MODEL, ...good, '--direction', '1,0,0'], /has 3 values/],
    ['zero direction', () => ['patch', FIXTURE_MODEL, ...good, '--direction', '0,0,0,0,0'], /zero/],
    ['not numbers', () => ['patch', FIXTURE_MODEL, ...good, '--direction', '1,a,0,0,0'], /not a comma-separated list of numbers/],
    ['dims out of range', () => ['patch', FIXTURE_MODEL, ...good, '--dims', '7'], /7 is out of range/],
    [
      'unsupported element type',
      (d) => {
        const m = gemmAutoencoder();
        m.proto.graph!.input[0].type!.tensorType!.elemType = 7;
        const f = path.join(d, 'int.onnx');
        fs.writeFileSync(f, serializeModel(m.proto));
        return ['patch', f, '--tensor', 'x', '--mode', 'suppress', '--dims', '0'];
      },
      /int64; only float32, float16 and bfloat16/,
    ],
    ['unknown mode', () => ['patch', FIXTURE_MODEL, '--tensor', FIXTURE_LATENT, '--mode', 'erase', '--dims', '0'], /--mode/],
    ['unknown option', () => ['patch', FIXTURE_MODEL, ...good, '--dims', '0', '--bogus'], /unknown option/],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const out = path.join(tmp(), 'out.onnx');
    const r = await sca(...args(tmp()), '-o', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(fs.readdirSync(tmp()).filter((f) => f.startsWith('out') || f.startsWith('.out'))).toEqual([]);
  });
});
