/** Constructors for graph pieces, for code that writes models from scratch (export, tests). */
import { AttributeType, type AttributeProto, type GraphProto, type ModelProto, type NodeProto } from './types.js';

function attr(name: string, fields: Partial<AttributeProto>): AttributeProto {
  return { name, floats: [], ints: [], strings: [], tensors: [], graphs: [], ...fields };
}

export const attrInt = (name: string, i: number): AttributeProto => attr(name, { type: AttributeType.INT, i });
export const attrFloat = (name: string, f: number): AttributeProto => attr(name, { type: AttributeType.FLOAT, f });
export const attrInts = (name: string, ints: number[]): AttributeProto => attr(name, { type: AttributeType.INTS, ints });
export const attrGraph = (name: string, g: GraphProto): AttributeProto => attr(name, { type: AttributeType.GRAPH, g });

export function node(opType: string, inputs: string[], outputs: string[], attrs: AttributeProto[] = [], name?: string): NodeProto {
  return { opType, input: inputs, output: outputs, attribute: attrs, name: name ?? outputs[0], domain: '' };
}

export function emptyGraph(name: string): GraphProto {
  return { name, node: [], initializer: [], input: [], output: [], valueInfo: [], sparseInitializer: [], quantizationAnnotation: [] };
}

export function newModel(graph: GraphProto, opset: number, producer = 'sca', irVersion = 8): ModelProto {
  return {
    irVersion,
    producerName: producer,
    opsetImport: [{ domain: '', version: opset }],
    metadataProps: [],
    trainingInfo: [],
    functions: [],
    graph,
  };
}
