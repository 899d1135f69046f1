import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { IrModel } from '../ir/model.js';
import { formatTensorListing, listTensors } from '../ir/tensors.js';
import { loadModel } from '../onnx/model.js';
import { formatFolderSummary, formatSummary, summarizeFolder, summarizeModel } from '../api/inspect.js';
import { isDirectory, loadModelFolder } from '../onnx/folder.js';
import type { Context } from './context.js';
import { emitJson, JSON_FLAG, JSON_HELP, type JsonOption } from './json.js';

export function registerInspect(program: Command, { io }: Context): void {
  program
    .command('inspect')
    .description('show inputs, outputs, opsets, node count, anchors and applied interventions; --tensors lists intermediate tensors')
    .argument('<model>', 'ONNX model file, or a model folder (each variant summarised)')
    .option('--tensors', 'list every intermediate tensor: producer op, element type and inferred shape, grouped by module path')
    .option('--filter <text>', 'with --tensors: only names containing this text (e.g. blocks.0/attn)')
    .option(JSON_FLAG, JSON_HELP)
    .action((file: string, opts: { json?: JsonOption; tensors?: boolean; filter?: string }) => {
      if (opts.filter !== undefined && !opts.tensors) throw new UsageError('--filter goes with --tensors');
      if (opts.tensors) {
        if (isDirectory(file)) throw new UsageError(`${file}: --tensors lists one model's tensors; give one of the folder's .onnx files`);
        const tensors = listTensors(new IrModel(loadModel(file)), opts.filter);
        if (!emitJson(io, opts.json, { file, tensors }))
          io.out(tensors.length ? `${formatTensorListing(tensors)}\n` : `no tensor name contains '${opts.filter}'\n`);
        return;
      }
      if (isDirectory(file)) {
        const folder = summarizeFolder(loadModelFolder(file));
        if (!emitJson(io, opts.json, folder)) io.out(`${formatFolderSummary(folder)}\n`);
        return;
      }
      const summary = summarizeModel(loadModel(file));
      if (!emitJson(io, opts.json, summary)) io.out(`${formatSummary(summary)}\n`);
    });
}
