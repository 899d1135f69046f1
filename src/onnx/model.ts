/**
 * Loading and saving ONNX models without losing anything: unknown fields are
 * kept (codec.ts), external data stays external and is written next to the
 * output, and a model too big for one protobuf (2 GiB) is saved with its
 * largest weights moved to external data instead of failing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { checkFreeSpace, sameFile, statRegularFile, writeAll, writeAtomically, type PendingFile } from '../util/files.js';
import { asDecodeError, decodeMessage, encodeMessage, concatChunks, FileRange, LazyBytes, type Bytes, type Chunks, type Message } from './codec.js';
import { opsetOf } from './graph.js';
import { decodeFile, LAZY_THRESHOLD } from './lazy.js';
import { isMessageKind, SCHEMA, type MessageName } from './schema.js';
import { allTensors, byteSize, externalRef, isExternal, resolveExternal, type ExternalRef } from './tensor.js';
import { DATA_LOCATION_EXTERNAL, type ModelProto, type StringStringEntryProto, type TensorProto } from './types.js';

/**
 * A loaded model. To library users it is an opaque handle (its protobuf is
 * stripped from the published types): they pass it to the verbs and to
 * saveModel, so the encoding can change without breaking them.
 */
export interface Model {
  /** @internal The decoded protobuf: the toolkit's own representation, not part of the API. */
  proto: ModelProto;
  /** Folder that external data locations are relative to. */
  baseDir: string;
  /** File it was loaded from, if any: never written to. */
  path?: string;
}

/** protobuf refuses messages of 2 GiB or more. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;
/** Tensors at least this big go to external data when a model must be split (onnx's own default). */
const EXTERNAL_THRESHOLD = 1024;
/** External tensors start on this boundary, so they can be memory-mapped. */
const EXTERNAL_ALIGN = 4096;
/** Copies between files go through a buffer this big: 1 MiB measured fastest here (it stays in cache). */
const COPY_BUFFER = 1 << 20;
/** Highest default-domain opset this toolkit knows the operators of. */
export const MAX_KNOWN_OPSET = 24;

/**
 * Reads a model, leaving weights of `lazyBytes` or more in the file (see
 * lazy.ts): they are copied from it when the model is saved, and read only
 * if an edit needs their values. The file must not change while in use.
 */
export function loadModel(file: string, options: { lazyBytes?: number } = {}): Model {
  // A FIFO or device is refused before anything opens it (decodeFile checks again on the open file).
  const size = statRegularFile(file, file).size;
  if (size >= PROTOBUF_LIMIT) {
    throw new UsageError(`${file}: ${size} bytes is over the 2 GiB protobuf limit; such models must keep their weights in external data`);
  }
  let proto: ModelProto;
  try {
    proto = decodeFile(file, 'ModelProto', options.lazyBytes ?? LAZY_THRESHOLD) as unknown as ModelProto;
  } catch (err) {
    throw corrupt(file, err);
  }
  const model = checkedModel(proto, path.dirname(path.resolve(file)), file);
  model.path = file;
  return model;
}

/** A decode failure as one line naming the file and the field path; usage errors (the file itself) pass through. */
function corrupt(label: string, err: unknown): Error {
  if (err instanceof UsageError) return err;
  const e = asDecodeError(err);
  return new UsageError(
    `${label}: not a valid ONNX model (truncated or corrupt at ${e.path.length ? e.path.join('.') : 'the top level'}: ${e.reason})`,
    'BAD_MODEL',
  );
}

export function parseModel(bytes: Uint8Array, baseDir: string, label = 'model'): Model {
  let proto: ModelProto;
  try {
    proto = decodeMessage(bytes, 'ModelProto') as unknown as ModelProto;
  } catch (err) {
    throw corrupt(label, err);
  }
  return checkedModel(proto, baseDir, label);
}

function checkedModel(proto: ModelProto, baseDir: string, label: string): Model {
  validateModel(proto, label);
  const model: Model = { proto, baseDir };
  checkExternalData(model, label);
  return model;
}

function validateModel(proto: ModelProto, label: string): void {
  if (!proto.graph) throw new UsageError(`${label}: not an ONNX model (no graph)`, 'BAD_MODEL');
  if (proto.irVersion === undefined) throw new UsageError(`${label}: not an ONNX model (no ir_version)`, 'BAD_MODEL');
  // A model may import only other domains (ai.onnx.preview.training): it loads, and edits that add default-domain ops refuse it.
  const opset = opsetOf(proto);
  if (opset !== undefined && (opset < 1 || opset > MAX_KNOWN_OPSET)) {
    throw new UsageError(`${label}: unknown opset ${opset} for the default domain (this toolkit knows 1 to ${MAX_KNOWN_OPSET})`, 'BAD_MODEL');
  }
}

/** Every external location must be a regular file inside the model's folder holding exactly the tensor's bytes (tensor.ts). */
function checkExternalData(model: Model, label: string): void {
  // Every TensorProto anywhere (sparse tensors, functions and training graphs too): onnxruntime would read them all.
  const visit = (msg: Message, type: MessageName): void => {
    if (type === 'TensorProto' && isExternal(msg as unknown as TensorProto)) resolveExternal(msg as unknown as TensorProto, model.baseDir, label);
    for (const f of SCHEMA[type].fields) {
      if (!isMessageKind(f.kind)) continue;
      const value = msg[f.name];
      if (Array.isArray(value)) for (const child of value) visit(child as Message, f.kind);
      else if (value) visit(value as Message, f.kind);
    }
  };
  visit(model.proto as unknown as Message, 'ModelProto');
}

/** True when any weight of the model lives in an external data file. */
export function usesExternalData(model: Model): boolean {
  return allTensors(model.proto).some(isExternal);
}

/** The model as the bytes of one .onnx file; weights must be inline (use saveModel for external data). */
export function modelBytes(model: Model): Uint8Array {
  return serializeModel(model.proto);
}

/** The model as one protobuf buffer; weights must be inline (use saveModel for external data). */
export function serializeModel(proto: ModelProto): Uint8Array {
  return concatChunks(encodeMessage(proto as unknown as Message, 'ModelProto'));
}

export interface SaveOptions {
  /** Put every weight of at least 1 KiB in the side file, even if the model would fit inline. */
  externalData?: boolean;
  /** Largest inline protobuf; tests lower it to exercise the over-2-GiB path on small models. */
  inlineLimit?: number;
  /** Called as bytes are written (model and side file together), for progress on large models. */
  onProgress?: (written: number, total: number) => void;
  /** Name of the side file, beside the model (default `<model file>.data`); model folders keep the one they had. */
  dataName?: string;
}

export interface SaveResult {
  path: string;
  bytes: number;
  /** Side file written next to the model, if any. */
  dataPath?: string;
  dataBytes?: number;
}

interface Placement {
  tensor: TensorProto;
  /** Where the bytes come from: a range of a source file, or memory. */
  from: { file: string; ref: ExternalRef } | { bytes: Bytes };
  offset?: number;
}

/**
 * Writes the model to `outPath` atomically. Weights that were external stay
 * external, in `<out>.data`; so do inline weights when `externalData` is set or
 * the model would pass the protobuf limit. The in-memory model is unchanged.
 */
export function saveModel(model: Model, outPath: string, options: SaveOptions = {}): SaveResult {
  if (model.path && sameFile(model.path, outPath)) {
    throw new UsageError(`${outPath}: output is the input model; write the result to a new file`);
  }
  const outDir = path.dirname(path.resolve(outPath));
  if (!fs.existsSync(outDir)) throw new UsageError(`${outPath}: folder ${outDir} does not exist`);
  const limit = options.inlineLimit ?? PROTOBUF_LIMIT;
  const dataName = options.dataName ?? `${path.basename(outPath)}.data`;
  const tensors = allTensors(model.proto);
  const keepExternal = options.externalData || tensors.some(isExternal);

  const placements: Placement[] = [];
  for (const t of tensors) {
    if (isExternal(t)) {
      const ext = resolveExternal(t, model.baseDir, model.path ?? 'model');
      placements.push({ tensor: t, from: { file: ext.file, ref: { ...externalRef(t), length: ext.length } } });
    } else if (keepExternal && t.rawData && t.rawData.length >= EXTERNAL_THRESHOLD) placements.push({ tensor: t, from: { bytes: t.rawData } });
  }
  // Inline weights move out, largest first, until the protobuf fits. With
  // nothing to place (the common case) this first encoding is the one written.
  const encode = () => withPlacements(placements, dataName, () => encodeMessage(model.proto as unknown as Message, 'ModelProto'));
  const first = encode();
  let inlineSize = first.length;
  if (inlineSize > limit) {
    const candidates = tensors
      .filter((t) => !isExternal(t) && t.rawData && t.rawData.length >= EXTERNAL_THRESHOLD && !placements.some((p) => p.tensor === t))
      .sort((a, b) => byteSize(b) - byteSize(a));
    for (const t of candidates) {
      if (inlineSize <= limit) break;
      placements.push({ tensor: t, from: { bytes: t.rawData! } });
      inlineSize -= t.rawData!.length;
    }
    if (encode().length > limit) {
      throw new UsageError(`${outPath}: the graph alone is over the 2 GiB protobuf limit even with all weights external`);
    }
  }

  const dests = placements.length ? [outPath, path.join(outDir, dataName)] : [outPath];
  let result: SaveResult = { path: outPath, bytes: 0 };
  const dataTotal = placements.reduce((sum, p) => sum + ('bytes' in p.from ? p.from.bytes.length : (p.from.ref.length ?? 0)), 0);
  const total = dataTotal + inlineSize;
  checkFreeSpace(outDir, total, outPath);
  let written = 0;
  const progress = options.onProgress ? (n: number) => options.onProgress!((written = Math.min(written + n, total)), total) : undefined;
  writeAtomically(dests, ([modelFile, dataFile]) => {
    let dataBytes = 0;
    if (dataFile) dataBytes = writeExternalData(dataFile, placements, progress);
    // Placed tensors learn their offsets while the side file is written, so they need a fresh encoding.
    const chunks = placements.length ? encode() : first;
    writeChunks(modelFile, chunks, progress);
    result = { path: outPath, bytes: chunks.length, ...(dataFile ? { dataPath: dataFile.dest, dataBytes } : {}) };
  });
  return result;
}

/** Inline weights up to this much keep a model's external data files as they are when it is saved into a model folder. */
export const KEPT_LAYOUT_INLINE_LIMIT = 64 * 2 ** 20;

/**
 * True when `model` can be written as its .onnx alone, beside copies of the
 * data files it was loaded with: it reads external data, and what is inline
 * (the graph, small constants a patch adds) is far from the protobuf limit.
 */
export function keepsDataLayout(model: Model, inlineLimit = KEPT_LAYOUT_INLINE_LIMIT): boolean {
  const tensors = allTensors(model.proto);
  if (!tensors.some(isExternal)) return false;
  return tensors.filter((t) => !isExternal(t)).reduce((sum, t) => sum + byteSize(t), 0) <= inlineLimit;
}

/**
 * Writes the .onnx of `model` only, its external references as they are:
 * the caller copies the data files (a model folder keeps each variant's data
 * files, chunked ones included, byte for byte when only the graph changed).
 */
export function saveGraphOnly(model: Model, outPath: string): SaveResult {
  const chunks = encodeMessage(model.proto as unknown as Message, 'ModelProto');
  if (chunks.length > PROTOBUF_LIMIT) throw new UsageError(`${outPath}: the model is over the 2 GiB protobuf limit with its weights inline`);
  writeAtomically([outPath], ([file]) => writeChunks(file, chunks));
  return { path: outPath, bytes: chunks.length };
}

/**
 * Runs `fn` with the placed tensors switched to external references, then
 * restores them: saving must not change the caller's model.
 */
function withPlacements<T>(placements: Placement[], location: string, fn: () => T): T {
  const saved = placements.map(({ tensor }) => ({
    tensor,
    rawData: tensor.rawData,
    externalData: tensor.externalData,
    dataLocation: tensor.dataLocation,
  }));
  try {
    for (const p of placements) {
      const length = 'bytes' in p.from ? p.from.bytes.length : p.from.ref.length;
      const entries: StringStringEntryProto[] = [
        { key: 'location', value: location },
        { key: 'offset', value: String(p.offset ?? 0) },
      ];
      if (length !== undefined) entries.push({ key: 'length', value: String(length) });
      // Keep entries such as checksum that describe the bytes, not where they are.
      for (const e of p.tensor.externalData) if (!['location', 'offset', 'length'].includes(e.key ?? '')) entries.push(e);
      p.tensor.externalData = entries;
      p.tensor.dataLocation = DATA_LOCATION_EXTERNAL;
      delete p.tensor.rawData;
    }
    return fn();
  } finally {
    for (const s of saved) {
      s.tensor.externalData = s.externalData;
      if (s.dataLocation === undefined) delete s.tensor.dataLocation;
      else s.tensor.dataLocation = s.dataLocation;
      if (s.rawData !== undefined) s.tensor.rawData = s.rawData;
    }
  }
}

/**
 * Writes the side file and records each placement's offset. When all external
 * weights come from one source file, that file is copied whole (the fastest
 * copy the OS offers) and keeps its offsets; the rest is appended.
 */
function writeExternalData(file: PendingFile, placements: Placement[], progress?: (bytes: number) => void): number {
  const sources = new Set(placements.flatMap((p) => ('file' in p.from ? [p.from.file] : [])));
  let size = 0;
  const whole = sources.size === 1 && mostlyStillUsed([...sources][0], placements);
  if (whole) {
    const [only] = sources;
    fs.copyFileSync(only, file.tmp);
    size = fs.statSync(file.tmp).size;
    progress?.(size);
    for (const p of placements) if ('file' in p.from) p.offset = p.from.ref.offset;
  }
  const fd = fs.openSync(file.tmp, whole ? 'r+' : 'w');
  const buffer = Buffer.allocUnsafe(COPY_BUFFER);
  try {
    for (const p of placements) {
      if (p.offset !== undefined) continue;
      const pad = (EXTERNAL_ALIGN - (size % EXTERNAL_ALIGN)) % EXTERNAL_ALIGN;
      if (pad) writeAll(fd, new Uint8Array(pad), size);
      size += pad;
      p.offset = size;
      const bytes = 'bytes' in p.from ? p.from.bytes : undefined;
      if (bytes instanceof LazyBytes) {
        writeLazy(bytes, fd, size, buffer, progress);
        size += bytes.length;
      } else if (bytes) {
        writeAll(fd, bytes, size);
        size += bytes.length;
        progress?.(bytes.length);
      } else if ('file' in p.from) {
        const length = p.from.ref.length ?? fs.statSync(p.from.file).size - p.from.ref.offset;
        writeLazy(new FileRange(p.from.file, p.from.ref.offset, length), fd, size, buffer, progress);
        size += length;
        p.from = { file: p.from.file, ref: { ...p.from.ref, length } };
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return size;
}

/**
 * Whether the tensors still read from `source` cover most of it: then copying
 * it whole is the fastest write. When edits replaced much of it (weights
 * folded into new bytes), copying it whole would carry their stale bytes.
 */
function mostlyStillUsed(source: string, placements: Placement[]): boolean {
  const size = fs.statSync(source).size;
  let used = 0;
  for (const p of placements) if ('file' in p.from && p.from.file === source) used += p.from.ref.length ?? size - p.from.ref.offset;
  return used >= 0.9 * size;
}

/** Streams lazy bytes (a file range, or bytes computed as they are written) into `dst` from `at`, through `buffer`. */
function writeLazy(bytes: LazyBytes, dst: number, at: number, buffer: Buffer, progress?: (bytes: number) => void): void {
  bytes.stream((chunk, offset) => {
    writeAll(dst, chunk, at + offset);
    progress?.(chunk.length);
  }, buffer);
}

/** Writes the chunks in order; ranges of the input file are copied through one small buffer. */
function writeChunks(file: PendingFile, chunks: Chunks, progress?: (bytes: number) => void): void {
  const fd = fs.openSync(file.tmp, 'w');
  const buffer = Buffer.allocUnsafe(COPY_BUFFER);
  let at = 0;
  try {
    for (const part of chunks.parts) {
      if (part instanceof LazyBytes) writeLazy(part, fd, at, buffer, progress);
      else {
        writeAll(fd, part, at);
        progress?.(part.length);
      }
      at += part.length;
    }
  } finally {
    fs.closeSync(fd);
  }
}
