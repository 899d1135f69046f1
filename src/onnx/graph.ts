/**
 * Proto-level helpers that need no def-use: building value info and reading
 * or setting a domain's opset import. Questions about the graph's structure
 * (producers, uses, types, order) go to the IR (src/ir/).
 */
import type { DimensionProto, ModelProto, TypeProto, ValueInfoProto } from './types.js';

export function makeValueInfo(name: string, elemType: number, shape?: (number | string | undefined)[]): ValueInfoProto {
  const tensorType: NonNullable<TypeProto['tensorType']> = { elemType };
  if (shape) {
    tensorType.shape = {
      // A length that is not a whole number (inference over a corrupt file) is written as unknown, never as NaN.
      dim: shape.map((d) =>
        typeof d === 'number' ? (Number.isSafeInteger(d) && d >= 0 ? { dimValue: d } : {}) : typeof d === 'string' ? { dimParam: d } : {},
      ),
    };
  }
  return { name, type: { tensorType } };
}

/** One axis of a declared shape: its length, its symbolic name, or undefined when the file gives neither. */
export function dimOf(d: DimensionProto): number | string | undefined {
  if (d.dimValue !== undefined) return Number(d.dimValue);
  return d.dimParam || undefined;
}

/** The axis's length when the file gives one. */
export function numericDim(d: DimensionProto): number | undefined {
  const dim = dimOf(d);
  return typeof dim === 'number' ? dim : undefined;
}

/** A domain as one key: '' for the default domain, which files spell '' or 'ai.onnx'. */
export function domainKey(domain: string | null | undefined): string {
  return !domain || domain === 'ai.onnx' ? '' : domain;
}

export function isDefaultDomain(domain: string | null | undefined): boolean {
  return domainKey(domain) === '';
}

/** An op as people name it: `Gelu` in the default domain, `com.microsoft.Gelu` elsewhere. */
export function qualifiedOp(node: { domain?: string | null; opType?: string | null }): string {
  const d = domainKey(node.domain);
  return `${d ? `${d}.` : ''}${node.opType ?? '?'}`;
}

/** The opset import of a domain, whichever spelling the file uses. */
function opsetEntry(model: ModelProto, domain: string) {
  const key = domainKey(domain);
  return model.opsetImport.find((o) => domainKey(o.domain) === key);
}

export function opsetOf(model: ModelProto, domain = ''): number | undefined {
  const entry = opsetEntry(model, domain);
  return entry?.version === undefined ? undefined : Number(entry.version);
}

export function setOpset(model: ModelProto, version: number, domain = ''): void {
  const entry = opsetEntry(model, domain);
  if (entry) entry.version = version;
  else model.opsetImport.push({ domain, version });
}
