/**
 * The colour domain's data: the RGB cube (`color-cube[:N]`, N points per
 * axis) as a dataset for a model with one [batch, 3] input, each sample
 * labelled with its nearest named colour.
 */
import { UsageError } from '../../errors.js';
import { DataType } from '../../onnx/types.js';
import { float16Bits, type Dataset, type DatasetSource, type ModelInput } from '../../data/datasets.js';
import { colorCube, NAMED_COLORS, type Rgb } from './palette.js';

/** The named colour nearest to `c` in RGB. */
export function nearestColorName(c: Rgb): string {
  let best = '';
  let bestDistance = Infinity;
  for (const [name, rgb] of Object.entries(NAMED_COLORS)) {
    const d = (c[0] - rgb[0]) ** 2 + (c[1] - rgb[1]) ** 2 + (c[2] - rgb[2]) ** 2;
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

export function colorDataset(colors: Rgb[], inputs: ModelInput[], name: string): Dataset {
  if (inputs.length !== 1 || inputs[0].sampleShape.length !== 1 || (inputs[0].sampleShape[0] ?? 3) !== 3) {
    throw new UsageError(`\`data\` ${name}: the colour cube needs a model with one input of shape [batch, 3]`, 'BAD_DATA');
  }
  const input = inputs[0];
  if (input.elemType !== DataType.FLOAT && input.elemType !== DataType.FLOAT16) {
    throw new UsageError(`\`data\` ${name}: input '${input.name}' must be float32 or float16 for the colour cube`, 'BAD_DATA');
  }
  const half = input.elemType === DataType.FLOAT16;
  const values = colors.flat();
  return {
    name,
    samples: colors.length,
    inputs: {
      [input.name]: half
        ? { type: 'float16', sampleShape: [3], data: float16Bits(values) }
        : { type: 'float32', sampleShape: [3], data: Float32Array.from(values) },
    },
    groups: colors.map(nearestColorName),
    colors,
  };
}

export const colorCubeSource: DatasetSource = {
  syntax: 'color-cube[:N]',
  load(spec, inputs) {
    const cube = /^color-cube(?::(\d+))?$/.exec(spec);
    if (!cube) return undefined;
    const n = cube[1] ? Number(cube[1]) : 8;
    if (n < 1 || n > 64) throw new UsageError(`\`data\` ${spec}: the cube size must be 1 to 64 points per axis`, 'BAD_DATA');
    return colorDataset(colorCube(n), inputs, `color-cube:${n}`);
  },
};
