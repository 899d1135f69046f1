/**
 * Hostile, corrupt and unusual ONNX files, one test per case: external data
 * that points outside the model's folder or at something that is not a
 * regular file, bad offsets and lengths, old opsets and IR versions, split
 * sub-messages, names that are not UTF-8, and models inspect must accept.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs/minimal.js';
import { Graph } from '../../src/ir/graph.js';
import { probeShapes } from '../../src/runtime/shapes.js';
import { describe, expect, it } from 'vitest';
import { attrFloat, attrInt, emptyGraph, newModel, node } from '../../src/onnx/build.js';
import { decodeMessage, type Message } from '../../src/onnx/codec.js';
import { makeValueInfo, opsetOf } from '../../src/onnx/graph.js';
import { summarizeModel } from '../../src/api/inspect.js';
import { loadModel, parseModel, saveModel, serializeModel, type Model } from '../../src/onnx/model.js';
import { makeTensor, tensorFloats } from '../../src/onnx/tensor.js';
import { DataType, type ModelProto } from '../../src/onnx/types.js';
import { ablateDims } from '../../src/rewrite/ablation.js';
import { SubgraphBuilder } from '../../src/rewrite/builder.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { sca } from '../helpers/cli.js';
import { gemmAutoencoder, randomValues } from '../helpers/graphs.js';
import { f32, run } from '../helpers/run.js';
import { useTempDir } from '../helpers/tmp.js';

const tmp = useTempDir('hostile');
const x = f32(randomValues(8 * 3, 5), [8, 3]);

/** The test autoencoder in `<tmp>/model/ext.onnx` with every weight in `weights.bin`; `edit` changes the first weight's entries. */
function externalModel(edit: (entries: Map<string, string>) => void = () => {}): string {
  const dir = path.join(tmp(), 'model');
  fs.mkdirSync(dir, { recursive: true });
  const m = gemmAutoencoder();
  let offset = 0;
  const blobs: Buffer[] = [];
  m.proto.graph!.initializer.forEach((t, i) => {
    const raw = Buffer.from(t.rawData as Uint8Array);
    const entries = new Map([
      ['location', 'weights.bin'],
      ['offset', String(offset)],
      ['length', String(raw.length)],
    ]);
    if (i === 0) edit(entries);
    t.externalData = [...entries].map(([key, value]) => ({ key, value }));
    t.dataLocation = 1;
    delete t.rawData;
    blobs.push(raw);
    offset += raw.length;
  });
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat(blobs));
  const file = path.join(dir, 'ext.onnx');
  fs.writeFileSync(file, serializeModel(m.proto));
  return file;
}

/** A secret file beside the model's folder, which no command may read. */
function canary(): string {
  const file = path.join(tmp(), 'secret.bin');
  fs.writeFileSync(file, Buffer.alloc(4096, 0x5a));
  return file;
}

describe('external data stays inside the model folder', () => {
  it.each([
    ['an absolute location', () => canary(), /external data location '\/.*secret\.bin' is an absolute path/],
    ['a .. location', () => (canary(), '../secret.bin'), /external data location '\.\.\/secret\.bin' leaves the model's folder/],
    ['a .. hidden inside the path', () => (canary(), 'sub/../../secret.bin'), /leaves the model's folder/],
  ])('refuses %s before reading it', async (_name, location, message) => {
    const file = externalModel((e) => e.set('location', location()));
    expect(() => loadModel(file)).toThrow(message);
    const out = path.join(tmp(), 'out.onnx');
    const r = await sca('patch', file, '-o', out, '--tensor', 'latent', '--mode', 'suppress', '--dims', '0');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(`${out}.data`)).toBe(false);
  });

  it('refuses a symlink whose target leaves the folder, and follows one that stays inside', () => {
    const secret = canary();
    const file = externalModel((e) => e.set('location', 'link.bin'));
    const dir = path.dirname(file);
    fs.symlinkSync(secret, path.join(dir, 'link.bin'));
    expect(() => loadModel(file)).toThrow(/external data location 'link\.bin' is a link to .*secret\.bin, outside the model's folder/);
    fs.rmSync(path.join(dir, 'link.bin'));
    fs.symlinkSync('weights.bin', path.join(dir, 'link.bin'));
    const m = loadModel(file);
    expect(Array.from(tensorFloats(m.proto.graph!.initializer[0], m.baseDir))).toEqual(
      Array.from(tensorFloats(gemmAutoencoder().proto.graph!.initializer[0], '/')),
    );
  });

  it('refuses a folder symlinked out of the model folder', () => {
    canary();
    const file = externalModel((e) => e.set('location', 'up/secret.bin'));
    fs.symlinkSync(tmp(), path.join(path.dirname(file), 'up'));
    expect(() => loadModel(file)).toThrow(/'up\/secret\.bin' is a link to .*, outside the model's folder/);
  });

  it('refuses a directory location', () => {
    const file = externalModel((e) => e.set('location', '.'));
    expect(() => loadModel(file)).toThrow(/location '\.' leaves the model's folder|is a directory/);
    const sub = externalModel((e) => e.set('location', 'sub'));
    fs.mkdirSync(path.join(path.dirname(sub), 'sub'));
    expect(() => loadModel(sub)).toThrow(/external data location 'sub': is a directory, expected a regular file/);
  });

  it('refuses a FIFO location without opening it (no hang)', () => {
    const file = externalModel((e) => e.set('location', 'pipe.bin'));
    expect(spawnSync('mkfifo', [path.join(path.dirname(file), 'pipe.bin')]).status).toBe(0);
    expect(() => loadModel(file)).toThrow(/external data location 'pipe\.bin': is a FIFO \(named pipe\), expected a regular file/);
  });

  it('refuses a FIFO or a directory as the model itself', async () => {
    const fifo = path.join(tmp(), 'pipe.onnx');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expect(() => loadModel(fifo)).toThrow(/pipe\.onnx: is a FIFO \(named pipe\), expected a regular file/);
    // A folder is read as a model folder, which may hold only regular files and folders: the FIFO is named, never opened.
    const r = await sca('inspect', tmp());
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/'pipe\.onnx' is not a regular file; a model folder may hold only regular files and folders\n$/);
  });

  it.each([
    ['a negative offset', (e: Map<string, string>) => e.set('offset', '-8'), /external data offset '-8' is not a non-negative integer/],
    ['a fractional offset', (e: Map<string, string>) => e.set('offset', '1.5'), /offset '1\.5' is not a non-negative integer/],
    ['a non-numeric offset', (e: Map<string, string>) => e.set('offset', 'zero'), /offset 'zero' is not a non-negative integer/],
    ['an offset past the end', (e: Map<string, string>) => e.set('offset', '1000000'), /offset 1000000 is past the end of weights\.bin/],
    ['a short length', (e: Map<string, string>) => e.set('length', '8'), /external data length 8 does not match the tensor's 96 bytes \(float32 \[8, 3\]\)/],
    ['a long length', (e: Map<string, string>) => e.set('length', '100'), /length 100 does not match the tensor's 96 bytes/],
    ['a negative length', (e: Map<string, string>) => e.set('length', '-96'), /length '-96' is not a non-negative integer/],
  ])('refuses %s', (_name, edit, message) => {
    const file = externalModel(edit);
    expect(() => loadModel(file)).toThrow(message);
  });

  it('checks every tensor, sparse initializers included (onnxruntime would read them)', () => {
    canary();
    const file = externalModel();
    const m = loadModel(file);
    const values = { name: 'sv', dims: [1], dataType: DataType.FLOAT, dataLocation: 1, externalData: [{ key: 'location', value: '../secret.bin' }] };
    const indices = makeTensor('si', DataType.FLOAT, [1], [0]);
    (m.proto.graph!.sparseInitializer as unknown[]).push({ values, indices: { ...indices, dataType: DataType.INT64, rawData: new Uint8Array(8) }, dims: [4] });
    fs.writeFileSync(file, serializeModel(m.proto));
    expect(() => loadModel(file)).toThrow(/tensor 'sv': external data location '\.\.\/secret\.bin' leaves the model's folder/);
  });

  it('reads a tensor with no length entry as its own byte size', () => {
    const file = externalModel((e) => e.delete('length'));
    const m = loadModel(file);
    expect(tensorFloats(m.proto.graph!.initializer[0], m.baseDir)).toHaveLength(24);
  });
});

/** The bytes of a ModelProto whose `graph` is written as two length-delimited parts (valid protobuf: parsers merge them). */
function splitGraphBytes(m: Model, cut: number): Uint8Array {
  const g = m.proto.graph!;
  const first = { ...g, node: g.node.slice(0, cut), output: [] };
  const second = { ...emptyGraph(g.name!), node: g.node.slice(cut), output: g.output };
  delete (second as Partial<typeof second>).name;
  const whole = serializeModel({ ...m.proto, graph: first });
  const extra = serializeModel({ opsetImport: [], metadataProps: [], trainingInfo: [], functions: [], graph: second } as unknown as ModelProto);
  return Buffer.concat([whole, extra]);
}

describe('protobuf semantics', () => {
  it('merges a graph written in two parts, in memory and when loading lazily', async () => {
    const m = gemmAutoencoder();
    const bytes = splitGraphBytes(m, 3);
    const file = path.join(tmp(), 'split.onnx');
    fs.writeFileSync(file, bytes);
    for (const loaded of [parseModel(bytes, tmp()), loadModel(file), loadModel(file, { lazyBytes: 16 })]) {
      expect(loaded.proto.graph!.node.map((n) => n.output[0])).toEqual(['h0', 'a0', 'latent', 'h2', 'a2', 'out']);
      expect(loaded.proto.graph!.name).toBe('test');
      expect(loaded.proto.graph!.initializer).toHaveLength(8);
    }
    expect(summarizeModel(loadModel(file)).nodes).toBe(6);
    const out = path.join(tmp(), 'out.onnx');
    const r = await sca('patch', file, '-o', out, '--tensor', 'latent', '--mode', 'suppress', '--dims', '0');
    expect(r.err).toBe('');
    const patched = loadModel(out);
    for (const name of ['h0', 'a0', 'h2', 'a2', 'out'])
      expect(
        patched.proto.graph!.node.some((n) => n.output.includes(name)),
        name,
      ).toBe(true);
    // The merged graph is written as one message: the only change the spec allows.
    const intact = await run(m, { x });
    const again = await run(parseModel(bytes, tmp()), { x });
    expect(again.out.data).toEqual(intact.out.data);
  });

  it('names the file and the field path of a decode error', async () => {
    const m = gemmAutoencoder();
    m.proto.graph!.node[3].attribute[0].name = 'ATTRNAME';
    const bytes = Buffer.from(serializeModel(m.proto));
    // Make the attribute's name claim 100 bytes, more than its message holds.
    const at = bytes.indexOf('ATTRNAME');
    bytes[at - 1] = 100;
    const file = path.join(tmp(), 'bad.onnx');
    fs.writeFileSync(file, bytes);
    const r = await sca('inspect', file);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`sca: ${file}: not a valid ONNX model (truncated or corrupt at graph.node[3].attribute[0].name: runs past the end of its message)\n`);
  });

  it('refuses messages nested deeper than 100 levels instead of overflowing the stack', () => {
    // TypeProto.sequence_type.elem_type.sequence_type... 2,000 deep, inside a graph input.
    let type: Uint8Array = protobuf.Writer.create().finish();
    for (let i = 0; i < 2000; i++) {
      const seq = protobuf.Writer.create()
        .uint32((1 << 3) | 2)
        .bytes(type)
        .finish();
      type = protobuf.Writer.create()
        .uint32((4 << 3) | 2)
        .bytes(seq)
        .finish();
    }
    const input = protobuf.Writer.create()
      .uint32((1 << 3) | 2)
      .string('x')
      .uint32((2 << 3) | 2)
      .bytes(type)
      .finish();
    const graph = protobuf.Writer.create()
      .uint32((11 << 3) | 2)
      .bytes(input)
      .finish();
    const model = protobuf.Writer.create()
      .uint32((1 << 3) | 0)
      .int64(8)
      .uint32((7 << 3) | 2)
      .bytes(graph)
      .finish();
    expect(() => parseModel(model, '/', 'deep.onnx')).toThrow(
      /deep\.onnx: not a valid ONNX model \(truncated or corrupt at graph\.input\[0\]\.type(\.sequenceType\.elemType)+.*: messages nested more than 100 deep\)/,
    );
  });

  it('keeps the last value of a scalar written twice', () => {
    const m = gemmAutoencoder();
    const bytes = Buffer.concat([
      serializeModel(m.proto),
      protobuf.Writer.create()
        .uint32((1 << 3) | 0)
        .int64(5)
        .finish(),
    ]);
    expect(Number(parseModel(bytes, '/').proto.irVersion)).toBe(5);
  });

  it('keeps a name that is not valid UTF-8 byte for byte, through load, patch and save', async () => {
    const m = gemmAutoencoder();
    const bad = Buffer.from([0x6e, 0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0x21]); // stray bytes, an overlong '/', a UTF-16 surrogate
    const good = 'r\u00e9sum\u00e9 \u{1F480}';
    // Write the model with placeholder names, then swap in the raw bytes.
    m.proto.graph!.node[1].name = 'PLACEHOLDER_A';
    m.proto.graph!.docString = 'PLACEHOLDER_B';
    m.proto.producerName = good;
    const plain = Buffer.from(serializeModel(m.proto));
    const withBad = Buffer.from(
      plain
        .toString('latin1')
        .replace('PLACEHOLDER_A', bad.toString('latin1').padEnd(13, '!'))
        .replace('PLACEHOLDER_B', Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]).toString('latin1')),
      'latin1',
    );
    expect(withBad.includes(bad)).toBe(true);
    const file = path.join(tmp(), 'names.onnx');
    fs.writeFileSync(file, withBad);
    for (const loaded of [parseModel(withBad, tmp()), loadModel(file), loadModel(file, { lazyBytes: 16 })]) {
      expect(Buffer.from(serializeModel(loaded.proto)).equals(withBad)).toBe(true);
      expect(loaded.proto.producerName).toBe(good);
    }
    const patched = loadModel(file);
    await patchModel(patched, [{ tensor: 'latent', mode: 'suppress', dims: [0] }]);
    const out = path.join(tmp(), 'out.onnx');
    saveModel(patched, out);
    const written = fs.readFileSync(out);
    expect(written.includes(Buffer.concat([bad, Buffer.from('!!!!')]))).toBe(true);
    expect(written.includes(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]))).toBe(true);
    // Two different invalid names stay different.
    const names = (decodeMessage(written, 'ModelProto') as Message & ModelProto).graph!.node.map((n) => n.name);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('old opsets and IR versions', () => {
  /** The autoencoder at opset 6, with Gemm's legacy `broadcast` as torch exported it then. */
  function opset6(): Model {
    const m = gemmAutoencoder();
    m.proto.opsetImport[0].version = 6;
    m.proto.irVersion = 3;
    const g = m.proto.graph!;
    g.input.push(...g.initializer.map((t) => makeValueInfo(t.name!, t.dataType!, t.dims.map(Number))));
    for (const n of g.node) if (n.opType === 'Gemm') n.attribute.push(attrInt('broadcast', 1));
    return m;
  }

  it('an opset-6 Gemm with broadcast: the opset stays, inserted ops use the legacy broadcast form', async () => {
    for (const request of [
      { tensor: 'latent', mode: 'suppress' as const, directions: [[0.6, -0.3, 0.5, 0.2, -0.5]] },
      { tensor: 'latent', mode: 'suppress' as const, directions: [[0.6, -0.3, 0.5, 0.2, -0.5]], falloff: { threshold: 0.1, strength: 0.8, power: 2 } },
      { tensor: 'latent', mode: 'amplify' as const, dims: [1, 3], strength: 0.5 },
      {
        tensor: 'latent',
        mode: 'clamp' as const,
        directions: [
          [1, 0, 0, 0, 0],
          [0, 1, 0, 0, 0],
        ],
        strength: 0.25,
      },
      { tensor: 'latent', mode: 'clamp' as const, dims: [2], strength: 0.25, strengthInput: 'level', strengthInputOptional: true },
      { tensor: 'latent', mode: 'steer' as const, dims: [4], strength: -1 },
    ]) {
      const m = opset6();
      const gemms = JSON.stringify(m.proto.graph!.node.filter((n) => n.opType === 'Gemm').map((n) => [n.opType, n.attribute]));
      await patchModel(m, [request]);
      expect(opsetOf(m.proto)).toBe(6);
      const g = m.proto.graph!;
      expect(JSON.stringify(g.node.filter((n) => n.opType === 'Gemm').map((n) => [n.opType, n.attribute]))).toBe(gemms);
      const rank = new Map(g.initializer.map((t) => [t.name!, t.dims.length]));
      for (const n of g.node.filter((n) => n.name?.startsWith('sca/'))) {
        expect(['MatMul', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Greater', 'Cast', 'Neg', 'Clip'], n.name).toContain(n.opType);
        if (['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Greater'].includes(n.opType!)) {
          expect(n.attribute.find((a) => a.name === 'broadcast')?.i, n.name).toBe(1);
          // Legacy broadcasting stretches the second input only: a constant first input needs a constant second no bigger.
          const [a, b] = n.input;
          if (rank.has(a)) expect(rank.get(b) ?? Infinity, `${n.name}: ${a}, ${b}`).toBeLessThanOrEqual(rank.get(a)!);
        }
        // Values computed from constants alone have the largest of their ranks.
        const known = n.input.map((i) => rank.get(i));
        if (n.opType !== 'MatMul' && known.every((r) => r !== undefined)) rank.set(n.output[0], Math.max(...(known as number[])));
      }
      // Below IR 4 every initializer is also a graph input.
      const inputs = new Set(g.input.map((v) => v.name));
      for (const t of g.initializer) expect(inputs.has(t.name), t.name).toBe(true);
      // Same maths: numpy broadcasting (opset 7) agrees with legacy broadcasting where the second input is a suffix.
      const modern = JSON.parse(
        JSON.stringify(m.proto, (_k, v) => (v instanceof Uint8Array ? { $b: Array.from(v) } : v)),
        (_k, v) => (v && v.$b ? Uint8Array.from(v.$b) : v),
      ) as ModelProto;
      modern.opsetImport[0].version = 7;
      for (const n of modern.graph!.node) n.attribute = n.attribute.filter((a) => a.name !== 'broadcast');
      const want = gemmAutoencoder();
      await patchModel(want, [request]);
      expect((await run(modern, { x })).out.data, JSON.stringify(request)).toEqual((await run(want, { x })).out.data);
    }
  });

  it('below opset 6, Cast names its target type as a string', async () => {
    const m = gemmAutoencoder();
    m.proto.opsetImport[0].version = 5;
    await patchModel(m, [{ tensor: 'latent', mode: 'suppress', directions: [[1, 0, 0, 0, 0]], falloff: { threshold: 0.2, strength: 1, power: 0 } }]);
    const cast = m.proto.graph!.node.find((n) => n.opType === 'Cast')!;
    expect(cast.attribute).toHaveLength(1);
    expect(Buffer.from(cast.attribute[0].s as Uint8Array).toString()).toBe('FLOAT');
    expect(opsetOf(m.proto)).toBe(5);
  });

  it('refuses an op with no form at the model opset instead of raising it', () => {
    const b = new SubgraphBuilder(new Graph(emptyGraph('g')), 'sca/t', DataType.FLOAT, { opset: 7 });
    expect(() => b.op('Min', 'm', ['a', 'b'])).toThrow(/Min, which has no form valid at the model's opset 7 \(it needs opset 8\)/);
  });

  it('an IR-3 model: added initializers are listed as graph inputs, and it still runs', async () => {
    const m = gemmAutoencoder();
    m.proto.irVersion = 3;
    const g = m.proto.graph!;
    g.input.push(...g.initializer.map((t) => makeValueInfo(t.name!, t.dataType!, t.dims.map(Number))));
    const intact = await run(m, { x });
    await patchModel(m, [{ tensor: 'latent', mode: 'amplify', dims: [0], strength: 0 }]);
    const inputs = new Set(g.input.map((v) => v.name));
    expect(g.initializer.filter((t) => t.name!.startsWith('sca/')).length).toBeGreaterThan(0);
    for (const t of g.initializer) expect(inputs.has(t.name), t.name).toBe(true);
    // Strength 0 amplification is the identity: same outputs.
    expect((await run(m, { x })).out.data).toEqual(intact.out.data);
  });

  it('an IR-3 model: a shared weight copied by ablation is listed as a graph input too', async () => {
    const m = gemmAutoencoder();
    m.proto.irVersion = 3;
    const g = m.proto.graph!;
    g.input.push(...g.initializer.map((t) => makeValueInfo(t.name!, t.dataType!, t.dims.map(Number))));
    g.node.push(node('Gemm', ['a0', 'w1', 'b1'], ['side'], [attrInt('transB', 1)]));
    g.output.push(makeValueInfo('side', DataType.FLOAT, ['N', 5]));
    const before = (await run(m, { x })).side.data;
    expect(ablateDims(m, 'latent', [0]).edited).toContain('w1/sca_edited');
    const inputs = new Set(g.input.map((v) => v.name));
    for (const t of g.initializer) expect(inputs.has(t.name), t.name).toBe(true);
    expect((await run(m, { x })).side.data).toEqual(before);
  });

  it('a weight whose data does not fill its dims is refused when an edit reads it', () => {
    const m = gemmAutoencoder();
    const w1 = m.proto.graph!.initializer.find((t) => t.name === 'w1')!;
    w1.rawData = (w1.rawData as Uint8Array).subarray(0, 100);
    expect(() => ablateDims(m, 'latent', [0])).toThrow(/tensor 'w1' holds 100 bytes of data but float32 \[5, 8\] needs 160/);
  });

  it.each([
    [2 ** 40, /m\.onnx: cannot infer the shapes needed, and running the model to find them would need inputs of \d+ MiB or more/],
    [-5, /m\.onnx: cannot run the model to find the shapes needed: input 'x' has shape \[-5, 3\]/],
  ])('a model run to find a shape, whose input claims %d rows, is refused with a reason', async (rows, message) => {
    const m = gemmAutoencoder();
    m.proto.graph!.valueInfo = [];
    m.proto.graph!.input[0].type!.tensorType!.shape!.dim[0] = { dimValue: rows };
    await expect(probeShapes(m, ['latent'], 'm.onnx')).rejects.toThrow(message);
  });

  it('an IR-4 model gets no extra inputs', async () => {
    const m = gemmAutoencoder();
    const before = m.proto.graph!.input.length;
    await patchModel(m, [{ tensor: 'latent', mode: 'amplify', dims: [0], strength: 1 }]);
    expect(m.proto.graph!.input).toHaveLength(before);
  });
});

describe('strength ranges', () => {
  it.each([
    ['suppress', 2, /strength 2 is out of range for suppress: it takes from 0 to 1/],
    ['suppress', -1, /strength -1 is out of range for suppress: it takes from 0 to 1/],
    ['amplify', -0.5, /strength -0.5 is out of range for amplify: it takes 0 or more/],
  ])('%s at %d is refused with the range', async (mode, strength, message) => {
    const file = path.join(tmp(), 'm.onnx');
    fs.writeFileSync(file, serializeModel(gemmAutoencoder().proto));
    const out = path.join(tmp(), 'out.onnx');
    const r = await sca('patch', file, '-o', out, '--tensor', 'latent', '--mode', mode, '--dims', '0', '--strength', String(strength));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('the falloff strength is a suppression strength too', () => {
    expect(() =>
      patchModel(gemmAutoencoder(), [
        { tensor: 'latent', mode: 'suppress', directions: [[1, 0, 0, 0, 0]], falloff: { threshold: 0, strength: 1.5, power: 1 } },
      ]),
    ).toThrow(/strength 1.5 is out of range for suppress/);
  });

  it('steer and clamp take any finite value; the ends of a range are allowed', () => {
    for (const [mode, strength] of [
      ['steer', -3],
      ['clamp', -2],
      ['suppress', 0],
      ['suppress', 1],
      ['amplify', 0],
      ['amplify', 10],
    ] as const) {
      expect(patchModel(gemmAutoencoder(), [{ tensor: 'latent', mode, dims: [0], strength }])).toHaveLength(1);
    }
  });
});

describe('inspect accepts valid but unusual models', () => {
  it('a model that imports only ai.onnx.preview.training: inspect works, patch says why it cannot', async () => {
    const g = {
      ...emptyGraph('train'),
      node: [{ ...node('Adagrad', ['r', 't', 'x', 'g', 'h'], ['x_new', 'h_new'], [attrFloat('decay_factor', 0.1)]), domain: 'ai.onnx.preview.training' }],
    };
    g.input = ['r', 't', 'x', 'g', 'h'].map((n) => makeValueInfo(n, DataType.FLOAT, [2]));
    g.output = ['x_new', 'h_new'].map((n) => makeValueInfo(n, DataType.FLOAT, [2]));
    const proto = newModel(g, 1);
    proto.opsetImport = [{ domain: 'ai.onnx.preview.training', version: 1 }];
    const file = path.join(tmp(), 'adagrad.onnx');
    fs.writeFileSync(file, serializeModel(proto));
    const r = await sca('inspect', file);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/opset ai\.onnx\.preview\.training 1/);
    const p = await sca('patch', file, '-o', path.join(tmp(), 'o.onnx'), '--tensor', 'x_new', '--mode', 'suppress', '--dims', '0');
    expect(p.code).toBe(2);
    expect(p.err).toMatch(/imports no default-domain \(ai\.onnx\) opset/);
  });

  it('an int64 optional input shows its default', async () => {
    const m = gemmAutoencoder();
    m.proto.graph!.initializer.push(makeTensorInt64('steps', [3n, -1n]));
    m.proto.graph!.input.push(makeValueInfo('steps', DataType.INT64, [2]));
    const file = path.join(tmp(), 'int.onnx');
    fs.writeFileSync(file, serializeModel(m.proto));
    const s = summarizeModel(loadModel(file));
    expect(s.optionalInputs).toEqual([{ name: 'steps', type: 'int64', shape: [2], default: [3, -1] }]);
  });
});

function makeTensorInt64(name: string, values: bigint[]) {
  const t = makeTensor(name, DataType.FLOAT, [values.length], []);
  t.dataType = DataType.INT64;
  t.rawData = new Uint8Array(BigInt64Array.from(values).buffer);
  return t;
}
