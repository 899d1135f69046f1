/** The PyTorch-exported SCA colour model in test/fixtures (made by scripts/make_fixtures.py) and its reference outputs. */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURE_MODEL = fileURLToPath(new URL('../fixtures/color_red.onnx', import.meta.url));
export const FIXTURE_LATENT = '/bottleneck/Div_output_0';

export interface FixtureExpected {
  cube: number[][];
  intact: number[][];
  suppressed: number[][];
  ablated: number[][];
  ablated_weights: number[][];
  latent: number[][];
  named_mse: Record<'intact' | 'ablated' | 'ablated_weights', Record<string, number>>;
  labelled_fraction: number;
  cube_mse_intact: number;
}

let cached: FixtureExpected | undefined;
export function fixtureExpected(): FixtureExpected {
  cached ??= JSON.parse(fs.readFileSync(FIXTURE_MODEL.replace(/\.onnx$/, '.expected.json'), 'utf8')) as FixtureExpected;
  return cached;
}
