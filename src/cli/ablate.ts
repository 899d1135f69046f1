import type { Command } from 'commander';
import { ablateFileTo, ablateFolderTo, type AblateOutcome, type AblateRequest } from '../api/ablate.js';
import { UsageError } from '../errors.js';
import { isDirectory } from '../onnx/folder.js';
import { printFolderEnd, refuseExternalDataFlag, variantList } from './folders.js';
import { parseSingleDirection } from '../data/directions.js';
import { intList, integer } from '../util/options.js';
import { writingProgress } from '../util/progress.js';
import type { Context } from './context.js';
import { emitJson, JSON_FLAG, type JsonOption } from './json.js';

interface AblateOptions {
  output: string;
  concept?: string;
  tensor?: string;
  dims?: string;
  axis?: string;
  prune?: boolean;
  externalData?: boolean;
  variant?: string;
  writers?: boolean;
  direction?: string;
  json?: JsonOption;
}

export function registerAblate(program: Command, { io }: Context): void {
  program
    .command('ablate')
    .description('remove an anchored concept for good by editing weights (zero, prune, or fold a direction)')
    .argument('<model>', 'ONNX model, or a model folder whose every variant is edited (never modified)')
    .requiredOption('-o, --output <path>', 'where to write the ablated model (a new folder for a folder)')
    .option('--variant <v,...>', 'with a folder: only these variants, by dtype (fp32, fp16, q8, q4), file name or path; the rest are copied unchanged')
    .option('--concept <name>', "concept from the model's anchors: its dims are zeroed, or its direction folded out")
    .option('--tensor <name>', 'anchored tensor (with --dims)')
    .option('--dims <i,...>', "reserved dims of the tensor's feature axis")
    .option('--axis <n>', 'axis holding the dims (negative counts from the end; ablation supports the last axis of Gemm/MatMul layers)')
    .option('--prune', 'delete the dims instead of zeroing them (the anchored axis shrinks)')
    .option(
      '--writers',
      "abliteration: orthogonalise every weight writing into the tensor's residual stream (embeddings, attention and MLP output projections, biases) against the concept's direction",
    )
    .option('--direction <v,...|@file>', 'with --writers and --tensor: the direction to remove')
    .option('--external-data', 'store weights in <output>.data beside the model')
    .option(JSON_FLAG, 'print what was edited as JSON, or write it to a file')
    .action(async (file: string, opts: AblateOptions) => {
      const request: AblateRequest = {
        ...(opts.concept ? { concept: opts.concept } : {}),
        ...(opts.tensor ? { tensor: opts.tensor } : {}),
        ...(opts.dims ? { dims: intList('--dims', opts.dims) } : {}),
        ...(opts.axis !== undefined ? { axis: integer('--axis', opts.axis) } : {}),
        prune: Boolean(opts.prune),
        ...(opts.writers ? { writers: true } : {}),
        ...(opts.direction ? { direction: parseSingleDirection('--direction', opts.direction) } : {}),
      };
      if (isDirectory(file)) {
        refuseExternalDataFlag(opts.externalData);
        const result = await ablateFolderTo(file, request, opts.output, { variants: variantList(opts.variant), onProgress: writingProgress() });
        if (emitJson(io, opts.json, { output: result.saved.dir, ablated: result.edited, unchanged: result.unchanged, files: result.saved.files })) return;
        for (const v of result.edited) io.out(`${v.file} (${v.dtype}): ${describe(v.result)}\n`);
        printFolderEnd(io, result);
        return;
      }
      if (opts.variant) throw new UsageError('--variant goes with a model folder');
      const { outcome: done, saved } = ablateFileTo(file, request, opts.output, { externalData: opts.externalData, onProgress: writingProgress() });
      if (emitJson(io, opts.json, { output: saved.path, dataFile: saved.dataPath ?? null, ...done })) return;
      io.out(`${describe(done)}\nwrote ${saved.path}${saved.dataPath ? ` and ${saved.dataPath}` : ''}\n`);
    });
}

function describe(done: AblateOutcome): string {
  if (done.method === 'orthogonalised')
    return `orthogonalised ${done.edited.length} weights writing into the residual stream of '${done.tensor}' (${done.stream!.length} residual tensors) against the direction`;
  return done.method === 'folded'
    ? `folded the projection I - a a^T into the weights reading '${done.tensor}' (axis ${done.axis})`
    : `${done.method} dims [${done.dims!.join(', ')}] of '${done.tensor}' in ${done.edited.length} weights`;
}
