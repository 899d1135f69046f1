/**
 * `--report OUT.html`: one self-contained HTML file (inline CSS and SVG, no
 * scripts, nothing fetched) with the comparison's verdict, tables and plots,
 * so it can be attached to a CI run or mailed around. Every table has its
 * columns defined beside it, every axis says what it measures and in what
 * units, and outputs that did not change at all are drawn in their own
 * "exactly 0" strip instead of on a made-up floor of the log scale.
 */
import path from 'node:path';
import type { Comparison, ComparisonResult, ReportPart } from './results.js';
import { domainOf } from './domain.js';
import { sci } from './format.js';
import { histogram } from './metrics.js';

export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
export const rgbCss = (c: ArrayLike<number>): string => `rgb(${Array.from(c, (v) => Math.round(Math.min(Math.max(v, 0), 1) * 255)).join(',')})`;

export interface Point {
  x: number;
  y: number;
  fill: string;
  title: string;
}

export interface Axis {
  label: string;
  min: number;
  max: number;
  ticks: number[];
}

const W = 560;
const H = 330;
const M = { left: 70, right: 16, top: 28, bottom: 48 };

/** A log-scale scatter plot; points with y exactly 0 go in a strip of their own below the axis. */
export function scatter(id: string, title: string, points: Point[], x: Axis, yLabel: string): string {
  const positive = points.map((p) => p.y).filter((v) => v > 0);
  const floor = positive.length ? Math.floor(Math.log10(Math.min(...positive))) : -6;
  const ceil = positive.length ? Math.ceil(Math.log10(Math.max(...positive))) : 0;
  const lo = Math.min(floor, ceil - 1);
  const hi = Math.max(ceil, lo + 1);
  const zeros = points.filter((p) => p.y === 0);
  const plotBottom = H - M.bottom - (zeros.length ? 24 : 0);
  const zeroY = H - M.bottom - 8;
  const sx = (v: number) => M.left + ((v - x.min) / (x.max - x.min)) * (W - M.left - M.right);
  const sy = (v: number) => plotBottom - ((Math.log10(v) - lo) / (hi - lo)) * (plotBottom - M.top);
  const yTicks = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  const dots = points
    .filter((p) => p.y > 0)
    .map(
      (p) =>
        `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4" fill="${p.fill}" stroke="#333" stroke-width="0.4"><title>${esc(p.title)}</title></circle>`,
    );
  // Exact zeros: hollow squares in their own strip, so "no change at all" never reads as "a small change".
  const zeroMarks = zeros.map(
    (p) =>
      `<rect class="zero" data-zero="1" x="${(sx(p.x) - 3.5).toFixed(1)}" y="${zeroY - 3.5}" width="7" height="7" fill="none" stroke="${p.fill === 'rgb(255,255,255)' ? '#999' : p.fill}" stroke-width="1.6"><title>${esc(p.title)}</title></rect>`,
  );
  return `<svg data-plot="${id}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
<text x="${W / 2}" y="16" text-anchor="middle" class="title">${esc(title)}</text>
${yTicks.map((t) => `<line x1="${M.left}" x2="${W - M.right}" y1="${sy(10 ** t)}" y2="${sy(10 ** t)}" class="grid"/><text x="${M.left - 6}" y="${sy(10 ** t) + 4}" text-anchor="end">1e${t}</text>`).join('\n')}
${zeros.length ? `<line x1="${M.left}" x2="${W - M.right}" y1="${zeroY}" y2="${zeroY}" class="zero-axis"/><text x="${M.left - 6}" y="${zeroY + 4}" text-anchor="end" class="zero-label">exactly 0</text>` : ''}
${x.ticks.map((t) => `<text x="${sx(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${t}</text>`).join('')}
<text x="${W / 2}" y="${H - 10}" text-anchor="middle" class="axis-label" data-axis="x">${esc(x.label)}</text>
<text transform="translate(14 ${(M.top + plotBottom) / 2}) rotate(-90)" text-anchor="middle" class="axis-label" data-axis="y">${esc(yLabel)}</text>
${dots.join('\n')}
${zeroMarks.join('\n')}
</svg>`;
}

export function bars(
  id: string,
  title: string,
  edges: number[],
  series: { label: string; counts: number[]; color: string }[],
  xLabel: string,
  yLabel: string,
): string {
  const max = Math.max(1, ...series.flatMap((s) => s.counts));
  const n = edges.length - 1;
  const bw = (W - M.left - M.right) / n / series.length;
  const sx = (i: number) => M.left + (i / n) * (W - M.left - M.right);
  const sy = (c: number) => H - M.bottom - (c / max) * (H - M.top - M.bottom);
  const fmt = (v: number) => (Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(2) : sci(v));
  return `<svg data-plot="${id}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
<text x="${W / 2}" y="16" text-anchor="middle" class="title">${esc(title)}</text>
${series.map((s, k) => s.counts.map((c, i) => `<rect x="${(sx(i) + k * bw).toFixed(1)}" y="${sy(c).toFixed(1)}" width="${Math.max(bw - 1, 0.5).toFixed(1)}" height="${(H - M.bottom - sy(c)).toFixed(1)}" fill="${s.color}"><title>${esc(s.label)}, ${fmt(edges[i])} to ${fmt(edges[i + 1])}: ${c} samples</title></rect>`).join('')).join('\n')}
<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" class="grid"/>
${[0, Math.floor(n / 2), n].map((i) => `<text x="${sx(i)}" y="${H - M.bottom + 16}" text-anchor="middle">${fmt(edges[i])}</text>`).join('')}
<text x="${M.left - 6}" y="${sy(max) + 4}" text-anchor="end">${max}</text><text x="${M.left - 6}" y="${sy(0) + 4}" text-anchor="end">0</text>
<text x="${W / 2}" y="${H - 10}" text-anchor="middle" class="axis-label" data-axis="x">${esc(xLabel)}</text>
<text transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle" class="axis-label" data-axis="y">${esc(yLabel)}</text>
${series.map((s, k) => `<rect x="${W - 150}" y="${M.top + 16 * k}" width="10" height="10" fill="${s.color}"/><text x="${W - 135}" y="${M.top + 9 + 16 * k}">${esc(s.label)}</text>`).join('')}
</svg>`;
}

/** A table with its columns defined beside it. */
export function definedTable(header: string[], rows: string[][], definitions: Record<string, string>): string {
  const table = `<table><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((v, i) => (i === 0 ? `<td>${esc(v)}</td>` : `<td class="num">${esc(v)}</td>`)).join('')}</tr>`).join('')}</tbody></table>`;
  const defs = `<dl class="defs" data-definitions>${Object.entries(definitions)
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`)
    .join('')}</dl>`;
  return `<div class="table-with-defs">${table}${defs}</div>`;
}

const OUTPUT_COLUMNS: Record<string, string> = {
  MSE: 'mean over samples of the mean squared difference between the patched and the intact output',
  'max |diff|': 'largest absolute difference between the two outputs, over every value of every sample',
  cosine: 'mean over samples of the cosine between the patched and the intact output vectors (1 = same direction)',
};
const CLASSIFIER_COLUMNS: Record<string, string> = {
  KL: 'mean KL divergence KL(intact ‖ patched) of the softmax of the outputs, in nats',
  'top-1 agreement': 'share of samples whose highest-scoring class is the same in both models',
};

function summaryTable(r: ComparisonResult): string {
  const hasKl = r.outputs[0]?.kl !== undefined;
  return definedTable(
    ['output', 'MSE', 'max |diff|', 'cosine', ...(hasKl ? ['KL', 'top-1 agreement'] : [])],
    r.outputs.map((o) => [o.name, sci(o.mse), sci(o.maxAbs), o.cosine.toFixed(4), ...(hasKl ? [sci(o.kl), (o.top1 ?? 0).toFixed(3)] : [])]),
    { output: 'graph output of both models', ...OUTPUT_COLUMNS, ...(hasKl ? CLASSIFIER_COLUMNS : {}) },
  );
}

/** The headline: the domain's verdict for a comparison it owns, else how much each output changed and which group most. */
function verdict(part: ReportPart): string {
  const r = part.comparison.result;
  const domain = domainOf(r);
  const items: string[] = domain ? domain.verdictItems(part) : [];
  if (!domain) {
    for (const o of r.outputs) {
      const state = o.maxAbs === 0 ? 'unchanged' : 'changed';
      items.push(
        `<li data-verdict="output"><b>Output '${esc(o.name)}' ${state}:</b> MSE ${sci(o.mse)} between patched and intact, largest single difference ${sci(o.maxAbs)}, mean cosine ${o.cosine.toFixed(4)}.</li>`,
      );
    }
    if (r.groups.length > 1) {
      const sorted = [...r.groups].sort((a, b) => b.outputs[0].mse - a.outputs[0].mse);
      items.push(
        `<li data-verdict="groups"><b>Most changed group:</b> ${esc(sorted[0].group)} (MSE ${sci(sorted[0].outputs[0].mse)}); least changed: ${esc(sorted[sorted.length - 1].group)} (MSE ${sci(sorted[sorted.length - 1].outputs[0].mse)}).</li>`,
      );
    }
  }
  return `<div class="verdict" data-verdict-box><h3>Verdict</h3><ul>${items.join('')}</ul></div>`;
}

export interface ReportOptions {
  /** Where the report will be written: model paths are shown relative to its folder. */
  reportPath?: string;
}

/** A model label as seen from the report's folder; labels that are not paths (in-memory models) stay as they are. */
function relativeTo(reportPath: string | undefined, label: string): string {
  if (!reportPath || !/\.onnx$/i.test(label)) return label;
  return path.relative(path.dirname(path.resolve(reportPath)), path.resolve(label)) || label;
}

/** The sections for one comparison. */
function comparisonSections(part: ReportPart, options: ReportOptions): string[] {
  const c = part.comparison;
  const r = c.result;
  const sections: string[] = [];
  sections.push(verdict(part));
  sections.push(
    `<h3>Summary</h3><p><code>${esc(relativeTo(options.reportPath, r.patched))}</code> compared with <code>${esc(relativeTo(options.reportPath, r.intact))}</code> on <b>${esc(r.data.name)}</b> (${r.data.samples} samples, ${r.device}).</p>${summaryTable(r)}`,
  );
  const domain = domainOf(r);
  if (domain) {
    sections.push(...domain.sections(c));
  } else {
    const first = r.outputs[0].name;
    const values = c.detail.perSample[first].mse;
    const max = Math.max(...values, 1e-12);
    const edges = Array.from({ length: 21 }, (_, i) => (i * max) / 20);
    sections.push(
      `<h3>Per sample</h3>${bars('mse-histogram', `Per-sample change of '${first}'`, edges, [{ label: 'samples', counts: histogram(values, 0, max, 20), color: '#4a78b5' }], `MSE between patched and intact '${first}' per sample (output units²)`, 'samples (count)')}`,
    );
  }
  if (r.groups.length > 0 && r.groups.length <= 100) {
    const out = r.outputs[0].name;
    sections.push(
      `<h3>Per group</h3>${definedTable(
        ['group', 'samples', `MSE of '${out}'`, 'max |diff|', 'cosine'],
        r.groups.map((g) => [g.group, String(g.samples), sci(g.outputs[0].mse), sci(g.outputs[0].maxAbs), g.outputs[0].cosine.toFixed(4)]),
        {
          group: domain?.groupDefinition ?? 'the label given to each sample',
          samples: 'how many samples carry the label',
          [`MSE of '${out}'`]: `mean over the group's samples of the mean squared difference between the patched and the intact '${out}' (not against a target)`,
          'max |diff|': OUTPUT_COLUMNS['max |diff|'],
          cosine: OUTPUT_COLUMNS.cosine,
        },
      )}`,
    );
  }
  for (const t of r.taps) {
    sections.push(`<h3>Tap ${esc(t.tensor)}</h3><p>Change of the tensor itself: MSE ${sci(t.change.mse)}, max |diff| ${sci(t.change.maxAbs)}.</p>`);
    if (t.purity) {
      const p = t.purity;
      sections.push(
        `<p>Anchoring purity of '${esc(p.concept)}' (share inside the anchor): class-mean difference ${p.intact.meanDiff.toFixed(3)} intact, ${p.patched.meanDiff.toFixed(3)} patched; probe weight ${p.intact.probeWeight.toFixed(3)} intact, ${p.patched.probeWeight.toFixed(3)} patched.</p>`,
      );
    }
    if (t.cosine) {
      sections.push(
        bars(
          `tap-cosine-${t.tensor.replace(/[^\w-]/g, '_')}`,
          `Where samples sit relative to the '${t.cosine.concept}' anchor`,
          t.cosine.bins,
          [
            { label: 'intact', counts: t.cosine.intact, color: '#9aa5b1' },
            { label: 'patched', counts: t.cosine.patched, color: '#c8402f' },
          ],
          `cos(${t.tensor}, '${t.cosine.concept}' anchor), unitless, −1 to 1`,
          'samples (count)',
        ),
      );
    }
  }
  return sections;
}

/**
 * One self-contained page. Several comparisons (the demo's suppression and
 * ablation) are laid out side by side, one column each.
 */
export type { ReportPart, ReportPartExtras } from './results.js';

export function renderReport(parts: Comparison | ReportPart[], title = 'sca compare', options: ReportOptions = {}): string {
  const list: ReportPart[] = Array.isArray(parts) ? parts : [{ heading: '', comparison: parts }];
  const columns = list.map(
    (p) =>
      `<section class="comparison" data-comparison="${esc(p.heading || 'comparison')}">${p.heading ? `<h2>${esc(p.heading)}</h2>` : ''}${comparisonSections(p, options).join('\n')}</section>`,
  );
  const seconds = list.reduce((s, p) => s + p.comparison.result.timing.seconds, 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:${list.length > 1 ? 1500 : 1180}px;padding:0 16px;color:#222}
h1{font-size:22px}h2{font-size:19px;margin:8px 0;border-bottom:2px solid #ccc}h3{font-size:15px;margin:22px 0 6px}
.side-by-side{display:grid;grid-template-columns:repeat(${list.length},minmax(0,1fr));gap:28px;align-items:start}
.verdict{background:#f5f7fa;border-left:4px solid #4a78b5;padding:4px 14px}.verdict h3{margin:6px 0}.verdict ul{margin:4px 0;padding-left:18px}
table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.table-with-defs{display:flex;flex-wrap:wrap;gap:6px 20px;align-items:flex-start}
.defs{font-size:12px;color:#444;margin:8px 0;max-width:420px;flex:1 1 260px}.defs dt{font-weight:600}.defs dd{margin:0 0 5px 0}
svg{width:100%;max-width:${W}px;height:auto}svg text{font-size:11px;fill:#333}svg text.title{font-size:13px;font-weight:600}svg .grid{stroke:#e4e4e4}
svg .axis-label{font-size:12px;fill:#222}svg .zero-axis{stroke:#b44;stroke-dasharray:3 3}svg .zero-label{fill:#b44;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:12px}.swatches{display:flex;flex-wrap:wrap;gap:10px}
.swatch{display:grid;grid-template-columns:repeat(3,22px);gap:2px;font-size:11px}.swatch div{height:22px;border:1px solid #999}.swatch span{grid-column:1/4}
.note{color:#666;font-size:12px}code{font-size:13px}
</style></head><body>
<h1>${esc(title)}</h1>
<div class="side-by-side">
${columns.join('\n')}
</div>
<p class="note">Made by sca 0.1.0 in ${seconds.toFixed(2)} s. One file, no scripts, nothing fetched.</p>
</body></html>
`;
}
