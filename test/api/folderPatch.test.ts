/**
 * `sca patch DIR -o OUTDIR` on the model folders language models ship in: a
 * transformers.js folder (fp32 and fp16 variants), the same model at opset 17
 * with external data, and optimum's merged decoder (an If on
 * use_cache_branch). Checked against PyTorch's steered model (a forward hook
 * adding 2·direction to the residual after block 0), by decoding with the KV
 * cache in onnxruntime and by transformers.js's own generate().
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AutoModelForCausalLM, AutoTokenizer, env } from '@huggingface/transformers';
import { readAnchors, readInterventions } from '../../src/anchors/manifest.js';
import { encodeNpy } from '../../src/data/npy.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { loadModel, modelBytes } from '../../src/onnx/model.js';
import { makeTensor, tensorBytes } from '../../src/onnx/tensor.js';
import { nbitsView } from '../../src/weights/quantized.js';
import { DataType } from '../../src/onnx/types.js';
import { sca } from '../helpers/cli.js';
import { gemmAutoencoder, model, node } from '../helpers/graphs.js';
import { copyFixtureFolder, decodeGpt2, steerFixture, fp16Tolerance, GPT2_DIR, gpt2Reference, siteTensor } from '../helpers/gpt2Folder.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { useTempDir } from '../helpers/tmp.js';

const ref = gpt2Reference();
const tmp = useTempDir('folder-patch');
const DIRECTION = path.join(GPT2_DIR, 'direction.npy');
const RESID = siteTensor(ref, 'resid_block0', 'tjs/onnx/model.onnx');

const steerFolder = (name: string, ...extra: string[]) => steerFixture(name, path.join(tmp(), `${name}-steered`), ...extra);

const sameBytes = (a: string, b: string) => Buffer.compare(fs.readFileSync(a), fs.readFileSync(b)) === 0;

/** transformers.js's greedy generation, offline, from a folder on disk. */
async function generate(folder: string, dtype: 'fp32' | 'fp16' | 'q8' | 'q4', modelFileName?: string): Promise<number[]> {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(folder) + '/';
  const id = path.basename(folder);
  const tokenizer = await AutoTokenizer.from_pretrained(id, { local_files_only: true });
  const model = await AutoModelForCausalLM.from_pretrained(id, { local_files_only: true, dtype, ...(modelFileName ? { model_file_name: modelFileName } : {}) });
  try {
    const inputs = tokenizer(ref.prompt);
    expect(Array.from(inputs.input_ids.data as BigInt64Array, Number)).toEqual(ref.prompt_ids);
    const out = await model.generate({ ...inputs, max_new_tokens: ref.intact.greedy.length, do_sample: false });
    return Array.from((out as { data: BigInt64Array }).data, Number).slice(ref.prompt_ids.length);
  } finally {
    await model.dispose();
  }
}

describe('sca patch on a transformers.js folder', () => {
  it('steers every variant, says so per file, and decoding gives PyTorch’s steered logits and tokens (fp32 within 1e-4, fp16 within its export error)', async () => {
    const r = await steerFolder('tjs');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^onnx\/model\.onnx \(fp32\): steer on '\/transformer\/h\.0\/Add_1_output_0' axis 2: 2 nodes under sca\/steer_0\//m);
    expect(r.out).toMatch(/^onnx\/model_fp16\.onnx \(fp16\): steer on /m);
    expect(r.out).toMatch(/wrote .*tjs-steered\/ \(6 files, 4 copied byte for byte\)/);
    for (const side of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'])
      expect(sameBytes(path.join(GPT2_DIR, 'tjs', side), path.join(r.dir, side)), side).toBe(true);

    const fp32 = await decodeGpt2(path.join(r.dir, 'onnx/model.onnx'), ref);
    expect(maxAbsDiff(fp32.logits, ref.steer.logits)).toBeLessThan(1e-4);
    expect(maxAbsDiff(fp32.stepLogits, ref.steer.step_logits)).toBeLessThan(1e-4);
    expect(fp32.tokens).toEqual(ref.steer.greedy);
    const fp16 = await decodeGpt2(path.join(r.dir, 'onnx/model_fp16.onnx'), ref);
    expect(maxAbsDiff(fp16.logits, ref.steer.logits)).toBeLessThan(fp16Tolerance(ref));
    expect(fp16.tokens).toEqual(ref.steer.greedy);
    // The steered tokens differ from the intact ones, so equality above is not luck.
    expect(ref.steer.greedy).not.toEqual(ref.intact.greedy);
  });

  it('is loaded offline by transformers.js, whose generate() gives PyTorch’s steered tokens in fp32 and fp16 (and the intact ones on the intact folder)', async () => {
    const r = await steerFolder('tjs');
    expect(r.code, r.err).toBe(0);
    expect(await generate(r.dir, 'fp32')).toEqual(ref.steer.greedy);
    expect(await generate(r.dir, 'fp16')).toEqual(ref.steer.greedy);
    expect(await generate(path.join(GPT2_DIR, 'tjs'), 'fp32')).toEqual(ref.intact.greedy);
  }, 60_000);

  it('patches only the variants named, copying the others byte for byte and saying so', async () => {
    const r = await steerFolder('tjs', '--variant', 'fp16');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^onnx\/model\.onnx \(fp32\): copied unchanged/m);
    expect(sameBytes(path.join(GPT2_DIR, 'tjs/onnx/model.onnx'), path.join(r.dir, 'onnx/model.onnx'))).toBe(true);
    expect(readInterventions(loadModel(path.join(r.dir, 'onnx/model_fp16.onnx')).proto)).toHaveLength(1);
    fs.rmSync(r.dir, { recursive: true });
    const wrong = await steerFolder('tjs', '--variant', 'q4');
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/variant 'q4': no file of the folder is that variant; it has onnx\/model\.onnx \(fp32\), onnx\/model_fp16\.onnx \(fp16\)/);
    expect(fs.existsSync(wrong.dir)).toBe(false);
  });

  it('keeps external data in the file it was in (model.onnx_data), byte for byte, and the result decodes as PyTorch’s', async () => {
    const r = await steerFolder('tjs-op17');
    expect(r.code, r.err).toBe(0);
    expect(fs.readdirSync(path.join(r.dir, 'onnx')).sort()).toEqual(['model.onnx', 'model.onnx_data']);
    expect(sameBytes(path.join(GPT2_DIR, 'tjs-op17/onnx/model.onnx_data'), path.join(r.dir, 'onnx/model.onnx_data'))).toBe(true);
    const got = await decodeGpt2(path.join(r.dir, 'onnx/model.onnx'), ref);
    expect(maxAbsDiff(got.logits, ref.steer.logits)).toBeLessThan(1e-4);
    expect(got.tokens).toEqual(ref.steer.greedy);
  });
});

describe('sca ablate and sca anchor on a model folder', () => {
  it('ablate edits every variant: PyTorch’s ablated logits in fp32 (1e-4) and fp16 (its export error)', async () => {
    const out = path.join(tmp(), 'ablated');
    const site = siteTensor(ref, 'mlp0_hidden', 'tjs/onnx/model.onnx');
    const r = await sca('ablate', path.join(GPT2_DIR, 'tjs'), '-o', out, '--tensor', site, '--dims', '1,3');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^onnx\/model_fp16\.onnx \(fp16\): zeroed dims \[1, 3\] of .* in 3 weights$/m);
    const want = ref.weight_edits.ablate_mlp0_hidden.logits;
    expect(maxAbsDiff((await decodeGpt2(path.join(out, 'onnx/model.onnx'), ref, 1)).logits, want)).toBeLessThan(1e-4);
    expect(maxAbsDiff((await decodeGpt2(path.join(out, 'onnx/model_fp16.onnx'), ref, 1)).logits, want)).toBeLessThan(fp16Tolerance(ref));
  });

  it('anchor --from-data fits on the fp32 variant from token ids and records the anchor in every variant, which patch --concept then uses', async () => {
    const ids = path.join(tmp(), 'ids.npy');
    const rows = [ref.prompt_ids, [...ref.prompt_ids].reverse()];
    fs.writeFileSync(ids, encodeNpy('i8', [2, 8], BigInt64Array.from(rows.flat(), BigInt)));
    const labels = path.join(tmp(), 'labels.npy');
    fs.writeFileSync(labels, encodeNpy('i8', [2, 8], BigInt64Array.from([0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0], BigInt)));
    const anchored = path.join(tmp(), 'anchored');
    const r = await sca('anchor', path.join(GPT2_DIR, 'tjs'), '-o', anchored, '--concept', 'c', '--tensor', RESID, '--from-data', ids, '--labels', labels);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/as a mean-difference direction from 16 examples \(run through onnx\/model\.onnx\)/);
    const [a32] = readAnchors(loadModel(path.join(anchored, 'onnx/model.onnx')).proto);
    const [a16] = readAnchors(loadModel(path.join(anchored, 'onnx/model_fp16.onnx')).proto);
    expect(a16).toEqual(a32);
    const patched = await sca('patch', anchored, '-o', path.join(tmp(), 'patched'), '--concept', 'c', '--mode', 'suppress');
    expect(patched.code, patched.err).toBe(0);
    expect(patched.out.match(/suppress on '\/transformer\/h\.0\/Add_1_output_0' axis 2 \[c\]/g)).toHaveLength(2);
  });
});

describe('compare, probe and check on model folders', () => {
  it('run the default variant (the fp32 one) or the one named, and refuse a name that matches none', async () => {
    const steered = (await steerFolder('tjs')).dir;
    const ids = path.join(tmp(), 'ids.npy');
    fs.writeFileSync(ids, encodeNpy('i8', [1, 8], BigInt64Array.from(ref.prompt_ids, BigInt)));
    const fp32 = await sca('compare', path.join(GPT2_DIR, 'tjs'), steered, '--data', ids, '--json', '-');
    expect(fp32.code, fp32.err).toBe(0);
    expect(JSON.parse(fp32.out).patched).toBe(path.join(steered, 'onnx/model.onnx'));
    const fp16 = await sca('compare', path.join(GPT2_DIR, 'tjs'), steered, '--data', ids, '--variant', 'fp16', '--json', '-');
    expect(JSON.parse(fp16.out).intact).toBe(path.join(GPT2_DIR, 'tjs/onnx/model_fp16.onnx'));
    const none = await sca('compare', path.join(GPT2_DIR, 'tjs'), steered, '--data', ids, '--variant', 'q8');
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/variant 'q8': no file of the folder is that variant/);
    const spec = path.join(tmp(), 'spec.json');
    fs.writeFileSync(
      spec,
      JSON.stringify({
        intact: path.join(GPT2_DIR, 'tjs'),
        data: ids,
        checks: [{ name: 'the steered folder differs', patched: steered, metric: 'mse', output: 'logits', min: 1e-4 }],
      }),
    );
    const check = await sca('check', spec);
    expect(check.code, check.out + check.err).toBe(0);
  });
});

describe('sca inspect DIR', () => {
  it('summarises every variant: dtype, weights, quantization, I/O and the KV-cache layout, and a merged decoder as such', async () => {
    const r = await sca('inspect', path.join(GPT2_DIR, 'tjs'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/\(2 ONNX variants, 4 other files\)/);
    expect(r.out).toMatch(/onnx\/model_fp16\.onnx  fp16, [\d.]+ kB\n    weights       float16 /);
    expect(r.out).toMatch(/KV cache      2 layers of key\/value float16 \[batch_size, 2, past_sequence_length, 32\]/);
    const merged = await sca('inspect', path.join(GPT2_DIR, 'merged'), '--json', '-');
    const summary = JSON.parse(merged.out);
    expect(summary.variants[0]).toMatchObject({ file: 'onnx/decoder_model_merged.onnx', merged: 'use_cache_branch', cache: { layers: 2 }, quantization: [] });
    const int4 = JSON.parse((await sca('inspect', path.join(GPT2_DIR, '..', 'genai', 'int4'), '--json', '-')).out);
    expect(int4.variants[0].quantization).toEqual(['MatMulNBits (block-quantized weights): 15 weights, 4-bit, block 32, asymmetric (zero points)']);
    expect(int4.files).toContain('model.onnx.data');
  });
});

describe('external data split across files', () => {
  it('keeps chunked data (model.onnx_data, model.onnx_data_1) file for file, byte for byte, and the result decodes as PyTorch’s', async () => {
    // The opset-17 variant with its weights re-laid over two data files, as large exports chunk them.
    const dir = copyFixtureFolder('tjs-op17', path.join(tmp(), 'chunked'));
    const file = path.join(dir, 'onnx/model.onnx');
    const model = loadModel(file);
    const external = model.proto.graph!.initializer.filter((t) => t.externalData.length > 0);
    const chunks = [path.join(dir, 'onnx/model.onnx_data'), path.join(dir, 'onnx/model.onnx_data_1')].map((f) => ({ f, parts: [] as Uint8Array[], at: 0 }));
    external.forEach((t, i) => {
      const bytes = tensorBytes(t, path.dirname(file));
      const c = chunks[i % 2];
      t.externalData = [
        { key: 'location', value: path.basename(c.f) },
        { key: 'offset', value: String(c.at) },
        { key: 'length', value: String(bytes.length) },
      ];
      c.parts.push(bytes);
      c.at += bytes.length;
    });
    for (const c of chunks) fs.writeFileSync(`${c.f}.new`, Buffer.concat(c.parts));
    for (const c of chunks) fs.renameSync(`${c.f}.new`, c.f);
    fs.writeFileSync(file, modelBytes(model));
    const out = path.join(tmp(), 'chunked-steered');
    const r = await sca(
      'patch',
      dir,
      '-o',
      out,
      '--tensor',
      siteTensor(ref, 'resid_block0', 'tjs-op17/onnx/model.onnx'),
      '--mode',
      'steer',
      '--direction',
      `@${DIRECTION}`,
      '--strength',
      String(ref.steer.alpha),
    );
    expect(r.code, r.err).toBe(0);
    expect(fs.readdirSync(path.join(out, 'onnx')).sort()).toEqual(['model.onnx', 'model.onnx_data', 'model.onnx_data_1']);
    for (const f of ['model.onnx_data', 'model.onnx_data_1']) expect(sameBytes(path.join(dir, 'onnx', f), path.join(out, 'onnx', f)), f).toBe(true);
    const got = await decodeGpt2(path.join(out, 'onnx/model.onnx'), ref);
    expect(maxAbsDiff(got.logits, ref.steer.logits)).toBeLessThan(1e-4);
  });
});

describe('sca patch on an optimum merged decoder (If on use_cache_branch)', () => {
  it('patches the tensor in both branches: the prompt (no-past branch) and every step with past (with-past branch) are PyTorch’s', async () => {
    const r = await steerFolder('merged');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      /in 2 nested graphs that each define it: else_branch of If 'optimum::if' \(sca\/steer_0\/\), then_branch of If 'optimum::if' \(sca\/steer_1\/\)/,
    );
    const got = await decodeGpt2(path.join(r.dir, 'onnx/decoder_model_merged.onnx'), ref);
    expect(maxAbsDiff(got.logits, ref.steer.logits)).toBeLessThan(1e-4);
    expect(maxAbsDiff(got.stepLogits, ref.steer.step_logits)).toBeLessThan(1e-4);
    expect(got.tokens).toEqual(ref.steer.greedy);
    expect(await generate(r.dir, 'fp32', 'decoder_model_merged')).toEqual(ref.steer.greedy);
  }, 60_000);

  it('inspect --tensors lists the branch tensors under their branch', async () => {
    const r = await sca('inspect', '--tensors', '--filter', 'h.0/Add_1', path.join(GPT2_DIR, 'merged/onnx/decoder_model_merged.onnx'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      /== in then_branch of If 'optimum::if' ==[\s\S]*\/transformer\/h\.0\/Add_1_output_0 +Add +float32 \[batch_size, sequence_length, 64\]/,
    );
    expect(r.out).toMatch(/== in else_branch of If 'optimum::if' ==[\s\S]*\/transformer\/h\.0\/Add_1_output_0/);
  });
});

describe('hostile model folders: one line, exit 2, no output folder', () => {
  const cases: [string, (dir: string) => void, RegExp][] = [
    ['a symlink leading out of the folder', (d) => fs.symlinkSync('/etc/passwd', path.join(d, 'notes.txt')), /'notes.txt' is a symbolic link/],
    ['a config.json that is not JSON', (d) => fs.writeFileSync(path.join(d, 'config.json'), '{"model_type": "gpt2",'), /config\.json: not valid JSON/],
    ['a tokenizer.json that is not JSON', (d) => fs.writeFileSync(path.join(d, 'tokenizer.json'), 'not json'), /tokenizer\.json: not valid JSON/],
    [
      'a truncated variant',
      (d) => {
        const f = path.join(d, 'onnx/model_fp16.onnx');
        fs.truncateSync(f, 1000);
      },
      /model_fp16\.onnx.*(truncated|corrupt)/,
    ],
  ];
  for (const [what, breakIt, message] of cases) {
    it(what, async () => {
      const dir = copyFixtureFolder('tjs', path.join(tmp(), 'in'));
      breakIt(dir);
      const out = path.join(tmp(), 'out');
      const r = await sca('patch', dir, '-o', out, '--tensor', RESID, '--mode', 'steer', '--direction', `@${DIRECTION}`);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(fs.existsSync(out)).toBe(false);
      expect(fs.readdirSync(tmp()).sort()).toEqual(['in']);
    });
  }

  it('two variants that disagree on the width of the target', async () => {
    const dir = copyFixtureFolder('tjs', path.join(tmp(), 'in'));
    // Another model standing in as the fp16 variant: a tensor of the same name, 32 wide instead of 64.
    const narrow = model({
      node: [node('Relu', ['x'], [RESID]), node('Relu', [RESID], ['y'])],
      input: [makeValueInfo('x', DataType.FLOAT, ['batch_size', 'sequence_length', 32])],
      output: [makeValueInfo('y', DataType.FLOAT, ['batch_size', 'sequence_length', 32])],
    });
    fs.writeFileSync(path.join(dir, 'onnx/model_fp16.onnx'), modelBytes(narrow));
    const out = path.join(tmp(), 'out');
    const r = await sca('patch', dir, '-o', out, '--tensor', RESID, '--mode', 'suppress', '--dims', '0,1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /the variants disagree on the width of '\/transformer\/h\.0\/Add_1_output_0': onnx\/model\.onnx has 64, onnx\/model_fp16\.onnx has 32/,
    );
    expect(fs.existsSync(out)).toBe(false);
  });

  it('ablate: two variants that disagree on the width of the target', async () => {
    // Two autoencoders whose 'latent' is 5 and 7 wide: dims [1] fits both, but they are not one model.
    const dir = path.join(tmp(), 'in');
    fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'onnx/model.onnx'), modelBytes(gemmAutoencoder(5)));
    fs.writeFileSync(path.join(dir, 'onnx/model_fp16.onnx'), modelBytes(gemmAutoencoder(7)));
    const out = path.join(tmp(), 'out');
    const r = await sca('ablate', dir, '-o', out, '--tensor', 'latent', '--dims', '1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/the variants disagree on the width of 'latent': onnx\/model\.onnx has 5, onnx\/model_fp16\.onnx has 7/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('an output folder inside the input folder', async () => {
    const dir = copyFixtureFolder('tjs', path.join(tmp(), 'in'));
    const r = await sca('patch', dir, '-o', path.join(dir, 'out'), '--tensor', RESID, '--mode', 'steer', '--direction', `@${DIRECTION}`);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/must be outside the input folder/);
    expect(fs.existsSync(path.join(dir, 'out'))).toBe(false);
  });
});

describe('a folder with fp32, fp16, q8 and q4 variants', () => {
  it('ablate DIR zeroes the same units in all four; q8 and q4 equal their inserted-patch twins; transformers.js generates from each', async () => {
    const { quantizeDynamic, quantizeNBits } = await import('../helpers/q8.js');
    const { patchModel } = await import('../../src/rewrite/patch.js');
    const dir = copyFixtureFolder('tjs', path.join(tmp(), 'q8'));
    const q8 = loadModel(path.join(dir, 'onnx/model.onnx'));
    expect(quantizeDynamic(q8)).toBeGreaterThan(8);
    fs.writeFileSync(path.join(dir, 'onnx/model_quantized.onnx'), modelBytes(q8));
    const q4 = loadModel(path.join(dir, 'onnx/model.onnx'));
    expect(quantizeNBits(q4)).toBeGreaterThan(8);
    fs.writeFileSync(path.join(dir, 'onnx/model_q4.onnx'), modelBytes(q4));
    // The packing is the op's: onnxruntime's MatMulNBits gives what MatMul gives on the weights the view decodes.
    const dequantized = loadModel(path.join(dir, 'onnx/model_q4.onnx'));
    const g = dequantized.proto.graph!;
    g.node = g.node.map((n) => {
      if (n.opType !== 'MatMulNBits') return n;
      const t = (name: string) => g.initializer.find((x) => x.name === name)!;
      const attr = (name: string) => Number(n.attribute.find((x) => x.name === name)!.i);
      const layout = { K: attr('K'), N: attr('N'), bits: 4, blockSize: attr('block_size') };
      const w = nbitsView(layout, { b: t(n.input[1]), scales: t(n.input[2]), zeroPoints: t(n.input[3]) }, dir, n.name!).read();
      g.initializer.push(makeTensor(`${n.name}/dequantized`, DataType.FLOAT, [layout.K, layout.N], w));
      return { ...n, opType: 'MatMul', domain: '', attribute: [], input: [n.input[0], `${n.name}/dequantized`] };
    });
    const dequantizedFile = path.join(tmp(), 'dequantized.onnx');
    fs.writeFileSync(dequantizedFile, modelBytes(dequantized));
    const q4Logits = (await decodeGpt2(path.join(dir, 'onnx/model_q4.onnx'), ref, 1)).logits;
    expect(maxAbsDiff(q4Logits, (await decodeGpt2(dequantizedFile, ref, 1)).logits)).toBeLessThan(1e-4);
    const hidden = siteTensor(ref, 'mlp0_hidden', 'tjs/onnx/model.onnx');
    const out = path.join(tmp(), 'q8-ablated');
    const r = await sca('ablate', dir, '-o', out, '--tensor', hidden, '--dims', '1,3');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^onnx\/model_quantized\.onnx \(q8\): zeroed dims \[1, 3\] of .* in 3 weights$/m);
    expect(r.out).toMatch(/^onnx\/model_q4\.onnx \(q4\): zeroed dims \[1, 3\] of .* in 3 weights$/m);
    // Each quantized variant ablated equals the same variant with the units zeroed by an inserted patch.
    for (const file of ['onnx/model_quantized.onnx', 'onnx/model_q4.onnx']) {
      const twin = loadModel(path.join(dir, file));
      patchModel(twin, [{ tensor: hidden, mode: 'suppress', dims: [1, 3], strength: 1 }]);
      const twinFile = path.join(tmp(), 'twin.onnx');
      fs.writeFileSync(twinFile, modelBytes(twin));
      const [a, b] = [await decodeGpt2(path.join(out, file), ref, 1), await decodeGpt2(twinFile, ref, 1)];
      expect(maxAbsDiff(a.logits, b.logits), file).toBeLessThan(1e-5);
    }
    // The q4 variant kept its encoding: no float weight appeared.
    const q4Types = (f: string) =>
      loadModel(f)
        .proto.graph!.initializer.map((t) => `${t.name} ${t.dataType}`)
        .sort();
    expect(q4Types(path.join(out, 'onnx/model_q4.onnx'))).toEqual(q4Types(path.join(dir, 'onnx/model_q4.onnx')));
    expect(maxAbsDiff((await decodeGpt2(path.join(out, 'onnx/model.onnx'), ref, 1)).logits, ref.weight_edits.ablate_mlp0_hidden.logits)).toBeLessThan(1e-4);
    for (const dtype of ['fp32', 'fp16', 'q8', 'q4'] as const) expect(await generate(out, dtype), dtype).toHaveLength(ref.intact.greedy.length);
  }, 90_000);
});
