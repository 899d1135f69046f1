import type { Command } from 'commander';
import { loadModel } from '../onnx/model.js';
import { formatSummary, summarizeModel } from '../onnx/inspect.js';
import type { Context } from './context.js';

export function registerInspect(program: Command, { io }: Context): void {
  program
    .command('inspect')
    .description('show inputs, outputs, opsets, node count, anchors and applied interventions')
    .argument('<model>', 'ONNX model file')
    .option('--json', 'print JSON instead of text')
    .action((file: string, opts: { json?: boolean }) => {
      const summary = summarizeModel(loadModel(file));
      io.out(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSummary(summary)}\n`);
    });
}
