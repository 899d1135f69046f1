/**
 * `sca check SPEC.json` as a library function: gate CI on whether an
 * intervention works. A spec names an intact model, data, and a list of
 * checks; each check compares the intact model with a patched one (a file,
 * or a patch/ablation made on the fly) and holds one metric to a bound.
 *
 *   {
 *     "intact": "color-red.onnx",          // paths are relative to the spec
 *     "data": "color-cube",
 *     "checks": [
 *       { "name": "red is gone", "patch": { "concept": "red", "mode": "suppress" },
 *         "metric": "patched_mse", "color": "red", "min": 0.2 },
 *       { "ablate": { "concept": "red" }, "metric": "selectivity", "min": 0.7 }
 *     ]
 *   }
 */
import path from 'node:path';
import { findAnchor } from '../anchors/manifest.js';
import { UsageError } from '../errors.js';
import { loadModel, type Model } from '../onnx/model.js';
import { ablateDims } from '../rewrite/ablation.js';
import { MODES } from '../rewrite/intervention.js';
import { patchModel, type PatchRequest } from '../rewrite/patch.js';
import { readJsonFile } from '../util/options.js';
import { isProbeMetric, measureProbe, PROBE_CHECK_KEYS, PROBE_METRICS, validateProbeCheck, type ProbeCheck, type ProbeMetric } from '../probe/check.js';
import { NAMED_COLORS } from './colors.js';
import { compareModels, type Comparison, type ModelSource } from './compare.js';
import type { Device } from './session.js';

export const OUTPUT_METRICS = ['mse', 'max_abs', 'cosine', 'kl', 'top1'] as const;
export const COLOR_METRICS = ['intact_mse', 'patched_mse', 'ratio', 'change_mse', 'max_off_target_mse', 'selectivity'] as const;
type Metric = (typeof OUTPUT_METRICS)[number] | (typeof COLOR_METRICS)[number] | ProbeMetric;

/** Colours far from red in hue: what suppressing red must leave alone. */
export const DEFAULT_OFF_TARGET = ['green', 'teal', 'cyan', 'azure', 'blue', 'black', 'dark gray', 'gray', 'light gray', 'white'];

interface AblateSpec {
  concept?: string;
  tensor?: string;
  dims?: number[];
  prune?: boolean;
}

export interface CheckSpec {
  name?: string;
  /** Overrides the spec's intact model / data for this check. */
  intact?: string;
  data?: string;
  patched?: string;
  patch?: PatchRequest | PatchRequest[];
  ablate?: AblateSpec;
  metric: Metric;
  /** Output to measure (default: the first); for colour metrics, ignored. */
  output?: string;
  /** A group label (from the data) for output metrics, or a named colour for colour metrics. */
  group?: string;
  color?: string;
  /** Colours for max_off_target_mse. */
  colors?: string[];
  min?: number;
  max?: number;
  /** Probe metrics (probe_accuracy, probe_auc, purity): see src/probe/check.ts. */
  tensor?: string;
  labels?: string;
  model?: 'intact' | 'patched';
}

export interface Spec {
  intact: string;
  data?: string;
  device?: Device;
  checks: CheckSpec[];
}

export interface CheckResult {
  name: string;
  metric: Metric;
  subject?: string;
  value: number | null;
  min?: number;
  max?: number;
  passed: boolean;
  /** Why it failed, in words. */
  reason?: string;
}

const SPEC_KEYS = new Set(['intact', 'data', 'device', 'checks']);
const CHECK_KEYS = new Set(['name', 'intact', 'data', 'patched', 'patch', 'ablate', 'metric', 'output', 'group', 'color', 'colors', 'min', 'max']);
for (const k of PROBE_CHECK_KEYS) CHECK_KEYS.add(k);

export function parseSpec(file: string): { spec: Spec; dir: string } {
  const raw = readJsonFile('spec', file) as Record<string, unknown>;
  const where = (i?: number) => (i === undefined ? file : `${file}: check ${i + 1}`);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`${file}: a spec is a JSON object with "intact" and "checks"`);
  for (const k of Object.keys(raw)) if (!SPEC_KEYS.has(k)) throw new UsageError(`${file}: unknown field '${k}' (fields: ${[...SPEC_KEYS].join(', ')})`);
  if (typeof raw.intact !== 'string') throw new UsageError(`${file}: "intact" must name the intact model`);
  if (!Array.isArray(raw.checks) || raw.checks.length === 0) throw new UsageError(`${file}: "checks" must be a non-empty list`);
  raw.checks.forEach((c: Record<string, unknown>, i: number) => {
    if (!c || typeof c !== 'object') throw new UsageError(`${where(i)} is not an object`);
    for (const k of Object.keys(c)) if (!CHECK_KEYS.has(k)) throw new UsageError(`${where(i)}: unknown field '${k}'`);
    const metric = c.metric as Metric;
    if (![...OUTPUT_METRICS, ...COLOR_METRICS, ...PROBE_METRICS].includes(metric)) {
      throw new UsageError(`${where(i)}: unknown metric '${String(c.metric)}' (one of ${[...OUTPUT_METRICS, ...COLOR_METRICS, ...PROBE_METRICS].join(', ')})`);
    }
    if (isProbeMetric(metric)) validateProbeCheck(c, where(i), String(c.data ?? raw.data ?? 'color-cube'));
    const sources = ['patched', 'patch', 'ablate'].filter((k) => k in c);
    if (sources.length !== 1) throw new UsageError(`${where(i)}: give exactly one of "patched", "patch" or "ablate"`);
    if (c.min === undefined && c.max === undefined) throw new UsageError(`${where(i)}: give a bound, "min" and/or "max"`);
    for (const k of ['min', 'max']) if (c[k] !== undefined && typeof c[k] !== 'number') throw new UsageError(`${where(i)}: "${k}" must be a number`);
    const color = (c.color ?? c.group) as string | undefined;
    if (['intact_mse', 'patched_mse', 'ratio', 'change_mse'].includes(metric)) {
      if (!color || !(color in NAMED_COLORS)) throw new UsageError(`${where(i)}: ${metric} needs "color", one of ${Object.keys(NAMED_COLORS).join(', ')}`);
    }
    for (const name of (c.colors as string[] | undefined) ?? []) {
      if (!(name in NAMED_COLORS)) throw new UsageError(`${where(i)}: unknown colour '${name}' in "colors"`);
    }
    const patches = c.patch === undefined ? [] : Array.isArray(c.patch) ? c.patch : [c.patch];
    for (const p of patches as PatchRequest[]) {
      if (!MODES.includes(p.mode)) throw new UsageError(`${where(i)}: patch needs "mode", one of ${MODES.join(', ')}`);
    }
  });
  return { spec: raw as unknown as Spec, dir: path.dirname(path.resolve(file)) };
}

async function patchedSource(check: CheckSpec, intactPath: string, dir: string): Promise<ModelSource> {
  if (check.patched) return path.resolve(dir, check.patched);
  const model: Model = loadModel(intactPath);
  if (check.patch) {
    await patchModel(model, Array.isArray(check.patch) ? check.patch : [check.patch], intactPath);
    return { label: `${intactPath} + patch`, model };
  }
  const a = check.ablate!;
  const anchor = a.concept ? findAnchor(model.proto, a.concept, intactPath) : undefined;
  const tensor = a.tensor ?? anchor?.tensor;
  const dims = a.dims ?? anchor?.dims;
  if (!tensor || !dims) throw new UsageError('an "ablate" check needs "concept" (with dims in the manifest) or "tensor" and "dims"');
  ablateDims(model, tensor, dims, { prune: a.prune, concept: a.concept });
  return { label: `${intactPath} + ${a.prune ? 'prune' : 'ablate'}`, model };
}

function measure(check: CheckSpec, c: Comparison): { value: number | null; subject?: string } {
  const r = c.result;
  const color = check.color ?? check.group;
  if ((COLOR_METRICS as readonly string[]).includes(check.metric)) {
    if (!r.color) throw new UsageError(`metric ${check.metric} needs colour data (--data color-cube) and a colour model`);
    const row = (name: string) => r.color!.named.find((x) => x.name === name)!;
    switch (check.metric) {
      case 'selectivity':
        return { value: r.color.selectivity };
      case 'max_off_target_mse': {
        const names = check.colors ?? DEFAULT_OFF_TARGET;
        const worst = names.reduce((a, n) => (row(n).patchedMse > row(a).patchedMse ? n : a), names[0]);
        return { value: row(worst).patchedMse, subject: worst };
      }
      case 'intact_mse':
        return { value: row(color!).intactMse, subject: color };
      case 'patched_mse':
        return { value: row(color!).patchedMse, subject: color };
      case 'ratio':
        return { value: row(color!).ratio, subject: color };
      default:
        return { value: row(color!).changeMse, subject: color };
    }
  }
  const outputName = check.output ?? r.outputs[0].name;
  const summary = check.group ? r.groups.find((g) => g.group === check.group)?.outputs.find((o) => o.name === outputName) : r.outputs.find((o) => o.name === outputName);
  if (!summary) throw new UsageError(check.group ? `no group '${check.group}' with output '${outputName}' in the data` : `no output '${outputName}'`);
  const key = ({ mse: 'mse', max_abs: 'maxAbs', cosine: 'cosine', kl: 'kl', top1: 'top1' } as const)[check.metric as (typeof OUTPUT_METRICS)[number]];
  const value = summary[key];
  if (value === undefined) throw new UsageError(`metric ${check.metric} needs classifier outputs`);
  return { value, subject: check.group ? `${outputName}[${check.group}]` : outputName };
}

export async function runChecks(file: string, options: { device?: Device } = {}): Promise<CheckResult[]> {
  const { spec, dir } = parseSpec(file);
  const results: CheckResult[] = [];
  // Checks of several metrics on one intervention share one comparison.
  const comparisons = new Map<string, Comparison>();
  for (const [i, check] of spec.checks.entries()) {
    const intact = path.resolve(dir, check.intact ?? spec.intact);
    const specData = check.data ?? spec.data ?? 'color-cube';
    const data = /^color-cube/.test(specData) ? specData : path.resolve(dir, specData);
    const classifier = check.metric === 'kl' || check.metric === 'top1';
    const key = JSON.stringify([intact, data, classifier, check.patched, check.patch, check.ablate]);
    const device = options.device ?? spec.device ?? 'cpu';
    let comparison = comparisons.get(key);
    if (!comparison && !isProbeMetric(check.metric)) {
      comparison = await compareModels(intact, await patchedSource(check, intact, dir), { data, device, classifier });
      comparisons.set(key, comparison);
    }
    const { value, subject } = isProbeMetric(check.metric)
      ? await measureProbe(check as ProbeCheck, intact, data, dir, () => patchedSource(check, intact, dir), device)
      : measure(check, comparison!);
    const bounds = [check.min !== undefined ? `>= ${check.min}` : '', check.max !== undefined ? `<= ${check.max}` : ''].filter(Boolean).join(' and ');
    let reason: string | undefined;
    if (value === null) reason = `${check.metric} is undefined (the outputs did not change)`;
    else if (check.min !== undefined && !(value >= check.min)) reason = `${value.toPrecision(4)} is below ${check.min}`;
    else if (check.max !== undefined && !(value <= check.max)) reason = `${value.toPrecision(4)} is above ${check.max}`;
    results.push({
      name: check.name ?? `check ${i + 1}: ${check.metric}${subject ? `[${subject}]` : ''} ${bounds}`,
      metric: check.metric,
      ...(subject ? { subject } : {}),
      value,
      ...(check.min !== undefined ? { min: check.min } : {}),
      ...(check.max !== undefined ? { max: check.max } : {}),
      passed: reason === undefined,
      ...(reason ? { reason } : {}),
    });
  }
  return results;
}

const xml = (s: string): string => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

export function junitXml(results: CheckResult[], suite: string): string {
  const failures = results.filter((r) => !r.passed).length;
  const cases = results
    .map((r) => {
      const value = r.value === null ? 'undefined' : String(r.value);
      const body = r.passed ? '' : `<failure message="${xml(r.reason ?? 'failed')}">${xml(`${r.metric}${r.subject ? `[${r.subject}]` : ''} = ${value}`)}</failure>`;
      return `  <testcase classname="sca.check" name="${xml(r.name)}">${body}<system-out>${xml(`value=${value}`)}</system-out></testcase>`;
    })
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="${xml(suite)}" tests="${results.length}" failures="${failures}">\n${cases}\n</testsuite>\n`;
}
