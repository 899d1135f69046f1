import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { layoutOf } from '../../src/ir/layout.js';
import { IrModel } from '../../src/ir/model.js';
import { removeIfUnused, sortTopologically, topologicalOrder, validate } from '../../src/ir/passes.js';
import { emptyGraph } from '../../src/onnx/build.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { AttributeType, DataType, type GraphProto, type NodeProto } from '../../src/onnx/types.js';
import { ablateDims } from '../../src/rewrite/ablation.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { gemmAutoencoder, model, node, weight } from '../helpers/graphs.js';

function graphAttr(name: string, g: GraphProto) {
  return { name, type: AttributeType.GRAPH, g, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
}

/** x -> Gemm -> `z` -> Gemm -> y, and an If whose then-branch reads `z` from the outer scope (its else-branch defines its own `z`). */
function modelWithIf() {
  const thenBranch: GraphProto = { ...emptyGraph('then'), node: [node('Relu', ['z'], ['t_out'])], output: [makeValueInfo('t_out', DataType.FLOAT, ['N', 4])] };
  const elseBranch: GraphProto = {
    ...emptyGraph('else'),
    node: [node('Identity', ['x'], ['z']), node('Neg', ['z'], ['e_out'])],
    output: [makeValueInfo('e_out', DataType.FLOAT, ['N', 4])],
  };
  const ifNode: NodeProto = { ...node('If', ['cond'], ['branch']), attribute: [graphAttr('then_branch', thenBranch), graphAttr('else_branch', elseBranch)] };
  return model({
    node: [node('Gemm', ['x', 'w0', 'b0'], ['z']), node('Gemm', ['z', 'w1'], ['y']), ifNode],
    initializer: [weight('w0', [4, 4], 1), weight('b0', [4], 2), weight('w1', [4, 3], 3)],
    input: [makeValueInfo('x', DataType.FLOAT, ['N', 4]), makeValueInfo('cond', DataType.BOOL, [])],
    output: [makeValueInfo('y', DataType.FLOAT, ['N', 3]), makeValueInfo('branch', DataType.FLOAT, ['N', 4])],
    valueInfo: [makeValueInfo('z', DataType.FLOAT, ['N', 4])],
  });
}

describe('def-use', () => {
  it('producer, uses, value info and topological order', () => {
    const g = new Graph(gemmAutoencoder().proto.graph!);
    expect(g.producer('latent')!.input).toEqual(['a0', 'w1', 'b1']);
    expect(g.consumers('latent').map((n) => n.output[0])).toEqual(['h2']);
    expect(g.uses('latent')).toMatchObject([{ index: 0 }]);
    expect(g.initializer('w1')!.dims).toEqual([5, 8]);
    expect(g.isRequiredInput('x')).toBe(true);
    expect(g.isOutput('out')).toBe(true);
    const reversed = new Graph({ ...g.proto, node: [...g.proto.node].reverse() });
    expect(topologicalOrder(reversed).map((n) => n.output[0])).toEqual(['h0', 'a0', 'latent', 'h2', 'a2', 'out']);
  });

  it('sees a read inside an If branch as a use of the If node, and a branch that defines its own name shadows it', () => {
    const m = modelWithIf();
    const g = new Graph(m.proto.graph!);
    const uses = g.uses('z');
    expect(uses.map((u) => [u.node.opType, u.index])).toEqual([
      ['Gemm', 0],
      ['If', -1],
    ]);
    const [thenBranch, elseBranch] = g.subgraphs(g.producer('branch')!);
    expect([...thenBranch.freeNames()]).toEqual(['z']);
    expect([...elseBranch.freeNames()]).toEqual(['x']);
    g.redirectUses('z', 'z2');
    expect(thenBranch.proto.node[0].input).toEqual(['z2']);
    expect(elseBranch.proto.node[1].input).toEqual(['z']); // shadowed: the branch's own z
  });

  it('orders a node after the producers its subgraphs read', () => {
    const m = modelWithIf();
    const g = new Graph(m.proto.graph!);
    g.proto.node.reverse();
    g.invalidate();
    sortTopologically(g);
    expect(g.nodes.map((n) => n.opType)).toEqual(['Gemm', 'If', 'Gemm']);
    expect(validate(g)).toEqual([]);
  });

  it('validation names reads of undefined values, double definitions and cycles', () => {
    const g = new Graph({
      ...emptyGraph('bad'),
      node: [node('Relu', ['a'], ['b']), node('Relu', ['b'], ['a']), node('Relu', ['nowhere'], ['b'])],
      output: [makeValueInfo('b', DataType.FLOAT)],
    });
    const problems = validate(g).join('\n');
    expect(problems).toMatch(/'b' is defined twice/);
    expect(problems).toMatch(/reads 'nowhere', which nothing defines/);
    const cyclic = new Graph({ ...emptyGraph('cyclic'), node: [node('Relu', ['a'], ['b']), node('Relu', ['b'], ['a'])] });
    expect(validate(cyclic).join('\n')).toMatch(/cycle through node 'b'/);
  });

  it('constants come from initializers and Constant nodes, but not from overridable inputs', () => {
    const constNode: NodeProto = {
      ...node('Constant', [], ['k']),
      attribute: [
        { name: 'value', type: AttributeType.TENSOR, t: makeTensor('', DataType.FLOAT, [], [2]), floats: [], ints: [], strings: [], tensors: [], graphs: [] },
      ],
    };
    const g = new Graph({
      ...emptyGraph('c'),
      node: [constNode, node('Mul', ['x', 'k'], ['y'])],
      initializer: [makeTensor('w', DataType.FLOAT, [], [3]), makeTensor('s', DataType.FLOAT, [], [1])],
      input: [makeValueInfo('x', DataType.FLOAT, ['N']), makeValueInfo('s', DataType.FLOAT, [])],
    });
    expect(g.constantTensor('k')?.dims).toEqual([]);
    expect(g.constantTensor('w')).toBeDefined();
    expect(g.constantTensor('s')).toBeUndefined();
    expect(g.constantTensor('y')).toBeUndefined();
  });

  it('cleanup removes only the orphans it is handed', () => {
    const m = gemmAutoencoder();
    m.proto.graph!.initializer.push(makeTensor('unused_in_input', DataType.FLOAT, [1], [0]), makeTensor('orphan', DataType.FLOAT, [1], [0]));
    const g = new Graph(m.proto.graph!);
    expect(removeIfUnused(g, ['orphan', 'w1'])).toEqual(['orphan']);
    expect(g.initializer('unused_in_input')).toBeDefined();
    expect(g.initializer('w1')).toBeDefined();
  });
});

describe('layout', () => {
  it('channel-first after Conv and elementwise ops, channel-last after Gemm, unknown for graph inputs', () => {
    const m = model({
      node: [
        node('Conv', ['x', 'k'], ['c']),
        node('Relu', ['c'], ['r']),
        node('Add', ['r', 'x'], ['s']),
        node('Flatten', ['s'], ['f']),
        node('Gemm', ['f', 'w'], ['g']),
      ],
      initializer: [weight('k', [2, 2, 1, 1], 1), weight('w', [8, 3], 2)],
      input: [makeValueInfo('x', DataType.FLOAT, [1, 2, 2, 2])],
      output: [makeValueInfo('g', DataType.FLOAT, [1, 3])],
    });
    const g = new Graph(m.proto.graph!);
    expect(layoutOf(g, 'r')).toBe('channel-first');
    expect(layoutOf(g, 's')).toBe('channel-first');
    expect(layoutOf(g, 'f')).toBe('unknown');
    expect(layoutOf(g, 'g')).toBe('channel-last');
    expect(layoutOf(g, 'x')).toBe('unknown');
  });
});

describe('rewrites through control flow', () => {
  it('ablation refuses weights whose tensor an If branch also reads, naming the node', () => {
    const m = modelWithIf();
    m.proto.graph!.node[0].attribute.push({ name: 'transB', type: AttributeType.INT, i: 1, floats: [], ints: [], strings: [], tensors: [], graphs: [] });
    expect(() => ablateDims(m, 'z', [1], { prune: true })).toThrow(/node 'branch' \(If\) reads it inside its subgraph/);
  });

  it('an inserted patch is seen by the If branch too', () => {
    const m = modelWithIf();
    patchModel(m, [{ tensor: 'z', mode: 'suppress', dims: [0] }]);
    const g = new IrModel(m).graph;
    const thenBranch = g.subgraphs(g.producer('branch')!)[0];
    // The producer's output was renamed, so the branch's read of `z` now sees the patched value.
    expect(thenBranch.proto.node[0].input).toEqual(['z']);
    expect(g.producer('z')!.name).toMatch(/^sca\/suppress_0\//);
    expect(validate(g)).toEqual([]);
  });
});
