import path from 'node:path';
import type { Command } from 'commander';
import { runDemo } from '../eval/demo.js';
import { sci } from '../eval/format.js';
import { colorVerdict, selectivityReading, times } from '../eval/report.js';
import { parseDevice } from '../eval/session.js';
import type { Context } from './context.js';
import { emitJson, JSON_FLAG, type JsonOption } from './json.js';

export function registerDemo(program: Command, { io }: Context): void {
  program
    .command('demo')
    .description('suppress and ablate red in the shipped SCA colour model, compare with the intact model, write a report')
    .option('--out <dir>', 'folder for the patched models and report.html', 'sca-demo')
    .option('--device <device>', 'cpu or cuda', 'cpu')
    .option(JSON_FLAG, 'print both comparisons as JSON, or write them to a file')
    .action(async (opts: { out: string; device: string; json?: JsonOption }) => {
      const demo = await runDemo(opts.out, { device: parseDevice(opts.device), onStep: opts.json === true || opts.json === '-' ? undefined : (t) => io.err(`sca demo: ${t}\n`) });
      const s = demo.suppressed.comparison.result;
      const a = demo.ablated.comparison.result;
      if (emitJson(io, opts.json, { model: demo.model, report: demo.report, suppressed: { model: demo.suppressed.path, ...s }, ablated: { model: demo.ablated.path, ...a } })) return;
      const ratio = (r: number | null) => (r === null ? 'n/a' : r >= 100 ? `${r.toFixed(0)}x` : `${r.toFixed(1)}x`);
      const lines = [`Reconstruction MSE per colour of ${path.relative(process.cwd(), demo.model) || demo.model} (red anchored at dim 0 of 'bottleneck'):`, ''];
      lines.push(`${'colour'.padEnd(11)}${'intact'.padStart(10)}${'suppressed'.padStart(12)}${''.padStart(9)}${'ablated'.padStart(10)}${''.padStart(9)}`);
      s.color!.named.forEach((row, i) => {
        const b = a.color!.named[i];
        lines.push(`${row.name.padEnd(11)}${sci(row.intactMse).padStart(10)}${sci(row.patchedMse).padStart(12)}${ratio(row.ratio).padStart(9)}${sci(b.patchedMse).padStart(10)}${ratio(b.ratio).padStart(9)}`);
      });
      const sel = (v: number | null) => (v === null ? 'undefined' : v.toFixed(3));
      const [vs, va] = [colorVerdict(s), colorVerdict(a)];
      const x = (r: number | null) => times(r).replace('×', 'x');
      const reading = (v: number | null) => (v === null ? 'nothing changed' : selectivityReading(v, 'red'));
      const [rs, ra] = [reading(s.color!.selectivity), reading(a.color!.selectivity)];
      lines.push('', `selectivity (1 = damage follows similarity to red): suppressed ${sel(s.color!.selectivity)}, ablated ${sel(a.color!.selectivity)}`);
      lines.push(`verdict: red ${vs.target!.state} by suppression (${x(vs.target!.ratio)} its intact error), ${va.target!.state} by ablation (${x(va.target!.ratio)});`);
      lines.push(`  worst off-target change: ${vs.worstOffTarget!.name} ${sci(vs.worstOffTarget!.patchedMse)} suppressed, ${va.worstOffTarget!.name} ${sci(va.worstOffTarget!.patchedMse)} ablated (far hues and grays);`);
      lines.push(`  ${rs === ra ? `${rs} in both` : `${rs} (suppression), ${ra} (ablation)`}`);
      lines.push(`wrote ${demo.suppressed.path}, ${demo.ablated.path}`, `report: ${demo.report}`);
      io.out(`${lines.join('\n')}\n`);
    });
}
