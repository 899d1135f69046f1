/**
 * The HTML report of `sca compare --prompts --report`: each prompt's intact
 * and patched generations side by side, token by token, with the first token
 * that differs marked, above the table of metrics. One self-contained file:
 * no scripts, nothing fetched.
 */
import { esc } from './report.js';
import type { TextComparison } from './compareText.js';

const sci = (v: number) => (v === 0 ? '0' : v.toExponential(2));

/** The generation as token spans; from the first divergence on, spans are marked. */
function tokens(pieces: string[], divergence: number | null): string {
  return pieces
    .map((p, i) => {
      const cls = divergence === null || i < divergence ? 'same' : i === divergence ? 'first-divergence' : 'after';
      return `<span class="tok ${cls}">${esc(p)}</span>`;
    })
    .join('');
}

export function renderTextReport(c: TextComparison, decode: (ids: number[]) => string, title = 'sca compare --prompts'): string {
  const t = c.text;
  const piece = (ids: number[]) => ids.map((id) => decode([id]));
  const rows = t.prompts
    .map(
      (p, i) => `<section class="prompt" data-prompt="${i + 1}">
<h3>Prompt ${i + 1}: <code>${esc(p.prompt)}</code></h3>
<div class="pair">
<div class="side" data-side="intact"><h4>intact</h4><p class="gen">${tokens(piece(p.intactTokens), p.firstDivergence)}</p></div>
<div class="side" data-side="patched"><h4>patched</h4><p class="gen">${tokens(piece(p.patchedTokens), p.firstDivergence)}</p></div>
</div>
<p class="note">${p.firstDivergence === null ? 'identical generations' : `first divergence at generated token ${p.firstDivergence + 1}`}; first-token KL ${sci(p.firstTokenKl)}, mean KL ${sci(p.meanKl)}, token agreement ${p.tokenAgreement.toFixed(3)}</p>
</section>`,
    )
    .join('\n');
  const metric = (name: string, value: string, def: string) => `<tr><th>${name}</th><td class="num">${value}</td><td class="def">${esc(def)}</td></tr>`;
  const table = [
    metric('first-token KL', sci(t.firstTokenKl), 'KL(intact ‖ patched) of the next-token distribution after the prompt, averaged over prompts'),
    metric('mean KL', sci(t.meanKl), 'per-token KL with the patched model teacher-forced on the intact continuation'),
    metric('token agreement', t.tokenAgreement.toFixed(3), 'share of generated positions where both chose the same token'),
    metric(
      'shared-prefix max |Δ log p|',
      sci(t.sharedPrefixMaxLogprobDiff),
      'largest log-probability difference over the tokens both generated before diverging',
    ),
    ...(t.termRate
      ? [
          metric(
            'term rate',
            `${t.termRate.intact.toFixed(3)} → ${t.termRate.patched.toFixed(3)}`,
            'share of generations holding a given term, intact → patched',
          ),
        ]
      : []),
    metric('refusal-marker rate', `${t.refusalRate.intact.toFixed(3)} → ${t.refusalRate.patched.toFixed(3)}`, 'share of generations holding a refusal marker'),
    ...(t.perplexity ? [metric('perplexity', `${t.perplexity.intact.toFixed(3)} → ${t.perplexity.patched.toFixed(3)}`, 'on the held-out text')] : []),
  ].join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;padding:0 16px;color:#222}
h1{font-size:22px}h3{font-size:15px;margin:18px 0 6px}h4{margin:0 0 4px;font-size:13px;color:#555}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:20px}.side{background:#f7f7f7;padding:6px 10px;border-radius:4px}
.gen{font-family:ui-monospace,monospace;white-space:pre-wrap;word-break:break-all;margin:0}
.tok.first-divergence{background:#f3c2c2;outline:2px solid #b44}.tok.after{background:#fbe7e7}
table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.def{font-size:12px;color:#555}.note{color:#666;font-size:12px}
</style></head><body>
<h1>${esc(title)}</h1>
<p><code>${esc(c.patched)}</code> against <code>${esc(c.intact)}</code>, ${t.prompts.length} prompts, up to ${c.maxNewTokens} new tokens.</p>
${rows}
<h3>Metrics</h3>
<table class="metrics">
${table}
</table>
<p class="note">Made by sca 0.1.0 in ${c.seconds.toFixed(2)} s. One file, no scripts, nothing fetched.</p>
</body></html>
`;
}
