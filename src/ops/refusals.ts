/**
 * The sentences a refused weight edit prints: they name the pattern and
 * where it is (as torch named the module), say why the edit would be wrong,
 * and point at a place where it would be right.
 */
import { nodeLabel, type NodeLike } from './lookup.js';
import type { PatternMatch } from './patterns.js';

/** What the user asked for, as the refusal names it. */
export type WeightEdit = 'ablation' | 'pruning' | 'fold';

const EDIT_NOUN: Record<WeightEdit, string> = { ablation: 'ablation', pruning: 'pruning', fold: 'folding' };

function axesText(axes: number[] | undefined, toEnd?: boolean): string {
  if (!axes || axes.length === 0) return 'its normalised axes';
  if (axes.length === 1 && axes[0] === -1) return 'the last axis';
  if (toEnd) return `axes ${axes[0]} onwards`;
  return axes.length === 1 ? `axis ${axes[0]}` : `axes ${axes.join(', ')}`;
}

/**
 * A LayerNorm (decomposed, LayerNormalization or SkipLayerNormalization) on
 * the path of an edit: it subtracts the row mean and divides by its spread,
 * so zeroed coordinates do not stay zero and a map applied before it is not
 * the same map after it.
 *
 *   LayerNorm at /ln_f normalises over the last axis: ablation through it is unsound; fold at its output instead
 */
export function normalizationRefusal(match: PatternMatch, edit: WeightEdit): string {
  const axes = match.behaviour.kind === 'normalize' ? axesText(match.behaviour.axes, match.behaviour.toEnd) : axesText(match.params.axes);
  const where = `${match.label} at ${match.site} normalises over ${axes}`;
  if (edit === 'fold') {
    return `${where}: a map folded into the weights after it is not the map before it; fold at its output ('${match.output}') instead`;
  }
  return `${where}: ${EDIT_NOUN[edit]} through it is unsound (it re-centres and rescales each row, so zeroed dims do not stay zero); fold at its output ('${match.output}') instead`;
}

/**
 * A residual Add: the anchored tensor (or its producer's output) is one
 * branch of a sum whose other branch carries the concept too, so editing
 * the weights on one side leaves it in the stream.
 *
 *   residual Add at /h.0/Add adds '/h.0/attn/...' to 'x': the concept bypasses ...
 */
export function residualRefusal(add: NodeLike, branch: string, edit: WeightEdit): string {
  const other = add.input.find((i) => i !== branch) ?? add.input[1];
  return (
    `residual ${add.opType} at ${nodeLabel(add)} adds '${branch}' to '${other}': ` +
    `the concept reaches '${add.output[0]}' through the other branch, so ${EDIT_NOUN[edit]} of the weights on this side does not remove it; ` +
    `patch the stream after the ${add.opType} ('${add.output[0]}') with sca patch, or fold into the weights that read it`
  );
}

/**
 * Softmax (or LogSoftmax) on the path: each output depends on the whole row,
 * and exp(0) is not 0.
 */
export function softmaxRefusal(node: NodeLike, axes: number[], edit: WeightEdit, toEnd = false): string {
  return (
    `${node.opType} at ${nodeLabel(node)} normalises over ${axesText(axes, toEnd)}: ${EDIT_NOUN[edit]} through it is unsound ` +
    `(a zeroed input becomes exp(0)/sum, not 0, and every other output is rescaled); edit the tensor before it instead`
  );
}

/** A row-scaling normalisation (L2, RMSNorm) when folding: the scale depends on the row, so a map before it is not the map after it. */
export function rowScaleFoldRefusal(match: PatternMatch): string {
  return `${match.label} at ${match.site} rescales each row by its norm: a map folded into the weights after it is not the map before it; fold at its output ('${match.output}') instead`;
}

/** Any other node the walk cannot pass. */
export function opaqueRefusal(node: NodeLike, reason: string, edit: WeightEdit): string {
  return `${node.opType} at ${nodeLabel(node)}: ${reason}, so ${EDIT_NOUN[edit]} through it is unsound`;
}
