import type { Command } from 'commander';
import { writeAnchors, type Anchor } from '../anchors/manifest.js';
import { UsageError } from '../errors.js';
import { Graph } from '../ir/graph.js';
import { loadModel, saveModel } from '../onnx/model.js';
import { parseSingleDirection } from '../util/directions.js';
import { intList, integer } from '../util/options.js';
import type { Context } from './context.js';
import { emitJson, JSON_FLAG, type JsonOption } from './json.js';

export function registerAnchor(program: Command, { io }: Context): void {
  program
    .command('anchor')
    .description('record where a concept is anchored (for models exported without a manifest, e.g. by torch.onnx)')
    .argument('<model>', 'ONNX model (never modified)')
    .requiredOption('-o, --output <file>', 'where to write the model with the anchor recorded')
    .requiredOption('--concept <name>', 'concept name, e.g. red')
    .requiredOption('--tensor <name>', 'tensor that holds the concept')
    .option('--direction <v,...|@file>', 'anchor direction along the axis, or @FILE (.npy [D], or JSON)')
    .option('--dims <i,...>', 'reserved dims of the axis')
    .option('--axis <n>', 'axis the concept lives on, negative from the end (default: the feature axis, as patch chooses it)')
    .option(JSON_FLAG, 'print the recorded anchor as JSON, or write it to a file')
    .action((file: string, opts: { output: string; concept: string; tensor: string; direction?: string; dims?: string; axis?: string; json?: JsonOption }) => {
      if (!opts.direction && !opts.dims) throw new UsageError('give --direction, --dims or both');
      const model = loadModel(file);
      new Graph(model.proto.graph!).require(opts.tensor, file);
      const anchor: Anchor = {
        concept: opts.concept,
        tensor: opts.tensor,
        ...(opts.axis !== undefined ? { axis: integer('--axis', opts.axis) } : {}),
        ...(opts.direction ? { direction: parseSingleDirection('--direction', opts.direction) } : {}),
        ...(opts.dims ? { dims: intList('--dims', opts.dims) } : {}),
      };
      writeAnchors(model.proto, [anchor]);
      saveModel(model, opts.output);
      if (emitJson(io, opts.json, { output: opts.output, anchor })) return;
      io.out(`anchored '${opts.concept}' at '${opts.tensor}'; wrote ${opts.output}\n`);
    });
}
