import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { junitErrorXml, junitXml, runChecks } from '../eval/check.js';
import { parseDevice } from '../eval/session.js';
import { writeTextFile } from '../util/files.js';
import type { Context } from './context.js';

export function registerCheck(program: Command, ctx: Context): void {
  program
    .command('check')
    .description('gate CI on intervention effectiveness: exit 0 all checks pass, 1 one failed, 2 bad spec')
    .argument('<spec>', 'JSON spec: intact model, data, and checks with bounds (see README)')
    .option('--junit <file.xml>', 'also write the results as JUnit XML')
    .option('--device <device>', 'cpu or cuda (overrides the spec)')
    .option('--json', 'print the results as JSON')
    .action(async (spec: string, opts: { junit?: string; device?: string; json?: boolean }) => {
      const started = performance.now();
      let results;
      try {
        results = await runChecks(spec, opts.device ? { device: parseDevice(opts.device) } : {});
      } catch (err) {
        // A bad spec still leaves a JUnit file (with an error case) for the CI dashboard.
        if (opts.junit && err instanceof UsageError) writeTextFile(opts.junit, junitErrorXml(spec, err.message, (performance.now() - started) / 1000));
        throw err;
      }
      if (opts.junit) writeTextFile(opts.junit, junitXml(results, spec));
      const failed = results.filter((r) => !r.passed).length;
      if (opts.json) ctx.io.out(`${JSON.stringify({ spec, passed: results.length - failed, failed, results }, null, 2)}\n`);
      else {
        for (const r of results) {
          const value = r.value === null ? 'undefined' : r.value.toPrecision(4);
          ctx.io.out(`${r.passed ? 'PASS' : 'FAIL'}  ${r.name}  (${r.metric}${r.subject ? `[${r.subject}]` : ''} = ${value}${r.reason ? `: ${r.reason}` : ''})\n`);
        }
        ctx.io.out(`${results.length - failed} passed, ${failed} failed\n`);
      }
      ctx.exitCode = failed ? 1 : 0;
    });
}
