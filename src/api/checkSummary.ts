/**
 * `sca check --summary FILE`: the results as a markdown verdict table, for a
 * CI job summary (GitHub Actions shows $GITHUB_STEP_SUMMARY on the run page).
 */
import type { CheckResult } from './check.js';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function bound(r: CheckResult): string {
  return [r.min !== undefined ? `≥ ${r.min}` : '', r.max !== undefined ? `≤ ${r.max}` : ''].filter(Boolean).join(' and ');
}

export function checkSummaryMarkdown(results: CheckResult[], spec: string): string {
  const failed = results.filter((r) => !r.passed).length;
  const verdict = failed === 0 ? `✅ all ${results.length} checks passed` : `❌ ${failed} of ${results.length} checks failed`;
  const rows = results.map((r) => {
    const value = r.value === null ? 'undefined' : r.value.toPrecision(4);
    const metric = `${r.metric}${r.subject ? `[${r.subject}]` : ''}`;
    return `| ${r.passed ? '✅ pass' : '❌ fail'} | ${cell(r.name)} | \`${cell(metric)}\` | ${value} | ${bound(r)} | ${cell(r.reason ?? '')} |`;
  });
  return [
    `### sca check \`${cell(spec)}\`: ${verdict}`,
    '',
    '| result | check | metric | value | bound | why it failed |',
    '|---|---|---|---:|---|---|',
    ...rows,
    '',
  ].join('\n');
}
