/**
 * Lossless protobuf codec for ONNX messages, driven by the table in schema.ts.
 *
 * - Fields the table does not know are kept as their raw bytes (tag included)
 *   under `$unknown` and written back after the known ones, so a model made by a
 *   newer ONNX comes out with everything it went in with.
 * - `bytes` fields (tensor raw_data) are views into the input buffer, never
 *   copies, and large ones are emitted as separate chunks on encode: saving a
 *   1 GB model writes the weight bytes straight from the buffer they were read
 *   into.
 * - 64-bit integers are numbers when they are safe integers and bigints
 *   otherwise (INT64_MAX is common in Slice attributes), so nothing is rounded.
 * - Protobuf's merge rules hold: a singular message that occurs twice is the
 *   merge of its parts, a scalar that occurs twice keeps the last value, and
 *   strings keep their bytes even when they are not valid UTF-8 (utf8.ts).
 *   An ordinary file (each singular field once) still re-encodes byte for byte.
 * - Anything malformed is a DecodeError naming the field path
 *   (`graph.node[3].attribute[0]: ...`), never another exception.
 */
import fs from 'node:fs';
import protobuf from 'protobufjs/minimal.js';
import { openRegularFile, readAt } from '../util/files.js';
import { SCHEMA, isMessageKind, type FieldSpec, type MessageName, type ScalarKind } from './schema.js';
import { decodeUtf8, encodeEscaped, hasEscapedBytes } from './utf8.js';

const { Reader, Writer, util } = protobuf;

export type Int64 = number | bigint;
export type Message = Record<string, unknown> & { $unknown?: Uint8Array[] };

/**
 * Bytes not held in memory: a range of the input file (FileRange), or bytes
 * computed while the model is saved (a folded weight, weights/lowrank.ts).
 * Saving streams them into the output through a small buffer; read() gives
 * them whole when something needs them in memory.
 */
export abstract class LazyBytes {
  abstract readonly length: number;
  /** The bytes, in a buffer of their own (never pooled, so aligned for typed-array views). */
  abstract read(): Uint8Array;
  /**
   * Hands the bytes over in order, one chunk at a time; a chunk is valid only
   * until `sink` returns. `buffer`, if given, is scratch space the bytes may
   * be read into (saving passes one for every tensor it copies).
   */
  abstract stream(sink: (chunk: Uint8Array, offset: number) => void, buffer?: Uint8Array): void;
}

/**
 * Bytes left in a file, not read into memory: the value of a large `bytes`
 * field (tensor raw_data) when a model is loaded lazily. Saving copies the
 * range from the file through a small buffer.
 */
export class FileRange extends LazyBytes {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly length: number,
  ) {
    super();
  }

  read(): Uint8Array {
    const buf = Buffer.allocUnsafeSlow(this.length);
    this.stream(() => {}, buf);
    return buf;
  }

  /** Reads into `buffer` (1 MiB by default); one as long as the range is filled by a single read. */
  stream(sink: (chunk: Uint8Array, offset: number) => void, buffer: Uint8Array = Buffer.allocUnsafe(Math.min(this.length, 1 << 20))): void {
    const { fd } = openRegularFile(this.file);
    try {
      for (let done = 0; done < this.length;) {
        const into = buffer.subarray(0, Math.min(buffer.length, this.length - done));
        if (readAt(fd, into, this.offset + done) < into.length) throw new DecodeError(`${this.file} ended early (truncated while in use?)`);
        sink(into, done);
        done += into.length;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}

export type Bytes = Uint8Array | LazyBytes;

/** Encoded bytes as a list of chunks, so big weight buffers are neither copied nor read. */
export interface Chunks {
  parts: Bytes[];
  length: number;
}

/** bytes fields at least this large are passed through as their own chunk instead of copied. */
const BIG_CHUNK = 1 << 16;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

/** Deeper nesting than this is refused (protobuf's C++ runtime has the same default limit). */
export const MAX_DEPTH = 100;

/** Malformed protobuf: `path` is where (field names from the message down), `reason` what. */
export class DecodeError extends Error {
  readonly path: string[] = [];

  constructor(readonly reason: string) {
    super(reason);
  }

  /** Prefixes the path with the field that contained the error. */
  within(segment: string): this {
    this.path.unshift(segment);
    this.message = `${this.path.join('.')}: ${this.reason}`;
    return this;
  }
}

/** Any error thrown while reading bytes (protobufjs's RangeError and friends) as a DecodeError. */
export function asDecodeError(err: unknown): DecodeError {
  if (err instanceof DecodeError) return err;
  const text = err instanceof Error ? err.message : String(err);
  if (/index out of range/.test(text)) return new DecodeError('runs past the end of its data (truncated?)');
  if (/call stack/i.test(text)) return new DecodeError('nested too deeply');
  return new DecodeError(text);
}

/** Path segment of a field: `node[3]` for the next item of a repeated field, `graph` otherwise. */
function segment(msg: Message, field: FieldSpec | undefined, id: number): string {
  if (!field) return `field ${id}`;
  return field.repeated ? `${field.name}[${(msg[field.name] as unknown[]).length}]` : field.name;
}

function wireTypeOf(kind: ScalarKind | MessageName): number {
  switch (kind) {
    case 'int64':
    case 'uint64':
    case 'int32':
      return WIRE_VARINT;
    case 'double':
      return WIRE_FIXED64;
    case 'float':
      return WIRE_FIXED32;
    default:
      return WIRE_LENGTH;
  }
}

function longToInt64(value: protobuf.Long | number, unsigned: boolean): Int64 {
  if (typeof value === 'number') return value;
  const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  const exact = unsigned ? bits : BigInt.asIntN(64, bits);
  const n = Number(exact);
  return Number.isSafeInteger(n) ? n : exact;
}

function int64ToLong(value: Int64, unsigned: boolean): protobuf.Long | number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError(`64-bit integer field holds a non-integer: ${value}`);
    return value;
  }
  const Long = util.Long as unknown as { fromString(s: string, unsigned?: boolean): protobuf.Long };
  return Long.fromString(value.toString(), unsigned);
}

function readString(reader: protobuf.Reader): string {
  const length = reader.uint32();
  const start = reader.pos;
  if (start + length > reader.len) throw new DecodeError(`string of ${length} bytes runs past the end of its data`);
  reader.pos = start + length;
  return decodeUtf8(reader.buf, start, start + length);
}

function readScalar(reader: protobuf.Reader, kind: ScalarKind): unknown {
  switch (kind) {
    case 'string':
      return readString(reader);
    case 'bytes':
      return reader.bytes();
    case 'int64':
      return longToInt64(reader.int64(), false);
    case 'uint64':
      return longToInt64(reader.uint64(), true);
    case 'int32':
      return reader.int32();
    case 'float':
      return reader.float();
    case 'double':
      return reader.double();
  }
}

/** Decodes `buf[start:end]` as message `type`; throws DecodeError (with the field path) on malformed bytes. */
export function decodeMessage(buf: Uint8Array, type: MessageName, start = 0, end = buf.length, depth = 0): Message {
  const reader = Reader.create(buf);
  reader.pos = start;
  reader.len = end;
  return decodeFrom(reader, buf, type, end, depth);
}

function decodeFrom(reader: protobuf.Reader, buf: Uint8Array, type: MessageName, end: number, depth: number): Message {
  if (depth > MAX_DEPTH) throw new DecodeError(`messages nested more than ${MAX_DEPTH} deep`);
  const spec = SCHEMA[type];
  const msg: Message = {};
  for (const f of spec.fields) if (f.repeated) msg[f.name] = [];
  while (reader.pos < end) {
    const fieldStart = reader.pos;
    let id = -1;
    let field: FieldSpec | undefined;
    try {
      const tag = reader.uint32();
      id = tag >>> 3;
      const wire = tag & 7;
      if (id === 0) throw new DecodeError(`invalid field number 0 at byte ${fieldStart}`);
      field = spec.byId.get(id);
      if (field && readKnownField(reader, buf, field, wire, msg, end, depth)) continue;
      // Unknown field (or a known id with an unexpected wire type): keep it verbatim.
      reader.skipType(wire);
      if (reader.pos > end) throw new DecodeError(`runs past the end of its message`);
      (msg.$unknown ??= []).push(buf.subarray(fieldStart, reader.pos));
    } catch (err) {
      // The path is built only on failure: decoding a good file pays nothing for it.
      const e = asDecodeError(err);
      throw id > 0 ? e.within(segment(msg, field, id)) : e;
    }
  }
  if (reader.pos !== end) throw new DecodeError(`message ${type} overruns its length`);
  return msg;
}

/**
 * Merges `part` into `into` as protobuf merges two occurrences of a message:
 * repeated fields append, singular messages merge recursively, other singular
 * fields take the later value, unknown fields append.
 */
export function mergeMessage(into: Message, part: Message, type: MessageName): void {
  for (const f of SCHEMA[type].fields) {
    const value = part[f.name];
    if (value === undefined) continue;
    if (f.repeated) {
      const list = (into[f.name] ??= []) as unknown[];
      for (const item of value as unknown[]) list.push(item);
    } else if (isMessageKind(f.kind) && into[f.name] !== undefined) {
      mergeMessage(into[f.name] as Message, value as Message, f.kind);
    } else {
      into[f.name] = value;
    }
  }
  if (part.$unknown) for (const raw of part.$unknown) (into.$unknown ??= []).push(raw);
}

/** Returns false when the wire type does not fit the field, so the caller keeps it as unknown. */
function readKnownField(reader: protobuf.Reader, buf: Uint8Array, field: FieldSpec, wire: number, msg: Message, end: number, depth: number): boolean {
  const kind = field.kind;
  if (isMessageKind(kind)) {
    if (wire !== WIRE_LENGTH) return false;
    const len = reader.uint32();
    const childEnd = reader.pos + len;
    if (childEnd > end) throw new DecodeError(`length ${len} runs past the end of its message`);
    const child = decodeFrom(reader, buf, kind, childEnd, depth + 1);
    if (field.repeated) (msg[field.name] as unknown[]).push(child);
    else if (msg[field.name] !== undefined) mergeMessage(msg[field.name] as Message, child, kind);
    else msg[field.name] = child;
    return true;
  }
  const expected = wireTypeOf(kind);
  if (field.repeated && wire === WIRE_LENGTH && expected !== WIRE_LENGTH) {
    // Packed encoding of a repeated number field (accepted whatever the declaration says).
    const len = reader.uint32();
    const stop = reader.pos + len;
    if (stop > end) throw new DecodeError(`length ${len} runs past the end of its message`);
    const list = msg[field.name] as unknown[];
    while (reader.pos < stop) list.push(readScalar(reader, kind));
    if (reader.pos !== stop) throw new DecodeError('packed values overrun their length');
    return true;
  }
  if (wire !== expected) return false;
  const value = readScalar(reader, kind);
  if (reader.pos > end) throw new DecodeError('runs past the end of its message');
  if (field.repeated) (msg[field.name] as unknown[]).push(value);
  else msg[field.name] = value;
  return true;
}

function writeScalar(writer: protobuf.Writer, kind: ScalarKind, value: unknown): void {
  switch (kind) {
    case 'string':
      if (hasEscapedBytes(value as string)) writer.bytes(encodeEscaped(value as string));
      else writer.string(value as string);
      break;
    case 'bytes':
      writer.bytes(value as Uint8Array);
      break;
    case 'int64':
      writer.int64(int64ToLong(value as Int64, false));
      break;
    case 'uint64':
      writer.uint64(int64ToLong(value as Int64, true));
      break;
    case 'int32':
      writer.int32(value as number);
      break;
    case 'float':
      writer.float(value as number);
      break;
    case 'double':
      writer.double(value as number);
      break;
  }
}

/** Accumulates small writes in a protobufjs Writer and big buffers as chunks of their own. */
class ChunkBuilder {
  private writer = Writer.create();
  private readonly parts: Bytes[] = [];
  private length = 0;

  get w(): protobuf.Writer {
    return this.writer;
  }

  /** Appends bytes as they are (no length prefix). */
  raw(bytes: Bytes): void {
    this.flush();
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  private flush(): void {
    if (this.writer.len === 0) return;
    const bytes = this.writer.finish();
    this.parts.push(bytes);
    this.length += bytes.length;
    this.writer = Writer.create();
  }

  finish(): Chunks {
    this.flush();
    return { parts: this.parts, length: this.length };
  }
}

export function encodeMessage(msg: Message, type: MessageName): Chunks {
  const out = new ChunkBuilder();
  encodeInto(out, msg, type);
  return out.finish();
}

function encodeInto(out: ChunkBuilder, msg: Message, type: MessageName): void {
  for (const field of SCHEMA[type].fields) {
    const value = msg[field.name];
    if (value === undefined || value === null) continue;
    if (field.repeated) {
      const list = value as unknown[];
      if (list.length === 0) continue;
      if (field.packed) {
        out.w.uint32((field.id << 3) | WIRE_LENGTH).fork();
        for (const item of list) writeScalar(out.w, field.kind as ScalarKind, item);
        out.w.ldelim();
      } else {
        for (const item of list) encodeField(out, field, item);
      }
    } else {
      encodeField(out, field, value);
    }
  }
  for (const raw of msg.$unknown ?? []) out.raw(raw);
}

function encodeField(out: ChunkBuilder, field: FieldSpec, value: unknown): void {
  const kind = field.kind;
  if (isMessageKind(kind)) {
    const child = encodeMessage(value as Message, kind);
    out.w.uint32((field.id << 3) | WIRE_LENGTH);
    if (child.length < BIG_CHUNK) {
      out.w.bytes(concatChunks(child));
    } else {
      out.w.uint32(child.length);
      for (const part of child.parts) out.raw(part);
    }
    return;
  }
  out.w.uint32((field.id << 3) | wireTypeOf(kind));
  if (kind === 'bytes' && (value instanceof LazyBytes || (value as Uint8Array).length >= BIG_CHUNK)) {
    out.w.uint32((value as Bytes).length);
    out.raw(value as Bytes);
    return;
  }
  writeScalar(out.w, kind, value);
}

/** One buffer (lazy bytes are read): for handing a model to onnxruntime in memory. */
export function concatChunks(chunks: Chunks): Uint8Array {
  const parts = chunks.parts.map((p) => (p instanceof LazyBytes ? p.read() : p));
  if (parts.length === 1) return parts[0];
  return Buffer.concat(parts, chunks.length);
}
