/**
 * How good a trained colour model is, by the paper's criteria:
 * reconstruction over the 351-point validation set, how far red's latent
 * sits from the anchor, and the selectivity of the intervention the preset
 * is judged by (suppression p = 2, ablation p = 3) over the 8x8x8 grid.
 */
import { colorMse, hsvSimilarity, NAMED_COLORS, selectivity, SELECTIVITY_GRID, SELECTIVITY_POWER, type Rgb } from '../domains/color/palette.js';
import { colorCube, redness, validationColors } from './data.js';
import { infer, type LatentEdit, type Network } from './network.js';
import type { Preset } from './presets.js';
import { anchorDirection, RED_ANCHOR } from './trainer.js';

export interface NamedColorMse {
  name: string;
  baseline: number;
  suppression: number;
  ablation: number;
  /** Under the follow-up's edits that send red to the fallback direction -e0 (see `fallbackEdit`). */
  reflect: number;
  redirect: number;
}

export interface SeedQuality {
  /** Mean clamped reconstruction MSE over the validation set. */
  valRecon: number;
  /**
   * Anchor loss on the validation set as the authors measure it: their
   * validation labels are exact (redness == 1), so only pure red counts:
   * 1 - z.a of (1, 0, 0). (Their PyTorch logs average it over validation
   * batches, a constant factor that changes no Pareto front; their health
   * thresholds are in these units.)
   */
  valAnchor: number;
  /** Mean |z_0| over the grid colours "unlike red" as the authors define them: similarity^3 < 0.01 (337 of the 512). */
  leak: number;
  /** Selectivity of the preset's intervention (its score). */
  score: number | null;
  suppression: number | null;
  ablation: number | null;
  /**
   * Selectivity (p = 3) of the follow-up's reflect and redirect edits: the
   * interventions the authors pair with the fallback term (their claim that
   * red's damage is pinned near 1/4 is made under these, not under zeroing).
   */
  reflect: number | null;
  redirect: number | null;
  /** The authors' health verdict (models with a reserved dim only): catastrophic, degraded or ok. */
  health: 'ok' | 'degraded' | 'catastrophic' | null;
  named: NamedColorMse[];
}

const flat = (colors: Rgb[]): Float64Array => Float64Array.from(colors.flat());

function perColorMse(colors: Rgb[], out: Float64Array): number[] {
  return colors.map((c, i) => colorMse(c, out.subarray(3 * i, 3 * i + 3)));
}

/** The authors' "others" for leak and collateral damage: similarity to red cubed below 0.01. */
export function isUnlikeRed(c: Rgb): boolean {
  return hsvSimilarity(c) ** 3 < 0.01;
}

export function editFor(intervention: 'suppression' | 'ablation', latent: number): LatentEdit {
  return intervention === 'suppression' ? { kind: 'suppress', direction: anchorDirection(latent) } : { kind: 'ablate', dims: [...RED_ANCHOR.dims] };
}

/** The follow-up's redirect: encoder row 0 zeroed and its bias set to -gamma, gamma = 1 as the authors fix it. */
export const REDIRECT_GAMMA = 1;

/** The follow-up's edits that send red to -e0, where the fallback term pins the decoder to mid-grey. */
export function fallbackEdit(kind: 'reflect' | 'redirect'): LatentEdit {
  return kind === 'reflect' ? { kind, dims: [...RED_ANCHOR.dims] } : { kind, dims: [...RED_ANCHOR.dims], bias: -REDIRECT_GAMMA };
}

function editSelectivity(net: Network, params: Float64Array, edit: LatentEdit, power: number): number | null {
  const cube = colorCube(SELECTIVITY_GRID);
  const errors = perColorMse(cube, infer(net, params, flat(cube), edit).out);
  return selectivity(cube, errors, power) ?? null;
}

/** Selectivity of one intervention on an n^3 grid (SCA.md: 8, the notebooks also print 20). */
export function interventionSelectivity(
  net: Network,
  params: Float64Array,
  intervention: 'suppression' | 'ablation',
  grid = SELECTIVITY_GRID,
  power: number = SELECTIVITY_POWER[intervention],
): number | null {
  const cube = colorCube(grid);
  const errors = perColorMse(cube, infer(net, params, flat(cube), editFor(intervention, net.architecture.latent)).out);
  return selectivity(cube, errors, power) ?? null;
}

export function evaluateSeed(net: Network, params: Float64Array, preset: Preset): SeedQuality {
  const latent = net.architecture.latent;
  const validation = validationColors();
  const val = infer(net, params, flat(validation));
  const valErrors = perColorMse(validation, val.out);
  const pureRed = validation.findIndex((c) => redness(c) === 1);

  const cube = colorCube(SELECTIVITY_GRID);
  const cubeZ = infer(net, params, flat(cube)).z;
  let leak = 0;
  let far = 0;
  cube.forEach((c, i) => {
    if (!isUnlikeRed(c)) return;
    leak += Math.abs(cubeZ[i * latent]);
    far++;
  });
  leak /= far;

  const suppression = interventionSelectivity(net, params, 'suppression');
  const ablation = interventionSelectivity(net, params, 'ablation');
  const reflect = editSelectivity(net, params, fallbackEdit('reflect'), SELECTIVITY_POWER.ablation);
  const redirect = editSelectivity(net, params, fallbackEdit('redirect'), SELECTIVITY_POWER.ablation);
  const valRecon = valErrors.reduce((s, v) => s + v, 0) / valErrors.length;
  const valAnchor = 1 - val.z[pureRed * latent];
  const reserved = preset.intervention === 'ablation';
  const health = !reserved ? null : valAnchor > 0.3 || valRecon > 0.01 || leak > 0.3 ? 'catastrophic' : leak > 0.1 ? 'degraded' : 'ok';

  const names = Object.keys(NAMED_COLORS);
  const named = flat(names.map((n) => NAMED_COLORS[n]));
  const mses = (edit: LatentEdit) =>
    perColorMse(
      names.map((n) => NAMED_COLORS[n]),
      infer(net, params, named, edit).out,
    );
  const base = mses({ kind: 'none' });
  const sup = mses(editFor('suppression', latent));
  const abl = mses(editFor('ablation', latent));
  const refl = mses(fallbackEdit('reflect'));
  const redir = mses(fallbackEdit('redirect'));
  return {
    valRecon,
    valAnchor,
    leak,
    score: preset.intervention === 'suppression' ? suppression : ablation,
    suppression,
    ablation,
    reflect,
    redirect,
    health,
    named: names.map((name, i) => ({ name, baseline: base[i], suppression: sup[i], ablation: abl[i], reflect: refl[i], redirect: redir[i] })),
  };
}
