import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { smallTensorReader } from '../../../src/ir/infer/read.js';
import { useTempDir } from '../../helpers/tmp.js';
import { makeValueInfo } from '../../../src/onnx/graph.js';
import { attrInt, attrInts, emptyGraph, newModel, node } from '../../../src/onnx/build.js';
import { AttributeType, DataType, type AttributeProto, type GraphProto } from '../../../src/onnx/types.js';
import { describeStop, inferGraph, inferModel } from '../../../src/ir/infer/graph.js';
import { compareTypes, mergeTypes, sameType } from '../../../src/ir/infer/valueInfo.js';
import { evaluateDim } from '../../../src/ir/infer/dims.js';
import { constInts, f32, i64, int64Tensor } from './helpers.js';
import { cnnLike, gpt2Like } from '../../../scripts/torchlike.js';

function everyOutputHasShape(model: ReturnType<typeof gpt2Like>['model']): string[] {
  const r = inferModel(model);
  return model.graph!.node.flatMap((n) => n.output).filter((o) => !r.values.get(o)?.type?.shape);
}

describe('torch.onnx export patterns', () => {
  for (const opset of [11, 13, 14, 17, 18]) {
    it(`GPT-2-style decoder at opset ${opset}: heads split and merged through Shape chains`, () => {
      const { model, residual, logits } = gpt2Like({ opset, d: 16, heads: 4, layers: 2 });
      const r = inferModel(model);
      expect(everyOutputHasShape(model)).toEqual([]);
      expect(r.stops.size + r.unresolved.size).toBe(0);
      for (const x of residual) expect(r.values.get(x)?.type).toEqual({ elemType: DataType.FLOAT, shape: ['batch', 'sequence', 16] });
      expect(r.values.get(logits)?.type?.shape).toEqual(['batch', 'sequence', 11]);
      const scores = model.graph!.node.find((n) => n.opType === 'Softmax')!.output[0];
      expect(r.values.get(scores)?.type?.shape).toEqual(['batch', 4, 'sequence', 'sequence']);
      const target = model.graph!.node.find((n) => n.opType === 'Reshape')!.input[1];
      expect(r.values.get(target)?.value).toEqual(['batch', 'sequence', 4, 4]);
    });
  }

  it('CNN: view(x.size(0), -1) after conv/pool gives the concrete feature count; Flatten after GlobalAveragePool', () => {
    const { model, flat, pooled, logits } = cnnLike(13);
    const r = inferModel(model);
    expect(r.stops.size).toBe(0);
    expect(r.values.get(flat)?.type?.shape).toEqual(['N', 108]);
    expect(r.values.get(pooled)?.type?.shape).toEqual(['N', 12]);
    expect(r.values.get(logits)?.type?.shape).toEqual(['N', 10]);
  });

  it('CNN over symbolic H and W: the flattened length is one expression that evaluates to the concrete count', () => {
    const { model, flat } = cnnLike(13);
    model.graph!.input[0] = makeValueInfo('image', DataType.FLOAT, ['N', 3, 'H', 'W']);
    const symbolic = inferModel(model).values.get(flat)!.type!.shape!;
    expect(symbolic[0]).toBe('N');
    for (const [h, w] of [
      [11, 11],
      [13, 17],
      [8, 9],
      [32, 24],
    ]) {
      model.graph!.input[0] = makeValueInfo('image', DataType.FLOAT, ['N', 3, h, w]);
      const concrete = inferModel(model).values.get(flat)!.type!.shape![1];
      expect(evaluateDim(symbolic[1], (s) => ({ H: h, W: w })[s])).toBe(concrete);
    }
  });

  it("optimum's mask expansion: Where(Equal(shape, -1), 1, shape) feeds Expand", () => {
    const nodes = [
      node('Shape', ['mask'], ['ms']),
      constInts('i0', [0], []),
      constInts('i1', [1], []),
      node('Gather', ['ms', 'i0'], ['b'], [attrInt('axis', 0)]),
      node('Gather', ['ms', 'i1'], ['s'], [attrInt('axis', 0)]),
      constInts('ax', [0]),
      node('Unsqueeze', ['b', 'ax'], ['bu']),
      node('Unsqueeze', ['s', 'ax'], ['su']),
      constInts('one', [1]),
      constInts('minus', [-1]),
      node('Concat', ['bu', 'one', 'su', 'su'], ['target'], [attrInt('axis', 0)]),
      node('Equal', ['target', 'minus'], ['eq']),
      node('Shape', ['target'], ['ts']),
      node('ConstantOfShape', ['ts'], ['ones']),
      node('Where', ['eq', 'ones', 'target'], ['fixed']),
      constInts('ax12', [1, 2]),
      node('Unsqueeze', ['mask', 'ax12'], ['m4']),
      node('Expand', ['m4', 'fixed'], ['expanded']),
    ];
    const r = inferGraph(nodes, new Map([['mask', { type: { elemType: DataType.INT64, shape: ['batch', 'seq'] } }]]), () => 14);
    expect(r.values.get('fixed')?.value).toEqual(['batch', 1, 'seq', 'seq']);
    expect(r.values.get('expanded')?.type?.shape).toEqual(['batch', 1, 'seq', 'seq']);
  });
});

describe('a KV cache', () => {
  it('sums past and new lengths, and slices the causal mask to [seq, past+seq]', () => {
    const i64s = (n: string, v: number[]) => constInts(n, v);
    const nodes = [
      node('Concat', ['past_key', 'key'], ['all_keys'], [attrInt('axis', 2)]),
      node('Transpose', ['all_keys'], ['keys_t'], [attrInts('perm', [0, 1, 3, 2])]),
      node('MatMul', ['query', 'keys_t'], ['scores']),
      node('Shape', ['query'], ['qs']),
      node('Shape', ['all_keys'], ['ks']),
      i64s('at2', [2]),
      node('Gather', ['qs', 'at2'], ['q_len']),
      node('Gather', ['ks', 'at2'], ['k_len']),
      node('Sub', ['k_len', 'q_len'], ['start']),
      i64s('zero', [0]),
      i64s('ax2', [2]),
      i64s('ax3', [3]),
      node('Slice', ['bias', 'start', 'k_len', 'ax2'], ['rows']),
      node('Slice', ['rows', 'zero', 'k_len', 'ax3'], ['mask']),
      node('Where', ['mask', 'scores', 'neg'], ['masked']),
    ];
    const known = new Map([
      ['past_key', f32(['batch', 12, 'past', 64])],
      ['key', f32(['batch', 12, 'seq', 64])],
      ['query', f32(['batch', 12, 'seq', 64])],
      ['bias', { type: { elemType: DataType.BOOL, shape: [1, 1, 1024, 1024] } }],
      ['neg', f32([])],
    ]);
    const r = inferGraph(nodes, known, () => 14);
    expect(r.values.get('start')?.value).toEqual(['past']);
    expect(r.values.get('mask')?.type?.shape).toEqual([1, 1, 'seq', 'past+seq']);
    expect(r.values.get('masked')?.type?.shape).toEqual(['batch', 12, 'seq', 'past+seq']);
  });
});

describe('where inference stops', () => {
  it('names the first node that could not infer, for everything downstream of it', () => {
    const nodes = [
      node('Relu', ['x'], ['a']),
      { ...node('Mystery', ['a'], ['b']), domain: 'custom' },
      node('Relu', ['b'], ['c']),
      node('Add', ['c', 'a'], ['d']),
    ];
    const r = inferGraph(nodes, new Map([['x', f32(['n', 4])]]), (d) => (d === '' ? 17 : 1));
    expect(r.values.get('a')?.type?.shape).toEqual(['n', 4]);
    for (const v of ['b', 'c', 'd'])
      expect(describeStop(r.stopFor(v)!)).toBe("inference stopped at node 'b' (op Mystery): no shape rule for op custom.Mystery");
    expect(r.stopFor('a')).toBeUndefined();
  });

  it('declared value_info fills in after an op without a rule, and conflicts are reported', () => {
    const nodes = [{ ...node('Mystery', ['x'], ['b']), domain: 'custom' }, node('Relu', ['b'], ['c']), node('Relu', ['x'], ['d'])];
    const declared = new Map([
      ['b', { elemType: DataType.FLOAT, shape: ['n', 8] }],
      ['d', { elemType: DataType.FLOAT, shape: ['n', 5] }],
    ]);
    const r = inferGraph(nodes, new Map([['x', f32(['n', 4])]]), () => 17, { declared: (n) => declared.get(n) });
    expect(r.values.get('c')?.type?.shape).toEqual(['n', 8]);
    expect(r.stops.size).toBe(0);
    expect(r.conflicts.map((c) => c.message)).toEqual(["'d': value_info says [n,5], inference gives [n,4] (axis 1)"]);
  });

  it('compares and merges declared and inferred types', () => {
    expect(compareTypes('t', { elemType: 1, shape: ['b', 3] }, { elemType: 10, shape: ['b', 3, 1] }).map((c) => c.kind)).toEqual(['elemType', 'rank']);
    expect(compareTypes('t', { elemType: 1, shape: ['b', 3] }, { elemType: 1, shape: [2, 3] })).toEqual([]);
    expect(mergeTypes({ elemType: 1, shape: ['batch', 768] }, { elemType: 1, shape: ['unk__3', 'h'] })).toEqual({ elemType: 1, shape: ['batch', 768] });
    expect(mergeTypes({ elemType: 1, shape: ['batch', 768] }, { elemType: 1 })).toEqual({ elemType: 1, shape: ['batch', 768] });
    expect(mergeTypes({ elemType: 1, shape: ['x'] }, { elemType: 1, shape: [4] })).toEqual({ elemType: 1, shape: [4] });
    expect(sameType({ elemType: 1, shape: ['seq*batch', 2] }, { elemType: 1, shape: ['batch*seq', 2] })).toBe(true);
    expect(sameType({ elemType: 1, shape: ['batch', 2] }, { elemType: 1, shape: ['batch', 3] })).toBe(false);
  });
});

function graphAttr(name: string, g: GraphProto): AttributeProto {
  return { name, type: AttributeType.GRAPH, g, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
}

function branch(name: string, nodes: ReturnType<typeof node>[], out: string): GraphProto {
  return { ...emptyGraph(name), node: nodes, output: [{ name: out }] };
}

describe('control flow', () => {
  it('If: branches that agree give the type; a known condition picks its branch; bodies read outer values', () => {
    const thenG = branch('then', [node('Relu', ['x'], ['t_out'])], 't_out');
    const elseG = branch('else', [node('Neg', ['x'], ['e_out'])], 'e_out');
    const otherG = branch('else2', [node('Reshape', ['x', 'flat'], ['e2_out'])], 'e2_out');
    const known = new Map([
      ['x', f32(['n', 4])],
      ['cond', { type: { elemType: DataType.BOOL, shape: [] } }],
      ['flat', i64([-1])],
      ['yes', { type: { elemType: DataType.BOOL, shape: [] }, value: [1] }],
    ]);
    const r = inferGraph(
      [
        node('If', ['cond'], ['y'], [graphAttr('then_branch', thenG), graphAttr('else_branch', elseG)]),
        node('If', ['cond'], ['z'], [graphAttr('then_branch', thenG), graphAttr('else_branch', otherG)]),
        node('If', ['yes'], ['w'], [graphAttr('then_branch', thenG), graphAttr('else_branch', otherG)]),
        node('Relu', ['y'], ['after']),
      ],
      known,
      () => 17,
    );
    expect(r.values.get('y')?.type?.shape).toEqual(['n', 4]);
    expect(r.values.get('after')?.type?.shape).toEqual(['n', 4]);
    expect(r.stopFor('z')?.reason).toMatch(/If: branches give outputs of different or unknown ranks/);
    expect(r.values.get('z')?.type?.elemType).toBe(DataType.FLOAT);
    expect(r.values.get('w')?.type?.shape).toEqual(['n', 4]);
  });

  it('Loop: carried values keep their type, scan outputs gain the trip count', () => {
    const body: GraphProto = {
      ...emptyGraph('body'),
      input: [makeValueInfo('iter', DataType.INT64, []), makeValueInfo('c_in', DataType.BOOL, []), makeValueInfo('acc', DataType.FLOAT, ['n', 4])],
      node: [node('Add', ['acc', 'x'], ['acc_out']), node('Identity', ['c_in'], ['c_out']), node('ReduceSum', ['acc_out'], ['s'], [attrInt('keepdims', 0)])],
      output: [{ name: 'c_out' }, { name: 'acc_out' }, { name: 's' }],
    };
    const known = new Map([
      ['x', f32(['n', 4])],
      ['trip', i64([5], [])],
    ]);
    const r = inferGraph([node('Loop', ['trip', '', 'x'], ['final', 'sums'], [graphAttr('body', body)])], known, () => 17);
    expect(r.values.get('final')?.type?.shape).toEqual(['n', 4]);
    expect(r.values.get('sums')?.type?.shape).toEqual([5]);
  });
});

describe('Scan', () => {
  it('gives final states their type and stacks scan outputs along the scanned length', () => {
    const body: GraphProto = {
      ...emptyGraph('body'),
      input: [makeValueInfo('state', DataType.FLOAT, [4]), makeValueInfo('row', DataType.FLOAT, [4])],
      node: [node('Add', ['state', 'row'], ['state_out']), node('Identity', ['state_out'], ['scan_out'])],
      output: [{ name: 'state_out' }, { name: 'scan_out' }],
    };
    const known = new Map([
      ['init', f32([4])],
      ['rows', f32(['steps', 4])],
    ]);
    const r = inferGraph([node('Scan', ['init', 'rows'], ['final', 'all'], [graphAttr('body', body), attrInt('num_scan_inputs', 1)])], known, () => 11);
    expect(r.values.get('final')?.type?.shape).toEqual([4]);
    expect(r.values.get('all')?.type?.shape).toEqual(['steps', 4]);
  });
});

describe('whole models', () => {
  it('inferModel reads opsets, inputs, initializers and value_info from the file', () => {
    const g = emptyGraph('m');
    g.input.push(makeValueInfo('x', DataType.FLOAT, ['batch', 6]));
    g.node.push(constInts('shape', [0, 2, 3]), node('Reshape', ['x', 'shape'], ['y']));
    const r = inferModel(newModel(g, 13));
    expect(r.values.get('y')?.type?.shape).toEqual(['batch', 2, 3]);
  });
});

describe('small initializers in external data', () => {
  const tmp = useTempDir('infer-external');
  it('are read (and only they) when the caller passes smallTensorReader, so Reshape targets resolve', () => {
    const g = emptyGraph('m');
    g.input.push(makeValueInfo('x', DataType.FLOAT, ['batch', 6]));
    const target = new Uint8Array(BigInt64Array.from([0n, 2n, 3n]).buffer);
    fs.writeFileSync(path.join(tmp(), 'm.onnx.data'), target);
    g.initializer.push({
      ...int64Tensor('shape', [], [3]),
      rawData: undefined,
      dataLocation: 1,
      externalData: [
        { key: 'location', value: 'm.onnx.data' },
        { key: 'offset', value: '0' },
        { key: 'length', value: '24' },
      ],
    });
    // A big external weight whose data file does not exist: reading it would fail the test.
    g.initializer.push({ ...int64Tensor('w', [], [1000]), rawData: undefined, dataLocation: 1, externalData: [{ key: 'location', value: 'missing.data' }] });
    g.node.push(node('Reshape', ['x', 'shape'], ['y']), node('Gather', ['w', 'y'], ['z']));
    const model = newModel(g, 13);
    const without = inferModel(model);
    expect(without.values.get('y')?.type?.shape).toHaveLength(3);
    for (const v of ['y', 'z'])
      expect(describeStop(without.stopFor(v)!)).toBe(
        "inference stopped at node 'y' (op Reshape): the target shape (input 1, 'shape') is not known (not a constant or a shape computation)",
      );
    const r = inferModel(model, { readSmall: smallTensorReader(tmp()) });
    expect(r.values.get('y')?.type?.shape).toEqual(['batch', 2, 3]);
    expect(r.values.get('z')?.type?.shape).toEqual(['batch', 2, 3]);
    expect(r.stopFor('z')).toBeUndefined();
  });
});
