import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { loadModel, saveModel } from '../onnx/model.js';
import { MODES, type Mode } from '../rewrite/intervention.js';
import { patchModel, type PatchRequest } from '../rewrite/patch.js';
import { intList, number, numberList, readJsonFile } from '../util/options.js';
import type { Context } from './context.js';

interface PatchOptions {
  output: string;
  tensor?: string;
  concept?: string;
  direction?: string[];
  dims?: string;
  mode?: string;
  strength?: string;
  falloff?: string;
  strengthInput?: string;
  plan?: string;
  externalData?: boolean;
  fold?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerPatch(program: Command, { io }: Context): void {
  program
    .command('patch')
    .description('insert nodes that suppress, amplify, steer or clamp an anchored concept')
    .argument('<model>', 'ONNX model to patch (never modified)')
    .requiredOption('-o, --output <file>', 'where to write the patched model')
    .option('--tensor <name>', 'tensor to act on (default: the concept\'s anchored tensor)')
    .option('--concept <name>', 'concept from the model\'s anchors (sca.anchors)')
    .option('--direction <v,...>', 'direction in the tensor\'s last axis; repeat (or separate with ;) for a subspace', collect)
    .option('--dims <i,...>', 'axis-aligned dims of the last axis')
    .option('--mode <mode>', `one of ${MODES.join(', ')} (default with --concept: suppress, which applies a LEACE anchor's eraser)`)
    .option('--strength <s>', 'suppress: b in [0,1] (default 1); amplify: scale 1+S; steer: S*a; clamp: value S')
    .option('--falloff <t,b,p>', 'suppression gate: threshold t, strength b, power p (default 0,1,0)')
    .option('--strength-input <name>', 'expose the strength as an optional float32 graph input of this name')
    .option('--fold', 'fold a linear (ungated) suppress or amplify into the weights that read the tensor: no added nodes')
    .option('--plan <file.json>', 'apply a list of interventions (objects with the fields above) in one call')
    .option('--external-data', 'store weights in <output>.data beside the model')
    .option('--json', 'print what was applied as JSON')
    .action(async (file: string, opts: PatchOptions) => {
      const requests = opts.plan ? planFromFile(opts.plan) : [requestFromOptions(opts)];
      const model = loadModel(file);
      const applied = await patchModel(model, requests, file);
      const saved = saveModel(model, opts.output, { externalData: opts.externalData });
      if (opts.json) {
        io.out(`${JSON.stringify({ output: saved.path, dataFile: saved.dataPath ?? null, applied }, null, 2)}\n`);
        return;
      }
      for (const a of applied) {
        io.out(`${a.intervention.mode} on '${a.tensor}'${a.concept ? ` [${a.concept}]` : ''}: ${a.nodes ? `${a.nodes} nodes under ${a.prefix}/` : 'folded into the weights that read it'}\n`);
      }
      io.out(`wrote ${saved.path}${saved.dataPath ? ` and ${saved.dataPath}` : ''}\n`);
    });
}

function requestFromOptions(opts: PatchOptions): PatchRequest {
  if (!opts.mode && !opts.concept) throw new UsageError('--mode is required (suppress, amplify, steer or clamp)');
  const directions = opts.direction?.flatMap((d) => d.split(';')).map((d) => numberList('--direction', d));
  const falloff = opts.falloff ? numberList('--falloff', opts.falloff) : undefined;
  if (falloff && falloff.length !== 3) throw new UsageError(`--falloff: expected three numbers T,B,P, got '${opts.falloff}'`);
  return {
    mode: (opts.mode ?? 'suppress') as Mode,
    ...(opts.tensor ? { tensor: opts.tensor } : {}),
    ...(opts.concept ? { concept: opts.concept } : {}),
    ...(directions ? { directions } : {}),
    ...(opts.dims ? { dims: intList('--dims', opts.dims) } : {}),
    ...(opts.strength !== undefined ? { strength: number('--strength', opts.strength) } : {}),
    ...(falloff ? { falloff: { threshold: falloff[0], strength: falloff[1], power: falloff[2] } } : {}),
    ...(opts.strengthInput ? { strengthInput: opts.strengthInput } : {}),
    ...(opts.fold ? { fold: true } : {}),
  };
}

const PLAN_FIELDS = new Set(['tensor', 'concept', 'directions', 'dims', 'mode', 'strength', 'falloff', 'strengthInput', 'fold']);

function planFromFile(file: string): PatchRequest[] {
  const plan = readJsonFile('--plan', file);
  if (!Array.isArray(plan) || plan.length === 0) throw new UsageError(`${file}: a plan is a non-empty JSON list of interventions`);
  return plan.map((item, i) => {
    if (typeof item !== 'object' || item === null) throw new UsageError(`${file}: entry ${i} is not an object`);
    for (const key of Object.keys(item)) {
      if (!PLAN_FIELDS.has(key)) throw new UsageError(`${file}: entry ${i} has unknown field '${key}' (fields: ${[...PLAN_FIELDS].join(', ')})`);
    }
    return item as PatchRequest;
  });
}
