/**
 * Seeded fuzzing of `sca inspect DIR` and `sca patch DIR -o OUT` on damaged
 * model folders (the fixture's transformers.js folder, and its opset-17 twin
 * with external data): a variant's bytes damaged, a side file that is not
 * JSON, links and FIFOs inside the folder, a hostile external-data location.
 * Whatever the damage, the command exits 0 or 2 with at most one line on
 * stderr, leaves no output folder and no temporaries when it fails, and never
 * reads the canary file beside the folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, concatChunks, type Message } from '../../src/onnx/codec.js';
import type { ModelProto } from '../../src/onnx/types.js';
import { Random } from '../../src/maths/random.js';
import { sca } from '../helpers/cli.js';
import { copyFixtureFolder, gpt2Reference, siteTensor } from '../helpers/gpt2Folder.js';
import { readFile, recordReads } from '../helpers/reads.js';
import { useTempDir } from '../helpers/tmp.js';

const VARIANTS = Number(process.env.SCA_FUZZ_FOLDERS ?? 40);
const SEED = Number(process.env.SCA_FUZZ_SEED ?? 20261202);
const tmp = useTempDir('fuzz-folders');
const ref = gpt2Reference();

type Damage = (dir: string, r: Random, canary: string) => string;

function damageBytes(file: string, r: Random): void {
  const b = Buffer.from(fs.readFileSync(file));
  const at = () => r.int(Math.max(1, b.length));
  switch (r.int(3)) {
    case 0:
      for (let i = 0; i < 1 + r.int(8); i++) b[at()] ^= 1 << r.int(8);
      fs.writeFileSync(file, b);
      return;
    case 1:
      fs.writeFileSync(file, b.subarray(0, at()));
      return;
    default:
      fs.writeFileSync(file, Buffer.from(Array.from({ length: r.int(300) }, () => r.int(256))));
  }
}

const DAMAGES: [string, Damage][] = [
  ['variant bytes', (d, r) => (damageBytes(path.join(d, ['onnx/model.onnx', 'onnx/model_fp16.onnx'][r.int(2)]), r), 'variant')],
  [
    'side file not JSON',
    (d, r) => {
      const f = path.join(d, ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'][r.int(4)]);
      fs.writeFileSync(f, fs.readFileSync(f).subarray(0, r.int(20)));
      return 'json';
    },
  ],
  ['link to the canary', (d, r, canary) => (fs.symlinkSync(canary, path.join(d, ['notes.bin', 'onnx/extra.bin'][r.int(2)])), 'link')],
  ['link to a folder outside', (d, _r, canary) => (fs.symlinkSync(path.dirname(canary), path.join(d, 'outside')), 'link')],
  [
    'a FIFO',
    (d) => {
      spawnSync('mkfifo', [path.join(d, 'pipe.json')]);
      return 'fifo';
    },
  ],
  [
    'hostile external data location',
    (d, r, canary) => {
      const file = path.join(d, 'onnx/model.onnx');
      const proto = decodeMessage(fs.readFileSync(file), 'ModelProto') as unknown as ModelProto;
      const t = proto.graph!.initializer.find((x) => x.externalData.length > 0)!;
      const loc = t.externalData.find((e) => e.key === 'location')!;
      loc.value = [canary, '../../canary.bin', 'a/../../../canary.bin', '.'][r.int(4)];
      fs.writeFileSync(file, concatChunks(encodeMessage(proto as unknown as Message, 'ModelProto')));
      return 'location';
    },
  ],
  ['external data cut', (d, r) => (fs.truncateSync(path.join(d, 'onnx/model.onnx_data'), r.int(500_000)), 'data')],
];

describe('fuzzed model folders', () => {
  const reads = recordReads();

  it(`${VARIANTS} seeded damaged folders: exit 0 or 2, one stderr line, no output folder on failure, the canary never read`, async () => {
    const root = tmp();
    const canary = path.join(root, 'canary.bin');
    const secret = Buffer.from(`CANARY-${'x'.repeat(64)}-CANARY`);
    fs.writeFileSync(canary, secret);
    const r = new Random(SEED);
    const outcomes: Record<string, number> = {};
    for (let v = 0; v < VARIANTS; v++) {
      const [kind, damage] = DAMAGES[r.int(DAMAGES.length)];
      const external = kind.includes('external');
      const dir = copyFixtureFolder(external ? 'tjs-op17' : 'tjs', path.join(root, `in${v}`));
      damage(dir, r, canary);
      const out = path.join(root, `out${v}`);
      const tensor = siteTensor(ref, 'resid_block0', external ? 'tjs-op17/onnx/model.onnx' : 'tjs/onnx/model.onnx');
      reads.reset();
      for (const argv of [
        ['inspect', dir],
        ['patch', dir, '-o', out, '--tensor', tensor, '--mode', 'suppress', '--dims', '0,1'],
      ]) {
        const res = await sca(...argv);
        const what = `${argv[0]} of folder ${v} (${kind})`;
        expect([0, 2], `${what}: exit ${res.code}, ${res.err}`).toContain(res.code);
        const lines = res.err.split('\n').filter(Boolean);
        expect(lines.length, `${what}: ${res.err}`).toBeLessThanOrEqual(res.code === 0 ? 0 : 1);
        if (argv[0] === 'patch') {
          expect(fs.existsSync(out), what).toBe(res.code === 0);
          if (res.code === 0) {
            for (const f of fs.readdirSync(out, { recursive: true }) as string[]) {
              const p = path.join(out, f);
              if (fs.statSync(p).isFile()) expect(fs.readFileSync(p).includes(secret), `${what}: ${f}`).toBe(false);
            }
          }
        }
        outcomes[`${kind}: ${argv[0]} exit ${res.code}`] = (outcomes[`${kind}: ${argv[0]} exit ${res.code}`] ?? 0) + 1;
      }
      expect(readFile(reads.opened, canary), `folder ${v} (${kind}) read the canary`).toBe(false);
      fs.rmSync(out, { recursive: true, force: true });
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(fs.readdirSync(root).filter((f) => f.includes('.tmp-'))).toEqual([]);
    console.log(`folder fuzz outcomes: ${JSON.stringify(outcomes, Object.keys(outcomes).sort(), 1)}`);
    // Damage that always breaks the folder is always refused.
    for (const kind of ['link to the canary', 'a FIFO', 'side file not JSON', 'hostile external data location'])
      for (const cmd of ['inspect', 'patch']) expect(outcomes[`${kind}: ${cmd} exit 0`] ?? 0, `${kind}: ${cmd}`).toBe(0);
  }, 300_000);
});
