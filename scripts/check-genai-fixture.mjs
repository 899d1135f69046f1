#!/usr/bin/env node
// Checks test/fixtures/genai/ (made by scripts/make_genai_fixture.py) in onnxruntime-node on the CPU:
//  - each variant's logits on the prompt (empty past, length 0) against PyTorch's intact_logits;
//  - /model/layers.1/input_layernorm/output_3 (made a graph output in a temporary copy under the
//    system temp dir, never in test/fixtures) against residual_after_layer0;
//  - 12 greedy tokens with the KV cache (present -> past, attention_mask growing) against PyTorch's.
// Prints the max abs diffs; exits 1 on any mismatch.
//   node scripts/check-genai-fixture.mjs
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

const DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'genai');
const ref = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8'));
const { layers, kv_heads: kvHeads, head_dim: headDim, vocab } = ref.config;
const VARIANTS = [
  { folder: 'fp32', ref: 'fp32', tol: 1e-4 },
  { folder: 'fp32-value-info', ref: 'fp32', tol: 1e-4 },
  { folder: 'int4', ref: 'int4', tol: 1e-3 },
];
let failed = false;

// ---- protobuf: append `graph { output { name, type float tensor } }` to a ModelProto. Concatenated
// messages merge, and repeated fields append, so this adds one graph output without parsing the model.
function varint(n) {
  const out = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
const field = (num, bytes) => [...varint((num << 3) | 2), ...varint(bytes.length), ...bytes];
function withExtraOutput(modelBytes, name) {
  const tensorType = [0x08, 0x01]; // TypeProto.Tensor.elem_type = FLOAT
  const valueInfo = [...field(1, [...Buffer.from(name, 'utf8')]), ...field(2, field(1, tensorType))];
  const graph = field(12, valueInfo); // GraphProto.output
  return Buffer.concat([modelBytes, Buffer.from(field(7, graph))]); // ModelProto.graph
}

const i64 = (arr, dims) => new ort.Tensor('int64', BigInt64Array.from(arr.map(BigInt)), dims);
function emptyPast() {
  const feeds = {};
  for (let i = 0; i < layers; i++)
    for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  return feeds;
}
function maxDiff(a, b, label) {
  if (a.length !== b.length) throw new Error(`${label}: length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
function report(label, diff, tol) {
  const ok = diff < tol;
  if (!ok) failed = true;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${label}: max |ORT - torch| = ${diff.toExponential(3)} (tol ${tol})`);
}
const argmaxLast = (logits, seq) => {
  let best = 0;
  const off = (seq - 1) * vocab;
  for (let v = 1; v < vocab; v++) if (logits[off + v] > logits[off + best]) best = v;
  return best;
};

const prompt = ref.prompt;
const n = prompt.length;
const promptFeeds = () => ({
  input_ids: i64(prompt, [1, n]),
  attention_mask: i64(Array(n).fill(1), [1, n]),
  position_ids: i64(ref.position_ids, [1, n]),
  ...emptyPast(),
});

const tmp = mkdtempSync(join(tmpdir(), 'sca-genai-check-'));
try {
  for (const v of VARIANTS) {
    const r = ref[v.ref];
    const modelPath = join(DIR, v.folder, 'model.onnx');
    const session = await ort.InferenceSession.create(modelPath);

    // 1. prompt logits
    const out = await session.run(promptFeeds());
    report(`${v.folder} logits [1,${n},${vocab}] vs ${v.ref} intact_logits`, maxDiff(out.logits.data, r.intact_logits, 'logits'), v.tol);
    for (let i = 0; i < layers; i++) {
      const dims = out[`present.${i}.key`].dims.join(',');
      if (dims !== `1,${kvHeads},${n},${headDim}`) {
        failed = true;
        console.log(`FAIL present.${i}.key dims ${dims}`);
      }
    }

    // 2. the residual after layer 0, by name
    const dbgDir = mkdtempSync(join(tmp, `${v.folder}-`));
    writeFileSync(join(dbgDir, 'model.onnx'), withExtraOutput(readFileSync(modelPath), ref.residual_tensor));
    copyFileSync(join(DIR, v.folder, 'model.onnx.data'), join(dbgDir, 'model.onnx.data')); // ORT refuses a symlink out of the model dir
    const dbg = await ort.InferenceSession.create(join(dbgDir, 'model.onnx'));
    const dout = await dbg.run(promptFeeds());
    const res = dout[ref.residual_tensor];
    report(`${v.folder} ${ref.residual_tensor} [${res.dims}] vs residual_after_layer0`, maxDiff(res.data, r.residual_after_layer0, 'residual'), v.tol);
    await dbg.release();

    // 3. greedy decoding with the KV cache
    let feeds = promptFeeds();
    let o = out;
    let total = n;
    const tokens = [];
    const want = ref.greedy[v.ref].intact;
    for (let step = 0; step < want.length; step++) {
      const seq = o.logits.dims[1];
      const t = argmaxLast(o.logits.data, seq);
      tokens.push(t);
      if (step === want.length - 1) break;
      feeds = {
        input_ids: i64([t], [1, 1]),
        attention_mask: i64(Array(total + 1).fill(1), [1, total + 1]),
        position_ids: i64([total], [1, 1]),
      };
      for (let i = 0; i < layers; i++) for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = o[`present.${i}.${kv}`];
      total += 1;
      o = await session.run(feeds);
    }
    const same = tokens.every((t, i) => t === want[i]);
    if (!same) failed = true;
    console.log(`${same ? 'ok  ' : 'FAIL'} ${v.folder} greedy with KV cache: ${JSON.stringify(tokens)}${same ? '' : ` != torch ${JSON.stringify(want)}`}`);
    await session.release();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (failed) {
  console.log('genai fixture check FAILED');
  process.exit(1);
}
console.log('genai fixture check passed');
