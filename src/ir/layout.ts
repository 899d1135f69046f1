/**
 * Which axis of a tensor holds its features. Conv, BatchNormalization and
 * pooling write channel-first maps ([N, C, ...]: features on axis 1); Gemm,
 * MatMul and LayerNormalization write features on the last axis. Elementwise
 * ops pass the layout through. Anything else (a graph input, a Reshape, ...)
 * leaves it unknown, and callers must not guess.
 */
import type { NodeProto } from '../onnx/types.js';
import type { Graph } from './graph.js';
import { isDefaultDomain } from '../onnx/graph.js';

export type Layout = 'channel-first' | 'channel-last' | 'unknown';

const CHANNEL_FIRST = new Set([
  'Conv',
  'ConvTranspose',
  'BatchNormalization',
  'InstanceNormalization',
  'MaxPool',
  'AveragePool',
  'LpPool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'GlobalLpPool',
  'LRN',
  'QLinearConv',
  'ConvInteger',
]);
const CHANNEL_LAST = new Set(['MatMul', 'Gemm', 'LayerNormalization', 'SkipLayerNormalization', 'SimplifiedLayerNormalization', 'RMSNormalization']);
/** Ops whose output keeps the layout of their (first) tensor input. */
const ELEMENTWISE = new Set([
  'Identity',
  'Dropout',
  'Relu',
  'LeakyRelu',
  'PRelu',
  'Elu',
  'Selu',
  'Celu',
  'Gelu',
  'FastGelu',
  'BiasGelu',
  'Sigmoid',
  'HardSigmoid',
  'HardSwish',
  'Tanh',
  'Softplus',
  'Softsign',
  'Mish',
  'Erf',
  'Abs',
  'Neg',
  'Exp',
  'Log',
  'Sqrt',
  'Reciprocal',
  'Clip',
  'Cast',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Max',
  'Min',
  'Where',
]);

export function layoutOf(graph: Graph, tensor: string, memo = new Map<string, Layout>()): Layout {
  const known = memo.get(tensor);
  if (known) return known;
  memo.set(tensor, 'unknown'); // also breaks cycles
  const layout = computeLayout(graph, tensor, memo);
  memo.set(tensor, layout);
  return layout;
}

function computeLayout(graph: Graph, tensor: string, memo: Map<string, Layout>): Layout {
  const node: NodeProto | undefined = graph.producer(tensor);
  if (!node) return 'unknown';
  const op = node.opType ?? '';
  if (!isDefaultDomain(node.domain) && node.domain !== 'com.microsoft') return 'unknown';
  if (CHANNEL_FIRST.has(op)) return 'channel-first';
  if (CHANNEL_LAST.has(op)) return 'channel-last';
  if (!ELEMENTWISE.has(op)) return 'unknown';
  // Elementwise: the layout of the computed inputs (constants broadcast); an
  // input of unknown layout (a skip from the graph input) does not contradict
  // a known one, but two known layouts that differ do.
  const layouts = new Set<Layout>();
  for (const input of node.input) {
    if (!input || graph.initializer(input) || graph.producer(input)?.opType === 'Constant') continue;
    const l = layoutOf(graph, input, memo);
    if (l !== 'unknown') layouts.add(l);
  }
  return layouts.size === 1 ? [...layouts][0] : 'unknown';
}
