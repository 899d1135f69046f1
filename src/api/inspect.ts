/**
 * `sca inspect` as a library function: what a person (or a program, with
 * --json) needs to know before patching a model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readAnchors, readInterventions, type Anchor, type InterventionRecord } from '../anchors/manifest.js';
import type { Model } from '../onnx/model.js';
import { allTensors, byteSize, elementTypeName, externalRef, isExternal, tensorBytes, tensorFloats } from '../onnx/tensor.js';
import type { ModelFolder } from '../onnx/folder.js';
import { variantOf } from '../onnx/variants.js';
import { subgraphsOf } from '../ir/graph.js';
import { DataType, type TensorProto } from '../onnx/types.js';
import type { GraphProto, ValueInfoProto } from '../onnx/types.js';
import { dimOf } from '../onnx/graph.js';
import { strengthInputs } from '../data/strengths.js';

/** Integer element types whose values inspect can show, and the typed array that reads them. */
const INTEGER_VIEWS: Record<number, (b: ArrayBuffer, n: number) => ArrayLike<number | bigint>> = {
  2: (b, n) => new Uint8Array(b, 0, n),
  3: (b, n) => new Int8Array(b, 0, n),
  4: (b, n) => new Uint16Array(b, 0, n),
  5: (b, n) => new Int16Array(b, 0, n),
  6: (b, n) => new Int32Array(b, 0, n),
  7: (b, n) => new BigInt64Array(b, 0, n),
  9: (b, n) => new Uint8Array(b, 0, n),
  12: (b, n) => new Uint32Array(b, 0, n),
  13: (b, n) => new BigUint64Array(b, 0, n),
};
const INTEGER_BYTES: Record<number, number> = { 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 12: 4, 13: 8 };

/** The values of a small default, in any numeric type; null when it cannot be shown (strings, other layouts). */
function defaultValues(t: TensorProto, baseDir: string): number[] | null {
  const dt = t.dataType ?? 0;
  if (dt === DataType.FLOAT || dt === DataType.FLOAT16 || dt === DataType.DOUBLE) return Array.from(tensorFloats(t, baseDir));
  const view = INTEGER_VIEWS[dt];
  if (!view) return null;
  if (!t.rawData) {
    // Typed repeated fields: int64 in int64_data, the narrower ones in int32_data.
    return dt === DataType.INT64 ? t.int64Data.map(Number) : dt === 13 ? t.uint64Data.map(Number) : t.int32Data.map(Number);
  }
  const bytes = new Uint8Array(tensorBytes(t, baseDir));
  return Array.from(view(bytes.buffer, Math.floor(bytes.length / INTEGER_BYTES[dt])), Number);
}

export interface TensorSummary {
  name: string;
  type: string;
  shape: (number | string | null)[] | null;
}

export interface ModelSummary {
  file?: string;
  fileBytes?: number;
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  /** `strengthOfPatch`: a required strength input a patch added, with the strength it was patched at. */
  inputs: (TensorSummary & { strengthOfPatch?: number })[];
  /** Graph inputs with a default (an initializer of the same name), e.g. a --strength-input. */
  optionalInputs: (TensorSummary & { default: number[] | null })[];
  outputs: TensorSummary[];
  nodes: number;
  ops: Record<string, number>;
  initializers: number;
  weightBytes: number;
  externalWeightBytes: number;
  metadata: Record<string, string>;
  /** Quantization schemes in any of the model's graphs (quantizationOf), empty for a float model. */
  quantization: string[];
  anchors: Anchor[];
  interventions: InterventionRecord[];
}

function summarizeValue(v: ValueInfoProto): TensorSummary {
  const t = v.type?.tensorType;
  return {
    name: v.name ?? '',
    type: elementTypeName(t?.elemType),
    shape: t?.shape ? t.shape.dim.map((d) => dimOf(d) ?? null) : null,
  };
}

export function summarizeModel(model: Model): ModelSummary {
  const proto = model.proto;
  const graph = proto.graph!;
  const initNames = new Set(graph.initializer.map((t) => t.name));
  const ops: Record<string, number> = {};
  for (const n of graph.node) {
    const op = n.domain ? `${n.domain}.${n.opType}` : (n.opType ?? '?');
    ops[op] = (ops[op] ?? 0) + 1;
  }
  const tensors = allTensors(proto);
  const strengths = strengthInputs(proto);
  const label = model.path;
  return {
    ...(model.path ? { file: model.path, fileBytes: fs.statSync(model.path).size } : {}),
    irVersion: Number(proto.irVersion),
    producer: [proto.producerName, proto.producerVersion].filter(Boolean).join(' '),
    opsets: proto.opsetImport.map((o) => ({ domain: o.domain || 'ai.onnx', version: Number(o.version) })),
    inputs: graph.input
      .filter((v) => !initNames.has(v.name))
      .map((v) => {
        const strength = strengths.get(v.name ?? '');
        return { ...summarizeValue(v), ...(strength !== undefined ? { strengthOfPatch: strength } : {}) };
      }),
    optionalInputs: graph.input
      .filter((v) => initNames.has(v.name))
      .map((v) => {
        const t = graph.initializer.find((i) => i.name === v.name)!;
        const small = byteSize(t) <= 64 && !isExternal(t);
        return { ...summarizeValue(v), default: small ? defaultValues(t, model.baseDir) : null };
      }),
    outputs: graph.output.map(summarizeValue),
    nodes: graph.node.length,
    ops: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1])),
    initializers: graph.initializer.length,
    weightBytes: tensors.reduce((s, t) => s + byteSize(t), 0),
    externalWeightBytes: tensors.filter(isExternal).reduce((s, t) => s + byteSize(t), 0),
    quantization: quantizationOf(model),
    metadata: Object.fromEntries(proto.metadataProps.filter((p) => !p.key?.startsWith('sca.')).map((p) => [p.key ?? '', p.value ?? ''])),
    anchors: readAnchors(proto, label),
    interventions: readInterventions(proto, label),
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function formatTensor(t: TensorSummary): string {
  const shape = t.shape ? `[${t.shape.map((d) => d ?? '?').join(', ')}]` : '[?]';
  return `${t.name}  ${t.type} ${shape}`;
}

function formatVector(v: number[]): string {
  const shown = v.slice(0, 8).map((x) => Number(x.toPrecision(4)));
  return `[${shown.join(', ')}${v.length > 8 ? `, ... (${v.length})` : ''}]`;
}

export function formatSummary(s: ModelSummary): string {
  const lines: string[] = [];
  const opsets = s.opsets.map((o) => `${o.domain} ${o.version}`).join(', ');
  lines.push(`${s.file ?? 'model'}${s.fileBytes !== undefined ? `  (${formatBytes(s.fileBytes)})` : ''}`);
  lines.push(`  ir ${s.irVersion}, opset ${opsets}${s.producer ? `, made by ${s.producer}` : ''}`);
  for (const t of s.inputs)
    lines.push(`  input   ${formatTensor(t)}${t.strengthOfPatch !== undefined ? `  a patch's strength: required (patched at ${t.strengthOfPatch})` : ''}`);
  for (const t of s.optionalInputs) lines.push(`  input   ${formatTensor(t)}  optional${t.default ? `, default ${t.default.join(', ')}` : ''}`);
  for (const t of s.outputs) lines.push(`  output  ${formatTensor(t)}`);
  const topOps = Object.entries(s.ops)
    .slice(0, 8)
    .map(([op, n]) => `${op} ${n}`)
    .join(', ');
  lines.push(`  nodes   ${s.nodes}${topOps ? `  (${topOps}${Object.keys(s.ops).length > 8 ? ', ...' : ''})` : ''}`);
  const external = s.externalWeightBytes ? `, ${formatBytes(s.externalWeightBytes)} in external data` : '';
  lines.push(`  weights ${s.initializers} initializers, ${formatBytes(s.weightBytes)}${external}`);
  for (const q of s.quantization) lines.push(`  quantized ${q}`);
  for (const [k, v] of Object.entries(s.metadata)) lines.push(`  meta    ${k} = ${v.length > 60 ? `${v.slice(0, 57)}...` : v}`);
  if (s.anchors.length === 0) lines.push('  anchors none recorded (sca.anchors)');
  for (const a of s.anchors) {
    const where = [
      a.direction ? `direction ${formatVector(a.direction)}` : '',
      a.dims ? `dims [${a.dims.join(', ')}]` : '',
      a.eraser ? `LEACE eraser of rank ${a.eraser.left.length}` : '',
      a.provenance ? `from ${a.provenance.samples} examples (${a.provenance.method})` : '',
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(`  anchor  ${a.concept} -> ${a.tensor}  ${where}`);
  }
  s.interventions.forEach((iv, i) => {
    const what = iv.kind === 'patch' ? `${iv.mode} (${iv.prefix})` : iv.kind;
    lines.push(`  applied ${i + 1}. ${what} on ${iv.tensor}${iv.concept ? ` [${iv.concept}]` : ''}`);
  });
  return lines.join('\n');
}

/** One ONNX file of a model folder, as `sca inspect DIR` describes it. */
export interface VariantSummary {
  file: string;
  dtype: string;
  /** The .onnx file and the external data files it reads. */
  bytes: number;
  /** Element types of the weights, with how many bytes each holds, largest first. */
  weights: { type: string; bytes: number }[];
  /** How the model is quantized, if it is: each scheme found in any of its graphs. */
  quantization: string[];
  /** Graph inputs the caller feeds, past_key_values.* left out (see cache). */
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  /** The KV cache, when the model takes one: layers, and one past input's type. */
  cache?: { layers: number; past: TensorSummary };
  /** An optimum merged decoder: the If input that picks the with-past branch. */
  merged?: string;
  interventions: number;
}

export interface FolderSummary {
  dir: string;
  variants: VariantSummary[];
  /** Side files (config, tokenizer, external data), relative to the folder. */
  files: string[];
}

const QUANTIZED_OPS: [RegExp, string][] = [
  [/^com\.microsoft\.MatMulNBits$/, 'MatMulNBits (block-quantized weights)'],
  [/^com\.microsoft\.GatherBlockQuantized$/, 'GatherBlockQuantized (block-quantized embeddings)'],
  [/^(com\.microsoft\.)?DynamicQuantizeLinear$/, 'dynamic int8 (DynamicQuantizeLinear)'],
  [/^(com\.microsoft\.)?MatMulInteger$|^com\.microsoft\.MatMulIntegerToFloat$/, 'integer MatMul'],
  [/^(com\.microsoft\.)?(QuantizeLinear|DequantizeLinear)$/, 'QDQ (QuantizeLinear / DequantizeLinear)'],
  [/^(com\.microsoft\.)?QLinear/, 'QLinear ops'],
];

/**
 * How a model is quantized, one line per scheme found in any of its graphs;
 * MatMulNBits weights are counted by their format (bits, block, symmetric or
 * with zero points), as a user choosing an edit needs to know.
 */
export function quantizationOf(model: Model): string[] {
  const ops = new Set<string>();
  const nbits = new Map<string, number>();
  const visit = (g: GraphProto): void => {
    for (const n of g.node) {
      const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : (n.opType ?? '');
      ops.add(op);
      if (op === 'com.microsoft.MatMulNBits') {
        const attr = (name: string, fallback: number) => Number(n.attribute.find((a) => a.name === name)?.i ?? fallback);
        const format = `${attr('bits', 4)}-bit, block ${attr('block_size', 32)}, ${n.input[3] ? 'asymmetric (zero points)' : 'symmetric'}`;
        nbits.set(format, (nbits.get(format) ?? 0) + 1);
      }
      for (const sub of subgraphsOf(n)) visit(sub);
    }
  };
  visit(model.proto.graph!);
  return QUANTIZED_OPS.filter(([re]) => [...ops].some((o) => re.test(o))).flatMap(([re, what]) =>
    re.test('com.microsoft.MatMulNBits') ? [...nbits].map(([format, count]) => `${what}: ${count} weights, ${format}`) : [what],
  );
}

export function summarizeFolder(folder: ModelFolder): FolderSummary {
  const variants: VariantSummary[] = [];
  for (const [file, model] of folder.models) {
    const graph = model.proto.graph!;
    const weights = new Map<string, number>();
    for (const t of allTensors(model.proto)) weights.set(elementTypeName(t.dataType), (weights.get(elementTypeName(t.dataType)) ?? 0) + byteSize(t));
    const initNames = new Set(graph.initializer.map((t) => t.name));
    const inputs = graph.input.filter((v) => !initNames.has(v.name)).map(summarizeValue);
    const past = inputs.filter((i) => /^past_key_values\.\d+\.key$|^past\.\d+\.key$/.test(i.name));
    const dataFiles = new Set(
      allTensors(model.proto)
        .filter(isExternal)
        .map((t) => externalRef(t).location),
    );
    const dir = path.join(folder.dir, path.dirname(file));
    const bytes = fs.statSync(path.join(folder.dir, file)).size + [...dataFiles].reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    variants.push({
      file,
      dtype: variantOf(file).dtype,
      bytes,
      weights: [...weights].map(([type, b]) => ({ type, bytes: b })).sort((a, b) => b.bytes - a.bytes),
      quantization: quantizationOf(model),
      inputs: inputs.filter((i) => !/^past_key_values\.|^past\./.test(i.name)),
      outputs: graph.output.map(summarizeValue).filter((o) => !/^present\./.test(o.name)),
      ...(past.length ? { cache: { layers: past.length, past: past[0] } } : {}),
      ...(inputs.some((i) => i.name === 'use_cache_branch') && graph.node.some((n) => n.opType === 'If') ? { merged: 'use_cache_branch' } : {}),
      interventions: readInterventions(model.proto).length,
    });
  }
  return { dir: folder.dir, variants, files: folder.files };
}

export function formatFolderSummary(s: FolderSummary): string {
  const lines = [`${s.dir}  (${s.variants.length} ONNX variant${s.variants.length === 1 ? '' : 's'}, ${s.files.length} other files)`];
  const shape = (t: TensorSummary) => `${t.type} [${(t.shape ?? []).map((d) => d ?? '?').join(', ')}]`;
  for (const v of s.variants) {
    lines.push(
      `  ${v.file}  ${v.dtype}, ${formatBytes(v.bytes)}${v.interventions ? `, ${v.interventions} intervention${v.interventions === 1 ? '' : 's'} applied` : ''}`,
    );
    lines.push(`    weights       ${v.weights.map((w) => `${w.type} ${formatBytes(w.bytes)}`).join(', ')}`);
    lines.push(`    quantization  ${v.quantization.length ? v.quantization.join('; ') : 'none'}`);
    lines.push(`    inputs        ${v.inputs.map((i) => `${i.name} ${shape(i)}`).join(', ')}`);
    lines.push(`    outputs       ${v.outputs.map((o) => `${o.name} ${shape(o)}`).join(', ')}`);
    if (v.cache) lines.push(`    KV cache      ${v.cache.layers} layers of key/value ${shape(v.cache.past)} (past_key_values.* in, present.* out)`);
    if (v.merged) lines.push(`    merged        optimum merged decoder: an If on ${v.merged} holds the no-past and with-past graphs`);
  }
  lines.push(`  other files   ${s.files.join(', ') || 'none'}`);
  return lines.join('\n');
}
