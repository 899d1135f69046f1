/**
 * The probe metrics of `sca check`: `probe_accuracy`, `probe_auc` and
 * `purity` at one tensor of the intact or the patched model. A check names
 * "tensor", "labels" (a file relative to the spec, or `redness` for the
 * colour cube, the default there) and "model" ("intact" or "patched", the
 * default).
 */
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { Device } from '../runtime/session.js';
import type { ModelSource } from './activations.js';
import { REDNESS_LABELS } from '../data/labels.js';
import { probeModels } from './run.js';

export const PROBE_METRICS = ['probe_accuracy', 'probe_auc', 'purity'] as const;
export type ProbeMetric = (typeof PROBE_METRICS)[number];
export const PROBE_CHECK_KEYS = ['tensor', 'labels', 'model'] as const;

export interface ProbeCheck {
  metric: ProbeMetric;
  tensor?: string;
  labels?: string;
  model?: 'intact' | 'patched';
}

export function isProbeMetric(metric: string): metric is ProbeMetric {
  return (PROBE_METRICS as readonly string[]).includes(metric);
}

/** Spec validation for a probe check: one line naming the field at fault. */
export function validateProbeCheck(c: Record<string, unknown>, where: string, data: string): void {
  if (typeof c.tensor !== 'string') throw new UsageError(`${where}: ${String(c.metric)} needs "tensor", the tensor to probe`);
  if (c.model !== undefined && c.model !== 'intact' && c.model !== 'patched') throw new UsageError(`${where}: "model" must be "intact" or "patched"`);
  if (c.labels === undefined && !/^color-cube/.test(data)) throw new UsageError(`${where}: ${String(c.metric)} needs "labels" (a .npy or .json file)`);
  if (c.labels !== undefined && typeof c.labels !== 'string') throw new UsageError(`${where}: "labels" must name a file`);
}

export async function measureProbe(
  check: ProbeCheck,
  intact: string,
  data: string,
  dir: string,
  patched: () => Promise<ModelSource>,
  device: Device,
): Promise<{ value: number | null; subject: string }> {
  const which = check.model ?? 'patched';
  const labels = !check.labels || check.labels === REDNESS_LABELS ? REDNESS_LABELS : path.resolve(dir, check.labels);
  const source = which === 'intact' ? intact : await patched();
  const report = await probeModels({ model: source, tensors: [check.tensor!], data, labels, device });
  const t = report.tensors[0];
  const subject = `${which} ${t.tensor}`;
  if (check.metric === 'probe_accuracy') return { value: t.intact.accuracy.value, subject };
  if (check.metric === 'probe_auc') {
    if (!t.intact.auc) throw new UsageError(`probe_auc needs two classes; the labels have ${t.intact.classes}`);
    return { value: t.intact.auc.value, subject };
  }
  if (!t.purity) throw new UsageError(`purity needs an anchor at '${t.tensor}' in ${report.model} and labels with two classes`);
  return { value: t.purity.intact.meanDiff, subject: `${subject} [${t.purity.intact.concept}]` };
}
