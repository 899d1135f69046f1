/**
 * Model-folder rows of `npm run bench`: `sca patch DIR` on a folder with a
 * large external-data variant and a second, half-size variant, against
 * copying the folder (the I/O floor) and the largest file; and
 * `sca compare --tap` on an external-data model, against onnxruntime alone
 * running the same file on the same data (what any command that runs the
 * model needs).
 */
import fs from 'node:fs';
import path from 'node:path';
import { encodeNpy } from '../src/data/npy.js';
import { Random } from '../src/maths/random.js';
import { layersFor, parseSize, writeSyntheticModel } from '../scripts/synthetic.js';

type Measure = (args: string[]) => { seconds: number; maxRssBytes: number };
type Report = (figure: string, value: number, baseline: number, unit: (v: number) => string, target: string) => void;

const secs = (v: number) => `${v.toFixed(3)} s`;
const mb = (v: number) => `${(v / 1e6).toFixed(0)} MB`;
const size = (f: string) => fs.statSync(f).size;

export function benchFolders(dir: string, sizeText: string, dim: number, vocab: number, measure: Measure, report: Report): void {
  const bytes = parseSize(sizeText);
  const folder = path.join(dir, 'folder');
  fs.mkdirSync(path.join(folder, 'onnx'), { recursive: true });
  const big = path.join(folder, 'onnx', 'model.onnx');
  const half = path.join(folder, 'onnx', 'model_fp16.onnx');
  writeSyntheticModel(big, { dim, layers: layersFor(bytes, dim, vocab), vocab, external: true, valueInfo: false });
  writeSyntheticModel(half, { dim, layers: layersFor(bytes / 2, dim, vocab), vocab, external: true, valueInfo: false });
  fs.writeFileSync(path.join(folder, 'config.json'), JSON.stringify({ model_type: 'synthetic' }));
  const largest = size(`${big}.data`);
  console.log(`\nmodel folder: onnx/model.onnx ${mb(largest)} external, onnx/model_fp16.onnx ${mb(size(`${half}.data`))} external, config.json`);
  const out = path.join(dir, 'folder-out');
  const copyOut = path.join(dir, 'folder-copy');
  const clean = () => [out, copyOut].forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
  const best = (run: () => { seconds: number; maxRssBytes: number }) => {
    const runs = [0, 1].map(() => (clean(), run()));
    return { seconds: Math.min(...runs.map((r) => r.seconds)), maxRssBytes: Math.max(...runs.map((r) => r.maxRssBytes)) };
  };
  const copy = best(() => measure(['--copy-folder', folder, copyOut]));
  const direction = Array.from({ length: dim }, (_, i) => (i === 0 ? 1 : 0)).join(',');
  const patch = best(() => measure(['patch', folder, '-o', out, '--tensor', 'blocks.0.act', '--direction', direction, '--mode', 'suppress']));
  report(`patch DIR (${sizeText} + half): time`, patch.seconds, copy.seconds, secs, 'within 1.5x of copying the folder');
  report(`patch DIR (${sizeText} + half): peak RSS`, patch.maxRssBytes, largest, mb, 'under 0.15x the largest file');

  // compare --tap on the big variant, against onnxruntime alone running it on the same ids.
  const r = new Random(7);
  const ids = path.join(dir, 'ids.npy');
  fs.writeFileSync(
    ids,
    encodeNpy(
      'i8',
      [4, 8],
      BigInt64Array.from({ length: 32 }, () => BigInt(r.int(vocab))),
    ),
  );
  const ort = measure(['--ort-run', big, ids]);
  const tap = measure(['compare', big, big, '--data', ids, '--tap', 'blocks.0.act']);
  report(`compare --tap ${sizeText} external: peak RSS`, tap.maxRssBytes, ort.maxRssBytes, mb, 'what onnxruntime alone needs (x2 models), plus a little');
  report(`compare --tap ${sizeText} external: peak RSS / model`, tap.maxRssBytes, largest, mb, 'onnxruntime holds each model whole');
  clean();
  fs.rmSync(folder, { recursive: true, force: true });
}
