#!/usr/bin/env node
// Checks test/fixtures/gpt2-folder/ (made by scripts/make_gpt2_folder_fixture.py) on the CPU:
//  - transformers.js's tokenizer (AutoTokenizer, local files only) gives the prompt ids PyTorch used;
//  - in onnxruntime-node, for tjs fp32, tjs fp16, tjs-op17 and merged: the prompt's logits (empty past,
//    length 0) against PyTorch's, then 12 greedy tokens with the KV cache (present -> past, attention_mask
//    growing, position_ids the step's position) and each step's last-position logits. The merged model
//    takes the else branch (no past) on the prompt and the then branch (with past) after; its then branch
//    is also run on the prompt with an empty past;
//  - each site tensor named in reference.json holds PyTorch's activation: the sites are made graph
//    outputs (inside both If branches for merged) in copies under the system temp dir;
//  - graph patches in such copies: + alpha * direction at resid_block0 (every variant, both branches of
//    merged; prompt, step logits and greedy tokens with the KV cache against the steered references), and
//    the four weight edits on tjs fp32's initializers (prompt logits);
//  - transformers.js itself (AutoModelForCausalLM + generate, greedy, 12 new tokens) on tjs/ in fp32 and
//    fp16, and on tjs-op17/ and merged/ (decoder_model_merged) in fp32, gives PyTorch's greedy tokens.
// Prints a table of max |diff| per case; exits 1 on any failure.
//   node scripts/check-gpt2-folder-fixture.mjs
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { AutoModelForCausalLM, AutoTokenizer, env } from '@huggingface/transformers';

const { onnx } = onnxProto;
const DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'gpt2-folder');
const ref = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8'));
const { n_layer: layers, n_head: heads, head_dim: headDim, vocab_size: vocab, n_embd: N_EMBD } = ref.config;
const prompt = ref.prompt_ids;
const n = prompt.length;

// fp16 bound from the reference's error scale (see README.md): rounding the weights alone moves the
// logits by weights_rounded_to_fp16; fp16 arithmetic adds a few ulps at the largest logit.
const es = ref.fp16.error_scale;
const FP16_TOL = 4 * es.weights_rounded_to_fp16 + 4 * es.fp16_ulp_at_max_logit;
const FP32_TOL = 1e-4;

const rows = [];
let failed = false;
function row(kase, diff, tol, note = '') {
  const ok = Number.isFinite(diff) && diff < tol;
  if (!ok) failed = true;
  rows.push({ ok, kase, diff, tol, note });
}
function rowEq(kase, got, want) {
  const ok = JSON.stringify(got) === JSON.stringify(want);
  if (!ok) failed = true;
  rows.push({ ok, kase, diff: ok ? 0 : NaN, tol: null, note: ok ? JSON.stringify(got) : `${JSON.stringify(got)} != ${JSON.stringify(want)}` });
}

// ---- float16 (independent of the project's decoder)
function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
const values = (t) => (t.type === 'float16' ? Array.from(t.data, halfToFloat) : Array.from(t.data));
function maxDiff(a, b, label) {
  if (a.length !== b.length) throw new Error(`${label}: length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
const argmax = (xs) => xs.reduce((best, v, i) => (v > xs[best] ? i : best), 0);

const i64 = (arr, dims) => new ort.Tensor('int64', BigInt64Array.from(arr.map(BigInt)), dims);
function emptyPast(type) {
  const feeds = {};
  const data = type === 'float16' ? new Uint16Array(0) : new Float32Array(0);
  for (let i = 0; i < layers; i++) for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor(type, data, [1, heads, 0, headDim]);
  return feeds;
}
const promptFeeds = (type) => ({
  input_ids: i64(prompt, [1, n]),
  attention_mask: i64(Array(n).fill(1), [1, n]),
  position_ids: i64(ref.position_ids, [1, n]),
  ...emptyPast(type),
});

// ---- onnxruntime-node: prompt, then greedy with the KV cache
const VARIANTS = [
  { label: 'tjs fp32', file: 'tjs/onnx/model.onnx', type: 'float32', tol: FP32_TOL },
  { label: 'tjs fp16', file: 'tjs/onnx/model_fp16.onnx', type: 'float16', tol: FP16_TOL },
  { label: 'tjs-op17', file: 'tjs-op17/onnx/model.onnx', type: 'float32', tol: FP32_TOL, data: 'model.onnx_data' },
  { label: 'merged', file: 'merged/onnx/decoder_model_merged.onnx', type: 'float32', tol: FP32_TOL, merged: true },
];
const branch = (v, useCache) => (v.merged ? { use_cache_branch: new ort.Tensor('bool', [useCache], [1]) } : {});

/** The prompt with an empty past, then greedy decoding with the KV cache; diffs against `want` ({logits, step_logits, greedy}). */
async function decode(session, v, want) {
  let out = await session.run({ ...promptFeeds(v.type), ...branch(v, false) });
  const promptDiff = maxDiff(values(out.logits), want.logits, 'logits');
  const presentDims = out['present.0.key'].dims.join(',');
  const tokens = [];
  let stepDiff = 0;
  for (let total = n; ; total++) {
    const all = values(out.logits);
    const seq = out.logits.dims[1];
    const last = all.slice((seq - 1) * vocab, seq * vocab);
    const step = tokens.length;
    stepDiff = Math.max(stepDiff, maxDiff(last, want.step_logits.slice(step * vocab, (step + 1) * vocab), 'step logits'));
    tokens.push(argmax(last));
    if (tokens.length === ref.greedy_steps) break;
    const feeds = {
      input_ids: i64([tokens.at(-1)], [1, 1]),
      attention_mask: i64(Array(total + 1).fill(1), [1, total + 1]),
      position_ids: i64([total], [1, 1]),
      ...branch(v, true),
    };
    for (let i = 0; i < layers; i++) for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
    out = await session.run(feeds);
  }
  return { promptDiff, stepDiff, tokens, presentDims };
}
function decodeRows(label, v, r, want) {
  row(`${label}: prompt logits [1,${n},${vocab}]${v.merged ? ' (else branch, empty past)' : ' (empty past)'}`, r.promptDiff, v.tol);
  row(`${label}: ${ref.greedy_steps} step logits with KV cache${v.merged ? ' (then branch after the prompt)' : ''}`, r.stepDiff, v.tol);
  rowEq(`${label}: greedy tokens with KV cache`, r.tokens, want.greedy);
}

for (const v of VARIANTS) {
  const session = await ort.InferenceSession.create(join(DIR, v.file));
  const r = await decode(session, v, ref.intact);
  if (r.presentDims !== `1,${heads},${n},${headDim}`) rowEq(`${v.label}: present.0.key dims`, r.presentDims, `1,${heads},${n},${headDim}`);
  decodeRows(v.label, v, r, ref.intact);
  if (v.merged) {
    const then = await session.run({ ...promptFeeds(v.type), ...branch(v, true) });
    row(`${v.label}: prompt logits (then branch, empty past)`, maxDiff(values(then.logits), ref.intact.logits, 'logits'), v.tol);
  }
  await session.release();
}

// ---- sites: each named tensor holds PyTorch's activation on the prompt
const tmp = mkdtempSync(join(tmpdir(), 'sca-gpt2-folder-check-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
function valueInfo(name, elemType) {
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType } } });
}
async function siteRun(v, edit) {
  const model = onnx.ModelProto.decode(readFileSync(join(DIR, v.file)));
  const names = edit(model.graph);
  const dir = mkdtempSync(join(tmp, 'm-'));
  writeFileSync(join(dir, 'model.onnx'), onnx.ModelProto.encode(model).finish());
  if (v.data) copyFileSync(join(DIR, dirname(v.file), v.data), join(dir, v.data)); // ORT refuses a data file outside the model's dir
  const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
  const out = await session.run({ ...promptFeeds(v.type), ...branch(v, v.useCache ?? false) });
  await session.release();
  return Object.fromEntries(Object.entries(names).map(([site, name]) => [site, out[name]]));
}
const elemType = (v) => (v.type === 'float16' ? onnx.TensorProto.DataType.FLOAT16 : onnx.TensorProto.DataType.FLOAT);
const siteTol = (v, site) => (v.type === 'float16' ? 8 * Math.max(...ref.sites[site].value.map(Math.abs)) * 2 ** -11 : FP32_TOL);
function compareSites(label, v, got) {
  for (const [site, t] of Object.entries(got)) {
    const s = ref.sites[site];
    if (t.dims.join(',') !== s.torch_shape.join(',')) rowEq(`${label}: ${site} dims`, t.dims, s.torch_shape);
    else row(`${label}: site ${site}`, maxDiff(values(t), s.value, site), siteTol(v, site));
  }
}
for (const v of VARIANTS.filter((x) => !x.merged)) {
  const got = await siteRun(v, (g) => {
    const names = Object.fromEntries(Object.keys(ref.sites).map((site) => [site, ref.sites[site].tensors[v.file]]));
    for (const name of Object.values(names)) g.output.push(valueInfo(name, elemType(v)));
    return names;
  });
  compareSites(v.label, v, got);
}
// merged: in each branch an Identity copies the branch's site tensor to a common name that becomes a
// branch output, an If output and a graph output.
const merged = VARIANTS.find((x) => x.merged);
for (const [which, useCache] of [
  ['else_branch', false],
  ['then_branch', true],
]) {
  const got = await siteRun({ ...merged, useCache }, (g) => {
    const ifNode = g.node.find((x) => x.opType === 'If');
    const names = {};
    for (const site of Object.keys(ref.sites)) {
      const common = `site.${site}`;
      names[site] = common;
      for (const attr of ifNode.attribute) {
        const inner = ref.sites[site].tensors[`${merged.file}#${attr.name}`];
        attr.g.node.push(onnx.NodeProto.create({ opType: 'Identity', name: `check/${site}`, input: [inner], output: [common] }));
        attr.g.output.push(valueInfo(common, elemType(merged)));
      }
      ifNode.output.push(common);
      g.output.push(valueInfo(common, elemType(merged)));
    }
    return names;
  });
  compareSites(`merged ${which}`, merged, got);
}

// ---- graph patches and weight edits in onnxruntime against the PyTorch references
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
/** float32 -> float16 bits, round to nearest even (normal range; tiny values flush to 0). */
function floatToHalf(x) {
  const u = new Uint32Array(Float32Array.of(x).buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const e = ((u >>> 23) & 0xff) - 112;
  const m = u & 0x7fffff;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) return sign;
  const h = sign | (e << 10) | (m >> 13);
  const rest = m & 0x1fff;
  return rest > 0x1000 || (rest === 0x1000 && h & 1) ? h + 1 : h;
}
const floatTensor = (name, data, dims, type) =>
  onnx.TensorProto.create({
    name,
    dataType: type === 'float16' ? FLOAT16 : FLOAT,
    dims,
    rawData: new Uint8Array(type === 'float16' ? Uint16Array.from(data, floatToHalf).buffer : Float32Array.from(data).buffer),
  });
/** In graph g: site -> Add(site, alpha * direction) for every reader, inserted right after the site's producer. */
function steerGraph(g, site, type) {
  const out = `${site}/steered`;
  const vec = `${site}/steer_vector`;
  for (const node of g.node) node.input = node.input.map((x) => (x === site ? out : x));
  for (const o of g.output) if (o.name === site) throw new Error('site is a graph output');
  const at = g.node.findIndex((node) => node.output.includes(site));
  g.node.splice(
    at + 1,
    0,
    onnx.NodeProto.create({
      opType: 'Constant',
      name: `${vec}/Constant`,
      output: [vec],
      attribute: [
        {
          name: 'value',
          type: 4,
          t: floatTensor(
            '',
            ref.steer.direction.map((x) => ref.steer.alpha * x),
            [N_EMBD],
            type,
          ),
        },
      ],
    }),
    onnx.NodeProto.create({ opType: 'Add', name: `${site}/steer/Add`, input: [site, vec], output: [out] }),
  );
}
async function patchedSession(v, edit) {
  const model = onnx.ModelProto.decode(readFileSync(join(DIR, v.file)));
  edit(model.graph);
  const dir = mkdtempSync(join(tmp, 'p-'));
  writeFileSync(join(dir, 'model.onnx'), onnx.ModelProto.encode(model).finish());
  if (v.data) copyFileSync(join(DIR, dirname(v.file), v.data), join(dir, v.data));
  return ort.InferenceSession.create(join(dir, 'model.onnx'));
}
const steered = [
  ...VARIANTS.filter((x) => !x.merged).map((v) => [v, (g) => steerGraph(g, ref.sites.resid_block0.tensors[v.file], v.type)]),
  [
    merged,
    (g) => {
      for (const attr of g.node.find((x) => x.opType === 'If').attribute) steerGraph(attr.g, ref.sites.resid_block0.tensors[`${merged.file}#${attr.name}`]);
    },
  ],
];
for (const [v, edit] of steered) {
  const session = await patchedSession(v, edit);
  decodeRows(`${v.label} steered (+${ref.steer.alpha} direction at resid_block0)`, v, await decode(session, v, ref.steer), ref.steer);
  await session.release();
}
// the direction file is the reference's direction
{
  const buf = readFileSync(join(DIR, 'direction.npy'));
  const headerLen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLen).toString('latin1');
  const data = new Float32Array(Uint8Array.from(buf.subarray(10 + headerLen)).buffer);
  const norm = Math.hypot(...data);
  const ok = /'descr': '<f4'/.test(header) && header.includes(`(${N_EMBD},)`) && data.every((x, i) => x === Math.fround(ref.steer.direction[i]));
  rowEq(`direction.npy: float32 [${N_EMBD}] = reference steer.direction (as float32), |d| = ${norm.toFixed(7)}`, ok, true);
}
// weight edits on tjs fp32: the initializers edited as reference.json says; prompt logits
function init(g, name) {
  const t = g.initializer.find((x) => x.name === name);
  if (!t) throw new Error(`no initializer ${name}`);
  return { t, w: new Float32Array(Uint8Array.from(t.rawData).buffer), dims: t.dims.map(Number) };
}
const set = (x, w, dims = x.dims) => Object.assign(x.t, { rawData: new Uint8Array(w.buffer), dims });
const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const mlp0 = 'transformer.h.0.mlp';
const WEIGHT_EDITS = {
  ablate_mlp0_hidden: (g) => {
    const fc = init(g, `${mlp0}.c_fc.weight`); // [64, 256] (in, out)
    const fb = init(g, `${mlp0}.c_fc.bias`);
    const pr = init(g, `${mlp0}.c_proj.weight`); // [256, 64]
    for (const j of [1, 3]) {
      for (let i = 0; i < fc.dims[0]; i++) fc.w[i * fc.dims[1] + j] = 0;
      fb.w[j] = 0;
      pr.w.fill(0, j * pr.dims[1], (j + 1) * pr.dims[1]);
    }
    [fc, fb, pr].forEach((x) => set(x, x.w));
  },
  prune_mlp0_hidden: (g) => {
    const drop = new Set([1, 3]);
    const fc = init(g, `${mlp0}.c_fc.weight`);
    const fb = init(g, `${mlp0}.c_fc.bias`);
    const pr = init(g, `${mlp0}.c_proj.weight`);
    const [nx, nf] = fc.dims;
    const keep = [...Array(nf).keys()].filter((j) => !drop.has(j));
    set(
      fc,
      Float32Array.from({ length: nx * keep.length }, (_, k) => fc.w[Math.floor(k / keep.length) * nf + keep[k % keep.length]]),
      [nx, keep.length],
    );
    set(
      fb,
      Float32Array.from(keep, (j) => fb.w[j]),
      [keep.length],
    );
    set(
      pr,
      Float32Array.from({ length: keep.length * pr.dims[1] }, (_, k) => pr.w[keep[Math.floor(k / pr.dims[1])] * pr.dims[1] + (k % pr.dims[1])]),
      [keep.length, pr.dims[1]],
    );
    // the c_fc output Reshape's target has nf baked in as a Constant
    const c = ref.graph.conv1d_h0_mlp_c_fc['tjs/onnx/model.onnx'].out_shape_nf_constant;
    const node = g.node.find((x) => x.name === c.node);
    node.attribute[0].t = onnx.TensorProto.create({
      dataType: onnx.TensorProto.DataType.INT64,
      dims: [1],
      rawData: new Uint8Array(BigInt64Array.from([BigInt(keep.length)]).buffer),
    });
  },
  fold_ln_f: (g) => {
    const a = ref.weight_edits.fold_ln_f.direction;
    const u = init(g, ref.graph.unembedding_initializer['tjs/onnx/model.onnx']); // W^T [64, 300]
    const [d, V] = u.dims;
    for (let j = 0; j < V; j++) {
      const col = Array.from({ length: d }, (_, i) => u.w[i * V + j]);
      const s = dot(a, col);
      for (let i = 0; i < d; i++) u.w[i * V + j] -= a[i] * s;
    }
    set(u, u.w);
  },
  fold_ln1_block1: (g) => {
    const b = ref.weight_edits.fold_ln1_block1.direction;
    const c = init(g, 'transformer.h.1.attn.c_attn.weight'); // [64, 192] (in, out): W <- (I - b b^T) W
    const [d, N] = c.dims;
    for (let j = 0; j < N; j++) {
      const col = Array.from({ length: d }, (_, i) => c.w[i * N + j]);
      const s = dot(b, col);
      for (let i = 0; i < d; i++) c.w[i * N + j] -= b[i] * s;
    }
    set(c, c.w);
  },
};
for (const [name, edit] of Object.entries(WEIGHT_EDITS)) {
  const v = VARIANTS[0];
  const session = await patchedSession(v, edit);
  const out = await session.run(promptFeeds(v.type));
  row(`tjs fp32 weight edit ${name}: prompt logits`, maxDiff(values(out.logits), ref.weight_edits[name].logits, name), FP32_TOL);
  await session.release();
}

// ---- transformers.js: tokenizer and generate
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = DIR + '/';
for (const folder of ['tjs', 'tjs-op17', 'merged']) {
  const tokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
  rowEq(`transformers.js ${folder}: tokenizer(${JSON.stringify(ref.prompt)}) ids`, tokenizer.encode(ref.prompt), prompt);
  if (folder === 'tjs') rowEq(`transformers.js ${folder}: decode(ids)`, tokenizer.decode(prompt), ref.prompt);
}
const GENERATE = [
  { folder: 'tjs', dtype: 'fp32' },
  { folder: 'tjs', dtype: 'fp16' },
  { folder: 'tjs-op17', dtype: 'fp32' },
  { folder: 'merged', dtype: 'fp32', model_file_name: 'decoder_model_merged' },
];
for (const g of GENERATE) {
  const tokenizer = await AutoTokenizer.from_pretrained(g.folder, { local_files_only: true });
  const model = await AutoModelForCausalLM.from_pretrained(g.folder, {
    local_files_only: true,
    dtype: g.dtype,
    ...(g.model_file_name ? { model_file_name: g.model_file_name } : {}),
  });
  const inputs = tokenizer(ref.prompt);
  const out = await model.generate({ ...inputs, max_new_tokens: ref.greedy_steps, do_sample: false });
  const ids = Array.from(out.data, Number).slice(n);
  rowEq(`transformers.js ${g.folder} ${g.dtype}${g.model_file_name ? ` (${g.model_file_name})` : ''}: generate greedy`, ids, ref.intact.greedy);
  await model.dispose();
}
// ---- table
const w = Math.max(...rows.map((r) => r.kase.length));
console.log(`${'case'.padEnd(w)}  ${'max |diff|'.padStart(10)}  ${'tol'.padStart(9)}  result`);
for (const r of rows) {
  const d = r.tol === null ? (r.ok ? 'equal' : 'differ') : r.diff.toExponential(2);
  const t = r.tol === null ? '' : r.tol.toExponential(2);
  console.log(`${r.kase.padEnd(w)}  ${d.padStart(10)}  ${t.padStart(9)}  ${r.ok ? 'ok' : 'FAIL'}${r.note ? `  ${r.note}` : ''}`);
}
if (failed) {
  console.log('gpt2-folder fixture check FAILED');
  process.exit(1);
}
console.log('gpt2-folder fixture check passed');
