/**
 * Decoding a model straight from its file, leaving large `bytes` fields
 * (weights) in the file as FileRange values instead of reading them. Large
 * messages (the graph, big tensors) are walked field by field through a small
 * read window; every other field is read and handed to the ordinary codec, so
 * both paths produce the same message. Peak memory is then the graph's
 * structure plus one window, whatever the model's size.
 */
import fs from 'node:fs';
import { asDecodeError, DecodeError, decodeMessage, FileRange, MAX_DEPTH, mergeMessage, type Message } from './codec.js';
import { SCHEMA, isMessageKind, type FieldSpec, type MessageName } from './schema.js';
import { openRegularFile, readAt } from '../util/files.js';

/** Fields at least this large are walked (messages) or left in the file (bytes). */
export const LAZY_THRESHOLD = 1 << 20;
const WINDOW = 1 << 20;

class FileWindow {
  private buf = Buffer.allocUnsafe(WINDOW);
  private start = 0;
  private end = 0;

  constructor(
    readonly file: string,
    private readonly fd: number,
    readonly size: number,
  ) {}

  /** A copy of `length` bytes at `pos` (copies: the window is reused). */
  copy(pos: number, length: number): Uint8Array {
    if (pos + length > this.size) throw new DecodeError(`field at byte ${pos} runs past the end of the file`);
    if (length > WINDOW / 2) {
      const out = Buffer.allocUnsafe(length);
      readFully(this.fd, out, pos);
      return out;
    }
    this.ensure(pos, length);
    return Buffer.from(this.buf.subarray(pos - this.start, pos - this.start + length));
  }

  varint(pos: number): [value: number, next: number] {
    this.ensure(pos, Math.min(10, this.size - pos));
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos + i >= this.size) throw new DecodeError(`varint at byte ${pos} runs past the end of the file`);
      const b = this.buf[pos + i - this.start];
      value += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) return [value, pos + i + 1];
    }
    throw new DecodeError(`bad varint at byte ${pos}`);
  }

  private ensure(pos: number, length: number): void {
    if (pos >= this.start && pos + length <= this.end) return;
    this.start = pos;
    this.end = Math.min(this.size, pos + WINDOW);
    readFully(this.fd, this.buf.subarray(0, this.end - this.start), pos);
  }
}

function readFully(fd: number, into: Uint8Array, position: number): void {
  if (readAt(fd, into, position) < into.length) throw new DecodeError('file ended early');
}

function decodeRange(win: FileWindow, type: MessageName, start: number, end: number, threshold: number, depth: number): Message {
  if (depth > MAX_DEPTH) throw new DecodeError(`messages nested more than ${MAX_DEPTH} deep`);
  const spec = SCHEMA[type];
  const msg: Message = {};
  for (const f of spec.fields) if (f.repeated) msg[f.name] = [];
  let pos = start;
  while (pos < end) {
    let id = -1;
    let field: FieldSpec | undefined;
    try {
      const [tag, afterTag] = win.varint(pos);
      id = Math.floor(tag / 8);
      field = spec.byId.get(id);
      const wire = tag & 7;
      let fieldEnd: number;
      if (wire === 2) {
        const [length, payload] = win.varint(afterTag);
        fieldEnd = payload + length;
        if (fieldEnd > end) throw new DecodeError(`length ${length} at byte ${pos} runs past the end of its message`);
        if (field && length >= threshold && (isMessageKind(field.kind) || field.kind === 'bytes')) {
          if (isMessageKind(field.kind)) {
            const child = decodeRange(win, field.kind, payload, fieldEnd, threshold, depth + 1);
            if (field.repeated) (msg[field.name] as unknown[]).push(child);
            else if (msg[field.name] !== undefined) mergeMessage(msg[field.name] as Message, child, field.kind);
            else msg[field.name] = child;
          } else {
            const value = new FileRange(win.file, payload, length);
            if (field.repeated) (msg[field.name] as unknown[]).push(value);
            else msg[field.name] = value;
          }
          pos = fieldEnd;
          continue;
        }
      } else if (wire === 0) fieldEnd = win.varint(afterTag)[1];
      else if (wire === 1) fieldEnd = afterTag + 8;
      else if (wire === 5) fieldEnd = afterTag + 4;
      else throw new DecodeError(`unsupported wire type ${wire} at byte ${pos}`);
      if (fieldEnd > end) throw new DecodeError(`field at byte ${pos} runs past the end of its message`);
      // A small field: read it and let the codec decode it, exactly as it would in memory.
      let part: Message;
      try {
        part = decodeMessage(win.copy(pos, fieldEnd - pos), type, 0, fieldEnd - pos, depth);
      } catch (err) {
        // The codec numbered this field as if it were the first of its kind: use our path instead.
        const e = asDecodeError(err);
        e.path.shift();
        throw e;
      }
      mergeMessage(msg, part, type);
      pos = fieldEnd;
    } catch (err) {
      // The path is built only on failure.
      const e = asDecodeError(err);
      if (id < 0) throw e;
      throw e.within(field ? (field.repeated ? `${field.name}[${(msg[field.name] as unknown[]).length}]` : field.name) : `field ${id}`);
    }
  }
  if (pos !== end) throw new DecodeError(`message ${type} overruns its length`);
  return msg;
}

export function decodeFile(file: string, type: MessageName, threshold = LAZY_THRESHOLD): Message {
  const { fd, size } = openRegularFile(file);
  try {
    return decodeRange(new FileWindow(file, fd, size), type, 0, size, threshold, 0);
  } finally {
    fs.closeSync(fd);
  }
}
