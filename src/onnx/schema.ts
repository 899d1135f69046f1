/**
 * The ONNX protobuf schema as a table the lossless codec walks.
 *
 * Why a table and not onnx-proto's generated code: that code is static (no
 * reflection), drops fields it does not know while decoding, and is frozen at
 * ONNX 1.10.2. A table lets one small codec keep unknown fields byte for byte
 * and hand out weight bytes as views instead of copies. Field names are the
 * camelCase names onnx-proto uses; test/onnx/schema.test.ts checks every id and
 * wire type against onnx-proto so the two cannot drift apart.
 */

export type ScalarKind = 'string' | 'bytes' | 'int64' | 'uint64' | 'int32' | 'float' | 'double';

export interface FieldSpec {
  id: number;
  name: string;
  /** A scalar kind, or the name of another message in SCHEMA. */
  kind: ScalarKind | MessageName;
  repeated: boolean;
  /** Declared `[packed = true]` in onnx.proto (proto2); the decoder accepts both forms regardless. */
  packed: boolean;
}

type Row = readonly [id: number, name: string, kind: string, rule?: 'repeated' | 'packed'];

const rows = {
  ModelProto: [
    [1, 'irVersion', 'int64'],
    [2, 'producerName', 'string'],
    [3, 'producerVersion', 'string'],
    [4, 'domain', 'string'],
    [5, 'modelVersion', 'int64'],
    [6, 'docString', 'string'],
    [7, 'graph', 'GraphProto'],
    [8, 'opsetImport', 'OperatorSetIdProto', 'repeated'],
    [14, 'metadataProps', 'StringStringEntryProto', 'repeated'],
    [20, 'trainingInfo', 'TrainingInfoProto', 'repeated'],
    [25, 'functions', 'FunctionProto', 'repeated'],
  ],
  GraphProto: [
    [1, 'node', 'NodeProto', 'repeated'],
    [2, 'name', 'string'],
    [5, 'initializer', 'TensorProto', 'repeated'],
    [10, 'docString', 'string'],
    [11, 'input', 'ValueInfoProto', 'repeated'],
    [12, 'output', 'ValueInfoProto', 'repeated'],
    [13, 'valueInfo', 'ValueInfoProto', 'repeated'],
    [14, 'quantizationAnnotation', 'TensorAnnotation', 'repeated'],
    [15, 'sparseInitializer', 'SparseTensorProto', 'repeated'],
  ],
  NodeProto: [
    [1, 'input', 'string', 'repeated'],
    [2, 'output', 'string', 'repeated'],
    [3, 'name', 'string'],
    [4, 'opType', 'string'],
    [5, 'attribute', 'AttributeProto', 'repeated'],
    [6, 'docString', 'string'],
    [7, 'domain', 'string'],
  ],
  AttributeProto: [
    [1, 'name', 'string'],
    [2, 'f', 'float'],
    [3, 'i', 'int64'],
    [4, 's', 'bytes'],
    [5, 't', 'TensorProto'],
    [6, 'g', 'GraphProto'],
    [7, 'floats', 'float', 'repeated'],
    [8, 'ints', 'int64', 'repeated'],
    [9, 'strings', 'bytes', 'repeated'],
    [10, 'tensors', 'TensorProto', 'repeated'],
    [11, 'graphs', 'GraphProto', 'repeated'],
    [13, 'docString', 'string'],
    [14, 'tp', 'TypeProto'],
    [15, 'typeProtos', 'TypeProto', 'repeated'],
    [20, 'type', 'int32'],
    [21, 'refAttrName', 'string'],
    [22, 'sparseTensor', 'SparseTensorProto'],
    [23, 'sparseTensors', 'SparseTensorProto', 'repeated'],
  ],
  ValueInfoProto: [
    [1, 'name', 'string'],
    [2, 'type', 'TypeProto'],
    [3, 'docString', 'string'],
  ],
  TrainingInfoProto: [
    [1, 'initialization', 'GraphProto'],
    [2, 'algorithm', 'GraphProto'],
    [3, 'initializationBinding', 'StringStringEntryProto', 'repeated'],
    [4, 'updateBinding', 'StringStringEntryProto', 'repeated'],
  ],
  StringStringEntryProto: [
    [1, 'key', 'string'],
    [2, 'value', 'string'],
  ],
  TensorAnnotation: [
    [1, 'tensorName', 'string'],
    [2, 'quantParameterTensorNames', 'StringStringEntryProto', 'repeated'],
  ],
  TensorProto: [
    [1, 'dims', 'int64', 'repeated'],
    [2, 'dataType', 'int32'],
    [3, 'segment', 'TensorProto.Segment'],
    [4, 'floatData', 'float', 'packed'],
    [5, 'int32Data', 'int32', 'packed'],
    [6, 'stringData', 'bytes', 'repeated'],
    [7, 'int64Data', 'int64', 'packed'],
    [8, 'name', 'string'],
    [9, 'rawData', 'bytes'],
    [10, 'doubleData', 'double', 'packed'],
    [11, 'uint64Data', 'uint64', 'packed'],
    [12, 'docString', 'string'],
    [13, 'externalData', 'StringStringEntryProto', 'repeated'],
    [14, 'dataLocation', 'int32'],
  ],
  'TensorProto.Segment': [
    [1, 'begin', 'int64'],
    [2, 'end', 'int64'],
  ],
  SparseTensorProto: [
    [1, 'values', 'TensorProto'],
    [2, 'indices', 'TensorProto'],
    [3, 'dims', 'int64', 'repeated'],
  ],
  TensorShapeProto: [[1, 'dim', 'TensorShapeProto.Dimension', 'repeated']],
  'TensorShapeProto.Dimension': [
    [1, 'dimValue', 'int64'],
    [2, 'dimParam', 'string'],
    [3, 'denotation', 'string'],
  ],
  TypeProto: [
    [1, 'tensorType', 'TypeProto.Tensor'],
    [4, 'sequenceType', 'TypeProto.Sequence'],
    [5, 'mapType', 'TypeProto.Map'],
    [6, 'denotation', 'string'],
    [8, 'sparseTensorType', 'TypeProto.SparseTensor'],
    [9, 'optionalType', 'TypeProto.Optional'],
  ],
  'TypeProto.Tensor': [
    [1, 'elemType', 'int32'],
    [2, 'shape', 'TensorShapeProto'],
  ],
  'TypeProto.Sequence': [[1, 'elemType', 'TypeProto']],
  'TypeProto.Map': [
    [1, 'keyType', 'int32'],
    [2, 'valueType', 'TypeProto'],
  ],
  'TypeProto.Optional': [[1, 'elemType', 'TypeProto']],
  'TypeProto.SparseTensor': [
    [1, 'elemType', 'int32'],
    [2, 'shape', 'TensorShapeProto'],
  ],
  OperatorSetIdProto: [
    [1, 'domain', 'string'],
    [2, 'version', 'int64'],
  ],
  FunctionProto: [
    [1, 'name', 'string'],
    [4, 'input', 'string', 'repeated'],
    [5, 'output', 'string', 'repeated'],
    [6, 'attribute', 'string', 'repeated'],
    [7, 'node', 'NodeProto', 'repeated'],
    [8, 'docString', 'string'],
    [9, 'opsetImport', 'OperatorSetIdProto', 'repeated'],
    [10, 'domain', 'string'],
  ],
} as const satisfies Record<string, readonly Row[]>;

export type MessageName = keyof typeof rows;

export interface MessageSpec {
  name: MessageName;
  /** Sorted by id: the codec writes fields in this order, as protobuf's C++ runtime does. */
  fields: FieldSpec[];
  byId: Map<number, FieldSpec>;
}

export const SCHEMA: Record<MessageName, MessageSpec> = Object.fromEntries(
  Object.entries(rows).map(([name, list]) => {
    const fields = (list as readonly Row[])
      .map(([id, fieldName, kind, rule]) => ({
        id,
        name: fieldName,
        kind: kind as ScalarKind | MessageName,
        repeated: rule !== undefined,
        packed: rule === 'packed',
      }))
      .sort((a, b) => a.id - b.id);
    return [name, { name: name as MessageName, fields, byId: new Map(fields.map((f) => [f.id, f])) }];
  }),
) as Record<MessageName, MessageSpec>;

export function isMessageKind(kind: FieldSpec['kind']): kind is MessageName {
  return kind in SCHEMA;
}
