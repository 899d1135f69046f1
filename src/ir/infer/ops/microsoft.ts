/** com.microsoft ops that optimum and onnxruntime's transformer optimizer write (best effort). */
import { addDims, exactDiv, type Dim } from '../dims.js';
import { Elem, stop, type Rule } from '../types.js';
import { attrInt, attrInts, has, shapeOf, tensor, typeOf } from '../util.js';
import { elementwiseRules } from './elementwise.js';
import { layerNorm, nnRules } from './nn.js';

const sameAsInput: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  return [tensor(t.elemType, t.shape)];
};

/** SkipLayerNormalization: output, mean, inv_std_var, input+skip(+bias). */
const skipLayerNorm: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const x = shapeOf(node, inputs, 0);
  const stats = [...x.slice(0, -1), 1];
  return node.output.map((_, i) => (i === 0 || i === 3 ? tensor(t.elemType, x) : tensor(Elem.FLOAT, stats)));
};

const attention: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const x = shapeOf(node, inputs, 0);
  if (x.length !== 3) stop(`Attention input of rank ${x.length}`);
  const heads = attrInt(node, 'num_heads') ?? stop('Attention has no num_heads');
  const sizes = attrInts(node, 'qkv_hidden_sizes');
  let vHidden: Dim | undefined = sizes && sizes.length === 3 ? sizes[2] : undefined;
  if (vHidden === undefined) {
    const w = shapeOf(node, inputs, 1);
    vHidden = exactDiv(w[1], 3) ?? stop(`Attention weights width ${w[1]} is not 3 equal parts`);
  }
  const head = exactDiv(vHidden, heads) ?? stop(`Attention hidden ${vHidden} does not split into ${heads} heads`);
  const past = has(node, 4) ? inputs[4]?.type?.shape : undefined;
  const total = past ? addDims(past[3], x[1]) : x[1];
  const outs = [tensor(t.elemType, [x[0], x[1], vHidden])];
  if (node.output.length > 1) outs.push(tensor(t.elemType, [2, x[0], heads, total, head]));
  return outs;
};

const multiHeadAttention: Rule = (node, inputs) => {
  const t = typeOf(node, inputs, 0);
  const q = shapeOf(node, inputs, 0);
  if (q.length !== 3) stop(`MultiHeadAttention query of rank ${q.length}`);
  const v = has(node, 2) ? inputs[2]?.type?.shape : undefined;
  let vHidden: Dim = q[2];
  if (v?.length === 3) vHidden = v[2];
  return [tensor(t.elemType, [q[0], q[1], vHidden])];
};

const fusedMatMul: Rule = (node, inputs, ctx) => {
  const swap = (s: Dim[] | undefined, on: boolean) => (s && on && s.length >= 2 ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
  const a = inputs[0]?.type && { type: { ...inputs[0].type, shape: swap(inputs[0].type.shape, attrInt(node, 'transA', 0) === 1) } };
  const b = inputs[1]?.type && { type: { ...inputs[1].type, shape: swap(inputs[1].type.shape, attrInt(node, 'transB', 0) === 1) } };
  return nnRules.MatMul(node, [a, b], ctx);
};

export const microsoftRules: Record<string, Rule> = {
  Gelu: sameAsInput,
  FastGelu: sameAsInput,
  BiasGelu: sameAsInput,
  QuickGelu: sameAsInput,
  BiasAdd: sameAsInput,
  SkipLayerNormalization: skipLayerNorm,
  SkipSimplifiedLayerNormalization: skipLayerNorm,
  LayerNormalization: layerNorm,
  SimplifiedLayerNormalization: layerNorm,
  Attention: attention,
  MultiHeadAttention: multiHeadAttention,
  FusedMatMul: fusedMatMul,
  Identity: elementwiseRules.Identity,
};
