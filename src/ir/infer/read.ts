/**
 * Reading small tensors the inline decoder leaves alone: external data and
 * lazily loaded byte ranges. Exporters that move every initializer to the
 * side file (size_threshold=0) put shape constants there too, and Reshape
 * targets need them. Only tensors of at most MAX_VALUE_ELEMENTS are read.
 */
import { elementCount, tensorBytes } from '../../onnx/tensor.js';
import type { TensorProto } from '../../onnx/types.js';
import { decodeValues } from './constants.js';
import { Elem, MAX_VALUE_ELEMENTS } from './types.js';

/** A `readSmall` callback for inferModel/graphKnowns, for a model whose external data lives in `baseDir`. */
export function smallTensorReader(baseDir: string): (t: TensorProto) => number[] | undefined {
  return (t) => {
    const n = elementCount(t.dims);
    if (n > MAX_VALUE_ELEMENTS || t.dataType === Elem.STRING) return undefined;
    try {
      return decodeValues(tensorBytes(t, baseDir), t.dataType ?? 0, n);
    } catch {
      // A missing or short data file: the value stays unknown, and inference says where that stops it.
      return undefined;
    }
  };
}
