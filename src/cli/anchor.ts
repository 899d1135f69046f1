import type { Command } from 'commander';
import { anchorFolderTo, anchorFromData, anchorManually, METHODS, type AnchorFromDataRequest, type ManualAnchorRequest, type Method } from '../api/anchor.js';
import { isDirectory } from '../onnx/folder.js';
import { printFolderEnd, variantList } from './folders.js';
import { anchorFromPrompts, type PromptAnchorRequest } from '../api/contrast.js';
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
  tensor?: string;
  direction?: string;
  dims?: string;
  fromData?: string;
  prompts?: string;
  contrast?: string;
  layers?: string;
  position?: string;
  labels?: string;
  method?: string;
  axis?: string;
  device: string;
  variant?: string;
  fitOn?: string;
  json?: JsonOption;
}

export function registerAnchor(program: Command, { io }: Context): void {
  program
    .command('anchor')
    .description('record where a concept is anchored (for models exported without a manifest, e.g. by torch.onnx), or find it from labelled data')
    .argument('<model>', 'ONNX model, or a model folder whose every variant gets the anchor (never modified)')
    .requiredOption('-o, --output <path>', 'where to write the model with the anchor recorded (a new folder for a folder)')
    .option('--variant <v,...>', 'with a folder: record the anchor in these variants only, by dtype, file name or path; the rest are copied unchanged')
    .option('--fit-on <variant>', 'with a folder and --from-data: the variant the data runs through (default: the first fp32 one)')
    .requiredOption('--concept <name>', 'concept name, e.g. red')
    .option('--tensor <name>', 'tensor that holds the concept (with --prompts and --layers all: any tensor of the residual stream, or none)')
    .option('--prompts <file>', 'find the direction from contrastive prompts: these have the concept (.txt or .jsonl, as for compare)')
    .option('--contrast <file>', 'with --prompts: prompts that do not')
    .option('--layers <all>', 'with --prompts: try every tensor of the residual stream and record the one that separates the prompts best')
    .option('--position <p>', 'with --prompts: last (the last prompt token, default) or mean (over the prompt)')
    .option('--direction <v,...|@file>', 'anchor direction along the axis, or @FILE (.npy [D], or JSON)')
    .option('--dims <i,...>', 'reserved dims of the axis')
    .option('--axis <n>', 'axis the concept lives on, negative from the end (default: the feature axis, as patch chooses it; with --from-data: the last)')
    .option('--from-data <spec>', 'find the concept from examples: color-cube[:N] or a .npy, .npz or .json file of inputs')
    .option('--labels <file>', 'with --from-data: a label per example (.npy or .json), or `redness` for the colour cube')
    .option('--method <m>', `with --from-data: ${METHODS.join(' or ')} (default mean-diff)`)
    .option('--device <device>', 'cpu or cuda, for running the model over --from-data', 'cpu')
    .option(JSON_FLAG, 'print the recorded anchor as JSON, or write it to a file')
    .action(async (file: string, opts: AnchorOptions) => {
      let fromData: AnchorFromDataRequest | undefined;
      let manual: ManualAnchorRequest | undefined;
      let fromPrompts: PromptAnchorRequest | undefined;
      if (!opts.tensor && !(opts.prompts && opts.layers)) throw new UsageError('--tensor is required (except with --prompts and --layers all)');
      if (opts.prompts) {
        if (!opts.contrast) throw new UsageError('--prompts needs --contrast (prompts without the concept)');
        if (opts.direction || opts.dims || opts.fromData) throw new UsageError('give --prompts or --from-data or --direction/--dims, one of them');
        fromPrompts = {
          concept: opts.concept,
          prompts: opts.prompts,
          contrast: opts.contrast,
          ...(opts.tensor ? { tensor: opts.tensor } : {}),
          ...(opts.layers ? { layers: opts.layers as 'all' } : {}),
          ...(opts.position ? { position: opts.position as 'last' | 'mean' } : {}),
          device: parseDevice(opts.device),
        };
      } else if (opts.fromData) {
        if (opts.direction || opts.dims) throw new UsageError('give --from-data or --direction/--dims, not both');
        if (!opts.labels) throw new UsageError('--from-data needs --labels');
        fromData = {
          concept: opts.concept,
          tensor: opts.tensor!,
          data: opts.fromData,
          labels: opts.labels,
          method: (opts.method ?? 'mean-diff') as Method,
          ...(opts.axis !== undefined ? { axis: integer('--axis', opts.axis) } : {}),
          device: parseDevice(opts.device),
        };
      } else {
        if (opts.labels || opts.method) throw new UsageError('--labels and --method go with --from-data');
        manual = {
          concept: opts.concept,
          tensor: opts.tensor!,
          ...(opts.axis !== undefined ? { axis: integer('--axis', opts.axis) } : {}),
          ...(opts.direction ? { direction: parseSingleDirection('--direction', opts.direction) } : {}),
          ...(opts.dims ? { dims: intList('--dims', opts.dims) } : {}),
        };
      }
      const how = (anchor: Anchor) =>
        anchor.promptProvenance
          ? ` as the mean difference of ${anchor.promptProvenance.prompts} against ${anchor.promptProvenance.contrast} prompts (${anchor.promptProvenance.position} position)\n${layerTable(anchor)}`
          : anchor.provenance
            ? ` as ${anchor.eraser ? `a rank-${anchor.eraser.left.length} LEACE eraser` : 'a mean-difference direction'} from ${anchor.provenance.samples} examples`
            : '';
      if (isDirectory(file)) {
        const variants = variantList(opts.variant);
        const result = await anchorFolderTo(file, { manual, fromData, fromPrompts, ...(opts.fitOn ? { fitOn: opts.fitOn } : {}) }, opts.output, { variants });
        const anchor = result.edited[0].result;
        if (emitJson(io, opts.json, { output: result.saved.dir, anchor, fittedOn: result.fittedOn ?? null, variants: result.edited.map((v) => v.file) }))
          return;
        io.out(`anchored '${opts.concept}' at '${anchor.tensor}'${how(anchor)}${result.fittedOn ? ` (run through ${result.fittedOn})` : ''}\n`);
        for (const v of result.edited) io.out(`${v.file} (${v.dtype}): anchor recorded\n`);
        printFolderEnd(io, result);
        return;
      }
      if (opts.variant || opts.fitOn) throw new UsageError('--variant and --fit-on go with a model folder');
      const model = loadModel(file);
      const anchor = fromPrompts
        ? await anchorFromPrompts(model, file, fromPrompts)
        : fromData
          ? await anchorFromData(model, fromData, file)
          : anchorManually(model, manual!, file);
      const what = how(anchor);
      saveModel(model, opts.output);
      if (emitJson(io, opts.json, { output: opts.output, anchor })) return;
      io.out(`anchored '${opts.concept}' at '${anchor.tensor}'${what}; wrote ${opts.output}\n`);
    });
}

/** The separation of every layer tried, the chosen one marked. */
function layerTable(anchor: Anchor): string {
  const rows = anchor.promptProvenance!.layers;
  if (rows.length < 2) return '';
  const width = Math.max(...rows.map((r) => r.tensor.length));
  return rows
    .map(
      (r) => `  ${r.tensor === anchor.tensor ? '*' : ' '} ${r.tensor.padEnd(width)}  held-out AUC ${r.auc.toFixed(3)}  separation ${r.separation.toFixed(2)}`,
    )
    .join('\n');
}
