/**
 * A weight as the edits see it: its values as float32, by the dims of the
 * weight, written back in the weight's own encoding. Ablation and pruning
 * (rewrite/channels.ts) edit rows and columns through a view, so a new
 * encoding (int8 per tensor or per column, int4 blocks with scales and zero
 * points, a DequantizeLinear-fed weight) plugs in here as another view,
 * without the edits knowing. Float tensors (float32, float16, bfloat16) are
 * the one encoding today; anything else is refused, naming the weight.
 */
import { UsageError } from '../errors.js';
import { elementTypeName, setTensorFloats, tensorFloats } from '../onnx/tensor.js';
import { DataType, type TensorProto } from '../onnx/types.js';

export interface WeightView {
  readonly name: string;
  readonly dims: number[];
  /** Every value, decoded, in row-major order of `dims`. */
  read(): Float32Array;
  /** Stores `values` in the weight's own encoding; `dims` when the edit changed the shape (pruning). */
  write(values: Float32Array, dims?: number[]): void;
}

const FLOAT_ENCODINGS: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);

export function weightView(t: TensorProto, baseDir: string): WeightView {
  const dataType = t.dataType ?? DataType.FLOAT;
  if (!FLOAT_ENCODINGS.has(dataType)) {
    throw new UsageError(`weight '${t.name}' is stored as ${elementTypeName(dataType)}; only float weights can be edited here`, 'REFUSED');
  }
  return {
    name: t.name ?? '',
    dims: t.dims.map(Number),
    read: () => tensorFloats(t, baseDir),
    write: (values, dims) => setTensorFloats(t, values, dims),
  };
}
