import fs from 'node:fs';
import onnxProto from 'onnx-proto';
import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import { concatChunks, decodeMessage, encodeMessage, type Message } from '../../src/onnx/codec.js';
import { SCHEMA } from '../../src/onnx/schema.js';
import { parseModel, serializeModel } from '../../src/onnx/model.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { FIXTURE_MODEL } from '../helpers/fixture.js';
import { gemmAutoencoder } from '../helpers/graphs.js';

const { onnx } = onnxProto;

/** Field ids and wire types of onnx-proto's generated encoders, read from their source. */
function onnxProtoFields(): Map<string, Map<number, number>> {
  const src = fs.readFileSync(new URL('../../node_modules/onnx-proto/dist/onnx.js', import.meta.url), 'utf8');
  const out = new Map<string, Map<number, number>>();
  for (const m of src.matchAll(/(\w+)\.encode = function encode\(message, writer\) \{([\s\S]*?)\n {8}\};/g)) {
    const ids = new Map<number, number>();
    for (const f of m[2].matchAll(/id (\d+), wireType (\d)/g)) ids.set(Number(f[1]), Number(f[2]));
    out.set(m[1], ids);
  }
  return out;
}

describe('schema', () => {
  it('knows every field of onnx-proto (ONNX 1.10) under the same id', () => {
    const theirs = onnxProtoFields();
    const nested: Record<string, string> = { Segment: 'TensorProto.Segment', Dimension: 'TensorShapeProto.Dimension' };
    for (const [type, ids] of theirs) {
      if (type === 'Tensor') continue; // several TypeProto.* share this short name in onnx-proto's source
      const ours = SCHEMA[(nested[type] ?? type) as keyof typeof SCHEMA];
      expect(ours, type).toBeDefined();
      for (const id of ids.keys()) expect(ours.byId.has(id), `${type} field ${id}`).toBe(true);
    }
  });

  it('decodes what onnx-proto encodes, and onnx-proto decodes what we encode', () => {
    const original = onnx.ModelProto.fromObject({
      irVersion: 8,
      producerName: 'p',
      opsetImport: [{ domain: '', version: 17 }],
      metadataProps: [{ key: 'k', value: 'v' }],
      graph: {
        name: 'g',
        node: [
          {
            opType: 'Slice',
            input: ['a', 's', 'e'],
            output: ['b'],
            name: 'n',
            attribute: [
              { name: 'ints', type: 7, ints: [1, -2, 3] },
              { name: 'f', type: 1, f: 0.5 },
              { name: 'fs', type: 6, floats: [1.5, -2] },
            ],
          },
        ],
        initializer: [
          { name: 'e', dims: [1], dataType: 7, int64Data: ['9223372036854775807'] },
          { name: 'w', dims: [2], dataType: 1, floatData: [1, 2] },
        ],
        input: [{ name: 'a', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 4 }] } } } }],
        output: [{ name: 'b' }],
      },
    });
    const bytes = onnx.ModelProto.encode(original).finish();
    const ours = decodeMessage(bytes, 'ModelProto') as any;
    expect(ours.graph.node[0].attribute[0].ints).toEqual([1, -2, 3]);
    expect(ours.graph.node[0].attribute[2].floats).toEqual([1.5, -2]);
    expect(ours.graph.initializer[0].int64Data).toEqual([9223372036854775807n]);
    expect(ours.graph.input[0].type.tensorType.shape.dim).toEqual([{ dimParam: 'N' }, { dimValue: 4 }]);
    const back = onnx.ModelProto.decode(concatChunks(encodeMessage(ours, 'ModelProto')));
    expect(onnx.ModelProto.toObject(back, { longs: String })).toEqual(onnx.ModelProto.toObject(original, { longs: String }));
  });
});

/** A field the schema does not know: `id` as a length-delimited payload. */
function unknownField(id: number, payload: string): Uint8Array {
  return protobuf.Writer.create()
    .uint32((id << 3) | 2)
    .string(payload)
    .finish();
}

describe('lossless round trip', () => {
  it('re-encodes the PyTorch export byte for byte', () => {
    const bytes = fs.readFileSync(FIXTURE_MODEL);
    expect(Buffer.compare(Buffer.from(serializeModel(parseModel(bytes, '/').proto)), bytes)).toBe(0);
  });

  it('keeps fields newer than the schema, at every level, through a patch', async () => {
    const m = gemmAutoencoder();
    // ONNX 1.16 added metadata_props to NodeProto (9) and GraphProto (16); 26 stands for anything later.
    m.proto.$unknown = [unknownField(26, 'model-level')];
    (m.proto.graph as unknown as Message).$unknown = [unknownField(16, 'graph-level')];
    m.proto.graph!.node[0].$unknown = [unknownField(9, 'node-level')];
    m.proto.graph!.initializer[0].$unknown = [unknownField(16, 'tensor-level')];
    const bytes = serializeModel(m.proto);
    const loaded = parseModel(bytes, '/');
    await patchModel(loaded, [{ tensor: 'latent', mode: 'suppress', dims: [0] }]);
    const again = parseModel(serializeModel(loaded.proto), '/');
    const text = (u: Uint8Array[] | undefined) => (u ?? []).map((b) => Buffer.from(b).toString('latin1')).join();
    expect(text(again.proto.$unknown)).toContain('model-level');
    expect(text(again.proto.graph!.$unknown)).toContain('graph-level');
    expect(text(again.proto.graph!.node.find((n) => n.output.includes('h0'))!.$unknown)).toContain('node-level');
    expect(text(again.proto.graph!.initializer[0].$unknown)).toContain('tensor-level');
  });

  it('keeps 64-bit integers beyond 2^53 exact', () => {
    const m = gemmAutoencoder();
    m.proto.graph!.node[0].attribute.push({
      name: 'big',
      type: 7,
      ints: [9223372036854775807n, -9223372036854775808n, 5],
      floats: [],
      strings: [],
      tensors: [],
      graphs: [],
    });
    const again = parseModel(serializeModel(m.proto), '/');
    expect(again.proto.graph!.node[0].attribute.at(-1)!.ints).toEqual([9223372036854775807n, -9223372036854775808n, 5]);
  });

  it('hands out weight bytes as views, not copies', () => {
    const bytes = fs.readFileSync(FIXTURE_MODEL);
    const m = parseModel(bytes, '/');
    expect((m.proto.graph!.initializer[0].rawData as Uint8Array).buffer).toBe(bytes.buffer);
  });
});
