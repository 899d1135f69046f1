/**
 * The colour domain's part of the report and of the terminal tables: the
 * verdict (was the concept removed, the worst off-target change, the
 * selectivity with what it means), the per-colour table, swatches, and where
 * the damage falls against hue and against similarity to the concept.
 */
import type { Comparison, ComparisonResult } from '../../eval/compare.js';
import { sci, textTable } from '../../eval/format.js';
import { definedTable, esc, rgbCss, scatter, type ReportPart } from '../../eval/report.js';
import type { PublishedSelectivity } from './paper.js';
import { DEFAULT_OFF_TARGET, NAMED_COLORS } from './palette.js';

declare module '../../eval/results.js' {
  interface ReportPartExtras {
    /** The paper's published selectivity for the same experiment, shown beside ours. */
    paper?: PublishedSelectivity;
  }
}

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

/** The name of the anchor colour when it is one of the named colours (red for the shipped models). */
export function conceptName(r: ComparisonResult): string {
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

export function swatches(c: Comparison): string {
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

/** The verdict's list items for a comparison with a colour analysis. */
export function colorVerdictItems(part: ReportPart): string[] {
  const r = part.comparison.result;
  const paper = part.paper;
  const items: string[] = [];
  if (!r.color) return items;
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
  return items;
}

/** Per colour, swatches, and where the damage falls. */
export function colorSections(c: Comparison): string[] {
  const r = c.result;
  const sections: string[] = [];
  if (!r.color || !c.detail.cube) return sections;
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
  return sections;
}

/** The per-colour table and the selectivity, for the terminal. */
export function colorText(r: ComparisonResult): string[] {
  if (!r.color) return [];
  return [
    '',
    textTable(
      ['colour', 'intact MSE', 'patched MSE', 'x intact', 'change MSE'],
      r.color.named.map((c) => [
        c.name,
        sci(c.intactMse),
        sci(c.patchedMse),
        c.ratio === null ? 'n/a' : c.ratio >= 100 ? c.ratio.toFixed(0) : c.ratio.toFixed(2),
        sci(c.changeMse),
      ]),
    ),
    '(MSE: mean over R, G, B of (output - input colour)^2; x intact: patched MSE / intact MSE; change MSE: of patched vs intact output)',
    `selectivity (r^2 of MSE vs HSV similarity to [${r.color.anchor.join(', ')}]^${r.color.power}, ${r.color.grid}^3 grid): ${r.color.selectivity === null ? 'undefined (no change)' : r.color.selectivity.toFixed(3)}`,
  ];
}
