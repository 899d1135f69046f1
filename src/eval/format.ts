/** Plain-text tables of a comparison, for the terminal. */
import type { ComparisonResult } from './compare.js';

export function sci(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  if (v === 0) return '0';
  return v.toExponential(digits);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatComparison(r: ComparisonResult): string {
  const parts: string[] = [];
  parts.push(`${r.patched} vs ${r.intact} on ${r.data.name} (${r.data.samples} samples, ${r.device}, ${r.timing.seconds.toFixed(2)} s)`);
  parts.push(
    table(
      ['output', 'MSE', 'max |diff|', 'cosine', ...(r.outputs[0]?.kl !== undefined ? ['KL', 'top-1'] : [])],
      r.outputs.map((o) => [o.name, sci(o.mse), sci(o.maxAbs), o.cosine.toFixed(4), ...(o.kl !== undefined ? [sci(o.kl), (o.top1 ?? 0).toFixed(3)] : [])]),
    ),
  );
  if (r.color) {
    parts.push('');
    parts.push(
      table(
        ['colour', 'intact MSE', 'patched MSE', 'x intact', 'change MSE'],
        r.color.named.map((c) => [
          c.name,
          sci(c.intactMse),
          sci(c.patchedMse),
          c.ratio === null ? 'n/a' : c.ratio >= 100 ? c.ratio.toFixed(0) : c.ratio.toFixed(2),
          sci(c.changeMse),
        ]),
      ),
    );
    parts.push('(MSE: mean over R, G, B of (output - input colour)^2; x intact: patched MSE / intact MSE; change MSE: of patched vs intact output)');
    parts.push(
      `selectivity (r^2 of MSE vs HSV similarity to [${r.color.anchor.join(', ')}]^${r.color.power}, ${r.color.grid}^3 grid): ${r.color.selectivity === null ? 'undefined (no change)' : r.color.selectivity.toFixed(3)}`,
    );
  } else if (r.groups.length > 1 && r.groups.length <= 50) {
    parts.push('');
    parts.push(
      table(
        ['group', 'samples', `MSE (${r.outputs[0].name})`, 'max |diff|'],
        r.groups.map((g) => [g.group, String(g.samples), sci(g.outputs[0].mse), sci(g.outputs[0].maxAbs)]),
      ),
    );
  }
  for (const t of r.taps) {
    parts.push(
      `tap ${t.tensor}: MSE ${sci(t.change.mse)}, max |diff| ${sci(t.change.maxAbs)}${t.cosine ? ` (cosine to '${t.cosine.concept}' anchor in the report)` : ''}`,
    );
    if (t.purity)
      parts.push(
        `  purity of '${t.purity.concept}' (share inside the anchor): mean difference ${t.purity.intact.meanDiff.toFixed(3)} -> ${t.purity.patched.meanDiff.toFixed(3)}, probe weight ${t.purity.intact.probeWeight.toFixed(3)} -> ${t.purity.patched.probeWeight.toFixed(3)}`,
      );
  }
  return parts.join('\n');
}
