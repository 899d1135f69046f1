/**
 * The library as a program uses it (src/index.ts): typed errors with codes
 * and no CLI flags in their words, no process-wide side effects on import;
 * and the CLI's side of the contract: flags in its messages, `--json [FILE]`
 * everywhere, `sca check --summary`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as sca_ from '../../src/index.js';
import { ablate, loadModel, patchModel, ScaError, UsageError, type PatchRequest } from '../../src/index.js';
import { cliWording } from '../../src/cli/wording.js';
import { sca } from '../helpers/cli.js';
import { useTempDir } from '../helpers/tmp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODEL = path.join(ROOT, 'models', 'color-isolated.onnx');
const CHECKS = path.join(ROOT, 'models', 'checks');
const tmp = useTempDir('api');

async function thrown(f: () => unknown): Promise<ScaError> {
  try {
    await f();
  } catch (err) {
    return err as ScaError;
  }
  throw new Error('expected an error');
}

describe('library errors', () => {
  it('are ScaError with a code, worded with field names, not CLI flags', async () => {
    const cases: [PatchRequest, RegExp][] = [
      [{ concept: 'red', mode: 'erase' as never }, /^mode: expected one of suppress, amplify, steer, clamp, got 'erase'$/],
      [{ tensor: 'bottleneck', mode: 'suppress', dims: [9] }, /dim 9 is out of range for axis 1 of 'bottleneck'/],
      [
        { tensor: 'bottleneck', mode: 'suppress', dims: [0], fold: true, strengthInput: 's' },
        /^fold bakes the strength into the weights; it cannot take a strength input$/,
      ],
    ];
    for (const [request, message] of cases) {
      const err = await thrown(() => patchModel(loadModel(MODEL), [request]));
      expect(err).toBeInstanceOf(ScaError);
      expect(err).toBeInstanceOf(UsageError);
      expect(err.code).toBe('BAD_INPUT');
      expect(err.message).toMatch(message);
      expect(err.message).not.toMatch(/--/);
    }
    const missing = await thrown(() => patchModel(loadModel(MODEL), [{ concept: 'blue', mode: 'suppress' }]));
    expect(missing.code).toBe('NOT_FOUND');
    expect((await thrown(() => loadModel(path.join(tmp(), 'nope.onnx')))).code).toBe('NOT_FOUND');
    const garbage = path.join(tmp(), 'garbage.onnx');
    fs.writeFileSync(garbage, 'not a model at all');
    expect((await thrown(() => loadModel(garbage))).code).toBe('BAD_MODEL');
    expect((await thrown(() => ablate(loadModel(MODEL), { tensor: 'bottleneck' }))).message).toBe('give `dims` (or `concept` for a model with anchors)');
  });

  it('the CLI says its own flags for the same mistakes', async () => {
    expect(cliWording('`mode`: expected one of a, b')).toBe('--mode: expected one of a, b');
    expect(cliWording('`fold` cannot take `strengthInput`; give `directions`')).toBe('--fold cannot take --strength-input; give --direction');
    expect(cliWording("no `patchedInputs` in 'x`y'")).toBe("no --set in 'x`y'");
    expect(cliWording('dims: the list is empty')).toBe('--dims: the list is empty');
    expect(cliWording('model.onnx: dims: 3')).toBe('model.onnx: dims: 3');
    const r = await sca('patch', MODEL, '-o', path.join(tmp(), 'p.onnx'), '--concept', 'red', '--mode', 'erase');
    expect(r.code).toBe(2);
    expect(r.err).toBe("sca: --mode: expected one of suppress, amplify, steer, clamp, got 'erase'\n");
    const d = await sca('check', path.join(tmp(), 'missing.json'), '--device', 'tpu');
    expect(d.err).toMatch(/^sca: --device: expected cpu or cuda, got 'tpu'/);
  });
});

describe('importing the library', () => {
  it('exports the typed surface: load/save, patch, ablate, anchors, compare, check, train', () => {
    for (const name of [
      'loadModel',
      'saveModel',
      'modelBytes',
      'patchModel',
      'ablate',
      'withInputValues',
      'loadModelFolder',
      'saveModelFolder',
      'patchFile',
      'patchFolderTo',
      'ablateFolderTo',
      'anchorFolderTo',
      'anchorFromPrompts',
      'compareText',
      'summarizeFolder',
      'loadTokenizer',
      'anchorManually',
      'probeModels',
      'anchorFromData',
      'readAnchors',
      'writeAnchors',
      'compareModels',
      'renderReport',
      'runChecks',
      'checkSummaryMarkdown',
      'trainColorModel',
      'ScaError',
      'UsageError',
    ]) {
      expect(typeof (sca_ as Record<string, unknown>)[name], name).toBe('function');
    }
    // Internals stay internal: ablate covers dims, patchModel's fold covers folding.
    for (const name of ['ablateDims', 'foldIntoReaders', 'insertAfter', 'SubgraphBuilder', 'serializeModel']) expect(name in sca_, name).toBe(false);
  });

  it('modelBytes gives the bytes of the file a model was loaded from, untouched, and of the edit once patched', () => {
    const model = sca_.loadModel(MODEL);
    expect(Buffer.compare(Buffer.from(sca_.modelBytes(model)), fs.readFileSync(MODEL))).toBe(0);
    sca_.patchModel(model, [{ concept: 'red', mode: 'suppress' }]);
    expect(sca_.parseModel(sca_.modelBytes(model), '/').proto.graph!.node.length).toBeGreaterThan(sca_.loadModel(MODEL).proto.graph!.node.length);
  });

  it('withInputValues sets an overridable input in a copy of the model', async () => {
    const model = sca_.loadModel(MODEL);
    const [applied] = sca_.patchModel(model, [{ concept: 'red', mode: 'suppress', strengthInput: 'red_strength' }]);
    expect(applied.nodes).toBeGreaterThan(0);
    const off = sca_.withInputValues(model, { red_strength: 0 });
    expect(off.proto).not.toBe(model.proto);
    const intact = await sca_.compareModels(MODEL, { label: 'strength 0', model: off }, { data: 'color-cube:3' });
    expect(intact.result.outputs[0].maxAbs).toBe(0);
    const on = await sca_.compareModels(MODEL, { label: 'strength 1', model }, { data: 'color-cube:3' });
    expect(on.result.outputs[0].maxAbs).toBeGreaterThan(0);
  });

  it("changes nothing process-wide: no tfjs loaded (so no module hook), onnxruntime's log level untouched, until asked", () => {
    const index = path.join(ROOT, 'dist', 'src', 'index.js');
    expect(fs.existsSync(index), 'run npm run build').toBe(true);
    const script = `
      const ort = await import('onnxruntime-node');
      const level = ort.env.logLevel;
      const m = await import(${JSON.stringify(index)});
      const model = m.loadModel(${JSON.stringify(MODEL)});
      await m.compareModels(${JSON.stringify(MODEL)}, { label: 'same', model }, { data: 'color-cube:2' });
      console.log(JSON.stringify({ tf: typeof globalThis._tfengine, level: ort.env.logLevel, before: level }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got.tf).toBe('undefined');
    expect(got.level).toBe(got.before);
    expect(r.stderr).toBe('');
  });
});

describe('trainColorModel (the paper-recipe trainer)', () => {
  it("trains a preset's seeds, reports steps as it goes, and writes the pick with its anchors", async () => {
    const out = path.join(tmp(), 'anchored.onnx');
    const steps: [number, number][] = [];
    const done: number[] = [];
    const r = await sca_.trainColorModel(out, {
      preset: 'anchored',
      seed: 3,
      seeds: 2,
      jobs: 1,
      steps: 30,
      onSteps: (d, t) => steps.push([d, t]),
      onResult: (x) => done.push(x.seed),
    });
    expect(done).toEqual([3, 4]);
    expect(steps.every(([, t]) => t === 60)).toBe(true);
    expect(steps.map(([d]) => d)).toEqual([...steps.map(([d]) => d)].sort((a, b) => a - b));
    expect(steps.at(-1)![0]).toBe(60);
    expect(r.runs.map((x) => x.seed)).toEqual([3, 4]);
    expect(r.config).toEqual({ preset: 'anchored', steps: 30 });
    expect(sca_.readAnchors(loadModel(out).proto).map((a) => a.concept)).toEqual(['red', 'vibrant']);
    expect(sca_.PRESETS.anchored.architecture.latent).toBe(4);
    expect(sca_.SHIPPED_MODELS.anchored).toMatch(/models\/color-anchored\.onnx$/);
  });
});

describe('--json [FILE] on every command', () => {
  it('bare prints only JSON to stdout; with a file writes it there and prints the usual text', async () => {
    const bare = await sca('inspect', MODEL, '--json');
    expect(JSON.parse(bare.out).nodes).toBeGreaterThan(0);
    const file = path.join(tmp(), 'inspect.json');
    const toFile = await sca('inspect', MODEL, '--json', file);
    expect(toFile.out).toMatch(/^  input +input +float32/m);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(JSON.parse(bare.out));

    const out = path.join(tmp(), 'p.onnx');
    const patched = await sca('patch', MODEL, '-o', out, '--concept', 'red', '--mode', 'suppress', '--json');
    expect(JSON.parse(patched.out).applied[0].tensor).toBe('bottleneck');
    const compare = await sca('compare', MODEL, out, '--data', 'color-cube:3', '--json');
    expect(JSON.parse(compare.out).schemaVersion).toBe(1);
    const compareFile = path.join(tmp(), 'c.json');
    const c2 = await sca('compare', MODEL, out, '--data', 'color-cube:3', '--json', compareFile);
    expect(c2.out).toMatch(/selectivity/);
    expect(JSON.parse(fs.readFileSync(compareFile, 'utf8')).data.samples).toBe(27);
    const ablated = await sca('ablate', MODEL, '-o', path.join(tmp(), 'a.onnx'), '--concept', 'red', '--json');
    expect(JSON.parse(ablated.out)).toMatchObject({ tensor: 'bottleneck', method: 'zeroed', dims: [0] });
  });
});

describe('sca check --summary', () => {
  it('writes a markdown verdict table, appending to an existing job summary', async () => {
    const summary = path.join(tmp(), 'summary.md');
    fs.writeFileSync(summary, '# earlier step\n');
    const r = await sca('check', path.join(CHECKS, 'red-too-strict.json'), '--summary', summary, '--json');
    expect(r.code).toBe(1);
    const results = JSON.parse(r.out);
    const md = fs.readFileSync(summary, 'utf8');
    expect(md.startsWith('# earlier step\n')).toBe(true);
    expect(md).toContain(`❌ ${results.failed} of ${results.passed + results.failed} checks failed`);
    expect(md).toContain('| result | check | metric | value | bound | why it failed |');
    const rows = md.split('\n').filter((l) => /^\| (✅ pass|❌ fail) \|/.test(l));
    expect(rows).toHaveLength(results.results.length);
    results.results.forEach((c: { passed: boolean; name: string }, i: number) => {
      expect(rows[i]).toContain(c.passed ? '✅ pass' : '❌ fail');
      expect(rows[i]).toContain(c.name);
    });
  });

  it('runs as the example GitHub Actions workflow calls it', async () => {
    const workflow = fs.readFileSync(path.join(ROOT, 'examples', 'sca-check.yml'), 'utf8');
    const spec = /SPEC: (\S+)/.exec(workflow)![1];
    const line = /run: npx sca (check .*)/.exec(workflow)![1];
    const summary = path.join(tmp(), 'step-summary.md');
    const argv = line
      .split(' ')
      .map((a) =>
        a.replace('"$SPEC"', path.join(ROOT, spec)).replace('"$GITHUB_STEP_SUMMARY"', summary).replace('sca-check.xml', path.join(tmp(), 'sca-check.xml')),
      );
    const r = await sca(...argv);
    expect(r.code, r.err).toBe(0);
    expect(fs.readFileSync(summary, 'utf8')).toMatch(/✅ all \d+ checks passed/);
    expect(fs.readFileSync(path.join(tmp(), 'sca-check.xml'), 'utf8')).toMatch(/<testsuite [^>]*failures="0"/);
  });
});
