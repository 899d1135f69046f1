/**
 * Every command on a model whose weights live in external data (the
 * fixture's GPT-2 at opset 17, all weights in onnx/model.onnx_data): compare
 * with taps, check with an on-the-fly patch, and the probe run the model with
 * its data read in place from its folder, and give what the same commands
 * give on the inline copy of the same model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/npy.js';
import { sca } from '../helpers/cli.js';
import { GPT2_DIR, gpt2Reference, siteTensor } from '../helpers/gpt2Folder.js';
import { useTempDir } from '../helpers/tmp.js';

const ref = gpt2Reference();
const tmp = useTempDir('external-data');
const EXTERNAL = path.join(GPT2_DIR, 'tjs-op17/onnx/model.onnx');
const INLINE = path.join(GPT2_DIR, 'tjs/onnx/model.onnx');
const RESID = siteTensor(ref, 'resid_block0', 'tjs-op17/onnx/model.onnx');

function ids(): string {
  const f = path.join(tmp(), 'ids.npy');
  const rows = [ref.prompt_ids, [...ref.prompt_ids].reverse(), ref.prompt_ids.map((t) => (t + 7) % 256)];
  fs.writeFileSync(f, encodeNpy('i8', [3, 8], BigInt64Array.from(rows.flat(), BigInt)));
  return f;
}

describe('external data in every command', () => {
  it('compare --tap on an external-data model and a patched copy, as on the inline model', async () => {
    const data = ids();
    const results: { tap: number; logits: number }[] = [];
    for (const model of [EXTERNAL, INLINE]) {
      const steered = path.join(tmp(), `${path.basename(path.dirname(path.dirname(model)))}-steered.onnx`);
      const p = await sca('patch', model, '-o', steered, '--tensor', RESID, '--mode', 'steer', '--direction', `@${path.join(GPT2_DIR, 'direction.npy')}`);
      expect(p.code, p.err).toBe(0);
      const r = await sca('compare', model, steered, '--data', data, '--tap', RESID, '--json', '-');
      expect(r.code, r.err).toBe(0);
      const out = JSON.parse(r.out);
      results.push({ tap: out.taps[0].change.mse, logits: out.outputs.find((o: { name: string }) => o.name === 'logits').mse });
    }
    expect(results[0].tap).toBeGreaterThan(0);
    expect(results[0].tap).toBeCloseTo(results[1].tap, 6);
    expect(results[0].logits).toBeCloseTo(results[1].logits, 4);
  });

  it('check runs an on-the-fly patch of an external-data model', async () => {
    const spec = path.join(tmp(), 'spec.json');
    fs.writeFileSync(
      spec,
      JSON.stringify({
        intact: EXTERNAL,
        data: ids(),
        checks: [
          {
            name: 'steering moves the logits',
            patch: { tensor: RESID, mode: 'steer', directions: `@${path.join(GPT2_DIR, 'direction.npy')}` },
            metric: 'mse',
            output: 'logits',
            min: 1e-4,
          },
        ],
      }),
    );
    const r = await sca('check', spec);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/PASS  steering moves the logits/);
    expect(r.out).toMatch(/1 passed, 0 failed/);
  });
});
