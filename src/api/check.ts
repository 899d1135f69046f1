/**
 * `sca check SPEC.json` as a library function: gate CI on whether an
 * intervention works. A spec names an intact model, data, and a list of
 * checks; each check compares the intact model with a patched one (a file,
 * or a patch/ablation made on the fly) and holds one metric to a bound.
 *
 *   {
 *     "intact": "color-isolated.onnx",         // paths are relative to the spec
 *     "data": "color-cube",
 *     "checks": [
 *       { "name": "red is gone", "patch": { "concept": "red", "mode": "suppress" },
 *         "metric": "patched_mse", "color": "red", "min": 0.2 },
 *       { "ablate": { "concept": "red" }, "metric": "selectivity", "min": 0.7 }
 *     ]
 *   }
 */
import { compareText, type TextComparison } from '../eval/compareText.js';
import { isDirectory, variantFile } from '../onnx/folder.js';
import path from 'node:path';
import { didYouMean, UsageError } from '../errors.js';
import { loadModel, type Model } from '../onnx/model.js';
import { ablate } from './ablate.js';
import { patchFile } from './patch.js';
import { MODES, PROJECTIONS } from '../rewrite/intervention.js';
import type { PatchRequest } from '../rewrite/patch.js';
import { resolvePlanDirections } from '../data/directions.js';
import { readJsonFile } from '../util/options.js';
import { isProbeMetric, measureProbe, PROBE_METRICS, validateProbeCheck, type ProbeCheck, type ProbeMetric } from '../probe/check.js';
import { DEFAULT_OFF_TARGET, NAMED_COLORS } from '../domains/color/palette.js';
import { compareModels, type Comparison, type ModelSource } from '../eval/compare.js';
import type { Device } from '../runtime/session.js';
// Datasets a domain names (color-cube) must be known here, as from the CLI.
import '../domains/index.js';

export const OUTPUT_METRICS = ['mse', 'max_abs', 'cosine', 'kl', 'top1'] as const;
export const COLOR_METRICS = ['intact_mse', 'patched_mse', 'ratio', 'change_mse', 'max_off_target_mse', 'selectivity'] as const;
/** Language-model metrics over generations from `prompts` (eval/compareText.ts). */
export const TEXT_METRICS = ['first_token_kl', 'mean_kl', 'token_agreement', 'term_rate', 'refusal_rate', 'perplexity_ratio'] as const;
type TextMetric = (typeof TEXT_METRICS)[number];
type Metric = (typeof OUTPUT_METRICS)[number] | (typeof COLOR_METRICS)[number] | ProbeMetric | TextMetric;

interface AblateSpec {
  concept?: string;
  tensor?: string;
  dims?: number[];
  axis?: number;
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
  /** Text metrics: prompts (a .txt or .jsonl file), tokens per prompt, terms for term_rate, a held-out text for perplexity_ratio. */
  prompts?: string;
  maxNewTokens?: number;
  terms?: string;
  text?: string;
}

export interface Spec {
  intact: string;
  data?: string;
  prompts?: string;
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
  /** Wall time of the check (a comparison shared with an earlier check is not counted again). */
  seconds?: number;
}

/** Where in the spec a value sits, as a JSON path: `checks[2].patch.falloff`. */
type JsonPath = string;

/** The shape of each object a spec may hold: field name to a checker that returns an error, or undefined. */
type FieldCheck = (value: unknown) => string | undefined;
type Shape = Record<string, FieldCheck>;

const isString: FieldCheck = (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'must be a non-empty string');
const isNumber: FieldCheck = (v) => (typeof v === 'number' && Number.isFinite(v) ? undefined : 'must be a finite number');
const isBoolean: FieldCheck = (v) => (typeof v === 'boolean' ? undefined : 'must be true or false');
const isNumberList: FieldCheck = (v) =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x)) ? undefined : 'must be a non-empty list of numbers';
const isIndexList: FieldCheck = (v) =>
  Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x >= 0) ? undefined : 'must be a non-empty list of non-negative integers';
const isStringList: FieldCheck = (v) =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string') ? undefined : 'must be a non-empty list of strings';
const oneOf =
  (options: readonly string[]): FieldCheck =>
  (v) =>
    typeof v === 'string' && options.includes(v) ? undefined : `must be one of ${options.join(', ')}`;

const FALLOFF_SHAPE: Shape = { threshold: isNumber, strength: isNumber, power: isNumber };
const PATCH_SHAPE: Shape = {
  tensor: isString,
  concept: isString,
  mode: oneOf(MODES),
  strength: isNumber,
  strengthInput: isString,
  fold: isBoolean,
  foldTolerance: isNumber,
  layers: oneOf(['all']),
  dims: isIndexList,
  axis: (v) => (Number.isInteger(v) ? undefined : 'must be an integer (negative counts from the end)'),
  projection: oneOf(PROJECTIONS),
  directions: (v) =>
    (typeof v === 'string' && v.startsWith('@')) ||
    (Array.isArray(v) && v.length > 0 && v.every((d) => isNumberList(d) === undefined || (typeof d === 'string' && d.startsWith('@'))))
      ? undefined
      : 'must be a non-empty list of directions (lists of numbers, or "@FILE")',
  falloff: () => undefined, // an object, checked with FALLOFF_SHAPE below
};
const ABLATE_SHAPE: Shape = {
  concept: isString,
  tensor: isString,
  dims: isIndexList,
  axis: (v) => (Number.isInteger(v) ? undefined : 'must be an integer'),
  prune: isBoolean,
};
const CHECK_SHAPE: Shape = {
  name: isString,
  intact: isString,
  data: isString,
  patched: isString,
  output: isString,
  group: isString,
  color: isString,
  colors: isStringList,
  min: isNumber,
  max: isNumber,
  metric: (v) =>
    ([...OUTPUT_METRICS, ...COLOR_METRICS, ...PROBE_METRICS, ...TEXT_METRICS] as unknown[]).includes(v)
      ? undefined
      : `unknown metric '${String(v)}' (one of ${[...OUTPUT_METRICS, ...COLOR_METRICS, ...PROBE_METRICS, ...TEXT_METRICS].join(', ')})`,
  prompts: isString,
  maxNewTokens: (v) => (Number.isInteger(v) && (v as number) > 0 ? undefined : 'must be a whole number of 1 or more'),
  terms: isString,
  text: isString,
  // Probe metrics (src/probe/check.ts).
  tensor: isString,
  labels: isString,
  model: oneOf(['intact', 'patched']),
  patch: () => undefined, // an object or a list of them, checked with PATCH_SHAPE below
  ablate: () => undefined,
};
const SPEC_SHAPE: Shape = { intact: isString, data: isString, prompts: isString, device: oneOf(['cpu', 'cuda']), checks: () => undefined };

/** Refuses anything but a plain object whose fields are all known and well-typed, naming the JSON path. */
function checkObject(value: unknown, shape: Shape, where: JsonPath, fail: (where: JsonPath, message: string) => never): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) fail(where, `must be an object with fields ${Object.keys(shape).join(', ')}`);
  const obj = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(obj)) {
    const check = shape[key];
    if (!check) fail(where, `unknown field '${key}'${didYouMean(key, Object.keys(shape))} (fields: ${Object.keys(shape).join(', ')})`);
    const problem = check(v);
    if (problem) fail(join(where, key), problem);
  }
  return obj;
}

function join(where: JsonPath, key: string | number): JsonPath {
  if (typeof key === 'number') return `${where}[${key}]`;
  return where ? `${where}.${key}` : key;
}

/**
 * Reads and validates a spec. Every object is strict (an unknown or mistyped
 * field is refused with its JSON path, so a typo cannot silently fall back to
 * a default and let a check pass), bounds must satisfy min <= max, and every
 * message names the spec file.
 */
export function parseSpec(file: string): { spec: Spec; dir: string } {
  const raw = readJsonFile('spec', file);
  const fail = (where: JsonPath, message: string): never => {
    throw new UsageError(`${file}: ${where ? `${where}: ` : ''}${message}`, 'BAD_SPEC');
  };
  const top = checkObject(raw, SPEC_SHAPE, '', fail);
  if (top.intact === undefined) fail('', '"intact" must name the intact model');
  if (!Array.isArray(top.checks) || top.checks.length === 0) fail('checks', 'must be a non-empty list');
  (top.checks as unknown[]).forEach((item, i) => {
    const at = `checks[${i}]`;
    const c = checkObject(item, CHECK_SHAPE, at, fail);
    if (c.metric === undefined) fail(at, `needs "metric", one of ${[...OUTPUT_METRICS, ...COLOR_METRICS].join(', ')}`);
    const metric = c.metric as Metric;
    if (isProbeMetric(metric)) validateProbeCheck(c, `${file}: ${at}`, String(c.data ?? top.data ?? 'color-cube'));
    const sources = ['patched', 'patch', 'ablate'].filter((k) => k in c);
    if (sources.length !== 1) fail(at, 'give exactly one of "patched", "patch" or "ablate"');
    if (c.min === undefined && c.max === undefined) fail(at, 'give a bound, "min" and/or "max"');
    if (c.min !== undefined && c.max !== undefined && (c.min as number) > (c.max as number)) {
      fail(at, `"min" ${c.min} is above "max" ${c.max}: no value can pass`);
    }
    const color = (c.color ?? c.group) as string | undefined;
    if (['intact_mse', 'patched_mse', 'ratio', 'change_mse'].includes(metric)) {
      if (!color || !(color in NAMED_COLORS)) fail(at, `${metric} needs "color", one of ${Object.keys(NAMED_COLORS).join(', ')}`);
    }
    ((c.colors as string[] | undefined) ?? []).forEach((name, k) => {
      if (!(name in NAMED_COLORS)) fail(join(join(at, 'colors'), k), `unknown colour '${name}'${didYouMean(name, Object.keys(NAMED_COLORS))}`);
    });
    if (c.patch !== undefined) {
      const list = Array.isArray(c.patch) ? c.patch : [c.patch];
      if (list.length === 0) fail(join(at, 'patch'), 'must be an object or a non-empty list of them');
      list.forEach((p, k) => {
        const pat = Array.isArray(c.patch) ? join(join(at, 'patch'), k) : join(at, 'patch');
        const patch = checkObject(p, PATCH_SHAPE, pat, fail);
        if (patch.mode === undefined) fail(pat, `needs "mode", one of ${MODES.join(', ')}`);
        const directions = resolvePlanDirections(`${file}: ${pat}`, patch.directions, path.dirname(path.resolve(file)));
        if (directions) patch.directions = directions;
        if (patch.falloff !== undefined) {
          const falloff = checkObject(patch.falloff, FALLOFF_SHAPE, join(pat, 'falloff'), fail);
          for (const key of Object.keys(FALLOFF_SHAPE)) if (falloff[key] === undefined) fail(join(pat, 'falloff'), `needs "${key}"`);
        }
      });
    }
    if (c.ablate !== undefined) checkObject(c.ablate, ABLATE_SHAPE, join(at, 'ablate'), fail);
  });
  return { spec: raw as unknown as Spec, dir: path.dirname(path.resolve(file)) };
}

/** How a check is named in messages: its JSON path and, when it has one, its name. */
export function checkLabel(check: CheckSpec, i: number): string {
  return `checks[${i}]${check.name ? ` ("${check.name}")` : ''}`;
}

/** The patched side of a check: a file, or the intact model patched or ablated on the fly by the same verbs as `sca patch` and `sca ablate`. */
export async function patchedSource(check: CheckSpec, intactPath: string, dir: string): Promise<ModelSource> {
  if (check.patched) {
    const named = path.resolve(dir, check.patched);
    return isDirectory(named) ? variantFile(named) : named;
  }
  if (check.patch) {
    const { model } = await patchFile(intactPath, Array.isArray(check.patch) ? check.patch : [check.patch]);
    return { label: `${intactPath} + patch`, model };
  }
  const a = check.ablate!;
  const model: Model = loadModel(intactPath);
  ablate(model, a, intactPath);
  return { label: `${intactPath} + ${a.prune ? 'prune' : 'ablate'}`, model };
}

function isTextMetric(m: Metric): m is TextMetric {
  return (TEXT_METRICS as readonly string[]).includes(m);
}

function measureText(check: CheckSpec, c: TextComparison): { value: number | null; subject?: string } {
  const t = c.text;
  switch (check.metric as TextMetric) {
    case 'first_token_kl':
      return { value: t.firstTokenKl };
    case 'mean_kl':
      return { value: t.meanKl };
    case 'token_agreement':
      return { value: t.tokenAgreement };
    case 'refusal_rate':
      return { value: t.refusalRate.patched, subject: 'patched' };
    case 'term_rate':
      if (!t.termRate) throw new UsageError('metric term_rate needs `terms`');
      return { value: t.termRate.patched, subject: 'patched' };
    case 'perplexity_ratio':
      if (!t.perplexity) throw new UsageError('metric perplexity_ratio needs `text`');
      return { value: t.perplexity.patched / t.perplexity.intact };
  }
}

function measure(check: CheckSpec, c: Comparison): { value: number | null; subject?: string } {
  const r = c.result;
  const color = check.color ?? check.group;
  if ((COLOR_METRICS as readonly string[]).includes(check.metric)) {
    if (!r.color) throw new UsageError(`metric ${check.metric} needs colour data (\`data\` color-cube) and a colour model`);
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
  const summary = check.group
    ? r.groups.find((g) => g.group === check.group)?.outputs.find((o) => o.name === outputName)
    : r.outputs.find((o) => o.name === outputName);
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
  const texts = new Map<string, TextComparison>();
  for (const [i, check] of spec.checks.entries()) {
    // A model folder stands for its default variant (the only one, or the fp32 one), as for compare.
    const named = path.resolve(dir, check.intact ?? spec.intact);
    const intact = isDirectory(named) ? variantFile(named) : named;
    const specData = check.data ?? spec.data ?? 'color-cube';
    const data = /^color-cube/.test(specData) ? specData : path.resolve(dir, specData);
    const classifier = check.metric === 'kl' || check.metric === 'top1';
    const key = JSON.stringify([intact, data, classifier, check.patched, check.patch, check.ablate]);
    const device = options.device ?? spec.device ?? 'cpu';
    const started = performance.now();
    let comparison = comparisons.get(key);
    let measured: { value: number | null; subject?: string };
    try {
      if (isProbeMetric(check.metric)) {
        measured = await measureProbe(check as ProbeCheck, intact, data, dir, () => patchedSource(check, intact, dir), device);
      } else if (isTextMetric(check.metric)) {
        const prompts = check.prompts ?? spec.prompts;
        if (!prompts) throw new UsageError(`metric ${check.metric} needs \`prompts\` (in the check or the spec)`);
        const textKey = JSON.stringify([named, prompts, check.maxNewTokens, check.terms, check.text, check.patched, check.patch, check.ablate]);
        let text = texts.get(textKey);
        if (!text) {
          const resolve = (f: string | undefined) => (f === undefined ? undefined : path.resolve(dir, f));
          text = await compareText(named, await patchedSource(check, intact, dir), {
            prompts: resolve(prompts)!,
            ...(check.maxNewTokens ? { maxNewTokens: check.maxNewTokens } : {}),
            ...(check.terms ? { terms: resolve(check.terms)! } : {}),
            ...(check.text ? { text: resolve(check.text)! } : {}),
            device,
          });
          texts.set(textKey, text);
        }
        measured = measureText(check, text);
      } else {
        if (!comparison) {
          comparison = await compareModels(intact, await patchedSource(check, intact, dir), { data, device, classifier });
          comparisons.set(key, comparison);
        }
        measured = measure(check, comparison);
      }
    } catch (err) {
      // Name the spec and the check: a spec may hold dozens.
      if (err instanceof UsageError) throw new UsageError(`${file}: ${checkLabel(check, i)}: ${err.message}`, err.code);
      throw err;
    }
    const seconds = (performance.now() - started) / 1000;
    const { value, subject } = measured;
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
      seconds,
    });
  }
  return results;
}

const xml = (s: string): string => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

export function junitXml(results: CheckResult[], suite: string): string {
  const failures = results.filter((r) => !r.passed).length;
  const total = results.reduce((t, r) => t + (r.seconds ?? 0), 0);
  const cases = results
    .map((r) => {
      const value = r.value === null ? 'undefined' : String(r.value);
      const body = r.passed
        ? ''
        : `<failure message="${xml(r.reason ?? 'failed')}">${xml(`${r.metric}${r.subject ? `[${r.subject}]` : ''} = ${value}`)}</failure>`;
      return `  <testcase classname="sca.check" name="${xml(r.name)}" time="${(r.seconds ?? 0).toFixed(3)}">${body}<system-out>${xml(`value=${value}`)}</system-out></testcase>`;
    })
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="${xml(suite)}" tests="${results.length}" failures="${failures}" errors="0" time="${total.toFixed(3)}">\n${cases}\n</testsuite>\n`;
}

/**
 * JUnit for a spec that could not be run (exit 2): one test case with an
 * <error>, so a CI dashboard shows a broken gate instead of a missing report.
 */
export function junitErrorXml(suite: string, message: string, seconds = 0): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="${xml(suite)}" tests="1" failures="0" errors="1" time="${seconds.toFixed(3)}">\n  <testcase classname="sca.check" name="spec" time="${seconds.toFixed(3)}"><error message="${xml(message)}"></error></testcase>\n</testsuite>\n`;
}
