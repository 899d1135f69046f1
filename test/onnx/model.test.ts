import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, saveModel, serializeModel } from '../../src/onnx/model.js';
import { isExternal, tensorFloats } from '../../src/onnx/tensor.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { gemmAutoencoder, randomValues } from '../helpers/graphs.js';
import { f32, run } from '../helpers/run.js';
import { ort } from '../../src/runtime/session.js';
import { useTempDir } from '../helpers/tmp.js';

const tmp = useTempDir('model');

const x = f32(randomValues(16 * 3, 3), [16, 3]);

async function runFile(file: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file);
  const out = (await s.run({ x })).out.data as Float32Array;
  await s.release();
  return out;
}

/** Saves the test autoencoder with every weight in `weights.bin`, as exporters do for big models. */
function writeExternalModel(): string {
  const file = path.join(tmp(), 'ext.onnx');
  const m = gemmAutoencoder();
  let offset = 0;
  const blobs: Buffer[] = [];
  for (const t of m.proto.graph!.initializer) {
    const raw = Buffer.from(t.rawData as Uint8Array);
    t.externalData = [
      { key: 'location', value: 'weights.bin' },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
    t.dataLocation = 1;
    delete t.rawData;
    blobs.push(raw);
    offset += raw.length;
  }
  fs.writeFileSync(path.join(tmp(), 'weights.bin'), Buffer.concat(blobs));
  fs.writeFileSync(file, serializeModel(m.proto));
  return file;
}

describe('external data', () => {
  it('loads, patches and saves with the side file written next to the output; the input is untouched', async () => {
    const file = writeExternalModel();
    const sideBefore = fs.readFileSync(path.join(tmp(), 'weights.bin'));
    const intact = await runFile(file);
    expect(Array.from(intact)).toEqual(Array.from((await run(gemmAutoencoder(), { x })).out.data as Float32Array));

    const m = loadModel(file);
    await patchModel(m, [{ tensor: 'latent', mode: 'suppress', dims: [0] }]);
    fs.mkdirSync(path.join(tmp(), 'out'));
    const out = path.join(tmp(), 'out', 'patched.onnx');
    const saved = saveModel(m, out);
    expect(saved.dataPath).toBe(path.join(tmp(), 'out', 'patched.onnx.data'));
    const reloaded = loadModel(out);
    expect(reloaded.proto.graph!.initializer.filter(isExternal).length).toBe(8);
    const reference = gemmAutoencoder();
    await patchModel(reference, [{ tensor: 'latent', mode: 'suppress', dims: [0] }]);
    expect(Array.from(await runFile(out))).toEqual(Array.from((await run(reference, { x })).out.data as Float32Array));
    expect(fs.readFileSync(path.join(tmp(), 'weights.bin')).equals(sideBefore)).toBe(true);
  });

  it('reads external weights as numbers', () => {
    const m = loadModel(writeExternalModel());
    const w0 = m.proto.graph!.initializer[0];
    expect(Array.from(tensorFloats(w0, m.baseDir))).toEqual(Array.from(tensorFloats(gemmAutoencoder().proto.graph!.initializer[0], '/')));
  });

  it('names a missing or truncated side file', () => {
    const file = writeExternalModel();
    fs.truncateSync(path.join(tmp(), 'weights.bin'), 10);
    expect(() => loadModel(file)).toThrow(/runs past the end of weights.bin/);
    fs.rmSync(path.join(tmp(), 'weights.bin'));
    expect(() => loadModel(file)).toThrow(/external data file weights.bin .* not found/);
  });

  it('moves weights to external data when the model would pass the protobuf limit', async () => {
    const m = gemmAutoencoder(64); // two 2 KiB weights
    const inline = serializeModel(m.proto).length;
    const out = path.join(tmp(), 'big.onnx');
    const saved = saveModel(m, out, { inlineLimit: inline - 100 });
    expect(saved.dataPath).toBeDefined();
    expect(saved.bytes).toBeLessThanOrEqual(inline - 100);
    expect(loadModel(out).proto.graph!.initializer.filter(isExternal)).toHaveLength(1);
    expect(Array.from(await runFile(out))).toEqual(Array.from((await run(gemmAutoencoder(64), { x })).out.data as Float32Array));
    // The caller's model keeps its inline weights.
    expect(m.proto.graph!.initializer.every((t) => t.rawData && !isExternal(t))).toBe(true);
  });
});

describe('saving', () => {
  it('refuses to overwrite the input model', () => {
    const file = path.join(tmp(), 'm.onnx');
    fs.writeFileSync(file, serializeModel(gemmAutoencoder().proto));
    expect(() => saveModel(loadModel(file), file)).toThrow(/output is the input model/);
  });

  it('leaves nothing behind when the destination folder is missing', () => {
    expect(() => saveModel(gemmAutoencoder(), path.join(tmp(), 'nope', 'x.onnx'))).toThrow(/does not exist/);
    expect(fs.readdirSync(tmp())).toEqual([]);
  });
});

describe('bad files', () => {
  it.each([
    ['missing', (f: string) => f, /cannot read: no such file or directory \(ENOENT\)/],
    ['truncated', (f: string) => (fs.writeFileSync(f, serializeModel(gemmAutoencoder().proto).subarray(0, 100)), f), /truncated or corrupt/],
    ['not protobuf', (f: string) => (fs.writeFileSync(f, 'hello, I am a text file\n'), f), /not (a valid )?(an )?ONNX model/],
    [
      'unknown opset',
      (f: string) => {
        const m = gemmAutoencoder();
        m.proto.opsetImport[0].version = 99;
        fs.writeFileSync(f, serializeModel(m.proto));
        return f;
      },
      /unknown opset 99/,
    ],
  ])('%s', (_name, make, message) => {
    const f = make(path.join(tmp(), 'bad.onnx'));
    expect(() => loadModel(f)).toThrow(message);
  });
});
