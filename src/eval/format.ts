/** Plain-text tables of a comparison, for the terminal. */
import type { ComparisonResult } from './results.js';
import { domainOf } from './domain.js';

export function sci(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  if (v === 0) return '0';
  return v.toExponential(digits);
}

export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatComparison(r: ComparisonResult): string {
  const parts: string[] = [];
  parts.push(`${r.patched} vs ${r.intact} on ${r.data.name} (${r.data.samples} samples, ${r.device}, ${r.timing.seconds.toFixed(2)} s)`);
  if (r.data.filled) parts.push(filledLine(r.data.filled));
  parts.push(
    textTable(
      ['output', 'MSE', 'max |diff|', 'cosine', ...(r.outputs[0]?.kl !== undefined ? ['KL', 'top-1'] : [])],
      r.outputs.map((o) => [o.name, sci(o.mse), sci(o.maxAbs), o.cosine.toFixed(4), ...(o.kl !== undefined ? [sci(o.kl), (o.top1 ?? 0).toFixed(3)] : [])]),
    ),
  );
  const domain = domainOf(r);
  if (domain) {
    parts.push(...domain.text(r));
  } else if (r.groups.length > 1 && r.groups.length <= 50) {
    parts.push('');
    parts.push(
      textTable(
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

/** What was built beside the token ids, in one line (past_key_values.* collapsed). */
export function filledLine(filled: string[]): string {
  const past = filled.filter((n) => n.startsWith('past'));
  const rest = filled.filter((n) => !n.startsWith('past'));
  const named = [...rest, ...(past.length ? [`${past.length} empty past_key_values.*`] : [])];
  return `built from the token ids as transformers.js does: ${named.join(', ')}`;
}
