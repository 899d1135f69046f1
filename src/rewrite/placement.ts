/**
 * Where an intervention's nodes must go so that it means what it says for
 * every reader of the value, decided before anything is edited:
 *
 * - a fused op's output that the op also computes other outputs from
 *   (SkipLayerNormalization's residual sum, which its output 0 normalises):
 *   the op is split into its parts with the value between them, or the
 *   patch is refused, naming the op (src/ops/outputs.ts has the table);
 * - an activation that reaches its readers through a QuantizeLinear /
 *   DequantizeLinear pair: the patch acts on the dequantized value, which is
 *   what the readers compute with; before the quantizer its calibrated range
 *   would clip the edit (src/ir/qdq.ts);
 * - a graph input that is also a graph output: refused, since the output
 *   would keep the unpatched value.
 */
import { UsageError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { IrModel } from '../ir/model.js';
import { isDequantize, isQuantize, quantizedPath } from '../ir/qdq.js';
import type { ValueType } from '../ir/types.js';
import { makeValueInfo, qualifiedOp } from '../onnx/graph.js';
import type { AttributeProto, NodeProto } from '../onnx/types.js';
import { outputIndependence, outputSpec, type SplitKind } from '../ops/outputs.js';
import { intAttr, type SubgraphBuilder } from './builder.js';
import { insertAfter, type Splice } from './insert.js';
import { tensorType } from './target.js';

export interface Placement {
  /** The tensor the user named. */
  requested: string;
  /** The tensor the intervention is spliced in after (the dequantized value for a quantized activation). */
  tensor: string;
  /** A fused node to split into parts first, so that `requested` is a plain value between them. */
  split?: { node: NodeProto; kind: SplitKind };
  quantized?: { quantize: string; dequantize: string };
  /** What was done differently from a plain splice, for the user. */
  notes: string[];
}

const refused = (message: string) => new UsageError(message, 'REFUSED');

const describe = (n: NodeProto) => `${qualifiedOp(n)} node '${n.name ?? ''}'`;

export function placeIntervention(ir: IrModel, tensor: string, label: string): Placement {
  const g = ir.graph;
  const place: Placement = { requested: tensor, tensor, notes: [] };
  if (g.isInput(tensor) && g.isOutput(tensor)) {
    throw refused(
      `${label}: '${tensor}' is both a graph input and a graph output; the output would keep the unpatched value: patch a tensor computed from it instead`,
    );
  }
  const producer = g.producer(tensor);
  if (producer && isQuantize(producer)) {
    const dq = g.consumers(tensor).find(isDequantize);
    throw refused(
      `${label}: '${tensor}' is the quantized (integer) form written by ${describe(producer)}${dq ? `; patch '${dq.output[0]}', the dequantized value its readers use` : ''}`,
    );
  }
  if (producer) placeOnFusedOutput(g, producer, tensor, place, label);
  placeOnQuantized(g, tensor, place, label);
  return place;
}

function placeOnFusedOutput(g: Graph, node: NodeProto, tensor: string, place: Placement, label: string): void {
  const index = node.output.indexOf(tensor);
  const found = outputIndependence(node, index);
  if (found.kind === 'independent') return;
  const spec = outputSpec(node.domain, node.opType ?? '');
  const outName = (i: number) => `output ${i}${spec?.outputs[i] ? ` (${spec.outputs[i]})` : ''}`;
  const here = `'${tensor}' is ${outName(index)} of ${describe(node)}`;
  if (found.kind === 'unknown') {
    const others = node.output.filter((o, i) => o && i !== index).map((o) => `'${o}'`);
    throw refused(
      `${label}: ${here}, an op this toolkit does not know; it also writes ${others.join(', ')}, which it may compute from the same value inside the op, where a patch here would not reach: patch one of its inputs, or a reader of '${tensor}', instead`,
    );
  }
  const stale = found.derived.map((i) => `${outName(i)} '${node.output[i]}'`).join(' and ');
  if (found.kind === 'derived') {
    throw refused(
      `${label}: ${here}, which also computes ${stale} from that value inside the op, where a patch here would not reach${found.instead ? `: ${found.instead}` : ''}`,
    );
  }
  if (found.kind === 'split') {
    if (found.split === 'skip-simplified-layernorm' && node.output[1]) {
      throw refused(
        `${label}: ${here}, whose output 1 '${node.output[1]}' (mean) is written too; the op cannot be split into Add and SimplifiedLayerNormalization with that output kept`,
      );
    }
    if (g.subgraphs(node).length) throw refused(`${label}: ${describe(node)} holds subgraphs and cannot be split`);
    place.split = { node, kind: found.split };
    const norm = found.split === 'skip-layernorm' ? 'LayerNormalization' : 'SimplifiedLayerNormalization';
    place.notes.push(
      `${describe(node)} computes ${stale} from '${tensor}' inside the op: split it into Add and ${norm} (same outputs, same names) so the patch reaches ${found.derived.length > 1 ? 'them' : 'it'}`,
    );
  }
}

function placeOnQuantized(g: Graph, tensor: string, place: Placement, label: string): void {
  const path = quantizedPath(g, tensor);
  if (path.kind === 'none') return;
  if (path.kind === 'mixed') {
    throw refused(
      `${label}: '${tensor}' is quantized by QuantizeLinear '${path.quantize.name ?? ''}' before its readers, but ${path.why}, so no one place acts on the value every reader computes with: patch a tensor that is not quantized, or the DequantizeLinear output itself`,
    );
  }
  if (place.split)
    throw refused(
      `${label}: '${tensor}' is both the output of a fused op that must be split and quantized before its readers; patch the DequantizeLinear output '${path.value}' instead`,
    );
  place.tensor = path.value;
  place.quantized = { quantize: path.quantize.name ?? '', dequantize: path.dequantize.name ?? '' };
  place.notes.push(
    `'${tensor}' is quantized by QuantizeLinear '${path.quantize.name ?? ''}' before its readers: the patch acts on '${path.value}', the dequantized value they compute with (an edit before the quantizer would be clipped to its calibrated range)`,
  );
}

/** Fold edits the readers of the tensor itself: refused where placement had to split an op or move past a quantizer. */
export function checkFoldable(place: Placement, label: string, what = 'the patch'): void {
  const tensor = place.requested;
  if (place.split) {
    const n = place.split.node;
    throw refused(
      `${label}: fold cannot reach what ${describe(n)} computes from '${tensor}' inside the op; insert ${what} instead (leave out fold), which splits the op`,
    );
  }
  if (place.quantized) {
    throw refused(
      `${label}: '${tensor}' reaches its readers through QuantizeLinear '${place.quantized.quantize}', so fold cannot edit what they compute with; insert ${what} instead (leave out fold)`,
    );
  }
}

/**
 * Splices the intervention `build` makes in where `place` says: splits the
 * fused op first if it must, then inserts after the placed tensor (`type` is
 * the requested tensor's; the placed one's is looked up when it differs).
 * Call only once every check has passed: this edits the model. Returns what
 * the intervention record and the applied patch say about the placement.
 */
export function insertAtPlacement(
  ir: IrModel,
  place: Placement,
  type: ValueType,
  b: SubgraphBuilder,
  build: (splice: Splice) => void,
  label: string,
  shapes?: ReadonlyMap<string, ValueType>,
): { record: Record<string, unknown>; result: ReturnType<typeof placementResult> } {
  const at = place.tensor === place.requested ? type : tensorType(ir, place.tensor, label, shapes);
  const split = place.split ? splitSkipNorm(ir.graph, place.split.node, place.split.kind, b, type) : [];
  insertAfter(ir.graph, place.tensor, at, b, build);
  return { record: placementRecord(place, split), result: placementResult(place, split) };
}

/** The fields an intervention record keeps about its placement. */
function placementRecord(place: Placement, split?: string[]): Record<string, unknown> {
  return {
    ...(place.tensor !== place.requested ? { actsOn: place.tensor } : {}),
    ...(place.quantized ? { quantized: place.quantized } : {}),
    ...(place.split ? { split: { node: place.split.node.name ?? '', op: place.split.node.opType, into: split ?? [] } } : {}),
  };
}

/** What an applied patch reports about its placement. */
function placementResult(place: Placement, split: string[]): { actsOn?: string; split?: string[]; notes?: string[] } {
  return {
    ...(place.tensor !== place.requested ? { actsOn: place.tensor } : {}),
    ...(split.length ? { split } : {}),
    ...(place.notes.length ? { notes: place.notes } : {}),
  };
}

/**
 * SkipLayerNormalization(input, skip, gamma, beta?, bias?) and
 * SkipSimplifiedLayerNormalization(input, skip, gamma, bias?) as
 * Add(input, skip) [+ bias] -> output 3, then LayerNormalization or
 * SimplifiedLayerNormalization of it -> outputs 0 (and 1, 2 where written).
 * The norms are written in the default domain, where onnxruntime registers
 * both at every opset; stash_type 1 keeps the statistics in float32 as the
 * fused kernels do.
 */
function splitSkipNorm(g: Graph, node: NodeProto, kind: SplitKind, b: SubgraphBuilder, type: ValueType): string[] {
  const simplified = kind === 'skip-simplified-layernorm';
  const [x, skip, gamma] = node.input;
  const beta = simplified ? undefined : node.input[3];
  const bias = simplified ? node.input[3] : node.input[4];
  const [y, mean, invStd, sum] = node.output;
  const epsilon = node.attribute.find((a) => a.name === 'epsilon');
  const nodes: NodeProto[] = [];
  const add = (inputs: string[], output: string): void => {
    nodes.push({
      name: b.name(`split/Add${nodes.length ? `_${nodes.length}` : ''}`),
      opType: 'Add',
      domain: '',
      input: inputs,
      output: [output],
      attribute: [],
    });
  };
  if (bias) {
    const partial = b.name('split/input_skip_sum');
    add([x, skip], partial);
    add([partial, bias], sum);
    if (type.elemType !== undefined) g.addValueInfo([makeValueInfo(partial, type.elemType, type.shape)]);
  } else {
    add([x, skip], sum);
  }
  const attrs: AttributeProto[] = [intAttr('axis', -1), ...(epsilon ? [epsilon] : []), intAttr('stash_type', 1)];
  const outputs = simplified ? [y, invStd ?? ''] : [y, mean ?? '', invStd ?? ''];
  while (outputs.length > 1 && !outputs[outputs.length - 1]) outputs.pop();
  const norm = simplified ? 'SimplifiedLayerNormalization' : 'LayerNormalization';
  nodes.push({ name: b.name(`split/${norm}`), opType: norm, domain: '', input: beta ? [sum, gamma, beta] : [sum, gamma], output: outputs, attribute: attrs });
  g.replaceNode(node, nodes);
  return nodes.map((n) => n.name!);
}
