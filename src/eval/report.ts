/**
 * `--report OUT.html`: one self-contained HTML file (inline CSS and SVG, no
 * scripts, nothing fetched) with the comparison's verdict, tables and plots,
 * so it can be attached to a CI run or mailed around. Every table has its
 * columns defined beside it, every axis says what it measures and in what
 * units, and outputs that did not change at all are drawn in their own
 * "exactly 0" strip instead of on a made-up floor of the log scale.
 */
import path from 'node:path';
import { DEFAULT_OFF_TARGET, NAMED_COLORS } from './colors.js';
import type { Comparison, ComparisonResult } from './compare.js';
import { sci } from './format.js';
import { histogram } from './metrics.js';
import type { PublishedSelectivity } from './paper.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const rgbCss = (c: ArrayLike<number>): string => `rgb(${Array.from(c, (v) => Math.round(Math.min(Math.max(v, 0), 1) * 255)).join(',')})`;

/**
 * What the selectivity score is, in one phrase, and what its values mean.
 * The number itself always comes from the comparison result.
 */
export const SELECTIVITY_DEFINITION =
  "paper's selectivity: the squared Pearson r between each colour's reconstruction MSE after the change and its HSV similarity to the anchor colour raised to the power p (p = 2 for inserted suppression, 3 for a weight ablation or pruning), over a grid of the RGB cube (8 points per axis, as the paper)";
export const SELECTIVITY_MEANING = '1 = damage falls only where colours resemble the concept, 0 = damage unrelated to it';

export function selectivityReading(score: number, concept = 'the concept'): string {
  if (score >= 0.9) return `damage follows similarity to ${concept} almost exactly`;
  if (score >= 0.7) return `damage mostly follows similarity to ${concept}`;
  if (score >= 0.4) return `damage only partly follows similarity to ${concept}`;
  return `damage does not follow similarity to ${concept}`;
}

interface Point {
  x: number;
  y: number;
  fill: string;
  title: string;
}

interface Axis {
  label: string;
  min: number;
  max: number;
  ticks: number[];
}

const W = 560;
const H = 330;
const M = { left: 70, right: 16, top: 28, bottom: 48 };

/** A log-scale scatter plot; points with y exactly 0 go in a strip of their own below the axis. */
function scatter(id: string, title: string, points: Point[], x: Axis, yLabel: string): string {
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

function bars(
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

function swatches(c: Comparison): string {
  const r = c.result.color!;
  const out = c.detail.namedOutputs!;
  const cells = r.named
    .map((row, i) => {
      const a = out.intact.subarray(3 * i, 3 * i + 3);
      const b = out.patched.subarray(3 * i, 3 * i + 3);
      return `<div class="swatch"><div style="background:${rgbCss(row.rgb)}" title="${esc(row.name)}: input"></div><div style="background:${rgbCss(a)}" title="${esc(row.name)}: intact model's output"></div><div style="background:${rgbCss(b)}" title="${esc(row.name)}: patched model's output"></div><span>${esc(row.name)}</span></div>`;
    })
    .join('');
  return `<div data-plot="swatches" class="swatches">${cells}</div><p class="note">Each colour: the input, the intact model's output, the patched model's output.</p>`;
}

/** A table with its columns defined beside it. */
function definedTable(header: string[], rows: string[][], definitions: Record<string, string>): string {
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

/** The name of the anchor colour when it is one of the named colours (red for the shipped models). */
function conceptName(r: ComparisonResult): string {
  const a = r.color!.anchor;
  return Object.entries(NAMED_COLORS).find(([, c]) => c.every((v, i) => v === a[i]))?.[0] ?? `rgb(${a.join(', ')})`;
}

export const times = (r: number | null): string => (r === null ? 'n/a' : r >= 100 ? `${r.toFixed(0)}×` : `${r.toFixed(1)}×`);

export interface ColorVerdict {
  concept: string;
  /** The concept's own row: its reconstruction error intact and patched. */
  target?: { intactMse: number; patchedMse: number; ratio: number | null; state: string };
  /** The colour far from the concept (or gray) whose error is highest after the change. */
  worstOffTarget?: { name: string; patchedMse: number; ratio: number | null; among: string[] };
  selectivity: number | null;
}

/** The facts a verdict is made of, for the report and the terminal alike. */
export function colorVerdict(r: ComparisonResult): ColorVerdict {
  const concept = conceptName(r);
  const row = r.color!.named.find((x) => x.name === concept);
  const offTarget = r.color!.named.filter((x) => DEFAULT_OFF_TARGET.includes(x.name));
  const worst = offTarget.length ? offTarget.reduce((a, b) => (b.patchedMse > a.patchedMse ? b : a)) : undefined;
  return {
    concept,
    ...(row
      ? {
          target: {
            intactMse: row.intactMse,
            patchedMse: row.patchedMse,
            ratio: row.ratio,
            state: row.ratio === null ? 'changed' : row.ratio >= 100 ? 'removed' : row.ratio >= 10 ? 'weakened, not removed' : 'barely touched',
          },
        }
      : {}),
    ...(worst ? { worstOffTarget: { name: worst.name, patchedMse: worst.patchedMse, ratio: worst.ratio, among: offTarget.map((x) => x.name) } } : {}),
    selectivity: r.color!.selectivity,
  };
}

/** The headline: was the concept removed, what else was hurt and where, and how selective it was. */
function verdict(r: ComparisonResult, paper?: PublishedSelectivity): string {
  const items: string[] = [];
  if (r.color) {
    const v = colorVerdict(r);
    const concept = v.concept;
    if (v.target) {
      items.push(
        `<li data-verdict="concept"><b>${esc(concept)} ${v.target.state}:</b> its reconstruction error rose <b>${times(v.target.ratio)}</b> (MSE ${sci(v.target.intactMse)} intact, ${sci(v.target.patchedMse)} patched).</li>`,
      );
    }
    if (v.worstOffTarget) {
      const w = v.worstOffTarget;
      items.push(
        `<li data-verdict="off-target"><b>Worst off-target change:</b> ${esc(w.name)}, MSE ${sci(w.patchedMse)} (${times(w.ratio)} intact), among the colours far from ${esc(concept)} in hue and the grays (${esc(w.among.join(', '))}).</li>`,
      );
    }
    const s = r.color.selectivity;
    items.push(
      s === null
        ? `<li data-verdict="selectivity"><b>Selectivity undefined:</b> the outputs did not change.</li>`
        : `<li data-verdict="selectivity"><b>Selectivity ${s.toFixed(3)}:</b> ${esc(selectivityReading(s, concept))}. It is the ${esc(SELECTIVITY_DEFINITION)}; here p = ${r.color.power}, ${r.color.grid}³ grid; ${esc(SELECTIVITY_MEANING)}.${paper ? ` <span data-paper-selectivity>The paper (exp. ${esc(paper.experiment)}, ${paper.intervention}, p = ${paper.power}): best of ${paper.seeds} seeds ${paper.best.toFixed(3)}, mean ${paper.mean.toFixed(3)} ± ${paper.sd.toFixed(3)}.</span>` : ''}</li>`,
    );
  } else {
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
function comparisonSections(c: Comparison, options: ReportOptions, paper?: PublishedSelectivity): string[] {
  const r = c.result;
  const sections: string[] = [];
  sections.push(verdict(r, paper));
  sections.push(
    `<h3>Summary</h3><p><code>${esc(relativeTo(options.reportPath, r.patched))}</code> compared with <code>${esc(relativeTo(options.reportPath, r.intact))}</code> on <b>${esc(r.data.name)}</b> (${r.data.samples} samples, ${r.device}).</p>${summaryTable(r)}`,
  );
  if (r.color && c.detail.cube) {
    const cube = c.detail.cube;
    const concept = conceptName(r);
    sections.push(
      `<h3>Per colour</h3>${definedTable(
        ['colour', 'intact MSE', 'patched MSE', '× intact', 'change MSE'],
        r.color.named.map((row) => [row.name, sci(row.intactMse), sci(row.patchedMse), times(row.ratio), sci(row.changeMse)]),
        {
          'intact MSE': "the intact model's reconstruction error for this colour: mean over R, G, B of (output − input)², RGB in 0..1",
          'patched MSE': 'the same for the patched model: how far its output is from the input colour',
          '× intact': 'patched MSE ÷ intact MSE: how many times worse the reconstruction got (n/a when the intact error is exactly 0)',
          'change MSE': 'mean over R, G, B of (patched output − intact output)²: how far the output moved, whatever the input',
        },
      )}`,
    );
    sections.push(swatches(c));
    const points = (x: (p: (typeof cube)[number]) => number) =>
      cube.map((p) => ({
        x: x(p),
        y: p.change,
        fill: rgbCss(p.color),
        title: `rgb(${p.color.map((v) => v.toFixed(2)).join(', ')}), hue ${p.hue.toFixed(0)}°: ${p.change === 0 ? 'no change (exactly 0)' : `change MSE ${sci(p.change)}`}`,
      }));
    const yLabel = 'change MSE, patched vs intact (RGB², log)';
    const zeros = cube.filter((p) => p.change === 0).length;
    sections.push(
      `<h3>Where the damage falls</h3><div class="plots">${scatter(
        'error-vs-hue',
        'Change vs hue (grays at hue 0)',
        points((p) => p.hue),
        { label: 'hue of the input colour (degrees)', min: 0, max: 360, ticks: [0, 60, 120, 180, 240, 300, 360] },
        yLabel,
      )}${scatter(
        'error-vs-similarity',
        `Change vs similarity to ${concept}`,
        points((p) => p.similarity ** r.color!.power),
        { label: `(HSV similarity to ${concept})^${r.color.power}, 0 = unlike, 1 = ${concept}`, min: 0, max: 1, ticks: [0, 0.25, 0.5, 0.75, 1] },
        yLabel,
      )}</div>` +
        `<p class="note">One point per colour of the cube, in its own colour; hover for its value. ${zeros ? `${zeros} colours did not change at all: hollow squares in the "exactly 0" strip.` : 'Every colour changed.'}</p>`,
    );
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
          group: r.color ? 'the named colour nearest to each sample of the cube' : 'the label given to each sample',
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
/** One column of a report; `paper` adds the paper's published selectivity for the same experiment beside ours. */
export interface ReportPart {
  heading: string;
  comparison: Comparison;
  paper?: PublishedSelectivity;
}

export function renderReport(parts: Comparison | ReportPart[], title = 'sca compare', options: ReportOptions = {}): string {
  const list: ReportPart[] = Array.isArray(parts) ? parts : [{ heading: '', comparison: parts }];
  const columns = list.map(
    (p) =>
      `<section class="comparison" data-comparison="${esc(p.heading || 'comparison')}">${p.heading ? `<h2>${esc(p.heading)}</h2>` : ''}${comparisonSections(p.comparison, options, p.paper).join('\n')}</section>`,
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
