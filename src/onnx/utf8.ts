/**
 * protobuf `string` fields as JS strings that keep their exact bytes.
 *
 * ONNX names are JS strings everywhere in this code base, but a file may hold
 * a name that is not valid UTF-8, and a lossless codec must write it back as
 * it was. Decoding such a string maps each byte of an invalid sequence to a
 * lone low surrogate U+DC80..U+DCFF (Python's "surrogateescape"); encoding
 * maps those back to the bytes. Valid UTF-8 never decodes to a lone
 * surrogate, so the two cannot be confused, equal names stay equal, and a
 * renamed or moved string still comes out with its own bytes.
 */
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs/minimal.js';

const { util } = protobuf;

/** A low surrogate standing for a raw byte, not preceded by a high surrogate. */
const ESCAPED = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/;

export function decodeUtf8(buf: Uint8Array, start: number, end: number): string {
  if (start === end) return '';
  const view = buf.subarray(start, end);
  if (isUtf8(view)) return util.utf8.read(buf, start, end);
  return decodeEscaped(view);
}

/** True when the string holds escaped bytes and so must be written with encodeEscaped. */
export function hasEscapedBytes(s: string): boolean {
  return ESCAPED.test(s);
}

function decodeEscaped(bytes: Uint8Array): string {
  const units: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const cp = b < 0x80 ? b : sequence(bytes, i);
    if (cp < 0) {
      units.push(0xdc00 + b);
      i += 1;
    } else if (cp < 0x10000) {
      units.push(cp);
      i += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
    } else {
      units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
      i += 4;
    }
  }
  let out = '';
  for (let k = 0; k < units.length; k += 4096) out += String.fromCharCode(...units.slice(k, k + 4096));
  return out;
}

/** The code point of the well-formed multi-byte sequence at `i`, or -1 (overlong, surrogate, truncated, too big). */
function sequence(bytes: Uint8Array, i: number): number {
  const b = bytes[i];
  const n = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? (b <= 0xef ? 3 : 0) : b >= 0xc2 ? 2 : 0;
  if (n === 0 || i + n > bytes.length) return -1;
  let cp = b & (0xff >> (n + 1));
  for (let k = 1; k < n; k++) {
    const c = bytes[i + k];
    if ((c & 0xc0) !== 0x80) return -1;
    cp = (cp << 6) | (c & 0x3f);
  }
  const min = n === 2 ? 0x80 : n === 3 ? 0x800 : 0x10000;
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
  return cp;
}

/** UTF-8 of `s`, with escaped bytes written back as themselves. */
export function encodeEscaped(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    const prevHigh = i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff;
    if (u >= 0xdc80 && u <= 0xdcff && !prevHigh) {
      out.push(u - 0xdc00);
      continue;
    }
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) i++;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return Uint8Array.from(out);
}
