/**
 * Seeded fuzzing of the weight edits and tensor listing on real exports:
 * bit flips, truncations and duplicated chunks of the CNN and GPT-2
 * fixtures through ablate, prune, fold, an axis-1 patch and inspect
 * --tensors. Every run exits 0 or 2 with at most one stderr line, and a
 * failed run leaves no output. (test/cli/fuzz.test.ts covers inspect and
 * patch over more variants and forms.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Random } from '../../src/maths/random.js';
import { sca } from '../helpers/cli.js';
import { useTempDir } from '../helpers/tmp.js';
import { fixturePath } from '../helpers/torchFixtures.js';

const tmp = useTempDir('fuzz-edits');
const VARIANTS = Number(process.env.SCA_FUZZ_VARIANTS ?? 600);

const CASES: [string, string[][]][] = [
  [
    'cnn',
    [
      ['ablate', '--tensor', '/relu1/Relu_output_0', '--dims', '1,3'],
      ['ablate', '--tensor', '/relu1/Relu_output_0', '--dims', '1', '--prune'],
      ['patch', '--tensor', '/flatten/Flatten_output_0', '--mode', 'suppress', '--dims', '0', '--fold'],
      ['patch', '--tensor', '/pool1/MaxPool_output_0', '--mode', 'suppress', '--dims', '0'],
    ],
  ],
  [
    'gpt2_op14',
    [
      ['ablate', '--tensor', '/blocks.0/mlp/act/Mul_1_output_0', '--dims', '1,3'],
      ['ablate', '--tensor', '/blocks.0/mlp/act/Mul_1_output_0', '--dims', '1', '--prune'],
      ['patch', '--tensor', '/ln_f/Add_1_output_0', '--mode', 'suppress', '--dims', '0', '--fold'],
      ['inspect', '--tensors'],
    ],
  ],
];

function mutate(bytes: Buffer, r: Random): Buffer {
  const out = Buffer.from(bytes);
  switch (r.int(3)) {
    case 0:
      for (let f = 1 + r.int(8); f > 0; f--) out[r.int(out.length)] ^= 1 << r.int(8);
      return out;
    case 1:
      return out.subarray(0, r.int(out.length));
    default: {
      const at = r.int(out.length);
      return Buffer.concat([out.subarray(0, Math.min(out.length, at + r.int(64))), out.subarray(at)]);
    }
  }
}

describe('weight edits on damaged real exports', () => {
  it(`${VARIANTS} seeded variants: exit 0 or 2, one stderr line, no output on failure`, async () => {
    const r = new Random(20261125);
    const outcomes: Record<string, number> = {};
    for (let v = 0; v < VARIANTS; v++) {
      const [name, commands] = CASES[v % CASES.length];
      const model = path.join(tmp(), `m${v}.onnx`);
      fs.writeFileSync(model, mutate(fs.readFileSync(fixturePath(name)), r));
      for (const [command, ...rest] of commands) {
        const out = path.join(tmp(), `out${v}.onnx`);
        const res = command === 'inspect' ? await sca(command, model, ...rest) : await sca(command, model, '-o', out, ...rest);
        const where = `variant ${v} (${name}), ${command} ${rest.join(' ')}: exit ${res.code}, ${res.err}`;
        expect([0, 2], where).toContain(res.code);
        expect(res.err.trim().split('\n').length, where).toBeLessThanOrEqual(1);
        if (res.code !== 0) expect(fs.existsSync(out), where).toBe(false);
        outcomes[`${command} ${res.code}`] = (outcomes[`${command} ${res.code}`] ?? 0) + 1;
        fs.rmSync(out, { force: true });
      }
      fs.rmSync(model, { force: true });
    }
    // Both outcomes occur: the campaign is neither all-refused nor all-accepted.
    expect(outcomes['ablate 0']).toBeGreaterThan(0);
    expect(outcomes['ablate 2']).toBeGreaterThan(0);
  }, 300_000);
});
