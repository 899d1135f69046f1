import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { patchFileTo, patchFolderTo } from '../api/patch.js';
import { isDirectory } from '../onnx/folder.js';
import { printFolderEnd, refuseExternalDataFlag, variantList } from './folders.js';
import { MODES, PROJECTIONS, type Mode, type Projection } from '../rewrite/intervention.js';
import type { AppliedPatch, PatchRequest } from '../rewrite/patch.js';
import { parseDirectionOptions, resolvePlanDirections } from '../data/directions.js';
import { intList, integer, number, numberList, readJsonFile } from '../util/options.js';
import { writingProgress } from '../util/progress.js';
import type { Context } from './context.js';
import { emitJson, JSON_FLAG, type JsonOption } from './json.js';

interface PatchOptions {
  output: string;
  tensor?: string;
  concept?: string;
  direction?: string[];
  dims?: string;
  axis?: string;
  projection?: string;
  mode?: string;
  strength?: string;
  falloff?: string;
  strengthInput?: string;
  strengthInputOptional?: boolean;
  layers?: string;
  foldTolerance?: string;
  plan?: string;
  externalData?: boolean;
  fold?: boolean;
  variant?: string;
  json?: JsonOption;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerPatch(program: Command, { io }: Context): void {
  program
    .command('patch')
    .description('insert nodes that suppress, amplify, steer or clamp an anchored concept')
    .argument('<model>', 'ONNX model, or a model folder (transformers.js, optimum, onnxruntime-genai) whose every variant is patched; never modified')
    .requiredOption('-o, --output <path>', 'where to write the patched model (a new folder for a folder)')
    .option('--variant <v,...>', 'with a folder: only these variants, by dtype (fp32, fp16, q8, q4), file name or path; the rest are copied unchanged')
    .option('--tensor <name>', "tensor to act on (default: the concept's anchored tensor)")
    .option('--concept <name>', "concept from the model's anchors (sca.anchors)")
    .option('--direction <v,...|@file>', 'direction along the axis, or @FILE (.npy [D] or [k,D], or JSON); repeat (or separate with ;) for a subspace', collect)
    .option('--dims <i,...>', 'axis-aligned dims of the axis')
    .option(
      '--axis <n>',
      "axis to act on, negative from the end (default: the anchor's; else 1 on channel-first maps from Conv/BatchNorm/pooling, else the last)",
    )
    .option('--mode <mode>', `one of ${MODES.join(', ')} (default with --concept: suppress, which applies a LEACE anchor's eraser)`)
    .option(
      '--projection <p>',
      "suppress along one direction: half (the paper's: only where z.a > 0; default) or full (z - (z.a) a, linear; the default with --fold)",
    )
    .option('--strength <s>', 'suppress: b in [0,1] (default 1); amplify: scale 1+S, S >= 0; steer: S*a; clamp: value S')
    .option('--falloff <t,b,p>', 'suppression gate: threshold t, strength b, power p (default 0,1,0)')
    .option('--strength-input <name>', 'expose the strength as a required float32 scalar graph input of this name (fed the same way in every onnxruntime)')
    .option(
      '--strength-input-optional',
      "give the strength input the patch's strength as its default (Python and C++ onnxruntime fall back to it; onnxruntime-node ignores a feed of it, onnxruntime-web refuses one)",
    )
    .option('--layers <all>', 'all: the same patch at every tensor of the residual stream the tensor belongs to (every residual add and the embedding sum)')
    .option(
      '--fold-tolerance <e>',
      'with --fold into quantized (MatMulNBits) weights: refuse when requantizing adds a max error above e (it is always reported)',
    )
    .option('--fold', 'fold a linear (ungated) suppress or amplify into the weights that read the tensor: no added nodes')
    .option('--plan <file.json>', 'apply a list of interventions (objects with the fields above) in one call')
    .option('--external-data', 'store weights in <output>.data beside the model')
    .option(JSON_FLAG, 'print what was applied as JSON, or write it to a file')
    .action(async (file: string, opts: PatchOptions) => {
      const requests = opts.plan ? planFromFile(opts.plan) : [requestFromOptions(opts)];
      if (isDirectory(file)) return patchFolder(io, file, requests, opts);
      if (opts.variant) throw new UsageError('--variant goes with a model folder');
      // Folds of large weights are computed as saving writes them into the output.
      const { applied, saved } = await patchFileTo(file, requests, opts.output, { externalData: opts.externalData, onProgress: writingProgress() });
      if (emitJson(io, opts.json, { output: saved.path, dataFile: saved.dataPath ?? null, applied })) return;
      for (const a of applied) printApplied(io, a, '');
      io.out(`wrote ${saved.path}${saved.dataPath ? ` and ${saved.dataPath}` : ''}\n`);
    });
}

function printApplied(io: Context['io'], a: AppliedPatch, head: string): void {
  const projection = a.intervention.projection ? `, ${a.intervention.projection} projection` : '';
  const where = `'${a.tensor}' axis ${a.axis}${a.concept ? ` [${a.concept}]` : ''}`;
  io.out(
    `${head}${a.intervention.mode} on ${where}${projection}: ${a.nodes ? `${a.nodes} nodes under ${a.prefix}/` : 'folded into the weights that read it'}\n`,
  );
  if (a.places) io.out(`  in ${a.places.length} nested graphs that each define it: ${a.places.map((p) => `${p.scope} (${p.prefix}/)`).join(', ')}\n`);
  for (const note of a.notes ?? []) io.out(`  ${note}\n`);
}

async function patchFolder(io: Context['io'], dir: string, requests: PatchRequest[], opts: PatchOptions): Promise<void> {
  refuseExternalDataFlag(opts.externalData);
  const result = await patchFolderTo(dir, requests, opts.output, { variants: variantList(opts.variant), onProgress: writingProgress() });
  const patched = result.edited.map(({ result: applied, ...v }) => ({ ...v, applied }));
  if (emitJson(io, opts.json, { output: result.saved.dir, patched, unchanged: result.unchanged, files: result.saved.files })) return;
  for (const v of patched) for (const a of v.applied) printApplied(io, a, `${v.file} (${v.dtype}): `);
  printFolderEnd(io, result);
}

function requestFromOptions(opts: PatchOptions): PatchRequest {
  if (!opts.mode && !opts.concept) throw new UsageError('--mode is required (suppress, amplify, steer or clamp)');
  if (opts.mode && !MODES.includes(opts.mode as Mode)) throw new UsageError(`--mode: expected one of ${MODES.join(', ')}, got '${opts.mode}'`);
  const directions = opts.direction ? parseDirectionOptions('--direction', opts.direction) : undefined;
  const falloff = opts.falloff ? numberList('--falloff', opts.falloff) : undefined;
  if (falloff && falloff.length !== 3) throw new UsageError(`--falloff: expected three numbers T,B,P, got '${opts.falloff}'`);
  return {
    mode: (opts.mode ?? 'suppress') as Mode,
    ...(opts.tensor ? { tensor: opts.tensor } : {}),
    ...(opts.concept ? { concept: opts.concept } : {}),
    ...(directions ? { directions } : {}),
    ...(opts.dims ? { dims: intList('--dims', opts.dims) } : {}),
    ...(opts.axis !== undefined ? { axis: integer('--axis', opts.axis) } : {}),
    ...(opts.projection !== undefined ? { projection: projectionOption(opts.projection) } : {}),
    ...(opts.strength !== undefined ? { strength: number('--strength', opts.strength) } : {}),
    ...(falloff ? { falloff: { threshold: falloff[0], strength: falloff[1], power: falloff[2] } } : {}),
    ...(opts.strengthInput ? { strengthInput: opts.strengthInput } : {}),
    ...(opts.strengthInputOptional ? { strengthInputOptional: true } : {}),
    ...(opts.layers ? { layers: opts.layers as 'all' } : {}),
    ...(opts.foldTolerance !== undefined ? { foldTolerance: number('--fold-tolerance', opts.foldTolerance) } : {}),
    ...(opts.fold ? { fold: true } : {}),
  };
}

function projectionOption(value: string): Projection {
  if (!PROJECTIONS.includes(value as Projection)) throw new UsageError(`--projection: expected half or full, got '${value}'`);
  return value as Projection;
}

const PLAN_FIELDS = new Set([
  'tensor',
  'concept',
  'directions',
  'dims',
  'axis',
  'mode',
  'strength',
  'projection',
  'falloff',
  'strengthInput',
  'strengthInputOptional',
  'layers',
  'foldTolerance',
  'fold',
]);

function planFromFile(file: string): PatchRequest[] {
  const plan = readJsonFile('--plan', file);
  if (!Array.isArray(plan) || plan.length === 0) throw new UsageError(`${file}: a plan is a non-empty JSON list of interventions`);
  return plan.map((item, i) => {
    if (typeof item !== 'object' || item === null) throw new UsageError(`${file}: entry ${i} is not an object`);
    for (const key of Object.keys(item as object)) {
      if (!PLAN_FIELDS.has(key)) throw new UsageError(`${file}: entry ${i} has unknown field '${key}' (fields: ${[...PLAN_FIELDS].join(', ')})`);
    }
    const directions = resolvePlanDirections(`${file}: entry ${i}`, (item as { directions?: unknown }).directions, path.dirname(file));
    return { ...item, ...(directions ? { directions } : {}) } as PatchRequest;
  });
}
