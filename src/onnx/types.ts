/**
 * Plain-data shapes of the ONNX messages the toolkit reads and edits, as the
 * codec in codec.ts produces them. Repeated fields are always arrays after
 * decoding; fields the schema does not know ride along in `$unknown`.
 */
import type { Bytes, Int64 } from './codec.js';

export type { Int64 };

interface Extensible {
  $unknown?: Uint8Array[];
}

export interface StringStringEntryProto extends Extensible {
  key?: string;
  value?: string;
}

export interface OperatorSetIdProto extends Extensible {
  domain?: string;
  version?: Int64;
}

export interface TensorProto extends Extensible {
  dims: Int64[];
  dataType?: number;
  segment?: { begin?: Int64; end?: Int64 };
  floatData: number[];
  int32Data: number[];
  stringData: Uint8Array[];
  int64Data: Int64[];
  name?: string;
  /** Inline bytes, or (lazily loaded models) a range of the model file still on disk. */
  rawData?: Bytes;
  doubleData: number[];
  uint64Data: Int64[];
  docString?: string;
  externalData: StringStringEntryProto[];
  dataLocation?: number;
}

export interface DimensionProto extends Extensible {
  dimValue?: Int64;
  dimParam?: string;
  denotation?: string;
}

export interface TensorShapeProto extends Extensible {
  dim: DimensionProto[];
}

export interface TypeProto extends Extensible {
  tensorType?: { elemType?: number; shape?: TensorShapeProto; $unknown?: Uint8Array[] };
  sequenceType?: unknown;
  mapType?: unknown;
  optionalType?: unknown;
  sparseTensorType?: unknown;
  denotation?: string;
}

export interface ValueInfoProto extends Extensible {
  name?: string;
  type?: TypeProto;
  docString?: string;
}

export interface AttributeProto extends Extensible {
  name?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats: number[];
  ints: Int64[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
  docString?: string;
  refAttrName?: string;
}

export interface NodeProto extends Extensible {
  input: string[];
  output: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute: AttributeProto[];
  docString?: string;
}

/** The fields of a node that graph logic reads (shape inference, the op registry): a NodeProto fits. */
export interface NodeLike {
  opType?: string;
  domain?: string;
  name?: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
}

export interface GraphProto extends Extensible {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  sparseInitializer: unknown[];
  docString?: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
  quantizationAnnotation: unknown[];
}

export interface ModelProto extends Extensible {
  irVersion?: Int64;
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: Int64;
  docString?: string;
  graph?: GraphProto;
  opsetImport: OperatorSetIdProto[];
  metadataProps: StringStringEntryProto[];
  trainingInfo: unknown[];
  functions: unknown[];
}

/** TensorProto.DataType values the toolkit names (the full list is in onnx.proto). */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;

export const DATA_LOCATION_EXTERNAL = 1;

/** AttributeProto.AttributeType values. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;
