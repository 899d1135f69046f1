import type { Command } from 'commander';
import { findAnchor } from '../anchors/manifest.js';
import { UsageError } from '../errors.js';
import { loadModel, saveModel } from '../onnx/model.js';
import { ablateDims } from '../rewrite/ablation.js';
import { patchModel } from '../rewrite/patch.js';
import { intList, integer } from '../util/options.js';
import type { Context } from './context.js';

interface AblateOptions {
  output: string;
  concept?: string;
  tensor?: string;
  dims?: string;
  axis?: string;
  prune?: boolean;
  externalData?: boolean;
}

export function registerAblate(program: Command, { io }: Context): void {
  program
    .command('ablate')
    .description('remove an anchored concept for good by editing weights (zero, prune, or fold a direction)')
    .argument('<model>', 'ONNX model (never modified)')
    .requiredOption('-o, --output <file>', 'where to write the ablated model')
    .option('--concept <name>', 'concept from the model\'s anchors: its dims are zeroed, or its direction folded out')
    .option('--tensor <name>', 'anchored tensor (with --dims)')
    .option('--dims <i,...>', 'reserved dims of the tensor\'s feature axis')
    .option('--axis <n>', 'axis holding the dims (negative counts from the end; ablation supports the last axis of Gemm/MatMul layers)')
    .option('--prune', 'delete the dims instead of zeroing them (the anchored axis shrinks)')
    .option('--external-data', 'store weights in <output>.data beside the model')
    .action((file: string, opts: AblateOptions) => {
      const model = loadModel(file);
      const anchor = opts.concept ? findAnchor(model.proto, opts.concept, file) : undefined;
      const tensor = opts.tensor ?? anchor?.tensor;
      if (!tensor) throw new UsageError('give --concept NAME, or --tensor NAME with --dims');
      const dims = opts.dims ? intList('--dims', opts.dims) : anchor?.dims;
      let summary: string;
      const axis = opts.axis !== undefined ? integer('--axis', opts.axis) : anchor?.axis;
      if (dims) {
        const result = ablateDims(model, tensor, dims, { prune: opts.prune, concept: opts.concept, ...(axis !== undefined ? { axis } : {}) });
        summary = `${result.pruned ? 'pruned' : 'zeroed'} dims [${dims.join(', ')}] of '${tensor}' in ${result.edited.length} weights`;
      } else if (anchor?.direction) {
        if (opts.prune) throw new UsageError(`concept '${opts.concept}' is anchored to a direction, not dims; --prune needs dims`);
        const [applied] = patchModel(model, [{ concept: opts.concept, mode: 'suppress', projection: 'full', fold: true, ...(axis !== undefined ? { axis } : {}) }], file);
        summary = `folded the projection I - a a^T into the weights reading '${tensor}' (axis ${applied.axis})`;
      } else {
        throw new UsageError('give --dims (or --concept for a model with anchors)');
      }
      const saved = saveModel(model, opts.output, { externalData: opts.externalData });
      io.out(`${summary}\nwrote ${saved.path}${saved.dataPath ? ` and ${saved.dataPath}` : ''}\n`);
    });
}
