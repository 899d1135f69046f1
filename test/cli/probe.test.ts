import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findAnchor } from '../../src/anchors/manifest.js';
import { encodeNpy } from '../../src/data/npy.js';
import { loadModel, saveModel, usesExternalData } from '../../src/onnx/model.js';
import { sca } from '../helpers/cli.js';
import { gemmAutoencoder, randomValues } from '../helpers/graphs.js';
import { useTempDir } from '../helpers/tmp.js';
import { COLOR_LATENT, COLOR_MODEL } from '../helpers/colorModel.js';

const tmp = useTempDir('probe-cli');

function writeData(dir: string, n: number): { data: string; labels: string } {
  const x = randomValues(n * 3, 17, 1.5);
  const data = path.join(dir, 'x.npy');
  fs.writeFileSync(data, encodeNpy('f4', [n, 3], Float32Array.from(x)));
  const labels = path.join(dir, 'y.json');
  fs.writeFileSync(labels, JSON.stringify(Array.from({ length: n }, (_, i) => (x[i * 3] - x[i * 3 + 2] > 0.2 ? 'yes' : 'no'))));
  return { data, labels };
}

describe('sca probe', () => {
  it('prints accuracy and AUC with intervals and the anchoring purity; --json is machine readable', async () => {
    const r = await sca('probe', COLOR_MODEL, '--tensor', COLOR_LATENT, '--data', 'color-cube', '--labels', 'redness');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\n\S+ +5 +0\.\d{3} +0\.9\d\d \[0\.\d{3}, 0\.\d{3}\]/);
    expect(r.out).toContain(`purity of 'red' at ${COLOR_LATENT}`);
    const j = await sca('probe', COLOR_MODEL, '--tensor', COLOR_LATENT, '--data', 'color-cube', '--labels', 'redness', '--json');
    const report = JSON.parse(j.out);
    expect(report).toMatchObject({ schemaVersion: 1, patched: null, data: { name: 'color-cube:8', samples: 512 }, labels: { classes: ['false', 'true'] } });
    expect(report.tensors[0].intact).toMatchObject({ samples: 512, classes: 2, folds: 5, seed: 0 });
    expect(report.tensors[0].purity.intact.concept).toBe('red');
  });

  it('--json FILE writes the report and still prints the table; compare --labels puts purity in its JSON', async () => {
    const dir = tmp();
    const out = path.join(dir, 'probe.json');
    const r = await sca('probe', COLOR_MODEL, '--tensor', COLOR_LATENT, '--data', 'color-cube:4', '--labels', 'redness', '--folds', '2', '--json', out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/linear probe on color-cube:4/);
    expect(JSON.parse(fs.readFileSync(out, 'utf8')).tensors[0].intact.folds).toBe(2);
    const labels = path.join(dir, 'labels.json');
    // The 4-point cube in compare's order (r, then g, then b): red where redness > 0.5.
    const axis = [0, 1 / 3, 2 / 3, 1];
    const cube = axis.flatMap((r) => axis.flatMap((g) => axis.map((b) => r * (1 - g / 2 - b / 2) > 0.5)));
    fs.writeFileSync(labels, JSON.stringify(cube));
    const c = await sca('compare', COLOR_MODEL, COLOR_MODEL, '--data', 'color-cube:4', '--tap', COLOR_LATENT, '--labels', labels, '--json', '-');
    const purity = JSON.parse(c.out).taps[0].purity;
    expect(purity.concept).toBe('red');
    expect(purity.patched.meanDiff).toBeCloseTo(purity.intact.meanDiff, 12);
  });

  it('runs a model with external data in place, writing nothing', async () => {
    const dir = tmp();
    const { data, labels } = writeData(dir, 300);
    const inline = path.join(dir, 'inline.onnx');
    const external = path.join(dir, 'external.onnx');
    saveModel(gemmAutoencoder(40), inline);
    saveModel(gemmAutoencoder(40), external, { externalData: true });
    expect(usesExternalData(loadModel(external))).toBe(true);
    const a = JSON.parse((await sca('probe', inline, '--tensor', 'latent', '--data', data, '--labels', labels, '--json')).out);
    const b = await sca('probe', external, '--tensor', 'latent', '--data', data, '--labels', labels, '--json');
    expect(b.err).toBe('');
    expect(b.code).toBe(0);
    expect(JSON.parse(b.out).tensors).toEqual(a.tensors);
    expect(fs.readdirSync(dir).sort()).toEqual(['external.onnx', 'external.onnx.data', 'inline.onnx', 'x.npy', 'y.json']);
  });

  it('anchor --from-data --method leace, then patch --concept: the probe at the tensor falls to chance', async () => {
    const dir = tmp();
    const { data, labels } = writeData(dir, 400);
    const model = path.join(dir, 'm.onnx');
    saveModel(gemmAutoencoder(6), model);
    const anchored = path.join(dir, 'a.onnx');
    const a = await sca('anchor', model, '-o', anchored, '--concept', 'c', '--tensor', 'latent', '--from-data', data, '--labels', labels, '--method', 'leace');
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/as a rank-1 LEACE eraser from 400 examples/);
    expect(findAnchor(loadModel(anchored).proto, 'c').provenance).toMatchObject({ method: 'leace', samples: 400, classes: ['no', 'yes'] });
    expect((await sca('inspect', anchored)).out).toMatch(/anchor  c -> latent  direction \[.*\], LEACE eraser of rank 1, from 400 examples \(leace\)/);
    const patched = path.join(dir, 'p.onnx');
    expect((await sca('patch', anchored, '-o', patched, '--concept', 'c')).code).toBe(0);
    const r = JSON.parse((await sca('probe', model, '--tensor', 'latent', '--data', data, '--labels', labels, '--patched', patched, '--json')).out);
    const t = r.tensors[0];
    expect(t.intact.accuracy.low).toBeGreaterThan(t.intact.majority);
    expect(t.patched.accuracy.low).toBeLessThanOrEqual(t.patched.majority);
    expect(t.patched.accuracy.high).toBeGreaterThanOrEqual(t.patched.majority);
  });

  it('anchor --from-data --method mean-diff records a unit direction', async () => {
    const dir = tmp();
    const { data, labels } = writeData(dir, 200);
    const model = path.join(dir, 'm.onnx');
    saveModel(gemmAutoencoder(6), model);
    const out = path.join(dir, 'a.onnx');
    expect((await sca('anchor', model, '-o', out, '--concept', 'c', '--tensor', 'latent', '--from-data', data, '--labels', labels)).code).toBe(0);
    const anchor = findAnchor(loadModel(out).proto, 'c');
    expect(Math.hypot(...anchor.direction!)).toBeCloseTo(1, 12);
    expect(anchor.provenance!.method).toBe('mean-diff');
  });

  it('bad input: one line, exit code 2, no output file', async () => {
    const dir = tmp();
    const { data, labels } = writeData(dir, 50);
    const model = path.join(dir, 'm.onnx');
    saveModel(gemmAutoencoder(6), model);
    const short = path.join(dir, 'short.json');
    fs.writeFileSync(short, JSON.stringify([0, 1, 0]));
    const out = path.join(dir, 'out.onnx');
    const cases: [string[], RegExp][] = [
      [['probe', model, '--tensor', 'latent', '--data', data, '--labels', short], /3 labels, but tensor 'latent' has 50 examples/],
      [['probe', model, '--tensor', 'latnt', '--data', data, '--labels', labels], /no tensor named 'latnt' \(did you mean 'latent'/],
      [['probe', model, '--tensor', 'latent', '--data', data, '--labels', path.join(dir, 'none.json')], /--labels: cannot read/],
      [['probe', model, '--tensor', 'latent', '--data', data, '--labels', labels, '--axis', '0'], /--axis 0: tensor 'latent' has 2 axes/],
      [
        ['anchor', model, '-o', out, '--concept', 'c', '--tensor', 'latent', '--from-data', data, '--labels', labels, '--method', 'pca'],
        /--method: expected mean-diff or leace, got 'pca'/,
      ],
      [['anchor', model, '-o', out, '--concept', 'c', '--tensor', 'latent', '--from-data', data], /--from-data needs --labels/],
    ];
    for (const [argv, message] of cases) {
      const r = await sca(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(fs.existsSync(out)).toBe(false);
    }
  });
});
