import path from 'node:path';
import type { Command } from 'commander';
import { runDemo, type DemoResult } from '../domains/color/demo.js';
import { sci } from '../eval/format.js';
import { colorVerdict, selectivityReading, times } from '../domains/color/report.js';
import { parseDevice } from '../runtime/session.js';
import type { Context } from './context.js';
import { emitJson, JSON_FLAG, type JsonOption } from './json.js';

const rel = (file: string) => path.relative(process.cwd(), file) || file;
const delta = (v: number) => (v === 0 ? '0' : `${v > 0 ? '+' : '-'}${Math.abs(v) >= 1e-3 ? Math.abs(v).toFixed(3) : sci(Math.abs(v), 1)}`);
const paper = (v: number, bound: boolean) => (bound ? `<${v}` : `+${v.toFixed(3)}`);

/** The paper's table: baseline MSE and deltas per colour, ours beside the paper's (exp. 2.9.1, best seed). */
export function formatDemo(demo: DemoResult): string {
  const s = demo.suppressed.comparison.result.color!;
  const a = demo.ablated.comparison.result.color!;
  const lines = [
    `Reconstruction MSE per colour: baseline and delta (intervention - baseline), ours beside the paper's (exp. 2.9.1, best seed 33)`,
    `suppression: ${rel(demo.suppressed.model)} (anchored, exp. 2.4.1); ablation: ${rel(demo.ablated.model)} (isolated, exp. 2.9.1)`,
    '',
    `${''.padEnd(11)}${'suppression'.padStart(26)}${'ablation'.padStart(30)}`,
    `${'colour'.padEnd(11)}${'baseline'.padStart(10)}${'delta'.padStart(9)}${'paper'.padStart(9)}${'baseline'.padStart(14)}${'delta'.padStart(9)}${'paper'.padStart(9)}`,
  ];
  for (const r of demo.table) {
    lines.push(
      `${r.name.padEnd(11)}${sci(r.suppression.baseline, 1).padStart(10)}${delta(r.suppression.delta).padStart(9)}${paper(r.suppression.paper, r.suppression.paperIsBound).padStart(9)}` +
        `${sci(r.ablation.baseline, 1).padStart(14)}${delta(r.ablation.delta).padStart(9)}${paper(r.ablation.paper, r.ablation.paperIsBound).padStart(9)}`,
    );
  }
  const sel = (v: number | null) => (v === null ? 'undefined' : v.toFixed(3));
  lines.push(
    '',
    `selectivity (r^2 of MSE vs HSV similarity to red^p, 8^3 grid): suppression ${sel(s.selectivity)} (p=${s.power}; paper's best of 60: ${demo.suppressed.paperSelectivity}), ` +
      `ablation ${sel(a.selectivity)} (p=${a.power}; paper's best of 60: ${demo.ablated.paperSelectivity})`,
    ...verdictLines(demo),
    `wrote ${rel(demo.suppressed.path)}, ${rel(demo.ablated.path)}`,
    `report: ${rel(demo.report)}`,
  );
  return lines.join('\n');
}

/** The report's verdict in three lines: was red removed by each intervention, what else was hurt, how selective. */
function verdictLines(demo: DemoResult): string[] {
  const s = demo.suppressed.comparison.result;
  const a = demo.ablated.comparison.result;
  const [vs, va] = [colorVerdict(s), colorVerdict(a)];
  if (!vs.target || !va.target || !vs.worstOffTarget || !va.worstOffTarget) return [];
  const x = (r: number | null) => times(r).replace('×', 'x');
  const reading = (v: number | null) => (v === null ? 'nothing changed' : selectivityReading(v, 'red'));
  const [rs, ra] = [reading(s.color!.selectivity), reading(a.color!.selectivity)];
  return [
    `verdict: red ${vs.target.state} by suppression (${x(vs.target.ratio)} its intact error), ${va.target.state} by ablation (${x(va.target.ratio)});`,
    `  worst off-target change: ${vs.worstOffTarget.name} ${sci(vs.worstOffTarget.patchedMse)} suppressed, ${va.worstOffTarget.name} ${sci(va.worstOffTarget.patchedMse)} ablated (far hues and grays);`,
    `  ${rs === ra ? `${rs} in both` : `${rs} (suppression), ${ra} (ablation)`}`,
  ];
}

export function registerDemo(program: Command, { io }: Context): void {
  program
    .command('demo')
    .description(
      'suppress red in the shipped anchored colour model and ablate it in the isolated one, compare each with its intact model, print the paper-format table and write a report',
    )
    .option('--out <dir>', 'folder for the patched models and report.html', 'sca-demo')
    .option('--device <device>', 'cpu or cuda', 'cpu')
    .option(JSON_FLAG, 'print both comparisons and the paper-format table as JSON, or write them to a file')
    .action(async (opts: { out: string; device: string; json?: JsonOption }) => {
      const demo = await runDemo(opts.out, {
        device: parseDevice(opts.device),
        onStep: opts.json === true || opts.json === '-' ? undefined : (t) => io.err(`sca demo: ${t}\n`),
      });
      const run = (r: DemoResult['suppressed']) => ({ intactModel: r.model, model: r.path, paperSelectivity: r.paperSelectivity, ...r.comparison.result });
      if (emitJson(io, opts.json, { report: demo.report, suppressed: run(demo.suppressed), ablated: run(demo.ablated), table: demo.table })) return;
      io.out(`${formatDemo(demo)}\n`);
    });
}
