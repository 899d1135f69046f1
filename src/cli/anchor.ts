import type { Command } from 'commander';
import { anchorFromData, anchorManually, METHODS, type Method } from '../api/anchor.js';
import type { Anchor } from '../anchors/manifest.js';
import { parseDevice } from '../runtime/session.js';
import { UsageError } from '../errors.js';
import { loadModel, saveModel } from '../onnx/model.js';
import { parseSingleDirection } from '../data/directions.js';
import { intList, integer } from '../util/options.js';
import type { Context } from './context.js';
import { emitJson, JSON_FLAG, type JsonOption } from './json.js';

interface AnchorOptions {
  output: string;
  concept: string;
  tensor: string;
  direction?: string;
  dims?: string;
  fromData?: string;
  labels?: string;
  method?: string;
  axis?: string;
  device: string;
  json?: JsonOption;
}

export function registerAnchor(program: Command, { io }: Context): void {
  program
    .command('anchor')
    .description('record where a concept is anchored (for models exported without a manifest, e.g. by torch.onnx), or find it from labelled data')
    .argument('<model>', 'ONNX model (never modified)')
    .requiredOption('-o, --output <file>', 'where to write the model with the anchor recorded')
    .requiredOption('--concept <name>', 'concept name, e.g. red')
    .requiredOption('--tensor <name>', 'tensor that holds the concept')
    .option('--direction <v,...|@file>', 'anchor direction along the axis, or @FILE (.npy [D], or JSON)')
    .option('--dims <i,...>', 'reserved dims of the axis')
    .option('--axis <n>', 'axis the concept lives on, negative from the end (default: the feature axis, as patch chooses it; with --from-data: the last)')
    .option('--from-data <spec>', 'find the concept from examples: color-cube[:N] or a .npy, .npz or .json file of inputs')
    .option('--labels <file>', 'with --from-data: a label per example (.npy or .json), or `redness` for the colour cube')
    .option('--method <m>', `with --from-data: ${METHODS.join(' or ')} (default mean-diff)`)
    .option('--device <device>', 'cpu or cuda, for running the model over --from-data', 'cpu')
    .option(JSON_FLAG, 'print the recorded anchor as JSON, or write it to a file')
    .action(async (file: string, opts: AnchorOptions) => {
      const model = loadModel(file);
      let anchor: Anchor;
      let what = '';
      if (opts.fromData) {
        if (opts.direction || opts.dims) throw new UsageError('give --from-data or --direction/--dims, not both');
        if (!opts.labels) throw new UsageError('--from-data needs --labels');
        anchor = await anchorFromData(
          model,
          {
            concept: opts.concept,
            tensor: opts.tensor,
            data: opts.fromData,
            labels: opts.labels,
            method: (opts.method ?? 'mean-diff') as Method,
            ...(opts.axis !== undefined ? { axis: integer('--axis', opts.axis) } : {}),
            device: parseDevice(opts.device),
          },
          file,
        );
        what = ` as ${anchor.eraser ? `a rank-${anchor.eraser.left.length} LEACE eraser` : 'a mean-difference direction'} from ${anchor.provenance!.samples} examples`;
      } else {
        if (opts.labels || opts.method) throw new UsageError('--labels and --method go with --from-data');
        anchor = anchorManually(
          model,
          {
            concept: opts.concept,
            tensor: opts.tensor,
            ...(opts.axis !== undefined ? { axis: integer('--axis', opts.axis) } : {}),
            ...(opts.direction ? { direction: parseSingleDirection('--direction', opts.direction) } : {}),
            ...(opts.dims ? { dims: intList('--dims', opts.dims) } : {}),
          },
          file,
        );
      }
      saveModel(model, opts.output);
      if (emitJson(io, opts.json, { output: opts.output, anchor })) return;
      io.out(`anchored '${opts.concept}' at '${opts.tensor}'${what}; wrote ${opts.output}\n`);
    });
}
