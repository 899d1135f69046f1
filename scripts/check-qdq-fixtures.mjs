#!/usr/bin/env node
/**
 * Checks the QDQ fixtures in test/fixtures/qdq/ in onnxruntime-node. Run by hand:
 *
 *   node scripts/check-qdq-fixtures.mjs [--variants DIR] [--no-build]
 *
 * 1. Each quantized model runs, with graph optimizations on (onnxruntime fuses the QDQ groups into
 *    integer kernels) and off (DequantizeLinear/QuantizeLinear run as written, float arithmetic);
 *    the max |ORT - float_outputs.intact| is the quantization error, since the float reference
 *    holds the same dequantized weights and biases.
 * 2. Edited copies (built by `make_qdq_fixtures.py --variants DIR`, default /tmp/sca-qdq-variants,
 *    from the committed fixtures; never written under test/) insert each reference intervention
 *    either after the site's DequantizeLinear or between the site's producer and its
 *    QuantizeLinear. After the DequantizeLinear must match float_outputs[mode] within about the
 *    quantization error; before the QuantizeLinear, steering (+2a) must be far off.
 *
 *    Tolerance after the DQ: max(2 x intact error, intact error + 2 output steps); "far off": 5 x that.
 * 3. A probe copy exposing the site tensor and its DQ output: the site tensor holds negative
 *    (pre-ReLU) values exactly where the Relu was removed, and the DQ output is relu(site tensor)
 *    on the site's grid (within half a step).
 *
 * Also checks that onnxruntime's QDQ fusion turns every Gemm and Conv into its integer kernel
 * (QGemm, QLinearConv): the Q/DQ groups are laid out the way onnxruntime expects.
 *
 * Exits 1 when a check fails.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = path.join(root, 'test', 'fixtures', 'qdq');
const args = process.argv.slice(2);
const at = args.indexOf('--variants');
const variants = at >= 0 ? path.resolve(args[at + 1]) : '/tmp/sca-qdq-variants';
if (path.resolve(variants).startsWith(path.join(root, 'test') + path.sep)) throw new Error('--variants: not under test/');
const ref = JSON.parse(fs.readFileSync(path.join(fixtures, 'reference.json'), 'utf8'));

if (!args.includes('--no-build')) {
  execFileSync('/usr/bin/python3', [path.join(root, 'scripts', 'make_qdq_fixtures.py'), '--variants', variants], {
    stdio: 'inherit',
  });
}

async function run(file, rec, level, optimizedModelFilePath) {
  const opts = { graphOptimizationLevel: level, intraOpNumThreads: 1 };
  if (optimizedModelFilePath) Object.assign(opts, { optimizedModelFilePath, logSeverityLevel: 3 });
  const session = await ort.InferenceSession.create(file, opts);
  const feeds = {};
  for (const [name, t] of Object.entries(rec.inputs)) feeds[name] = new ort.Tensor('float32', Float32Array.from(t.data), t.shape);
  const out = (await session.run(feeds))[rec.output];
  await session.release();
  return out;
}

function maxAbs(out, expected) {
  if (out.data.length !== expected.data.length || out.dims.join() !== expected.shape.join()) {
    throw new Error(`shape [${out.dims}] != reference [${expected.shape}]`);
  }
  let m = 0;
  for (let i = 0; i < out.data.length; i++) m = Math.max(m, Math.abs(out.data[i] - expected.data[i]));
  return m;
}

const range = (d) => Math.max(...d) - Math.min(...d);
const fmt = (x) => x.toExponential(2);
let failed = 0;
const fail = (msg) => {
  failed++;
  console.log(`  FAIL ${msg}`);
};

for (const [name, rec] of Object.entries(ref.models)) {
  const site = rec.site;
  console.log(`\n${name}: site ${site.tensor} (${site.holds}), ${site.q_node} -> ${site.dq_output} -> ${site.dq_readers.join(', ')}`);
  console.log(
    `  output ${rec.output} quantized: scale ${fmt(rec.output_scale)} (one step); float intact outputs span ${range(rec.float_outputs.intact.data).toFixed(4)}`,
  );
  const intact = {};
  const outs = {};
  const optimized = path.join(os.tmpdir(), `sca-qdq-${process.pid}-${name}.optimized.onnx`);
  for (const level of ['all', 'disabled']) {
    const out = await run(path.join(fixtures, rec.file), rec, level, level === 'all' ? optimized : undefined);
    outs[level] = out;
    intact[level] = maxAbs(out, rec.float_outputs.intact);
    console.log(
      `  intact, optimizations ${level.padEnd(8)}: max |ORT - float intact| = ${fmt(intact[level])} (${(intact[level] / rec.output_scale).toFixed(2)} output steps)`,
    );
  }
  // the site: what the producer writes, and what its DequantizeLinear hands on
  {
    const session = await ort.InferenceSession.create(path.join(variants, `${name}.probe.onnx`), { graphOptimizationLevel: 'disabled' });
    const [input, t] = Object.entries(rec.inputs)[0];
    const got = await session.run({ [input]: new ort.Tensor('float32', Float32Array.from(t.data), t.shape) });
    await session.release();
    const raw = got[site.tensor].data;
    const dq = got[site.dq_output].data;
    const neg = raw.filter((v) => v < 0).length;
    const relu = { dims: got[site.tensor].dims, data: raw.map((v) => Math.max(v, 0)) };
    // the DequantizeLinear output is relu(producer output) on the site's grid: within half a step
    const grid = maxAbs({ dims: got[site.dq_output].dims, data: dq }, { shape: relu.dims, data: relu.data });
    // relu(producer output) vs the float site value: the error the input's quantization brings
    const upstream = maxAbs(relu, { shape: [t.shape[0], ...site.shape.slice(1)], data: site.value });
    console.log(
      `  ${site.tensor}: ${neg} of ${raw.length} values negative (min ${Math.min(...raw).toFixed(4)}); ` +
        `max |DQ output - relu(${site.tensor})| = ${fmt(grid)} (half a site step: ${fmt(site.scale / 2)}); ` +
        `max |relu(${site.tensor}) - float site value| = ${fmt(upstream)}`,
    );
    const removed = site.holds.startsWith('pre-ReLU');
    if (removed !== neg > 0) fail(`${name}: ${site.tensor} should ${removed ? '' : 'not '}hold negative (pre-ReLU) values`);
    if (grid > (site.scale / 2) * (1 + 1e-5)) fail(`${name}: DequantizeLinear output is ${fmt(grid)} from relu(${site.tensor})`);
  }
  const fused = onnxProto.onnx.ModelProto.decode(fs.readFileSync(optimized)).graph.node.map((n) => n.opType);
  fs.rmSync(optimized, { force: true });
  console.log(`  onnxruntime's optimized graph: ${fused.join(' ')}`);
  console.log(`  max |optimized - unoptimized| = ${fmt(maxAbs(outs.all, { shape: outs.disabled.dims, data: outs.disabled.data }))}`);
  if (fused.some((t) => t === 'Gemm' || t === 'Conv')) fail(`${name}: a float Gemm/Conv was left unfused`);
  const qerr = Math.max(intact.all, intact.disabled);
  // "within the quantization error": a few output steps (the output's own rounding is half a step;
  // the input, site and inner activations add their rounding on top).
  const tol = Math.max(2 * qerr, qerr + 2 * rec.output_scale);
  if (qerr > 6 * rec.output_scale) fail(`${name}: intact error ${fmt(qerr)} is more than 6 output steps`);

  console.log(`  edited copies vs float_outputs[mode] (max |diff|, optimizations all / disabled); tolerance after DQ ${fmt(tol)}:`);
  console.log(`    ${'mode'.padEnd(14)} ${'|float - float intact|'.padEnd(24)} ${'after DequantizeLinear'.padEnd(24)} before QuantizeLinear`);
  for (const mode of Object.keys(rec.float_outputs)) {
    const row = {};
    for (const where of ['after_dq', 'before_q']) {
      const file = path.join(variants, `${name}.${mode}.${where}.onnx`);
      const e = [];
      for (const level of ['all', 'disabled']) e.push(maxAbs(await run(file, rec, level), rec.float_outputs[mode]));
      row[where] = e;
    }
    const cell = (e) => `${fmt(e[0])} / ${fmt(e[1])}`;
    const moved = maxAbs({ dims: rec.float_outputs.intact.shape, data: rec.float_outputs.intact.data }, rec.float_outputs[mode]);
    console.log(`    ${mode.padEnd(14)} ${fmt(moved).padEnd(24)} ${cell(row.after_dq).padEnd(24)} ${cell(row.before_q)}`);
    if (Math.max(...row.after_dq) > tol) fail(`${name} ${mode}: after DQ ${fmt(Math.max(...row.after_dq))} > ${fmt(tol)}`);
    if (mode === 'steer' && Math.min(...row.before_q) < 5 * tol) {
      fail(`${name} steer: before Q ${fmt(Math.min(...row.before_q))} is not far off (< 5 x ${fmt(tol)})`);
    }
  }
}
console.log(failed ? `\n${failed} check(s) failed` : '\nall checks passed');
process.exit(failed ? 1 : 0);
