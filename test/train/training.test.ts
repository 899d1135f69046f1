import { beforeAll, describe, expect, it } from 'vitest';
import { tfjsLoss, tfjsModel, flatGradient } from '../../bench/tfjs/colorLoss.js';
import { tf, useBackend } from '../../bench/tfjs/engine.js';
import { readAnchors } from '../../src/anchors/manifest.js';
import { Adam } from '../../src/train/adam.js';
import { anchorsFor } from '../../src/train/color.js';
import { colorCube, redLabelProbability, redness, sampleBatch, validationColors, vibrantLabelProbability } from '../../src/train/data.js';
import { buildColorOnnx, checkExport } from '../../src/train/export.js';
import { erf, erfSeries, gelu, geluDerivative } from '../../src/train/gelu.js';
import { evaluateSeed, fallbackEdit, isUnlikeRed, REDIRECT_GAMMA } from '../../src/train/evaluate.js';
import { forwardStack, infer, initialParameters, network, type Architecture } from '../../src/train/network.js';
import { PRESETS, withPeakLearningRate } from '../../src/train/presets.js';
import { Random } from '../../src/maths/random.js';
import { anchor } from '../../src/train/regularizers/anchor.js';
import { antiAnchor } from '../../src/train/regularizers/antiAnchor.js';
import { separate } from '../../src/train/regularizers/separate.js';
import { antiSubspace, subspace } from '../../src/train/regularizers/subspace.js';
import { minimumJerk, scheduleValue } from '../../src/train/schedule.js';
import { lossAndGradient, resolveConfig, trainSeed } from '../../src/train/trainer.js';

describe('minimum-jerk schedules (SCA.md keyframes)', () => {
  const isolated = PRESETS.isolated;
  it('matches values worked out from the 2.9.1 keys', () => {
    expect(scheduleValue(isolated.weights.anchor!, 100)).toBeCloseTo(0.0323, 4);
    expect(scheduleValue(isolated.weights.antiSubspace!, 500)).toBeCloseTo(0.0548, 4);
    expect(scheduleValue(isolated.learningRate, 1460)).toBeCloseTo(0.0781, 4);
  });

  it('holds the first value before the first key and the last after the last; passes through every key', () => {
    expect(
      scheduleValue(
        [
          [248, 0.1],
          [750, 0.2],
        ],
        0,
      ),
    ).toBe(0.1);
    expect(scheduleValue(isolated.weights.anchor!, 1500)).toBe(0);
    for (const [t, v] of isolated.learningRate) expect(scheduleValue(isolated.learningRate, t)).toBe(v);
    expect(minimumJerk(0.5)).toBe(0.5);
  });

  it('the last 75 steps are pure reconstruction', () => {
    for (const preset of Object.values(PRESETS)) {
      for (const keys of Object.values(preset.weights)) for (const step of [1425, 1460, 1500]) expect(scheduleValue(keys!, step)).toBe(0);
    }
  });

  it('--peak-lr moves the plateau and halves it by the end, warm-up unchanged', () => {
    const lr = withPeakLearningRate(isolated.learningRate, 0.05);
    expect(scheduleValue(lr, 10)).toBe(0.01);
    expect(scheduleValue(lr, 750)).toBeCloseTo(0.05, 15);
    expect(scheduleValue(lr, 1500)).toBeCloseTo(0.025, 15);
  });
});

describe('presets', () => {
  it("are the authors' configurations", () => {
    expect(PRESETS.anchored.architecture).toEqual({ latent: 4, layers: 1, hidden: 16 });
    expect(PRESETS.isolated.architecture).toEqual({ latent: 5, layers: 2, hidden: 16 });
    expect(network(PRESETS.isolated.architecture).size).toBe(840);
    for (const p of Object.values(PRESETS)) expect([p.steps, p.batch]).toEqual([1501, 64]);
    expect(Object.keys(PRESETS['2.10.1'].weights).sort()).toEqual(['anchor', 'antiSubspace', 'separate']);
    expect(scheduleValue(PRESETS['2.10.1'].weights.anchor!, 750)).toBe(0.12);
    expect(Object.keys(PRESETS.anchored.weights).sort()).toEqual(['anchor', 'separate', 'subspace']);
  });
});

describe('data and rare labels', () => {
  it('redness and label probabilities', () => {
    expect(redness([1, 0, 0])).toBe(1);
    expect(redness([1, 1, 1])).toBe(0);
    expect(redLabelProbability([1, 0, 0])).toBeCloseTo(0.08, 12);
    expect(redLabelProbability([0.5, 0, 0])).toBeCloseTo(0.08 / 256, 12);
    expect(vibrantLabelProbability([0, 1, 0])).toBeCloseTo(0.01, 12);
    expect(vibrantLabelProbability([0.5, 0.5, 0.5])).toBe(0);
  });

  it('a 1501-step run expects about 83 red labels in 96,064 draws', () => {
    const cube = colorCube(8);
    const expected = (1501 * 64 * cube.reduce((s, c) => s + redLabelProbability(c), 0)) / cube.length;
    expect(expected).toBeGreaterThan(75);
    expect(expected).toBeLessThan(91);
  });

  it('trains on the 8^3 grid with both ends and validates on 7^3 inner points plus the corners', () => {
    expect(colorCube(8)).toHaveLength(512);
    const v = validationColors();
    expect(v).toHaveLength(351);
    expect(v[0]).toEqual([1 / 16, 1 / 16, 1 / 16]);
    expect(v[342]).toEqual([15 / 16, 15 / 16, 15 / 16]);
    expect(v.slice(343)).toContainEqual([1, 0, 0]);
  });

  it('labels pure red about 8% of the time', () => {
    const batch = sampleBatch([[1, 0, 0]], 100_000, new Random(1));
    expect(batch.red.reduce((a, b) => a + b, 0) / 100_000).toBeCloseTo(0.08, 2);
  });
});

describe('exact GELU', () => {
  it('erf matches published values and its series reference', () => {
    const published: [number, number][] = [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
    ];
    for (const [x, v] of published) {
      expect(Math.abs(erf(x) - v)).toBeLessThan(1e-15);
      expect(Math.abs(erf(-x) + v)).toBeLessThan(1e-15);
      expect(Math.abs(erfSeries(x) - v)).toBeLessThan(1e-15);
    }
    const random = new Random(5);
    for (let i = 0; i < 10_000; i++) {
      const x = (random.next() - 0.5) * 14;
      expect(Math.abs(erf(x) - erfSeries(x))).toBeLessThan(1e-13);
    }
  });

  it('its derivative matches finite differences', () => {
    for (const x of [-3, -1, -0.2, 0, 0.4, 1.5, 4]) expect(geluDerivative(x)).toBeCloseTo((gelu(x + 1e-6) - gelu(x - 1e-6)) / 2e-6, 8);
  });
});

describe('regularizers, against values worked out by hand', () => {
  // Rows of z ([rows, 3]): e0, e1, (0.6, 0.8, 0), (-0.6, 0, 0.8).
  const z = Float64Array.from([1, 0, 0, 0, 1, 0, 0.6, 0.8, 0, -0.6, 0, 0.8]);
  const latents = (red: number[], vibrant = [0, 0, 0, 0]) => ({ z, rows: 4, k: 3, red: Float64Array.from(red), vibrant: Float64Array.from(vibrant) });
  const grad = () => new Float64Array(12);

  it('anchor: mean of 1 - z.a over labelled samples only; no labels, no loss', () => {
    const g = grad();
    expect(anchor([1, 0, 0])(latents([0, 1, 1, 0]), g, 1)).toBeCloseTo((1 + 0.4) / 2, 7);
    expect(g[3]).toBeCloseTo(-0.5, 7);
    expect(g[0]).toBe(0);
    expect(anchor([1, 0, 0])(latents([0, 0, 0, 0]), grad(), 1)).toBe(0);
  });

  it('anti-anchor: batch mean of max(0, -z_0)', () => {
    const g = grad();
    expect(antiAnchor([-1, 0, 0])(latents([0, 0, 0, 0]), g, 2)).toBeCloseTo(0.6 / 4, 12);
    expect(g[9]).toBeCloseTo((2 * -1) / 4, 12);
    expect(g[6]).toBe(0);
  });

  it('anti-subspace: batch mean of z_0^2; subspace: z outside {0,1} squared, over vibrant samples', () => {
    expect(antiSubspace([0])(latents([0, 0, 0, 0]), grad(), 1)).toBeCloseTo((1 + 0.36 + 0.36) / 4, 12);
    const g = grad();
    expect(subspace([0, 1])(latents([0, 0, 0, 0], [0, 0, 1, 1]), g, 1)).toBeCloseTo(0.64 / 2, 7);
    expect(g[11]).toBeCloseTo(0.8, 7);
  });

  it('separate: (1/B) sum of ((1 + c)/2)^p over pairs, duplicates and self set to c = 0', () => {
    const dup = { z: Float64Array.from([1, 0, 0, 1, 1, 0]), rows: 3, k: 2, red: new Float64Array(3), vibrant: new Float64Array(3) };
    // Rows 0 and 2 coincide (counted as c = 0, i.e. 0.5^p, like self); each sees row 1 at c = 0 too.
    expect(separate(2)(dup, new Float64Array(6), 1)).toBeCloseTo((9 * 0.25) / 3, 12);
    const far = { z: Float64Array.from([1, 0, -1, 0]), rows: 2, k: 2, red: new Float64Array(2), vibrant: new Float64Array(2) };
    expect(separate()(far, new Float64Array(4), 1)).toBeCloseTo((2 * 0.5 ** 100) / 2, 40);
  });
});

describe('the hand-written backward pass', () => {
  const weights = { anchor: 0.3, antiAnchor: 0.2, separate: 0.05, antiSubspace: 0.4, subspace: 0.3 };
  function setUp(architecture: Architecture) {
    const net = network(architecture);
    const params = initialParameters(net, new Random(3));
    const random = new Random(9);
    const colors = Float64Array.from({ length: 36 }, () => Math.round(random.next() * 7) / 7);
    colors.set(colors.subarray(0, 3), 3); // a duplicate draw
    colors.set([0.1, 0.9, 0.2], 6); // a colour whose z_0 is likely negative
    const batch = {
      colors,
      red: Float64Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 1 : 0)),
      vibrant: Float64Array.from({ length: 12 }, (_, i) => (i % 4 === 1 ? 1 : 0)),
    };
    return { net, params, batch };
  }

  it.each([PRESETS.isolated.architecture, PRESETS.anchored.architecture])('matches central finite differences for every parameter (%o)', (architecture) => {
    const { net, params, batch } = setUp(architecture);
    const { grads } = lossAndGradient(net, params, batch, weights, 0.05);
    const total = (p: Float64Array) => lossAndGradient(net, p, batch, weights, 0.05).losses.total;
    for (let i = 0; i < params.length; i++) {
      const q = Float64Array.from(params);
      q[i] += 1e-6;
      const up = total(q);
      q[i] -= 2e-6;
      const fd = (up - total(q)) / 2e-6;
      expect(Math.abs(fd - grads[i]), `parameter ${i}`).toBeLessThan(1e-6 + 1e-5 * Math.abs(fd));
    }
  });

  describe('against tfjs autodiff of the same loss', () => {
    beforeAll(async () => {
      await useBackend('cpu');
    });

    it.each([PRESETS.isolated.architecture, PRESETS.anchored.architecture])('loss and gradient agree to float32 precision (%o)', (architecture) => {
      const { net, params, batch } = setUp(architecture);
      const ours = lossAndGradient(net, params, batch, weights, 0.05);
      const model = tfjsModel(architecture, params);
      const { value, grads } = tf.variableGrads(() => tfjsLoss(model, batch, weights, 0.05), model.variables);
      expect(value.dataSync()[0]).toBeCloseTo(ours.losses.total, 5);
      const theirs = flatGradient(
        model,
        model.variables.map((v) => grads[v.name]),
      );
      const scale = Math.max(...Array.from(ours.grads, Math.abs));
      for (let i = 0; i < theirs.length; i++) expect(Math.abs(theirs[i] - ours.grads[i]), `parameter ${i}`).toBeLessThan(2e-5 * scale);
      for (const v of model.variables) v.dispose();
    });
  });
});

describe('Adam (PyTorch defaults)', () => {
  it('first step moves each parameter by lr against the sign of its gradient; then follows the moment estimates', () => {
    const p = Float64Array.from([1, 1]);
    const adam = new Adam(2);
    adam.step(p, Float64Array.from([0.5, -2]), 0.1);
    // m^ = g and v^ = g^2 after one step: a move of lr |g| / (|g| + eps).
    const p1 = [1 - (0.1 * 0.5) / (0.5 + 1e-8), 1 + (0.1 * 2) / (2 + 1e-8)];
    expect(p[0]).toBeCloseTo(p1[0], 14);
    expect(p[1]).toBeCloseTo(p1[1], 14);
    adam.step(p, Float64Array.from([0.5, 0]), 0.1);
    // After two steps: m = [0.095, -0.18], v = [0.00049975, 0.003996], bias-corrected by 0.19 and 0.001999.
    const m = [0.095 / 0.19, -0.18 / 0.19];
    const v = [0.00049975 / 0.001999, 0.003996 / 0.001999];
    expect(p[0]).toBeCloseTo(p1[0] - (0.1 * m[0]) / (Math.sqrt(v[0]) + 1e-8), 12);
    expect(p[1]).toBeCloseTo(p1[1] - (0.1 * m[1]) / (Math.sqrt(v[1]) + 1e-8), 12);
  });
});

describe('training and export', () => {
  it('a fixed seed gives the same weights; another seed does not', () => {
    const a = trainSeed({ preset: 'isolated', steps: 30 }, 3);
    const b = trainSeed({ preset: 'isolated', steps: 30 }, 3);
    const c = trainSeed({ preset: 'isolated', steps: 30 }, 4);
    expect(Array.from(a.params)).toEqual(Array.from(b.params));
    expect(Array.from(a.params)).not.toEqual(Array.from(c.params));
    expect(a.draws).toBe(30 * 64);
  });

  it("exports ONNX that onnxruntime runs as the trainer does, with each preset's anchors", async () => {
    const t = trainSeed({ preset: 'anchored', steps: 40 }, 2);
    const m = buildColorOnnx(t.net, t.params, anchorsFor({ preset: 'anchored' }));
    expect(await checkExport(t.net, t.params, m)).toBeLessThan(1e-5);
    expect(readAnchors(m.proto)).toEqual([
      { concept: 'red', tensor: 'bottleneck', direction: [1, 0, 0, 0] },
      { concept: 'vibrant', tensor: 'bottleneck', dims: [0, 1] },
    ]);
    expect(anchorsFor({ preset: 'isolated' })).toEqual([{ concept: 'red', tensor: 'bottleneck', direction: [1, 0, 0, 0, 0], dims: [0] }]);
  });

  it('suppression leaves colours with z.a <= 0 untouched; ablation renormalises the other dims', () => {
    const t = trainSeed({ preset: 'isolated', steps: 40 }, 1);
    const colors = Float64Array.from(colorCube(4).flat());
    const plain = infer(t.net, t.params, colors);
    const suppressed = infer(t.net, t.params, colors, { kind: 'suppress', direction: [1, 0, 0, 0, 0] });
    for (let i = 0; i < 64; i++) {
      if (plain.z[5 * i] <= 0) expect(Array.from(suppressed.out.subarray(3 * i, 3 * i + 3))).toEqual(Array.from(plain.out.subarray(3 * i, 3 * i + 3)));
    }
    const ablated = infer(t.net, t.params, colors, { kind: 'ablate', dims: [0] });
    for (let i = 0; i < 64; i++) {
      const row = Array.from(ablated.z.subarray(5 * i, 5 * i + 5));
      expect(row[0]).toBe(0);
      expect(Math.hypot(...row)).toBeCloseTo(1, 12);
    }
  });
});

describe("the follow-up's fallback term and the edits it is paired with (reflect, redirect)", () => {
  // The authors' edit_axis0 edits weights; infer edits the pre-norm activation. Doing both ways must agree.
  it('reflect and redirect equal negating, or zeroing and re-biasing, the encoder row of dim 0', () => {
    const t = trainSeed({ preset: 'isolated', steps: 40 }, 2);
    const colors = Float64Array.from(colorCube(4).flat());
    const last = t.net.encoder[t.net.encoder.length - 1];
    const edited = (mode: 'reflect' | 'redirect'): Float64Array => {
      const p = Float64Array.from(t.params);
      for (let i = 0; i < last.inDim; i++) p[last.weight + i * last.outDim] = mode === 'reflect' ? -p[last.weight + i * last.outDim] : 0;
      p[last.bias] = mode === 'reflect' ? -p[last.bias] : -REDIRECT_GAMMA;
      return p;
    };
    for (const mode of ['reflect', 'redirect'] as const) {
      const byWeights = infer(t.net, edited(mode), colors).out;
      const byEdit = infer(t.net, t.params, colors, fallbackEdit(mode)).out;
      for (let i = 0; i < byEdit.length; i++) expect(byEdit[i]).toBeCloseTo(byWeights[i], 12);
    }
    expect(REDIRECT_GAMMA).toBe(1);
  });

  it('with --fallback, decoder(-e0) is mid-grey and reflected red lands there: MSE near (1 - 0.5)^2 = 1/4', () => {
    const config = { preset: 'isolated' as const, fallback: 0.05 };
    const t = trainSeed(config, 1);
    const grey = infer(t.net, t.params, Float64Array.from([1, 0, 0]), { kind: 'reflect', dims: [0] });
    const decoded = Array.from(forwardStack(t.params, t.net.decoder, Float64Array.from([-1, 0, 0, 0, 0]), 1));
    for (const v of decoded) expect(Math.abs(v - 0.5)).toBeLessThan(0.01);
    const q = evaluateSeed(t.net, t.params, resolveConfig(config).preset);
    const red = q.named.find((r) => r.name === 'red')!;
    expect(grey.z[0]).toBeLessThan(-0.95);
    expect(Math.abs(red.reflect - 0.25)).toBeLessThan(0.02);
    expect(q.reflect).not.toBeNull();
    expect(q.redirect).not.toBeNull();
  });
});

describe('validation anchor loss, leak and health as the authors measure them', () => {
  it('val anchor is 1 - z_0 of pure red (their only exact validation label); leak is mean |z_0| over the 337 grid colours with sim^3 < 0.01', () => {
    const t = trainSeed({ preset: 'isolated', steps: 300 }, 5);
    const q = evaluateSeed(t.net, t.params, PRESETS.isolated);
    expect(q.valAnchor).toBeCloseTo(1 - infer(t.net, t.params, Float64Array.from([1, 0, 0])).z[0], 12);
    const cube = colorCube(8);
    const others = cube.filter(isUnlikeRed);
    // Counted independently with Python's colorsys and the authors' sim_to_red formula (a comment of theirs says 404; their code gives 337).
    expect(others.length).toBe(337);
    expect(isUnlikeRed([1, 0, 0])).toBe(false);
    expect(isUnlikeRed([0.5, 0.5, 0.5])).toBe(true);
    const z = infer(t.net, t.params, Float64Array.from(others.flat())).z;
    const leak = others.reduce((s, _, i) => s + Math.abs(z[5 * i]), 0) / others.length;
    expect(q.leak).toBeCloseTo(leak, 12);
    const verdict = q.valAnchor > 0.3 || q.valRecon > 0.01 || q.leak > 0.3 ? 'catastrophic' : q.leak > 0.1 ? 'degraded' : 'ok';
    expect(q.health).toBe(verdict);
  });
});
