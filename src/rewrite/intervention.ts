/**
 * What an intervention is, once resolved against a model: where it acts (a
 * target: tensor, axis, and a basis or dims of that axis) kept apart from
 * what it does (mode, strength, projection).
 */
export const MODES = ['suppress', 'amplify', 'steer', 'clamp'] as const;
export type Mode = (typeof MODES)[number];

/**
 * How suppression removes a direction's component:
 * - `half`: the paper's one-sided projection, only where z.a > 0 (the
 *   falloff gate at its defaults), so samples pointing away are untouched;
 * - `full`: the linear projection z - (z.a) a that concept erasure and
 *   abliteration use.
 */
export const PROJECTIONS = ['half', 'full'] as const;
export type Projection = (typeof PROJECTIONS)[number];

/** The paper's bounded falloff gate g(s) = b * ((s - t) / (1 - t))^p for alignment s > t, else 0. */
export interface Falloff {
  threshold: number;
  strength: number;
  power: number;
}

export type Basis =
  /** Orthonormal rows spanning the anchored subspace (one row: a direction). */
  | { kind: 'subspace'; basis: number[][] }
  /** Axis-aligned: indices along the target axis. */
  | { kind: 'dims'; dims: number[] };

/** Where an intervention acts: a tensor, one of its axes, and a basis or dims of that axis. */
export type Target = Basis & {
  tensor: string;
  /** Non-negative axis index. */
  axis: number;
  rank: number;
  /** Length of the axis. */
  width: number;
};

export interface Intervention {
  mode: Mode;
  target: Target;
  /** suppress: the gate's b (1 removes the component); amplify: S in 1+S; steer: S in +S*a; clamp: the value S. */
  strength: number;
  /** suppress along one direction: which projection. */
  projection?: Projection;
  /** suppress along one direction with the half projection. */
  falloff?: Falloff;
  /** Name of a float32 scalar graph input that sets the strength at run time (required, unless `strengthInputOptional`). */
  strengthInput?: string;
  /** The strength input keeps the strength as its default (an initializer behind the input) instead of being required. */
  strengthInputOptional?: boolean;
}

export const DEFAULT_FALLOFF: Falloff = { threshold: 0, strength: 1, power: 0 };

/** The strengths each mode accepts, with what they mean (checked before any edit). */
export const STRENGTH_RANGE: Record<Mode, { min: number; max: number; meaning: string }> = {
  suppress: { min: 0, max: 1, meaning: 'the share of the component removed' },
  amplify: { min: 0, max: Infinity, meaning: 'the component is scaled by 1+S; a smaller scale is a suppression' },
  steer: { min: -Infinity, max: Infinity, meaning: 'S times the direction is added' },
  clamp: { min: -Infinity, max: Infinity, meaning: 'the component is set to S' },
};

/** What one applied patch did: where, how, and the nodes it added. */
export interface AppliedPatch {
  tensor: string;
  concept?: string;
  axis: number;
  intervention: Intervention;
  /** Prefix of every node and initializer added. */
  prefix: string;
  nodes: number;
  /** The tensor the nodes were spliced in after, when not `tensor` (the dequantized value of a quantized activation). */
  actsOn?: string;
  /** Nodes a fused op was split into so the patch reaches every reader of the value. */
  split?: string[];
  /** What was placed differently from a plain splice after `tensor`, and why. */
  notes?: string[];
  /** For a fold into quantized weights: the error requantizing each added, against the unquantized update. */
  requantized?: { weight: string; format: string; maxError: number; rmsError: number }[];
  /** For a value inside nested graphs (both branches of a merged decoder's If): each graph patched, with its nodes' prefix. */
  places?: { scope: string; prefix: string }[];
}
