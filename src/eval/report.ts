/**
 * `--report OUT.html`: one self-contained HTML file (inline CSS and SVG, no
 * scripts, nothing fetched) with the comparison's tables and plots, so it can
 * be attached to a CI run or mailed around.
 */
import type { Comparison, ComparisonResult } from './compare.js';
import { sci } from './format.js';
import { histogram } from './metrics.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const rgbCss = (c: ArrayLike<number>): string => `rgb(${Array.from(c, (v) => Math.round(Math.min(Math.max(v, 0), 1) * 255)).join(',')})`;

interface Point {
  x: number;
  y: number;
  fill: string;
  title: string;
}

const W = 560;
const H = 300;
const M = { left: 64, right: 16, top: 28, bottom: 44 };

function scatter(id: string, title: string, points: Point[], x: { label: string; min: number; max: number; ticks: number[] }, yLabel: string): string {
  const positive = points.map((p) => p.y).filter((v) => v > 0);
  const floor = positive.length ? Math.floor(Math.log10(Math.min(...positive))) : -6;
  const ceil = positive.length ? Math.ceil(Math.log10(Math.max(...positive))) : 0;
  const lo = Math.min(floor, ceil - 1);
  const hi = Math.max(ceil, lo + 1);
  const sx = (v: number) => M.left + ((v - x.min) / (x.max - x.min)) * (W - M.left - M.right);
  const sy = (v: number) => {
    const l = v > 0 ? Math.log10(v) : lo;
    return H - M.bottom - ((Math.max(l, lo) - lo) / (hi - lo)) * (H - M.top - M.bottom);
  };
  const yTicks = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  return `<svg data-plot="${id}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">
<text x="${W / 2}" y="16" text-anchor="middle" class="title">${esc(title)}</text>
${yTicks.map((t) => `<line x1="${M.left}" x2="${W - M.right}" y1="${sy(10 ** t)}" y2="${sy(10 ** t)}" class="grid"/><text x="${M.left - 6}" y="${sy(10 ** t) + 4}" text-anchor="end">1e${t}</text>`).join('\n')}
${x.ticks.map((t) => `<text x="${sx(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${t}</text>`).join('')}
<text x="${W / 2}" y="${H - 8}" text-anchor="middle">${esc(x.label)}</text>
<text transform="translate(14 ${H / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>
${points.map((p) => `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4" fill="${p.fill}" stroke="#333" stroke-width="0.4"><title>${esc(p.title)}</title></circle>`).join('\n')}
</svg>`;
}

function bars(id: string, title: string, edges: number[], series: { label: string; counts: number[]; color: string }[]): string {
  const max = Math.max(1, ...series.flatMap((s) => s.counts));
  const n = edges.length - 1;
  const bw = (W - M.left - M.right) / n / series.length;
  const sx = (i: number) => M.left + (i / n) * (W - M.left - M.right);
  const sy = (c: number) => H - M.bottom - (c / max) * (H - M.top - M.bottom);
  return `<svg data-plot="${id}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">
<text x="${W / 2}" y="16" text-anchor="middle" class="title">${esc(title)}</text>
${series.map((s, k) => s.counts.map((c, i) => `<rect x="${(sx(i) + k * bw).toFixed(1)}" y="${sy(c).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${(H - M.bottom - sy(c)).toFixed(1)}" fill="${s.color}"><title>${esc(s.label)} ${edges[i].toFixed(2)}..${edges[i + 1].toFixed(2)}: ${c}</title></rect>`).join('')).join('\n')}
${[0, Math.floor(n / 2), n].map((i) => `<text x="${sx(i)}" y="${H - M.bottom + 16}" text-anchor="middle">${edges[i].toFixed(1)}</text>`).join('')}
<text x="${M.left - 6}" y="${sy(max) + 4}" text-anchor="end">${max}</text>
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
      return `<div class="swatch"><div style="background:${rgbCss(row.rgb)}" title="input"></div><div style="background:${rgbCss(a)}" title="intact output"></div><div style="background:${rgbCss(b)}" title="patched output"></div><span>${esc(row.name)}</span></div>`;
    })
    .join('');
  return `<div data-plot="swatches" class="swatches">${cells}</div><p class="note">Each column: input colour, intact model's output, patched model's output.</p>`;
}

function htmlTable(header: string[], rows: string[][]): string {
  return `<table><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((v, i) => (i === 0 ? `<td>${esc(v)}</td>` : `<td class="num">${esc(v)}</td>`)).join('')}</tr>`).join('')}</tbody></table>`;
}

function summaryTable(r: ComparisonResult): string {
  const hasKl = r.outputs[0]?.kl !== undefined;
  return htmlTable(
    ['output', 'MSE', 'max |diff|', 'cosine', ...(hasKl ? ['KL', 'top-1 agreement'] : [])],
    r.outputs.map((o) => [o.name, sci(o.mse), sci(o.maxAbs), o.cosine.toFixed(4), ...(hasKl ? [sci(o.kl), (o.top1 ?? 0).toFixed(3)] : [])]),
  );
}

/** The sections for one comparison; `heading` prefixes each section title when a report holds several. */
function comparisonSections(c: Comparison, heading?: string): string[] {
  const r = c.result;
  const h2 = (text: string) => `<h2>${heading ? `${esc(heading)}: ` : ''}${esc(text)}</h2>`;
  const sections: string[] = [];
  sections.push(`${h2('Summary')}<p>${esc(r.patched)} compared with ${esc(r.intact)} on <b>${esc(r.data.name)}</b> (${r.data.samples} samples, ${r.device}).</p>${summaryTable(r)}`);
  if (r.color && c.detail.cube) {
    const cube = c.detail.cube;
    const score = r.color.selectivity === null ? 'undefined (the outputs did not change)' : r.color.selectivity.toFixed(3);
    sections.push(`${h2('Per colour')}<p>Selectivity (squared Pearson r between each colour's patched MSE and its HSV similarity to the anchor colour to the power ${r.color.power}, over the ${r.color.grid}<sup>3</sup> grid): <b data-value="selectivity">${score}</b></p>`);
    sections.push(
      htmlTable(
        ['colour', 'intact MSE', 'patched MSE', 'x intact', 'change MSE'],
        r.color.named.map((row) => [row.name, sci(row.intactMse), sci(row.patchedMse), row.ratio === null ? 'n/a' : row.ratio.toFixed(row.ratio >= 100 ? 0 : 2), sci(row.changeMse)]),
      ),
    );
    sections.push(swatches(c));
    const points = (x: (p: (typeof cube)[number]) => number) =>
      cube.map((p) => ({ x: x(p), y: p.change, fill: rgbCss(p.color), title: `rgb(${p.color.map((v) => v.toFixed(2)).join(', ')}): change ${sci(p.change)}` }));
    sections.push(
      `<div class="plots">${scatter('error-vs-hue', 'Change vs hue (grays at hue 0)', points((p) => p.hue), { label: 'hue (degrees)', min: 0, max: 360, ticks: [0, 60, 120, 180, 240, 300, 360] }, 'MSE patched vs intact')}${scatter('error-vs-similarity', 'Change vs similarity to the anchor colour', points((p) => p.similarity ** r.color!.power), { label: `(HSV similarity)^${r.color.power}`, min: 0, max: 1, ticks: [0, 0.25, 0.5, 0.75, 1] }, 'MSE patched vs intact')}</div>`,
    );
  } else {
    const first = r.outputs[0].name;
    const values = c.detail.perSample[first].mse;
    const max = Math.max(...values, 1e-12);
    const edges = Array.from({ length: 21 }, (_, i) => (i * max) / 20);
    sections.push(`${h2('Per sample')}${bars('mse-histogram', `Per-sample MSE of '${first}'`, edges, [{ label: 'samples', counts: histogram(values, 0, max, 20), color: '#4a78b5' }])}`);
  }
  if (r.groups.length > 0 && r.groups.length <= 100) {
    sections.push(`${h2('Per group')}${htmlTable(['group', 'samples', `MSE (${r.outputs[0].name})`, 'max |diff|', 'cosine'], r.groups.map((g) => [g.group, String(g.samples), sci(g.outputs[0].mse), sci(g.outputs[0].maxAbs), g.outputs[0].cosine.toFixed(4)]))}`);
  }
  for (const t of r.taps) {
    sections.push(`${h2(`Tap ${t.tensor}`)}<p>MSE ${sci(t.change.mse)}, max |diff| ${sci(t.change.maxAbs)}.</p>`);
    if (t.cosine) {
      sections.push(bars(`tap-cosine-${t.tensor.replace(/[^\w-]/g, '_')}`, `cos(${t.tensor}, '${t.cosine.concept}' anchor)`, t.cosine.bins, [
        { label: 'intact', counts: t.cosine.intact, color: '#9aa5b1' },
        { label: 'patched', counts: t.cosine.patched, color: '#c8402f' },
      ]));
    }
  }
  return sections;
}

/** One self-contained page; several comparisons (the demo's suppression and ablation) share it. */
export function renderReport(parts: Comparison | { heading: string; comparison: Comparison }[], title = 'sca compare'): string {
  const list = Array.isArray(parts) ? parts : [{ heading: '', comparison: parts }];
  const sections = list.flatMap((p) => comparisonSections(p.comparison, p.heading || undefined));
  const seconds = list.reduce((s, p) => s + p.comparison.result.timing.seconds, 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
svg text{font-size:11px;fill:#333}svg text.title{font-size:13px;font-weight:600}svg .grid{stroke:#e4e4e4}
.plots{display:flex;flex-wrap:wrap;gap:12px}.swatches{display:flex;flex-wrap:wrap;gap:10px}
.swatch{display:grid;grid-template-columns:repeat(3,24px);gap:2px;font-size:11px}.swatch div{height:24px;border:1px solid #999}.swatch span{grid-column:1/4}
.note{color:#666;font-size:12px}
</style></head><body>
<h1>${esc(title)}</h1>
${sections.join('\n')}
<p class="note">Made by sca 0.1.0 in ${seconds.toFixed(2)} s. Points with no change at all sit on the bottom line of the log-scale plots.</p>
</body></html>
`;
}
