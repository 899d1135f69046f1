/**
 * `sca compare` as a library function: run an intact and a patched model on
 * the same inputs, in batches, and measure how their outputs differ, per
 * sample, overall and per group; for tapped tensors, where samples sit
 * relative to the anchor. Domains add their own analysis through
 * eval/domain.ts (the colour model's per-colour table and selectivity).
 */
import { readAnchors } from '../anchors/manifest.js';
import { UsageError } from '../errors.js';
import type { Model } from '../onnx/model.js';
import { loadDataset, loadGroups, requiredInputs, type Dataset } from '../data/datasets.js';
import { strengthInputs } from '../data/strengths.js';
import { emptyDomainResults, orderGroups, registeredDomains } from './domain.js';
import { staticBatches } from './runner.js';
import { classifierAgreement, cosine, histogram, maxAbs, mse, summarize, type SampleMetrics } from './metrics.js';
import type { CompareOptions, Comparison, ComparisonDetail, ComparisonResult, TapResult } from './results.js';
import { ort, tensorNumbers, type Device } from '../runtime/session.js';
import { openWithOutputs, resolveSource, type LoadedSource } from '../runtime/taps.js';
import { resolveLabels } from '../probe/run.js';
import { tapPurity, type TapPurity } from '../probe/purity.js';

/** A model to compare: a file, or one built in memory (by `sca check` and `sca demo`). */
export type ModelSource = string | { label: string; model: Model };

export type { CompareOptions, Comparison, ComparisonDetail, ComparisonResult, DomainDetails, DomainResults, OutputSummary, TapResult } from './results.js';

/**
 * Sessions with taps or set inputs run the model from memory (the graph only:
 * external data is read in place from the model's folder, as when opened by
 * path; onnxruntime's own copy of the weights is the peak either way, measured
 * at 1.05 GB for a 1 GB model opened by path and from memory alike).
 */
function openForCompare(source: LoadedSource, taps: string[], device: Device, values: Record<string, number> = {}): Promise<ort.InferenceSession> {
  return openWithOutputs(source, taps, device, values);
}

export async function compareModels(intactSource: ModelSource, patchedSource: ModelSource, options: CompareOptions): Promise<Comparison> {
  const started = performance.now();
  const intact = resolveSource(intactSource);
  const patched = resolveSource(patchedSource);
  const device = options.device ?? 'cpu';
  const batchSize = options.batchSize ?? 1024;
  const taps = options.taps ?? [];
  // Strength inputs a patch added are fed by this toolkit (the recorded strength, or `patchedInputs`), not read from the data.
  const intactStrengths = strengthInputs(intact.model.proto);
  const patchedStrengths = strengthInputs(patched.model.proto);
  const inputs = requiredInputs(intact.model.proto.graph!).filter((i) => !intactStrengths.has(i.name));
  const dataset = loadDataset(options.data, inputs);
  if (options.groups) dataset.groups = loadGroups(options.groups, dataset.samples);
  const patchedInputs = new Set(
    requiredInputs(patched.model.proto.graph!)
      .map((i) => i.name)
      .filter((n) => !patchedStrengths.has(n)),
  );
  // The sessions run the models with them set (a domain's own runs see the same models); `patchedInputs` overrides.
  const recorded = (m: Map<string, number>) => Object.fromEntries(m);
  const patchedValues = { ...recorded(patchedStrengths), ...options.patchedInputs };
  for (const name of patchedInputs) {
    if (!(name in dataset.inputs)) throw new UsageError(`${patched.label}: needs input '${name}', which ${intact.label} does not have`);
  }

  const [a, b] = [await openForCompare(intact, taps, device, recorded(intactStrengths)), await openForCompare(patched, taps, device, patchedValues)];
  const outputNames = intact.model.proto.graph!.output.map((o) => o.name!).filter((n) => patched.model.proto.graph!.output.some((o) => o.name === n));
  if (outputNames.length === 0) throw new UsageError(`${intact.label} and ${patched.label} have no output name in common`);
  const compared = [...outputNames, ...taps.filter((t) => !outputNames.includes(t))];

  const perSample: Record<string, SampleMetrics> = {};
  for (const name of compared) {
    perSample[name] = { mse: new Float64Array(dataset.samples), maxAbs: new Float64Array(dataset.samples), cosine: new Float64Array(dataset.samples) };
    if (options.classifier && outputNames.includes(name)) {
      perSample[name].kl = new Float64Array(dataset.samples);
      perSample[name].top1 = new Float64Array(dataset.samples);
    }
  }
  const tapValues: Record<string, { intact: number[][]; patched: number[][] }> = Object.fromEntries(taps.map((t) => [t, { intact: [], patched: [] }]));

  const runner = staticBatches(dataset, batchSize, patchedInputs, options.onProgress);
  try {
    await runner.run(a, b, compared, ({ start, end, intact: ra, patched: rb }) => {
      for (const name of compared) {
        const x = tensorNumbers(ra[name]);
        const y = tensorNumbers(rb[name]);
        if (x.length !== y.length) throw new UsageError(`output '${name}' has different sizes in the two models (${ra[name].dims} vs ${rb[name].dims})`);
        const per = x.length / (end - start);
        const classes = ra[name].dims[ra[name].dims.length - 1];
        const m = perSample[name];
        for (let s = 0; s < end - start; s++) {
          const xs = Array.prototype.slice.call(x, s * per, (s + 1) * per) as number[];
          const ys = Array.prototype.slice.call(y, s * per, (s + 1) * per) as number[];
          m.mse[start + s] = mse(xs, ys);
          m.maxAbs[start + s] = maxAbs(xs, ys);
          m.cosine[start + s] = cosine(xs, ys);
          if (m.kl && m.top1) {
            const c = classifierAgreement(xs, ys, classes);
            m.kl[start + s] = c.kl;
            m.top1[start + s] = c.top1;
          }
          if (name in tapValues) {
            tapValues[name].intact.push(xs);
            tapValues[name].patched.push(ys);
          }
        }
      }
    });

    const all = Array.from({ length: dataset.samples }, (_, i) => i);
    const groupNames = dataset.groups ? orderGroups(dataset.groups) : [];
    const result: ComparisonResult = {
      schemaVersion: 1,
      intact: intact.label,
      patched: patched.label,
      data: { name: dataset.name, samples: dataset.samples, ...(dataset.filled?.length ? { filled: dataset.filled } : {}) },
      device,
      outputs: outputNames.map((name) => ({ name, ...summarize(perSample[name], all) })),
      groups: groupNames.map((group) => {
        const idx = all.filter((i) => dataset.groups![i] === group);
        return { group, samples: idx.length, outputs: outputNames.map((name) => ({ name, ...summarize(perSample[name], idx) })) };
      }),
      ...emptyDomainResults(),
      taps: taps.map((t) => ({
        ...tapResult(intact.model, t, perSample[t], all, tapValues[t]),
        purity: purityOf(intact.model, t, tapValues[t], dataset, options.labels),
      })),
      timing: { seconds: 0, samplesPerSecond: 0 },
    };
    const detail: ComparisonDetail = { dataset, perSample };
    for (const domain of registeredDomains()) {
      await domain.analyse({
        dataset,
        intact: { model: intact.model, session: a },
        patched: { model: patched.model, session: b },
        output: outputNames[0],
        options,
        result,
        detail,
      });
    }
    const seconds = (performance.now() - started) / 1000;
    result.timing = { seconds, samplesPerSecond: dataset.samples / seconds };
    return { result, detail };
  } finally {
    await a.release();
    await b.release();
  }
}

function tapResult(model: Model, tensor: string, metrics: SampleMetrics, all: number[], values: { intact: number[][]; patched: number[][] }): TapResult {
  const anchor = readAnchors(model.proto).find((x) => x.tensor === tensor && x.direction);
  let cos: TapResult['cosine'] = null;
  if (anchor?.direction) {
    const dir = anchor.direction;
    const cosTo = (rows: number[][]) => rows.map((r) => cosine(r, dir));
    const bins = Array.from({ length: 21 }, (_, i) => -1 + i * 0.1);
    cos = { concept: anchor.concept, bins, intact: histogram(cosTo(values.intact), -1, 1, 20), patched: histogram(cosTo(values.patched), -1, 1, 20) };
  }
  return { tensor, change: summarize(metrics, all), cosine: cos };
}

function purityOf(model: Model, tensor: string, values: { intact: number[][]; patched: number[][] }, dataset: Dataset, labelFile?: string): TapPurity | null {
  const width = values.intact[0]?.length;
  const anchor = readAnchors(model.proto).find((a) => a.tensor === tensor && (!a.direction || a.direction.length === width));
  if (!anchor || values.intact.length !== dataset.samples || (!labelFile && !dataset.colors)) return null;
  const labels = resolveLabels(labelFile ?? 'redness', dataset);
  if (labels.classes.length !== 2 || labels.values.length !== dataset.samples) return null;
  return tapPurity(values.intact, values.patched, labels.values, anchor);
}
