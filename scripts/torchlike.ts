/**
 * Graphs written the way torch.onnx writes them (opset-dependent forms:
 * Unsqueeze/Squeeze/Split/ReduceMean axes as attributes or inputs; Reshape
 * targets built by Shape/Gather/Unsqueeze/Concat), for shape-inference tests,
 * for running in onnxruntime as an oracle, and (without weight data) for the
 * inference benchmark.
 */
import { makeValueInfo } from '../src/onnx/graph.js';
import { attrFloat, attrInt, attrInts, emptyGraph, newModel, node } from '../src/onnx/build.js';
import { int64Tensor, makeTensor } from '../src/onnx/tensor.js';
import { AttributeType, DataType, type AttributeProto, type GraphProto, type ModelProto, type TensorProto } from '../src/onnx/types.js';
import { Random } from '../src/maths/random.js';

export { int64Tensor };

export function attrTensor(name: string, t: TensorProto): AttributeProto {
  return { name, type: AttributeType.TENSOR, t, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
}

function randomValues(n: number, seed: number, scale: number): number[] {
  const r = new Random(seed);
  return Array.from({ length: n }, () => (r.next() * 2 - 1) * scale);
}

export class GraphWriter {
  readonly graph: GraphProto = emptyGraph('export');
  private n = 0;
  private seed = 100;
  /** `withWeights: false` writes weight headers only (dims, no data): enough for inference, not for running. */
  constructor(
    readonly opset: number,
    private readonly withWeights = true,
  ) {}

  op(opType: string, inputs: string[], attrs: AttributeProto[] = [], outputs = 1, domain = ''): string[] {
    const id = this.n++;
    const outs = Array.from({ length: outputs }, (_, i) => `/${opType}_${id}_output_${i}`);
    const n = node(opType, inputs, outs, attrs, `/${opType}_${id}`);
    n.domain = domain;
    this.graph.node.push(n);
    return outs;
  }

  one(opType: string, inputs: string[], attrs: AttributeProto[] = []): string {
    return this.op(opType, inputs, attrs)[0];
  }

  ints(values: number[], dims: number[] = [values.length]): string {
    return this.one('Constant', [], [attrTensor('value', int64Tensor('c', values, dims))]);
  }

  float(value: number): string {
    return this.one('Constant', [], [attrTensor('value', makeTensor('c', DataType.FLOAT, [], [value]))]);
  }

  weight(name: string, dims: number[], scale = 0.3): string {
    const n = dims.reduce((a, b) => a * b, 1);
    this.graph.initializer.push(makeTensor(name, DataType.FLOAT, dims, this.withWeights ? randomValues(n, this.seed++, scale) : []));
    return name;
  }

  tensor(t: TensorProto): string {
    this.graph.initializer.push(t);
    return t.name!;
  }

  unsqueeze(x: string, axes: number[]): string {
    return this.opset < 13 ? this.one('Unsqueeze', [x], [attrInts('axes', axes)]) : this.one('Unsqueeze', [x, this.ints(axes)]);
  }

  reduceMean(x: string, axes: number[]): string {
    return this.opset < 18 ? this.one('ReduceMean', [x], [attrInts('axes', axes)]) : this.one('ReduceMean', [x, this.ints(axes)]);
  }

  split(x: string, axis: number, sizes: number[]): string[] {
    if (this.opset < 13) return this.op('Split', [x], [attrInt('axis', axis), attrInts('split', sizes)], sizes.length);
    if (this.opset >= 18 && sizes.every((s) => s === sizes[0]))
      return this.op('Split', [x], [attrInt('axis', axis), attrInt('num_outputs', sizes.length)], sizes.length);
    return this.op('Split', [x, this.ints(sizes)], [attrInt('axis', axis)], sizes.length);
  }

  /** x.size(i) as a 1-element vector, the torch way: Shape -> Gather(scalar) -> Unsqueeze. */
  dim(x: string, i: number): string {
    return this.unsqueeze(this.one('Gather', [this.one('Shape', [x]), this.ints([i], [])], [attrInt('axis', 0)]), [0]);
  }

  layerNorm(x: string, d: number, prefix: string): string {
    const g = this.weight(`${prefix}.weight`, [d], 1);
    const b = this.weight(`${prefix}.bias`, [d], 0.1);
    if (this.opset >= 17) return this.one('LayerNormalization', [x, g, b], [attrInt('axis', -1), attrFloat('epsilon', 1e-5)]);
    // torch's decomposition below opset 17
    const mean = this.reduceMean(x, [-1]);
    const c = this.one('Sub', [x, mean]);
    const v = this.reduceMean(this.one('Pow', [c, this.float(2)]), [-1]);
    const std = this.one('Sqrt', [this.one('Add', [v, this.float(1e-5)])]);
    return this.one('Add', [this.one('Mul', [this.one('Div', [c, std]), g]), b]);
  }

  model(inputs: [string, number, (number | string)[]][], outputs: string[]): ModelProto {
    for (const [name, type, shape] of inputs) this.graph.input.push(makeValueInfo(name, type, shape));
    for (const o of outputs) this.graph.output.push({ name: o });
    return newModel(this.graph, this.opset, 'pytorch');
  }
}

/**
 * A GPT-2-style decoder: token + position embeddings, `layers` pre-LN blocks
 * of causal self-attention (heads split and merged by Reshape targets built
 * from Shape/Gather/Unsqueeze/Concat) and a GELU MLP, final LayerNorm, logits.
 * Returns the model and the names of the residual stream after each block.
 */
export function gpt2Like(opts: { opset: number; d?: number; heads?: number; layers?: number; vocab?: number; maxPos?: number; withWeights?: boolean }): {
  model: ModelProto;
  residual: string[];
  logits: string;
} {
  const { opset, d = 16, heads = 4, layers = 2, vocab = 11, maxPos = 32 } = opts;
  const hd = d / heads;
  const w = new GraphWriter(opset, opts.withWeights ?? true);
  const wte = w.weight('wte', [vocab, d], 1);
  const wpe = w.weight('wpe', [maxPos, d], 1);
  const seq = w.one('Gather', [w.one('Shape', ['input_ids']), w.ints([1], [])], [attrInt('axis', 0)]);
  const pos = w.unsqueeze(w.one('Range', [w.ints([0], []), seq, w.ints([1], [])]), [0]);
  let x = w.one('Add', [w.one('Gather', [wte, 'input_ids']), w.one('Gather', [wpe, pos])]);
  const mask = w.tensor({
    ...makeTensor('attn.bias', DataType.FLOAT, [1, 1, maxPos, maxPos], []),
    dataType: DataType.BOOL,
    rawData: Uint8Array.from({ length: maxPos * maxPos }, (_, i) => Number(i % maxPos <= Math.floor(i / maxPos))),
  });
  const residual: string[] = [];
  for (let l = 0; l < layers; l++) {
    const p = `h.${l}`;
    const h = w.layerNorm(x, d, `${p}.ln_1`);
    const qkv = w.one('Add', [w.one('MatMul', [h, w.weight(`${p}.attn.c_attn.weight`, [d, 3 * d])]), w.weight(`${p}.attn.c_attn.bias`, [3 * d], 0.1)]);
    const [q, k, v] = w.split(qkv, 2, [d, d, d]);
    const heads4 = (t: string) => w.one('Reshape', [t, w.one('Concat', [w.dim(t, 0), w.dim(t, 1), w.ints([heads]), w.ints([hd])], [attrInt('axis', 0)])]);
    const qh = w.one('Transpose', [heads4(q)], [attrInts('perm', [0, 2, 1, 3])]);
    const kt = w.one('Transpose', [heads4(k)], [attrInts('perm', [0, 2, 3, 1])]);
    const vh = w.one('Transpose', [heads4(v)], [attrInts('perm', [0, 2, 1, 3])]);
    let att = w.one('Div', [w.one('MatMul', [qh, kt]), w.float(Math.sqrt(hd))]);
    // causal mask: bias[:, :, k-q:k, :k] with q and k from Shape
    const qLen = w.one('Gather', [w.one('Shape', [qh]), w.ints([-2], [])], [attrInt('axis', 0)]);
    const kLen = w.one('Gather', [w.one('Shape', [kt]), w.ints([-1], [])], [attrInt('axis', 0)]);
    const rows = w.one('Slice', [mask, w.unsqueeze(w.one('Sub', [kLen, qLen]), [0]), w.unsqueeze(kLen, [0]), w.ints([2]), w.ints([1])]);
    const causal = w.one('Slice', [rows, w.ints([0]), w.unsqueeze(kLen, [0]), w.ints([3]), w.ints([1])]);
    att = w.one('Where', [w.one('Cast', [causal], [attrInt('to', DataType.BOOL)]), att, w.float(-1e4)]);
    const probs = w.one('Softmax', [att], [attrInt('axis', -1)]);
    const ctxh = w.one('Transpose', [w.one('MatMul', [probs, vh])], [attrInts('perm', [0, 2, 1, 3])]);
    const merged = w.one('Reshape', [ctxh, w.one('Concat', [w.dim(ctxh, 0), w.dim(ctxh, 1), w.ints([-1])], [attrInt('axis', 0)])]);
    const proj = w.one('Add', [w.one('MatMul', [merged, w.weight(`${p}.attn.c_proj.weight`, [d, d])]), w.weight(`${p}.attn.c_proj.bias`, [d], 0.1)]);
    x = w.one('Add', [x, proj]);
    const h2 = w.layerNorm(x, d, `${p}.ln_2`);
    const fc = w.one('Add', [w.one('MatMul', [h2, w.weight(`${p}.mlp.c_fc.weight`, [d, 4 * d])]), w.weight(`${p}.mlp.c_fc.bias`, [4 * d], 0.1)]);
    // torch's exact GELU: x * 0.5 * (1 + erf(x / sqrt 2))
    const gelu = w.one('Mul', [w.one('Mul', [fc, w.one('Add', [w.one('Erf', [w.one('Div', [fc, w.float(Math.SQRT2)])]), w.float(1)])]), w.float(0.5)]);
    const out = w.one('Add', [w.one('MatMul', [gelu, w.weight(`${p}.mlp.c_proj.weight`, [4 * d, d])]), w.weight(`${p}.mlp.c_proj.bias`, [d], 0.1)]);
    x = w.one('Add', [x, out]);
    residual.push(x);
  }
  const final = w.layerNorm(x, d, 'ln_f');
  // torch ties lm_head to wte: MatMul with its transpose
  const logits = w.one('MatMul', [final, w.one('Transpose', [wte], [attrInts('perm', [1, 0])])]);
  return { model: w.model([['input_ids', DataType.INT64, ['batch', 'sequence']]], [logits]), residual, logits };
}

/**
 * A small CNN: Conv/BatchNorm/Relu/MaxPool twice, then x.view(x.size(0), -1)
 * (Shape/Gather/Unsqueeze/Concat -> Reshape) and Gemm; plus a GlobalAveragePool
 * branch flattened with Flatten.
 */
export function cnnLike(opset: number): { model: ModelProto; flat: string; pooled: string; logits: string } {
  const w = new GraphWriter(opset);
  let x = 'image';
  let c = 3;
  for (const [i, out] of [
    [0, 8],
    [1, 12],
  ] as const) {
    x = w.one(
      'Conv',
      [x, w.weight(`conv${i}.weight`, [out, c, 3, 3]), w.weight(`conv${i}.bias`, [out], 0.1)],
      [attrInts('kernel_shape', [3, 3]), attrInts('pads', [1, 1, 1, 1]), attrInts('strides', [1, 1])],
    );
    x = w.one('BatchNormalization', [
      x,
      w.weight(`bn${i}.weight`, [out], 1),
      w.weight(`bn${i}.bias`, [out], 0.1),
      w.weight(`bn${i}.mean`, [out], 0.1),
      w.tensor(makeTensor(`bn${i}.var`, DataType.FLOAT, [out], Array(out).fill(1))),
    ]);
    x = w.one('Relu', [x]);
    x = w.one('MaxPool', [x], [attrInts('kernel_shape', [2, 2]), attrInts('strides', [2, 2]), attrInt('ceil_mode', i)]);
    c = out;
  }
  const flat = w.one('Reshape', [x, w.one('Concat', [w.dim(x, 0), w.ints([-1])], [attrInt('axis', 0)])]);
  const logits = w.one('Gemm', [flat, w.weight('fc.weight', [10, 12 * 3 * 3]), w.weight('fc.bias', [10], 0.1)], [attrInt('transB', 1)]);
  const pooled = w.one('Flatten', [w.one('GlobalAveragePool', [x])], [attrInt('axis', 1)]);
  return { model: w.model([['image', DataType.FLOAT, ['N', 3, 11, 11]]], [logits, pooled]), flat, pooled, logits };
}
