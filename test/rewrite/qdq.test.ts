/**
 * QDQ static-quantized models (scripts/make_qdq_fixtures.py): a patch at an
 * activation's own name must act on the dequantized value its readers
 * compute with, and so match the float model (same dequantized weights, the
 * site replaced by a PyTorch hook) within the quantizer's own error. Before
 * the QuantizeLinear, its calibrated range would clip the edit, and where
 * the quantizer removed the Relu the tensor holds pre-ReLU values.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/onnx/model.js';
import { openSession, ort, tensorNumbers } from '../../src/runtime/session.js';
import { sca } from '../helpers/cli.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { useTempDir } from '../helpers/tmp.js';
import { FIXTURE_DIR } from '../helpers/torchFixtures.js';

const DIR = path.join(FIXTURE_DIR, 'qdq');
interface QdqModel {
  file: string;
  inputs: Record<string, { shape: number[]; data: number[] }>;
  output: string;
  output_scale: number;
  site: { tensor: string; dq_output: string; q_node: string; axis: number; direction: number[]; dims: number[] };
  float_outputs: Record<string, { shape: number[]; data: number[] }>;
}
const ref = JSON.parse(fs.readFileSync(path.join(DIR, 'reference.json'), 'utf8')) as { strengths: Record<string, number>; models: Record<string, QdqModel> };
const tmp = useTempDir('qdq');

const MODES: Record<string, (m: QdqModel) => string[]> = {
  suppress_full: (m) => ['--mode', 'suppress', '--projection', 'full', '--direction', m.site.direction.join(',')],
  suppress_half: (m) => ['--mode', 'suppress', '--projection', 'half', '--direction', m.site.direction.join(',')],
  steer: (m) => ['--mode', 'steer', '--strength', String(ref.strengths.steer), '--direction', m.site.direction.join(',')],
  amplify: (m) => ['--mode', 'amplify', '--strength', String(ref.strengths.amplify), '--direction', m.site.direction.join(',')],
  clamp: (m) => ['--mode', 'clamp', '--strength', String(ref.strengths.clamp), '--direction', m.site.direction.join(',')],
  dims_zero: (m) => ['--mode', 'suppress', '--dims', m.site.dims.join(',')],
};

async function run(file: string, m: QdqModel): Promise<ArrayLike<number>> {
  const session = await openSession(file);
  const feeds = Object.fromEntries(Object.entries(m.inputs).map(([k, v]) => [k, new ort.Tensor('float32', Float32Array.from(v.data), v.shape)]));
  return tensorNumbers((await session.run(feeds))[m.output]);
}

describe('patching a QDQ-quantized activation', () => {
  for (const [name, m] of Object.entries(ref.models)) {
    describe(name, () => {
      const input = path.join(DIR, m.file);

      for (const [mode, args] of Object.entries(MODES)) {
        it(`${mode} at '${m.site.tensor}' matches the float reference within the quantization error`, async () => {
          const intactError = maxAbsDiff(await run(input, m), m.float_outputs.intact.data);
          // The intact model is within a few output quantization steps of the float one.
          expect(intactError).toBeLessThan(6 * m.output_scale);
          const out = path.join(tmp(), 'patched.onnx');
          const r = await sca('patch', input, '-o', out, '--tensor', m.site.tensor, '--axis', String(m.site.axis), ...args(m));
          expect(r.err).toBe('');
          expect(r.out).toContain(
            `'${m.site.tensor}' is quantized by QuantizeLinear '${m.site.q_node}' before its readers: the patch acts on '${m.site.dq_output}'`,
          );
          const got = await run(out, m);
          const tolerance = Math.max(2 * intactError, intactError + 2 * m.output_scale);
          expect(maxAbsDiff(got, m.float_outputs[mode].data)).toBeLessThan(tolerance);
        });
      }

      it('records where the patch acts, and the QuantizeLinear still reads the unpatched tensor', async () => {
        const out = path.join(tmp(), 'patched.onnx');
        const r = await sca('patch', input, '-o', out, '--tensor', m.site.tensor, '--axis', String(m.site.axis), ...MODES.steer(m), '--json');
        expect(r.code).toBe(0);
        expect(JSON.parse(r.out).applied[0]).toMatchObject({ tensor: m.site.tensor, actsOn: m.site.dq_output });
        const patched = loadModel(out).proto;
        const q = patched.graph!.node.find((n) => n.name === m.site.q_node)!;
        expect(q.input[0]).toBe(m.site.tensor);
        const record = JSON.parse(patched.metadataProps.find((p) => p.key === 'sca.interventions')!.value!)[0];
        expect(record).toMatchObject({ tensor: m.site.tensor, actsOn: m.site.dq_output, quantized: { quantize: m.site.q_node } });
      });

      it('inspect --tensors marks the activation as quantized before its readers', async () => {
        const r = await sca('inspect', input, '--tensors', '--filter', m.site.tensor);
        expect(r.out).toContain(`quantized before its readers: they use '${m.site.dq_output}'`);
      });
    });
  }
});
