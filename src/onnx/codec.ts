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
 */
import fs from 'node:fs';
import protobuf from 'protobufjs/minimal.js';
import { readAt } from '../util/files.js';
import { SCHEMA, isMessageKind, type FieldSpec, type MessageName, type ScalarKind } from './schema.js';

const { Reader, Writer, util } = protobuf;

export type Int64 = number | bigint;
export type Message = Record<string, unknown> & { $unknown?: Uint8Array[] };

/**
 * Bytes left in a file, not read into memory: the value of a large `bytes`
 * field (tensor raw_data) when a model is loaded lazily. Saving copies the
 * range from the file through a small buffer.
 */
export class FileRange {
  constructor(readonly file: string, readonly offset: number, readonly length: number) {}

  /** The bytes, in a buffer of their own (never pooled, so aligned for typed-array views). */
  read(): Uint8Array {
    const buf = Buffer.allocUnsafeSlow(this.length);
    const fd = fs.openSync(this.file, 'r');
    try {
      if (readAt(fd, buf, this.offset) < this.length) throw new DecodeError(`${this.file} ended early (truncated while in use?)`);
    } finally {
      fs.closeSync(fd);
    }
    return buf;
  }
}

export type Bytes = Uint8Array | FileRange;

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

export class DecodeError extends Error {}

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

function readScalar(reader: protobuf.Reader, kind: ScalarKind): unknown {
  switch (kind) {
    case 'string':
      return reader.string();
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

/** Decodes `buf[start:end]` as message `type`. */
export function decodeMessage(buf: Uint8Array, type: MessageName, start = 0, end = buf.length): Message {
  const reader = Reader.create(buf);
  reader.pos = start;
  reader.len = end;
  return decodeFrom(reader, buf, type, end);
}

function decodeFrom(reader: protobuf.Reader, buf: Uint8Array, type: MessageName, end: number): Message {
  const spec = SCHEMA[type];
  const msg: Message = {};
  for (const f of spec.fields) if (f.repeated) msg[f.name] = [];
  while (reader.pos < end) {
    const fieldStart = reader.pos;
    const tag = reader.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    if (id === 0) throw new DecodeError(`invalid field number 0 at byte ${fieldStart}`);
    const field = spec.byId.get(id);
    if (field && readKnownField(reader, buf, field, wire, msg)) continue;
    // Unknown field (or a known id with an unexpected wire type): keep it verbatim.
    reader.skipType(wire);
    if (reader.pos > end) throw new DecodeError(`field ${id} runs past the end of its message`);
    (msg.$unknown ??= []).push(buf.subarray(fieldStart, reader.pos));
  }
  if (reader.pos !== end) throw new DecodeError(`message ${type} overruns its length`);
  return msg;
}

/** Returns false when the wire type does not fit the field, so the caller keeps it as unknown. */
function readKnownField(reader: protobuf.Reader, buf: Uint8Array, field: FieldSpec, wire: number, msg: Message): boolean {
  const kind = field.kind;
  if (isMessageKind(kind)) {
    if (wire !== WIRE_LENGTH) return false;
    const len = reader.uint32();
    const childEnd = reader.pos + len;
    if (childEnd > reader.len) throw new DecodeError(`${field.name} runs past the end of the buffer`);
    const child = decodeFrom(reader, buf, kind, childEnd);
    if (field.repeated) (msg[field.name] as unknown[]).push(child);
    else msg[field.name] = child;
    return true;
  }
  const expected = wireTypeOf(kind);
  if (field.repeated && wire === WIRE_LENGTH && expected !== WIRE_LENGTH) {
    // Packed encoding of a repeated number field (accepted whatever the declaration says).
    const len = reader.uint32();
    const stop = reader.pos + len;
    if (stop > reader.len) throw new DecodeError(`${field.name} runs past the end of the buffer`);
    const list = msg[field.name] as unknown[];
    while (reader.pos < stop) list.push(readScalar(reader, kind));
    return true;
  }
  if (wire !== expected) return false;
  const value = readScalar(reader, kind);
  if (field.repeated) (msg[field.name] as unknown[]).push(value);
  else msg[field.name] = value;
  return true;
}

function writeScalar(writer: protobuf.Writer, kind: ScalarKind, value: unknown): void {
  switch (kind) {
    case 'string':
      writer.string(value as string);
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
  if (kind === 'bytes' && (value instanceof FileRange || (value as Uint8Array).length >= BIG_CHUNK)) {
    out.w.uint32((value as Bytes).length);
    out.raw(value as Bytes);
    return;
  }
  writeScalar(out.w, kind, value);
}

/** One buffer (file ranges are read): for handing a model to onnxruntime in memory. */
export function concatChunks(chunks: Chunks): Uint8Array {
  const parts = chunks.parts.map((p) => (p instanceof FileRange ? p.read() : p));
  if (parts.length === 1) return parts[0];
  return Buffer.concat(parts, chunks.length);
}
