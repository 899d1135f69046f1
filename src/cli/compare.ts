import type { Command } from 'commander';
import { isDirectory, variantFile } from '../onnx/folder.js';
import { compareText, formatTextComparison } from '../eval/compareText.js';
import { renderTextReport } from '../eval/textReport.js';
import { loadTokenizer } from '../data/tokenizer.js';
import { compareModels } from '../eval/compare.js';
import { formatComparison } from '../eval/format.js';
import { renderReport } from '../eval/report.js';
import { parseDevice } from '../runtime/session.js';
import { writeTextFile } from '../util/files.js';
import { UsageError } from '../errors.js';
import { number, positiveInt } from '../util/options.js';
import { Progress } from '../util/progress.js';
import type { Context } from './context.js';
import { emitJson, JSON_FLAG, type JsonOption } from './json.js';

interface CompareCliOptions {
  data: string;
  json?: JsonOption;
  report?: string;
  device: string;
  batchSize: string;
  groups?: string;
  tap?: string[];
  classifier?: boolean;
  set?: string[];
  labels?: string;
  power?: string;
  grid: string;
  variant?: string;
  prompts?: string;
  maxNewTokens?: string;
  terms?: string;
  markers?: string;
  text?: string;
  temperature?: string;
  topK?: string;
  topP?: string;
  seed: string;
}

async function compareTexts(io: Context['io'], intact: string, patched: string, opts: CompareCliOptions): Promise<void> {
  const sampling = opts.temperature
    ? {
        temperature: positiveNumber('--temperature', opts.temperature),
        ...(opts.topK ? { topK: positiveInt('--top-k', opts.topK) } : {}),
        ...(opts.topP ? { topP: positiveNumber('--top-p', opts.topP) } : {}),
        seed: number('--seed', opts.seed),
      }
    : undefined;
  if (!sampling && (opts.topK || opts.topP)) throw new UsageError('--top-k and --top-p go with --temperature');
  const result = await compareText(intact, patched, {
    prompts: opts.prompts!,
    ...(opts.maxNewTokens ? { maxNewTokens: positiveInt('--max-new-tokens', opts.maxNewTokens) } : {}),
    ...(opts.terms ? { terms: opts.terms } : {}),
    ...(opts.markers ? { markers: opts.markers } : {}),
    ...(opts.text ? { text: opts.text } : {}),
    ...(opts.variant ? { variant: opts.variant } : {}),
    ...(sampling ? { sampling } : {}),
    device: parseDevice(opts.device),
    patchedInputs: parseSettings(opts.set ?? []),
  });
  if (opts.report) writeTextFile(opts.report, renderTextReport(result, loadTokenizer(intact).decode, `${result.patched} vs ${result.intact}`));
  if (emitJson(io, opts.json, result)) return;
  io.out(`${formatTextComparison(result)}\n`);
  if (opts.report) io.out(`report: ${opts.report}\n`);
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerCompare(program: Command, { io }: Context): void {
  program
    .command('compare')
    .description('run an intact and a patched model on the same inputs and measure what changed')
    .argument('<intact>', 'the original model (a file, or a model folder: see --variant)')
    .argument('<patched>', 'the patched or ablated model (a file or a model folder)')
    .option(
      '--prompts <file>',
      'language models: generate from these prompts (.txt, one per line, or .jsonl of {"prompt"} or {"messages"}) and compare the texts',
    )
    .option('--max-new-tokens <n>', 'with --prompts: tokens to generate per prompt (default 32)')
    .option('--terms <file>', "with --prompts: words or /regexes/ (one per line) whose rate in each side's generations is reported")
    .option('--markers <file>', 'with --prompts: refusal markers, one per line (default: a built-in list, see README)')
    .option('--text <file>', 'with --prompts: a held-out text for perplexity, intact and patched')
    .option('--temperature <t>', 'with --prompts: sample at this temperature instead of greedy decoding')
    .option('--top-k <k>', 'with --temperature: sample among the k likeliest tokens')
    .option('--top-p <p>', 'with --temperature: sample from the smallest set holding probability p')
    .option('--seed <n>', 'with --temperature: seed of the draws', '0')
    .option('--variant <v>', 'with folders: the variant to run in each, by dtype (fp32, fp16, q4), file name or path (default: the only one, or the fp32 one)')
    .option('--data <spec>', 'color-cube[:N] (N points per axis), or a .npy, .npz or .json file of inputs', 'color-cube')
    .option(JSON_FLAG, 'print the results as JSON (schemaVersion 1), or write them to a file')
    .option('--report <file.html>', 'write a self-contained HTML report with tables and plots')
    .option('--device <device>', 'cpu or cuda', 'cpu')
    .option('--batch-size <n>', 'samples per onnxruntime run', '1024')
    .option('--groups <file.json>', 'a label per sample (list), or {"label": [sample indices]}, for per-group tables')
    .option('--tap <tensor>', 'also compare an intermediate tensor (repeatable)', collect)
    .option('--classifier', 'treat outputs as class logits: add KL divergence and top-1 agreement')
    .option('--labels <file>', 'two-class labels per sample (.npy or .json) for the anchoring purity of --tap tensors (colour cube: redness > 0.5)')
    .option('--set <name=value>', 'set an overridable input of the patched model, e.g. its --strength-input (repeatable)', collect)
    .option('--power <p>', "colour model: selectivity's power p (default 3 for a weight ablation or pruning, 2 otherwise, as the paper)")
    .option('--grid <n>', 'colour model: points per axis of the selectivity grid (the paper: 8; its notebooks also print 20)', '8')
    .action(async (intactArg: string, patchedArg: string, opts: CompareCliOptions) => {
      if (opts.prompts) return compareTexts(io, intactArg, patchedArg, opts);
      const pick = (p: string) => (isDirectory(p) ? variantFile(p, opts.variant) : p);
      const [intact, patched] = [pick(intactArg), pick(patchedArg)];
      let progress: Progress | undefined;
      const comparison = await compareModels(intact, patched, {
        data: opts.data,
        device: parseDevice(opts.device),
        batchSize: positiveInt('--batch-size', opts.batchSize),
        groups: opts.groups,
        taps: opts.tap,
        classifier: opts.classifier,
        patchedInputs: parseSettings(opts.set ?? []),
        ...(opts.labels ? { labels: opts.labels } : {}),
        selectivityPower: opts.power === undefined ? undefined : positiveNumber('--power', opts.power),
        selectivityGrid: positiveInt('--grid', opts.grid),
        onProgress: (done, total) => (progress ??= new Progress('comparing', total)).update(done),
      });
      progress?.done();
      // The report is written first, so JSON on stdout stays the only thing printed.
      if (opts.report) writeTextFile(opts.report, renderReport(comparison, `${patched} vs ${intact}`, { reportPath: opts.report }));
      if (emitJson(io, opts.json, comparison.result)) return;
      io.out(`${formatComparison(comparison.result)}\n`);
      if (opts.report) io.out(`report: ${opts.report}\n`);
    });
}

function positiveNumber(option: string, text: string): number {
  const v = number(option, text);
  if (!(v > 0)) throw new UsageError(`${option}: '${text}' must be above 0`);
  return v;
}

function parseSettings(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const eq = item.lastIndexOf('=');
    if (eq <= 0) throw new UsageError(`--set: expected NAME=VALUE, got '${item}'`);
    out[item.slice(0, eq)] = number(`--set ${item.slice(0, eq)}`, item.slice(eq + 1));
  }
  return out;
}
