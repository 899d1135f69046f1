/**
 * Transformer-like ONNX models of a chosen size, for benchmarks and for
 * large-model tests at small size (same code path):
 *
 *   ids [B,T] int64 -> Gather(embedding [V,D]) -> L blocks of
 *     LayerNorm -> MatMul [D,D] + bias -> Relu (`blocks.i.act`) -> MatMul [D,D] + bias -> residual Add
 *   -> ReduceMean over T -> pooled [B,D]
 *
 * Every intermediate has value info, as exporters write it, so patching
 * never needs a probe run. With `external`, weights go to `<file>.data`,
 * written one tensor at a time so memory stays at one weight.
 */
import fs from 'node:fs';
import path from 'node:path';
import { attrInt, attrInts, emptyGraph, newModel, node } from '../src/onnx/build.js';
import { makeValueInfo } from '../src/onnx/graph.js';
import { saveModel, serializeModel } from '../src/onnx/model.js';
import { writeAll } from '../src/util/files.js';
import { DATA_LOCATION_EXTERNAL, DataType, type GraphProto, type TensorProto } from '../src/onnx/types.js';
import { rawTensor } from '../src/onnx/tensor.js';

export interface SyntheticOptions {
  dim: number;
  layers: number;
  vocab: number;
  external?: boolean;
  /** Write value_info for intermediate tensors (default true); torch exports usually have none. */
  valueInfo?: boolean;
  seed?: number;
}

/** Layers needed for about `bytes` of weights at width `dim`. */
export function layersFor(bytes: number, dim: number, vocab: number): number {
  const perLayer = 4 * (2 * dim * dim + 4 * dim);
  return Math.max(1, Math.round((bytes - 4 * vocab * dim) / perLayer));
}

/** Fills a float32 array with small values from a xorshift generator (fast: gigabytes are made here). */
function randomWeights(n: number, state: { s: number }, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = state.s | 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s / 2147483648) * scale;
  }
  state.s = s;
  return out;
}

function tensorHeader(name: string, dims: number[]): TensorProto {
  return rawTensor(name, DataType.FLOAT, dims);
}

export function buildGraph(o: SyntheticOptions): { graph: GraphProto; weights: { name: string; dims: number[]; scale: number }[] } {
  const { dim: D, layers, vocab } = o;
  const g = emptyGraph('synthetic_transformer');
  const weights: { name: string; dims: number[]; scale: number }[] = [{ name: 'embedding', dims: [vocab, D], scale: 1 }];
  g.input.push(makeValueInfo('ids', DataType.INT64, ['batch', 'seq']));
  g.node.push(node('Gather', ['embedding', 'ids'], ['x0'], [attrInt('axis', 0)], 'embed'));
  if (o.valueInfo !== false) g.valueInfo.push(makeValueInfo('x0', DataType.FLOAT, ['batch', 'seq', D]));
  let x = 'x0';
  for (let i = 0; i < layers; i++) {
    const p = `blocks.${i}`;
    weights.push({ name: `${p}.ln.scale`, dims: [D], scale: 1 }, { name: `${p}.ln.bias`, dims: [D], scale: 0.1 });
    weights.push({ name: `${p}.fc1.weight`, dims: [D, D], scale: 1 / Math.sqrt(D) }, { name: `${p}.fc1.bias`, dims: [D], scale: 0.1 });
    weights.push({ name: `${p}.fc2.weight`, dims: [D, D], scale: 1 / Math.sqrt(D) }, { name: `${p}.fc2.bias`, dims: [D], scale: 0.1 });
    g.node.push(
      node('LayerNormalization', [x, `${p}.ln.scale`, `${p}.ln.bias`], [`${p}.ln`], [attrInt('axis', -1)], `${p}/ln`),
      node('MatMul', [`${p}.ln`, `${p}.fc1.weight`], [`${p}.fc1.mm`], [], `${p}/fc1/MatMul`),
      node('Add', [`${p}.fc1.mm`, `${p}.fc1.bias`], [`${p}.fc1`], [], `${p}/fc1/Add`),
      node('Relu', [`${p}.fc1`], [`${p}.act`], [], `${p}/act`),
      node('MatMul', [`${p}.act`, `${p}.fc2.weight`], [`${p}.fc2.mm`], [], `${p}/fc2/MatMul`),
      node('Add', [`${p}.fc2.mm`, `${p}.fc2.bias`], [`${p}.fc2`], [], `${p}/fc2/Add`),
      node('Add', [x, `${p}.fc2`], [`${p}.out`], [], `${p}/residual`),
    );
    if (o.valueInfo !== false)
      for (const t of ['ln', 'fc1.mm', 'fc1', 'act', 'fc2.mm', 'fc2', 'out']) g.valueInfo.push(makeValueInfo(`${p}.${t}`, DataType.FLOAT, ['batch', 'seq', D]));
    x = `${p}.out`;
  }
  g.node.push(node('ReduceMean', [x], ['pooled'], [attrInts('axes', [1]), attrInt('keepdims', 0)], 'pool'));
  g.output.push(makeValueInfo('pooled', DataType.FLOAT, ['batch', D]));
  return { graph: g, weights };
}

/** Writes the model and returns its total size in bytes (model plus side file). */
export function writeSyntheticModel(file: string, o: SyntheticOptions): number {
  const { graph, weights } = buildGraph(o);
  const proto = newModel(graph, 17, 'sca-synthetic');
  const state = { s: o.seed ?? 12345 };
  if (!o.external) {
    for (const w of weights) {
      const values = randomWeights(
        w.dims.reduce((a, b) => a * b, 1),
        state,
        w.scale,
      );
      graph.initializer.push({ ...tensorHeader(w.name, w.dims), rawData: new Uint8Array(values.buffer) });
    }
    const saved = saveModel({ proto, baseDir: path.dirname(path.resolve(file)) }, file);
    return saved.bytes + (saved.dataBytes ?? 0);
  }
  const dataName = `${path.basename(file)}.data`;
  const fd = fs.openSync(path.join(path.dirname(file), dataName), 'w');
  let offset = 0;
  try {
    for (const w of weights) {
      const values = randomWeights(
        w.dims.reduce((a, b) => a * b, 1),
        state,
        w.scale,
      );
      const bytes = new Uint8Array(values.buffer);
      writeAll(fd, bytes, offset);
      graph.initializer.push({
        ...tensorHeader(w.name, w.dims),
        dataLocation: DATA_LOCATION_EXTERNAL,
        externalData: [
          { key: 'location', value: dataName },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(bytes.length) },
        ],
      });
      offset += bytes.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  const bytes = serializeModel(proto);
  fs.writeFileSync(file, bytes);
  return bytes.length + offset;
}

/** Sizes like 100MB or 3GB (decimal units). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?$/i.exec(text.trim());
  if (!m) throw new Error(`--size: '${text}' is not a size like 100MB or 3GB`);
  const unit = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9 }[(m[2] ?? 'B').toUpperCase() as 'B'];
  return Number(m[1]) * unit;
}
