import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { junitErrorXml, junitXml, runChecks } from '../api/check.js';
import { parseDevice } from '../runtime/session.js';
import fs from 'node:fs';
import { writeTextFile } from '../util/files.js';
import type { Context } from './context.js';
import { emitJson, JSON_FLAG, type JsonOption } from './json.js';
import { checkSummaryMarkdown } from '../api/checkSummary.js';

export function registerCheck(program: Command, ctx: Context): void {
  program
    .command('check')
    .description('gate CI on intervention effectiveness: exit 0 all checks pass, 1 one failed, 2 bad spec')
    .argument('<spec>', 'JSON spec: intact model, data, and checks with bounds (see README)')
    .option('--junit <file.xml>', 'also write the results as JUnit XML')
    .option('--device <device>', 'cpu or cuda (overrides the spec)')
    .option(JSON_FLAG, 'print the results as JSON, or write them to a file')
    .option('--summary <file.md>', 'also write a markdown verdict table (for $GITHUB_STEP_SUMMARY; appended to an existing file)')
    .action(async (spec: string, opts: { junit?: string; device?: string; json?: JsonOption; summary?: string }) => {
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
      if (opts.summary) appendSummary(opts.summary, checkSummaryMarkdown(results, spec));
      if (!emitJson(ctx.io, opts.json, { spec, passed: results.length - failed, failed, results })) {
        for (const r of results) {
          const value = r.value === null ? 'undefined' : r.value.toPrecision(4);
          ctx.io.out(
            `${r.passed ? 'PASS' : 'FAIL'}  ${r.name}  (${r.metric}${r.subject ? `[${r.subject}]` : ''} = ${value}${r.reason ? `: ${r.reason}` : ''})\n`,
          );
        }
        ctx.io.out(`${results.length - failed} passed, ${failed} failed\n`);
      }
      ctx.exitCode = failed ? 1 : 0;
    });
}

/** Appends to an existing summary file ($GITHUB_STEP_SUMMARY collects several steps); creates it otherwise. */
function appendSummary(file: string, markdown: string): void {
  if (fs.existsSync(file)) fs.appendFileSync(file, `\n${markdown}`);
  else writeTextFile(file, markdown);
}
