/**
 * Proto-level helpers that need no def-use: building value info and reading
 * or setting a domain's opset import. Questions about the graph's structure
 * (producers, uses, types, order) go to the IR (src/ir/).
 */
import type { ModelProto, TypeProto, ValueInfoProto } from './types.js';

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

/** The opset import of a domain; '' and 'ai.onnx' both name the default domain. */
function opsetEntry(model: ModelProto, domain: string) {
  return model.opsetImport.find((o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'));
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
