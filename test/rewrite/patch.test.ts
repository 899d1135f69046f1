import { Float16Array } from '@petamoriken/float16';
import { describe, expect, it } from 'vitest';
import { readInterventions } from '../../src/anchors/manifest.js';
import { parseModel, serializeModel } from '../../src/onnx/model.js';
import { opsetOf } from '../../src/onnx/graph.js';
import { Graph } from '../../src/ir/graph.js';
import { topologicalOrder } from '../../src/ir/passes.js';
import { DataType } from '../../src/onnx/types.js';
import { patchModel, type PatchRequest } from '../../src/rewrite/patch.js';
import { gemmAutoencoder, layerNormBlock, matmulMlp, outputTargetModel, randomValues } from '../helpers/graphs.js';
import { applyDims, maxAbsDiff, projectSubspace, rows, suppressDirection, type Row } from '../helpers/reference.js';
import { f32, ort, run } from '../helpers/run.js';
import { withInputValues } from '../../src/runtime/session.js';
import { withExtraOutputs } from '../../src/runtime/taps.js';
import * as ortWeb from 'onnxruntime-web';

const N = 64;
const x3 = f32(randomValues(N * 3, 99, 1.5), [N, 3]);

/** Runs intact and patched, returning the tensor before the patch and after it. */
async function beforeAfter(request: PatchRequest, tensor = 'latent', D = 5) {
  const intact = gemmAutoencoder(D);
  const patched = gemmAutoencoder(D);
  await patchModel(patched, [{ tensor, ...request }]);
  const before = (await run(intact, { x: x3 }, [tensor]))[tensor];
  const after = (await run(patched, { x: x3 }, [tensor]))[tensor];
  return { before: rows(before.data as Float32Array, D), after: Array.from(after.data as Float32Array), patched };
}

function expectClose(actual: ArrayLike<number>, expected: Row[], tol = 1e-5): void {
  expect(maxAbsDiff(actual, expected.flat())).toBeLessThan(tol);
}

const dir = [0.6, -0.3, 0.5, 0.2, -0.5];
const dir2 = [0.1, 0.7, -0.2, 0.4, 0.3];

describe('patch on a Gemm autoencoder (float32), against a TypeScript reference', () => {
  it('suppress along a direction: plain half-space projection by default', async () => {
    const { before, after } = await beforeAfter({ mode: 'suppress', directions: [dir] });
    expectClose(
      after,
      before.map((z) => suppressDirection(z, dir)),
    );
  });

  it('suppress with the bounded falloff gate', async () => {
    const { before, after } = await beforeAfter({ mode: 'suppress', directions: [dir], falloff: { threshold: 0.2, strength: 0.8, power: 2 } });
    expectClose(
      after,
      before.map((z) => suppressDirection(z, dir, 0.2, 0.8, 2)),
    );
  });

  it('suppress a subspace given by two non-orthogonal directions', async () => {
    const { before, after } = await beforeAfter({ mode: 'suppress', directions: [dir, dir2] });
    expectClose(
      after,
      before.map((z) => projectSubspace(z, [dir, dir2], (s) => -s)),
    );
  });

  it('suppress dims (axis-aligned) with partial strength', async () => {
    const { before, after } = await beforeAfter({ mode: 'suppress', dims: [0, 3], strength: 0.75 });
    expectClose(
      after,
      before.map((z) => applyDims(z, [0, 3], (v) => 0.25 * v)),
    );
  });

  it('amplify, steer and clamp along a direction', async () => {
    const a = await beforeAfter({ mode: 'amplify', directions: [dir], strength: 2 });
    expectClose(
      a.after,
      a.before.map((z) => projectSubspace(z, [dir], (s) => 2 * s)),
    );
    const s = await beforeAfter({ mode: 'steer', directions: [dir], strength: 0.7 });
    const unit = dir.map((v) => v / Math.hypot(...dir));
    expectClose(
      s.after,
      s.before.map((z) => z.map((v, i) => v + 0.7 * unit[i])),
    );
    const c = await beforeAfter({ mode: 'clamp', directions: [dir], strength: 0.4 });
    expectClose(
      c.after,
      c.before.map((z) => projectSubspace(z, [dir], (v) => 0.4 - v)),
    );
  });

  it('amplify, steer and clamp dims', async () => {
    const a = await beforeAfter({ mode: 'amplify', dims: [1], strength: 3 });
    expectClose(
      a.after,
      a.before.map((z) => applyDims(z, [1], (v) => 4 * v)),
    );
    const s = await beforeAfter({ mode: 'steer', dims: [2, 4], strength: -0.5 });
    expectClose(
      s.after,
      s.before.map((z) => applyDims(z, [2, 4], (v) => v - 0.5)),
    );
    const c = await beforeAfter({ mode: 'clamp', dims: [0], strength: 0.9 });
    expectClose(
      c.after,
      c.before.map((z) => applyDims(z, [0], () => 0.9)),
    );
  });

  it('changes what downstream nodes see, keeps output names, and adds prefixed nodes in topological order', async () => {
    const { patched } = await beforeAfter({ mode: 'suppress', directions: [dir] });
    const graph = patched.proto.graph!;
    expect(graph.output.map((o) => o.name)).toEqual(['out']);
    const added = graph.node.filter((n) => n.name?.startsWith('sca/suppress_0/'));
    expect(added.length).toBeGreaterThan(3);
    expect(topologicalOrder(new Graph(graph))).toHaveLength(graph.node.length);
    expect(graph.node.map((n) => n.name)).toEqual(topologicalOrder(new Graph(graph)).map((n) => n.name));
    const intactOut = (await run(gemmAutoencoder(), { x: x3 })).out.data as Float32Array;
    const patchedOut = (await run(patched, { x: x3 })).out.data as Float32Array;
    expect(maxAbsDiff(intactOut, patchedOut)).toBeGreaterThan(1e-3);
  });

  it('records the intervention in the manifest', async () => {
    const { patched } = await beforeAfter({ mode: 'amplify', dims: [1], strength: 3 });
    const [record] = readInterventions(patched.proto);
    expect(record).toMatchObject({ kind: 'patch', mode: 'amplify', tensor: 'latent', dims: [1], strength: 3 });
  });
});

describe('strength as a run-time input', () => {
  it('made optional, is an overridable input: default strength, any other value, and 0 gives the intact model', async () => {
    const patched = gemmAutoencoder();
    await patchModel(patched, [
      { tensor: 'latent', mode: 'suppress', directions: [dir], strengthInput: 'sca_strength', strength: 1, strengthInputOptional: true },
    ]);
    const graph = patched.proto.graph!;
    expect(graph.input.map((i) => i.name)).toContain('sca_strength');
    expect(graph.initializer.map((t) => t.name)).toContain('sca_strength');
    const intact = (await run(gemmAutoencoder(), { x: x3 }, ['latent'])).latent.data as Float32Array;
    const z = rows(intact, 5);
    const at = async (value?: number) => {
      const proto = value === undefined ? patched.proto : withInputValues(patched.proto, { sca_strength: value });
      return (await run(proto, { x: x3 }, ['latent'])).latent.data as Float32Array;
    };
    expectClose(
      await at(),
      z.map((r) => suppressDirection(r, dir)),
    );
    expectClose(
      await at(0.5),
      z.map((r) => suppressDirection(r, dir, 0, 0.5)),
    );
    expect(maxAbsDiff(await at(0), intact)).toBe(0);
    expect(() => withInputValues(patched.proto, { latent: 1 })).toThrow(/'latent' is not an input of the model that can be set/);
  });

  it('is a required input by default, fed the same way in onnxruntime-node and onnxruntime-web; 0 gives the intact model', async () => {
    const patched = gemmAutoencoder();
    patchModel(patched, [{ tensor: 'latent', mode: 'suppress', directions: [dir], strengthInput: 'k', strength: 1 }]);
    const graph = patched.proto.graph!;
    expect(graph.input.map((i) => i.name)).toContain('k');
    expect(graph.initializer.map((t) => t.name)).not.toContain('k');
    const intact = (await run(gemmAutoencoder(), { x: x3 }, ['latent'])).latent.data as Float32Array;
    const z = rows(intact, 5);
    const bytes = serializeModel(withExtraOutputs(patched.proto, ['latent']));
    for (const runtime of [ort, ortWeb] as const) {
      const session = await runtime.InferenceSession.create(bytes);
      expect(session.inputNames).toContain('k');
      const at = async (k: number) =>
        (
          await session.run({
            x: new runtime.Tensor('float32', x3.data as Float32Array, x3.dims),
            k: new runtime.Tensor('float32', Float32Array.from([k]), []),
          })
        ).latent.data as Float32Array;
      expectClose(
        await at(1),
        z.map((r) => suppressDirection(r, dir)),
      );
      expectClose(
        await at(0.5),
        z.map((r) => suppressDirection(r, dir, 0, 0.5)),
      );
      expect(maxAbsDiff(await at(0), intact)).toBeLessThan(1e-6);
      await session.release();
    }
    // Baked for callers that cannot feed it: the input becomes a constant.
    const baked = withInputValues(patched.proto, { k: 0 });
    expect(baked.graph!.input.map((i) => i.name)).not.toContain('k');
    expect(maxAbsDiff((await run(baked, { x: x3 }, ['latent'])).latent.data as Float32Array, intact)).toBe(0);
  });

  it('one input can drive two stacked interventions', async () => {
    const patched = gemmAutoencoder();
    await patchModel(patched, [
      { tensor: 'latent', mode: 'suppress', dims: [0], strengthInput: 's' },
      { tensor: 'latent', mode: 'suppress', dims: [1], strengthInput: 's' },
    ]);
    expect(patched.proto.graph!.input.filter((i) => i.name === 's')).toHaveLength(1);
    const intact = rows((await run(gemmAutoencoder(), { x: x3 }, ['latent'])).latent.data as Float32Array, 5);
    const out = (await run(withInputValues(patched.proto, { s: 0.5 }), { x: x3 }, ['latent'])).latent.data as Float32Array;
    expectClose(
      out,
      intact.map((z) => applyDims(z, [0, 1], (v) => 0.5 * v)),
    );
  });
});

describe('stacking', () => {
  it('applies interventions in order, in one call or in successive calls (through a save/load)', async () => {
    const once = gemmAutoencoder();
    await patchModel(once, [
      { tensor: 'latent', mode: 'suppress', directions: [dir] },
      { tensor: 'latent', mode: 'steer', dims: [2], strength: 0.3 },
    ]);
    let twice = gemmAutoencoder();
    await patchModel(twice, [{ tensor: 'latent', mode: 'suppress', directions: [dir] }]);
    twice = parseModel(serializeModel(twice.proto), '/');
    await patchModel(twice, [{ tensor: 'latent', mode: 'steer', dims: [2], strength: 0.3 }]);
    const intact = rows((await run(gemmAutoencoder(), { x: x3 }, ['latent'])).latent.data as Float32Array, 5);
    const expected = intact.map((z) => applyDims(suppressDirection(z, dir), [2], (v) => v + 0.3));
    for (const m of [once, twice]) expectClose((await run(m, { x: x3 }, ['latent'])).latent.data as Float32Array, expected);
    expect(readInterventions(twice.proto).map((r) => r.mode)).toEqual(['suppress', 'steer']);
  });
});

describe('other graph shapes', () => {
  it('MatMul + Add graph whose tensor has no value info (shape found by running the model)', async () => {
    const x = f32(randomValues(N * 4, 5), [N, 4]);
    const d6 = [1, 2, 0, -1, 0.5, 0];
    const patched = matmulMlp();
    await patchModel(patched, [{ tensor: 'z', mode: 'suppress', directions: [d6] }]);
    const before = rows((await run(matmulMlp(), { x }, ['z'])).z.data as Float32Array, 6);
    const after = (await run(patched, { x }, ['z'])).z.data as Float32Array;
    expectClose(
      after,
      before.map((z) => suppressDirection(z, d6)),
    );
  });

  it('[B,T,D] tensor after LayerNormalization', async () => {
    const D = 8;
    const x = f32(randomValues(2 * 7 * D, 6), [2, 7, D]);
    const d8 = randomValues(D, 77);
    const patched = layerNormBlock(D);
    await patchModel(patched, [{ tensor: 'h', mode: 'suppress', directions: [d8] }]);
    const res = await run(patched, { x }, ['h']);
    const before = rows((await run(layerNormBlock(D), { x }, ['h'])).h.data as Float32Array, D);
    expect(res.h.dims).toEqual([2, 7, D]);
    expectClose(
      res.h.data as Float32Array,
      before.map((z) => suppressDirection(z, d8)),
    );
  });

  it('a tensor that is also a graph output: the output shows the patched value under its own name', async () => {
    const x = f32(randomValues(N * 4, 8), [N, 4]);
    const patched = outputTargetModel();
    await patchModel(patched, [{ tensor: 'z', mode: 'suppress', dims: [1] }]);
    const before = rows((await run(outputTargetModel(), { x })).z.data as Float32Array, 4);
    const after = await run(patched, { x });
    expect(patched.proto.graph!.output.map((o) => o.name)).toEqual(['y', 'z']);
    expectClose(
      after.z.data as Float32Array,
      before.map((z) => applyDims(z, [1], () => 0)),
    );
  });

  it('a graph input: its readers are rewired', async () => {
    const x = f32(randomValues(N * 4, 9), [N, 4]);
    const patched = matmulMlp();
    await patchModel(patched, [{ tensor: 'x', mode: 'clamp', dims: [0], strength: 0 }]);
    const xs = rows(x.data as Float32Array, 4)
      .map((r) => applyDims(r, [0], () => 0))
      .flat();
    const expected = (await run(matmulMlp(), { x: f32(xs, [N, 4]) })).y.data as Float32Array;
    expect(maxAbsDiff((await run(patched, { x })).y.data as Float32Array, expected)).toBeLessThan(1e-5);
  });

  it('float16 models get float16 constants', async () => {
    const patched = gemmAutoencoder(5, DataType.FLOAT16);
    await patchModel(patched, [{ tensor: 'latent', mode: 'suppress', directions: [dir], strengthInput: 'k', strengthInputOptional: true }]);
    const x16 = new ort.Tensor('float16', new Uint16Array(new Float16Array(Array.from(x3.data as Float32Array)).buffer), [N, 3]);
    const halfs = (t: ort.Tensor) => Array.from(new Float16Array((t.data as Uint16Array).buffer));
    const before = rows(halfs((await run(gemmAutoencoder(5, DataType.FLOAT16), { x: x16 }, ['latent'])).latent), 5);
    const after = halfs((await run(patched, { x: x16 }, ['latent'])).latent);
    // float16 carries ~3 significant digits.
    expect(maxAbsDiff(after, before.map((z) => suppressDirection(z, dir)).flat())).toBeLessThan(5e-3);
  });

  it('never raises the opset: below 8 the falloff gate clamps with Clip instead of Min', async () => {
    const old = gemmAutoencoder();
    old.proto.opsetImport[0].version = 7;
    await patchModel(old, [{ tensor: 'latent', mode: 'suppress', directions: [dir] }]);
    expect(opsetOf(old.proto)).toBe(7);
    await patchModel(old, [{ tensor: 'latent', mode: 'suppress', directions: [dir], falloff: { threshold: 0.1, strength: 1, power: 1 } }]);
    expect(opsetOf(old.proto)).toBe(7);
    expect(old.proto.graph!.node.some((n) => n.opType === 'Clip')).toBe(true);
    expect(old.proto.graph!.node.some((n) => n.opType === 'Min')).toBe(false);
  });
});

describe('bad requests', () => {
  const cases: [string, PatchRequest, RegExp][] = [
    ['unknown tensor', { tensor: 'latnt', mode: 'suppress', dims: [0] }, /no tensor named 'latnt'.*did you mean 'latent'/],
    ['wrong-length direction', { tensor: 'latent', mode: 'suppress', directions: [[1, 0, 0]] }, /direction has 3 values but axis 1 of 'latent' \[N, 5\] has 5/],
    ['zero direction', { tensor: 'latent', mode: 'suppress', directions: [[0, 0, 0, 0, 0]] }, /zero .*norm/],
    ['dependent directions', { tensor: 'latent', mode: 'suppress', directions: [dir, dir.map((v) => 2 * v)] }, /combination/],
    ['dims out of range', { tensor: 'latent', mode: 'suppress', dims: [5] }, /dim 5 is out of range for axis 1 of 'latent'/],
    ['no direction or dims', { tensor: 'latent', mode: 'suppress' }, /give a direction or dims/],
    ['unknown mode', { tensor: 'latent', mode: 'erase' as never, dims: [0] }, /mode: expected one of/],
    ['unknown concept', { concept: 'blue', mode: 'suppress' }, /records no anchors/],
    [
      'falloff on dims',
      { tensor: 'latent', mode: 'suppress', dims: [0], falloff: { threshold: 0, strength: 1, power: 0 } },
      /falloff needs a single direction/,
    ],
    ['steer a subspace', { tensor: 'latent', mode: 'steer', directions: [dir, dir2] }, /single direction/],
    ['integer tensor', { tensor: 'x', mode: 'suppress', dims: [0] }, /int64; only float32, float16 and bfloat16/],
    [
      'suppress strength above 1',
      { tensor: 'latent', mode: 'suppress', dims: [0], strength: 2 },
      /strength 2 is out of range for suppress: it takes from 0 to 1/,
    ],
    ['suppress strength below 0', { tensor: 'latent', mode: 'suppress', directions: [dir], strength: -1 }, /strength -1 is out of range for suppress/],
    [
      'amplify strength below 0',
      { tensor: 'latent', mode: 'amplify', directions: [dir], strength: -0.5 },
      /strength -0.5 is out of range for amplify: it takes 0 or more/,
    ],
    ['axis out of range', { tensor: 'latent', mode: 'suppress', dims: [0], axis: 2 }, /axis 2 is out of range for 'latent', which has rank 2/],
    [
      'full projection with a falloff',
      { tensor: 'latent', mode: 'suppress', directions: [dir], projection: 'full', falloff: { threshold: 0.1, strength: 1, power: 1 } },
      /falloff gate is part of the half projection/,
    ],
    ['projection on a subspace', { tensor: 'latent', mode: 'suppress', directions: [dir, dir2], projection: 'half' }, /single direction/],
    ['half projection folded', { tensor: 'latent', mode: 'suppress', directions: [dir], projection: 'half', fold: true }, /not linear/],
  ];
  it.each(cases)('%s', (_name, request, message) => {
    const m = gemmAutoencoder();
    if (request.tensor === 'x') m.proto.graph!.input[0].type!.tensorType!.elemType = DataType.INT64;
    expect(() => patchModel(m, [request])).toThrow(message);
  });
});
