/**
 * Checks shape inference against ONNX's conformance test data (Debian's
 * `libonnx-testdata`, or any folder laid out like onnx/backend/test/data):
 * each test's inputs come from its test_data_set_0/input_*.pb (small integer
 * inputs as values), and every graph output's inferred type and shape must
 * equal the dims of output_*.pb. Run by hand, never at test time:
 *
 *   npm run build && node dist/scripts/check-inference.js [/usr/share/libonnx-testdata/data] [--verbose]
 *
 * Prints one line per disagreement (a bug) and a summary of the tests where
 * inference stopped, grouped by reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeMessage } from '../src/onnx/codec.js';
import { loadModel } from '../src/onnx/model.js';
import type { TensorProto } from '../src/onnx/types.js';
import { knownOfTensor } from '../src/ir/infer/constants.js';
import { formatShape } from '../src/ir/infer/dims.js';
import { graphKnowns, inferGraph, type GraphInference } from '../src/ir/infer/graph.js';
import { domainKey } from '../src/onnx/graph.js';

function readTensor(file: string): TensorProto {
  return decodeMessage(fs.readFileSync(file), 'TensorProto') as unknown as TensorProto;
}

interface Outcome {
  test: string;
  kind: 'ok' | 'symbolic' | 'mismatch' | 'stopped' | 'skipped';
  detail: string;
}

function checkTest(dir: string): Outcome {
  const test = path.basename(dir);
  const data = path.join(dir, 'test_data_set_0');
  if (!fs.existsSync(data)) return { test, kind: 'skipped', detail: 'no test data' };
  let model;
  try {
    model = loadModel(path.join(dir, 'model.onnx'));
  } catch (e) {
    return { test, kind: 'skipped', detail: `cannot load: ${(e as Error).message}` };
  }
  const g = model.proto.graph!;
  const known = graphKnowns(g);
  const initialized = new Set(g.initializer.map((t) => t.name));
  const inputs = g.input.filter((i) => !initialized.has(i.name));
  inputs.forEach((vi, i) => {
    const file = path.join(data, `input_${i}.pb`);
    if (vi.name && fs.existsSync(file) && vi.type?.tensorType) known.set(vi.name, knownOfTensor(readTensor(file)));
  });
  const opsets = new Map(model.proto.opsetImport.map((o) => [domainKey(o.domain), Number(o.version)]));
  let r: GraphInference;
  try {
    r = inferGraph(g.node, known, (d) => opsets.get(d));
  } catch (e) {
    return { test, kind: 'mismatch', detail: `inferGraph threw: ${(e as Error).stack}` };
  }
  let symbolic = '';
  for (const [i, vi] of g.output.entries()) {
    const file = path.join(data, `output_${i}.pb`);
    if (!vi.name || !fs.existsSync(file) || !vi.type?.tensorType) continue;
    const expected = readTensor(file);
    const got = r.values.get(vi.name);
    if (!got?.type?.shape) {
      const s = r.stopFor(vi.name);
      return { test, kind: 'stopped', detail: s ? `${s.opType}: ${s.reason}` : 'no shape, no reason' };
    }
    const want = expected.dims.map(Number);
    const shape = got.type.shape;
    // The test data stores bfloat16 outputs as uint16.
    const sameElem = got.type.elemType === expected.dataType || (got.type.elemType === 16 && expected.dataType === 4);
    const agrees = shape.length === want.length && shape.every((d, k) => typeof d !== 'number' || d === want[k]);
    if (!sameElem || !agrees) {
      return {
        test,
        kind: 'mismatch',
        detail: `'${vi.name}': inferred ${got.type.elemType} ${formatShape(shape)}, expected ${expected.dataType} ${formatShape(want)}`,
      };
    }
    // A symbol where the data has a length: data-dependent (NonZero, a Loop's trip count), not wrong.
    if (shape.some((d) => typeof d !== 'number')) symbolic = `'${vi.name}': ${formatShape(shape)} for ${formatShape(want)}`;
  }
  return symbolic ? { test, kind: 'symbolic', detail: symbolic } : { test, kind: 'ok', detail: '' };
}

const args = process.argv.slice(2);
const root = args.find((a) => !a.startsWith('--')) ?? '/usr/share/libonnx-testdata/data';
const verbose = args.includes('--verbose');
const outcomes: Outcome[] = [];
for (const group of ['node', 'pytorch-converted', 'pytorch-operator', 'simple']) {
  const base = path.join(root, group);
  if (!fs.existsSync(base)) continue;
  for (const t of fs.readdirSync(base).sort()) outcomes.push(checkTest(path.join(base, t)));
}
const count = (k: Outcome['kind']) => outcomes.filter((o) => o.kind === k).length;
for (const o of outcomes) if (o.kind === 'mismatch') console.log(`MISMATCH ${o.test}: ${o.detail}`);
for (const o of outcomes) if (o.kind === 'symbolic' && verbose) console.log(`symbolic ${o.test}: ${o.detail}`);
const reasons = new Map<string, string[]>();
for (const o of outcomes.filter((x) => x.kind === 'stopped')) reasons.set(o.detail, [...(reasons.get(o.detail) ?? []), o.test]);
for (const [reason, tests] of [...reasons].sort((a, b) => b[1].length - a[1].length)) {
  console.log(`stopped x${tests.length}: ${reason}${verbose ? `  [${tests.join(' ')}]` : ` (e.g. ${tests[0]})`}`);
}
console.log(
  `\n${outcomes.length} tests: ${count('ok')} agree, ${count('symbolic')} agree with data-dependent dims left symbolic, ${count('mismatch')} disagree, ${count('stopped')} stopped, ${count('skipped')} skipped`,
);
