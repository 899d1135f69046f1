/**
 * Model folders: load every .onnx of a folder (subfolders included), save
 * to a new folder atomically, untouched files byte for byte.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScaError } from '../../src/errors.js';
import { loadModelFolder, saveModelFolder } from '../../src/onnx/folder.js';
import { loadModel } from '../../src/onnx/model.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { GENAI_DIR, genaiReference, greedyDecode } from '../helpers/genai.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { useTempDir } from '../helpers/tmp.js';
import { FIXTURE_DIR } from '../helpers/torchFixtures.js';

const tmp = useTempDir('folder');

/** A folder like a deployed one: a genai model with external data, a second model in onnx/, side files. */
function makeFolder(root: string): string {
  const dir = path.join(root, 'in');
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  for (const f of ['model.onnx', 'model.onnx.data', 'genai_config.json']) fs.copyFileSync(path.join(GENAI_DIR, 'fp32', f), path.join(dir, f));
  fs.copyFileSync(path.join(FIXTURE_DIR, 'qdq', 'mlp_relu_kept.onnx'), path.join(dir, 'onnx', 'model_quantized.onnx'));
  fs.writeFileSync(path.join(dir, 'config.json'), '{"model_type": "llama"}\n');
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d, 0x0a]));
  fs.writeFileSync(path.join(dir, 'onnx', 'notes.bin'), Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256)));
  return dir;
}

function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

const same = (a: string, b: string) => Buffer.compare(fs.readFileSync(a), fs.readFileSync(b)) === 0;

describe('model folders', () => {
  it('load lists every model and side file; an untouched save is byte-identical', () => {
    const input = makeFolder(tmp());
    const folder = loadModelFolder(input);
    expect([...folder.models.keys()]).toEqual(['model.onnx', 'onnx/model_quantized.onnx']);
    expect(folder.files).toEqual(['config.json', 'genai_config.json', 'model.onnx.data', 'onnx/notes.bin', 'tokenizer.json']);
    const out = path.join(tmp(), 'out');
    const result = saveModelFolder(folder, out);
    expect(result).toMatchObject({ files: 7, copied: 7 });
    expect(filesUnder(out)).toEqual(filesUnder(input));
    for (const f of filesUnder(input)) expect(same(path.join(input, f), path.join(out, f)), f).toBe(true);
  });

  it.each([
    ['whose weights stay in their data file is written as its graph alone, its data copied byte for byte', undefined, 6],
    ['with more inline weight than the limit is repacked, keeping its data file name', 0, 5],
  ] as const)('an edited model %s; the rest is copied unchanged, and it runs', async (_what, limit, copied) => {
    const input = makeFolder(tmp());
    const before = Object.fromEntries(filesUnder(input).map((f) => [f, fs.readFileSync(path.join(input, f))]));
    const folder = loadModelFolder(input);
    const ref = genaiReference();
    patchModel(folder.models.get('model.onnx')!, [{ tensor: ref.residual_tensor, directions: [ref.direction], mode: 'suppress', projection: 'full' }]);
    folder.edited.add('model.onnx');
    const out = path.join(tmp(), 'out');
    const result = saveModelFolder(folder, out, limit === undefined ? {} : { keptLayoutInlineLimit: limit });
    expect(result).toMatchObject({ files: 7, copied });
    expect(filesUnder(out)).toEqual(filesUnder(input));
    const unchanged = [
      'config.json',
      'genai_config.json',
      'tokenizer.json',
      'onnx/model_quantized.onnx',
      'onnx/notes.bin',
      ...(copied === 6 ? ['model.onnx.data'] : []),
    ];
    for (const f of unchanged) expect(same(path.join(input, f), path.join(out, f)), f).toBe(true);
    expect(same(path.join(input, 'model.onnx'), path.join(out, 'model.onnx'))).toBe(false);
    // The input folder is untouched.
    for (const [f, bytes] of Object.entries(before)) expect(Buffer.compare(fs.readFileSync(path.join(input, f)), bytes), f).toBe(0);
    const saved = loadModel(path.join(out, 'model.onnx'));
    const locations = new Set(saved.proto.graph!.initializer.flatMap((t) => t.externalData.filter((e) => e.key === 'location').map((e) => e.value)));
    expect([...locations]).toEqual(['model.onnx.data']);
    const decoded = await greedyDecode(path.join(out, 'model.onnx'), ref, 4);
    expect(maxAbsDiff(decoded.promptLogits, ref.fp32.patched_logits)).toBeLessThan(1e-4);
  });

  it('a failure midway leaves no output folder and no temporary files', () => {
    const root = tmp();
    const folder = loadModelFolder(makeFolder(root));
    folder.edited.add('model.onnx');
    let n = 0;
    const out = path.join(root, 'out');
    expect(() =>
      saveModelFolder(folder, out, {
        beforeFile: () => {
          if (++n === 4) throw new Error('disk full (injected)');
        },
      }),
    ).toThrow(/injected/);
    expect(fs.readdirSync(root)).toEqual(['in']);
  });

  it('refuses an existing output, an output inside the input, a link, and a folder without models', () => {
    const root = tmp();
    const input = makeFolder(root);
    const folder = loadModelFolder(input);
    fs.mkdirSync(path.join(root, 'taken'));
    expect(() => saveModelFolder(folder, path.join(root, 'taken'))).toThrow(/already exists/);
    expect(() => saveModelFolder(folder, path.join(input, 'sub'))).toThrow(/outside the input folder/);
    fs.symlinkSync('/etc/passwd', path.join(input, 'onnx', 'leak.json'));
    expect(() => loadModelFolder(input)).toThrow(/'onnx\/leak.json' is a symbolic link/);
    fs.mkdirSync(path.join(root, 'empty'));
    fs.writeFileSync(path.join(root, 'empty', 'config.json'), '{}');
    expect(() => loadModelFolder(path.join(root, 'empty'))).toThrow(ScaError);
    expect(() => loadModelFolder(path.join(root, 'empty'))).toThrow(/holds no .onnx file/);
  });
});
