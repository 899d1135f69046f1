/**
 * Writes a trained colour autoencoder as ONNX through the project's own
 * writer, with named tensors (`input`, `bottleneck` = the normalised latent,
 * `output`) and the anchors manifest, then checks that onnxruntime computes
 * what the trainer computed.
 */
import { writeAnchors } from '../anchors/manifest.js';
import { UsageError } from '../errors.js';
import { openSession, ort } from '../runtime/session.js';
import { attrInt, attrInts, emptyGraph, newModel, node } from '../onnx/build.js';
import { makeValueInfo } from '../onnx/graph.js';
import { serializeModel, type Model } from '../onnx/model.js';
import { makeTensor } from '../onnx/tensor.js';
import { DataType, type GraphProto } from '../onnx/types.js';
import type { Anchor } from '../anchors/manifest.js';
import { colorCube } from './data.js';
import { infer, NORM_EPSILON, type Layer, type Network } from './network.js';

export const EXPORT_OPSET = 17;
export const LATENT_TENSOR = 'bottleneck';

function scalar(graph: GraphProto, name: string, value: number): string {
  graph.initializer.push(makeTensor(name, DataType.FLOAT, [], [value]));
  return name;
}

/** Gemm (weights stored [in, out], as the trainer keeps them) then GELU as torch.onnx writes it: x * (1 + erf(x / sqrt2)) * 0.5. */
function addLinear(graph: GraphProto, params: Float64Array, layer: Layer, input: string, activation: boolean, output?: string): string {
  const { inDim: fanIn, outDim: out } = layer;
  graph.initializer.push(
    makeTensor(`${layer.name}.weight`, DataType.FLOAT, [fanIn, out], Float32Array.from(params.subarray(layer.weight, layer.weight + fanIn * out))),
  );
  graph.initializer.push(makeTensor(`${layer.name}.bias`, DataType.FLOAT, [out], Float32Array.from(params.subarray(layer.bias, layer.bias + out))));
  const gemm = activation || !output ? `/${layer.name}/Gemm_output_0` : output;
  graph.node.push(node('Gemm', [input, `${layer.name}.weight`, `${layer.name}.bias`], [gemm], [], `/${layer.name}/Gemm`));
  if (!activation) return gemm;
  const p = `/${layer.name}/gelu`;
  graph.node.push(
    node('Div', [gemm, 'const.sqrt2'], [`${p}/Div_output_0`]),
    node('Erf', [`${p}/Div_output_0`], [`${p}/Erf_output_0`]),
    node('Add', [`${p}/Erf_output_0`, 'const.one'], [`${p}/Add_output_0`]),
    node('Mul', [gemm, `${p}/Add_output_0`], [`${p}/Mul_output_0`]),
    node('Mul', [`${p}/Mul_output_0`, 'const.half'], [`${p}/Mul_1_output_0`]),
  );
  return `${p}/Mul_1_output_0`;
}

export function buildColorOnnx(net: Network, params: Float64Array, anchors: Anchor[], metadata: Record<string, unknown> = {}): Model {
  const { latent } = net.architecture;
  const graph = emptyGraph('sca_color_autoencoder');
  scalar(graph, 'const.sqrt2', Math.SQRT2);
  scalar(graph, 'const.one', 1);
  scalar(graph, 'const.half', 0.5);
  scalar(graph, 'const.eps', NORM_EPSILON);
  scalar(graph, 'const.zero', 0);
  graph.input.push(makeValueInfo('input', DataType.FLOAT, ['batch', 3]));
  let h = 'input';
  net.encoder.forEach((l, i) => (h = addLinear(graph, params, l, h, i < net.encoder.length - 1)));
  // L2 normalisation onto the unit sphere: z / max(|z|, eps).
  graph.node.push(
    node('ReduceL2', [h], ['/bottleneck/norm'], [attrInts('axes', [-1]), attrInt('keepdims', 1)], '/bottleneck/ReduceL2'),
    node('Max', ['/bottleneck/norm', 'const.eps'], ['/bottleneck/norm_clamped'], [], '/bottleneck/Max'),
    node('Div', [h, '/bottleneck/norm_clamped'], [LATENT_TENSOR], [], '/bottleneck/Div'),
  );
  graph.valueInfo.push(makeValueInfo(LATENT_TENSOR, DataType.FLOAT, ['batch', latent]));
  h = LATENT_TENSOR;
  net.decoder.forEach((l, i) => (h = addLinear(graph, params, l, h, i < net.decoder.length - 1)));
  graph.node.push(node('Clip', [h, 'const.zero', 'const.one'], ['output'], [], '/Clip'));
  graph.output.push(makeValueInfo('output', DataType.FLOAT, ['batch', 3]));

  const proto = newModel(graph, EXPORT_OPSET);
  proto.producerVersion = '0.1.0';
  proto.docString = `Colour autoencoder trained with Sparse Concept Anchoring (K=${latent}; ${anchors.map((a) => a.concept).join(', ')} anchored).`;
  writeAnchors(proto, anchors);
  for (const [key, value] of Object.entries(metadata)) proto.metadataProps.push({ key, value: JSON.stringify(value) });
  return { proto, baseDir: process.cwd() };
}

/** Largest |onnxruntime - trainer| of the clamped output over the 8x8x8 cube; export fails above 1e-5. */
export async function checkExport(net: Network, params: Float64Array, exported: Model): Promise<number> {
  const cube = colorCube(8);
  const expected = infer(net, params, Float64Array.from(cube.flat())).out.map((v) => Math.min(Math.max(v, 0), 1));
  const session = await openSession(serializeModel(exported.proto));
  try {
    const result = await session.run({ input: new ort.Tensor('float32', Float32Array.from(cube.flat()), [cube.length, 3]) });
    const got = result.output.data as Float32Array;
    let diff = 0;
    for (let i = 0; i < got.length; i++) diff = Math.max(diff, Math.abs(got[i] - expected[i]));
    if (!(diff < 1e-5)) throw new UsageError(`exported model differs from the trained one by ${diff} (over 1e-5)`);
    return diff;
  } finally {
    await session.release();
  }
}
