import type { Command } from 'commander';
import { loadModel } from '../onnx/model.js';
import { formatSummary, summarizeModel } from '../onnx/inspect.js';
import type { Context } from './context.js';
import { emitJson, JSON_FLAG, JSON_HELP, type JsonOption } from './json.js';

export function registerInspect(program: Command, { io }: Context): void {
  program
    .command('inspect')
    .description('show inputs, outputs, opsets, node count, anchors and applied interventions')
    .argument('<model>', 'ONNX model file')
    .option(JSON_FLAG, JSON_HELP)
    .action((file: string, opts: { json?: JsonOption }) => {
      const summary = summarizeModel(loadModel(file));
      if (!emitJson(io, opts.json, summary)) io.out(`${formatSummary(summary)}\n`);
    });
}
