/**
 * Declared types (value_info, graph inputs and outputs) against inferred
 * ones: conflicts to report, and the merge rule where declared information
 * fills in what inference left unknown.
 */
import type { ValueInfoProto } from '../../onnx/types.js';
import { canonicalDim, dimsEqual, formatShape, isConcrete, type Dim } from './dims.js';
import type { TensorType } from './types.js';
import { dimOf } from '../../onnx/graph.js';

export const FRESH_PREFIX = 'unk__';

/** Symbols inference made up (and onnxruntime's own unk__N) say nothing a declaration cannot improve on. */
export function isFreshDim(d: Dim): boolean {
  return typeof d === 'string' && d.includes(FRESH_PREFIX);
}

/** The tensor type a ValueInfoProto declares; undefined for non-tensors or no element type. */
export function declaredType(vi: ValueInfoProto | undefined): TensorType | undefined {
  const tt = vi?.type?.tensorType;
  if (!tt?.elemType) return undefined;
  if (!tt.shape) return { elemType: tt.elemType };
  let n = 0;
  const shape = tt.shape.dim.map((d): Dim => {
    const dim = dimOf(d);
    if (typeof dim === 'number') return dim;
    if (dim) return canonicalDim(dim);
    return `${FRESH_PREFIX}${vi?.name ?? ''}_${n++}`;
  });
  return { elemType: tt.elemType, shape };
}

export interface TypeConflict {
  name: string;
  kind: 'elemType' | 'rank' | 'dim';
  message: string;
}

/** Disagreements a model cannot have if both are right: element type, rank, a concrete dim. */
export function compareTypes(name: string, declared: TensorType, inferred: TensorType): TypeConflict[] {
  const out: TypeConflict[] = [];
  if (declared.elemType && inferred.elemType && declared.elemType !== inferred.elemType) {
    out.push({ name, kind: 'elemType', message: `'${name}': value_info says element type ${declared.elemType}, inference gives ${inferred.elemType}` });
  }
  const d = declared.shape;
  const s = inferred.shape;
  if (!d || !s) return out;
  if (d.length !== s.length) {
    out.push({ name, kind: 'rank', message: `'${name}': value_info says ${formatShape(d)}, inference gives ${formatShape(s)} (rank differs)` });
    return out;
  }
  d.forEach((x, i) => {
    if (isConcrete(x) && isConcrete(s[i]) && x !== s[i]) {
      out.push({ name, kind: 'dim', message: `'${name}': value_info says ${formatShape(d)}, inference gives ${formatShape(s)} (axis ${i})` });
    }
  });
  return out;
}

/**
 * Inferred information wins; the declaration fills an unknown element type,
 * an unknown rank, and dims inference could only name with a fresh symbol
 * (or that it has symbolic where the file has a number).
 */
export function mergeTypes(declared: TensorType | undefined, inferred: TensorType | undefined): TensorType | undefined {
  if (!declared) return inferred;
  if (!inferred) return declared;
  const elemType = inferred.elemType || declared.elemType;
  const d = declared.shape;
  const s = inferred.shape;
  if (!s) return d ? { elemType, shape: d } : { elemType };
  if (!d || d.length !== s.length) return { elemType, shape: s };
  const shape = s.map((x, i) => {
    const y = d[i];
    if (isConcrete(x)) return x;
    if (isConcrete(y)) return y;
    return isFreshDim(x) && !isFreshDim(y) ? y : x;
  });
  return { elemType, shape };
}

export function sameType(a: TensorType | undefined, b: TensorType | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.elemType !== b.elemType) return false;
  if (!a.shape || !b.shape) return a.shape === b.shape;
  return a.shape.length === b.shape.length && a.shape.every((d, i) => dimsEqual(d, b.shape![i]));
}
