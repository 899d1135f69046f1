import type { Command } from 'commander';
import { ablateFileTo } from '../api/ablate.js';
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
  json?: JsonOption;
}

export function registerAblate(program: Command, { io }: Context): void {
  program
    .command('ablate')
    .description('remove an anchored concept for good by editing weights (zero, prune, or fold a direction)')
    .argument('<model>', 'ONNX model (never modified)')
    .requiredOption('-o, --output <file>', 'where to write the ablated model')
    .option('--concept <name>', "concept from the model's anchors: its dims are zeroed, or its direction folded out")
    .option('--tensor <name>', 'anchored tensor (with --dims)')
    .option('--dims <i,...>', "reserved dims of the tensor's feature axis")
    .option('--axis <n>', 'axis holding the dims (negative counts from the end; ablation supports the last axis of Gemm/MatMul layers)')
    .option('--prune', 'delete the dims instead of zeroing them (the anchored axis shrinks)')
    .option('--external-data', 'store weights in <output>.data beside the model')
    .option(JSON_FLAG, 'print what was edited as JSON, or write it to a file')
    .action((file: string, opts: AblateOptions) => {
      const { outcome: done, saved } = ablateFileTo(
        file,
        {
          ...(opts.concept ? { concept: opts.concept } : {}),
          ...(opts.tensor ? { tensor: opts.tensor } : {}),
          ...(opts.dims ? { dims: intList('--dims', opts.dims) } : {}),
          ...(opts.axis !== undefined ? { axis: integer('--axis', opts.axis) } : {}),
          prune: Boolean(opts.prune),
        },
        opts.output,
        { externalData: opts.externalData, onProgress: writingProgress() },
      );
      const summary =
        done.method === 'folded'
          ? `folded the projection I - a a^T into the weights reading '${done.tensor}' (axis ${done.axis})`
          : `${done.method} dims [${done.dims!.join(', ')}] of '${done.tensor}' in ${done.edited.length} weights`;
      if (emitJson(io, opts.json, { output: saved.path, dataFile: saved.dataPath ?? null, ...done })) return;
      io.out(`${summary}\nwrote ${saved.path}${saved.dataPath ? ` and ${saved.dataPath}` : ''}\n`);
    });
}
