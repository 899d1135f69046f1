/**
 * What an intervention is, once resolved against a model: a mode, the part of
 * the tensor's last axis it acts on, and its strength.
 */
export const MODES = ['suppress', 'amplify', 'steer', 'clamp'] as const;
export type Mode = (typeof MODES)[number];

/** The paper's bounded falloff gate g(s) = b * ((s - t) / (1 - t))^p for alignment s > t, else 0. */
export interface Falloff {
  threshold: number;
  strength: number;
  power: number;
}

export type Target =
  /** Orthonormal rows spanning the anchored subspace (one row: a direction). */
  | { kind: 'subspace'; basis: number[][] }
  /** Axis-aligned: indices of the last axis. */
  | { kind: 'dims'; dims: number[] };

export interface Intervention {
  mode: Mode;
  target: Target;
  /** suppress: the gate's b (1 removes the component); amplify: S in 1+S; steer: S in +S*a; clamp: the value S. */
  strength: number;
  /** suppress along one direction only. */
  falloff?: Falloff;
  /** Name of an optional float32 graph input that overrides `strength` at run time. */
  strengthInput?: string;
}

export const DEFAULT_FALLOFF: Falloff = { threshold: 0, strength: 1, power: 0 };
