/**
 * A regularizer on the batch of normalised latents z ([rows, k], flattened):
 * it returns its value and adds weight * d(value)/dz into `grad`.
 */
export interface Latents {
  z: Float64Array;
  rows: number;
  k: number;
  /** Per-sample labels, 1 or 0. */
  red: Float64Array;
  vibrant: Float64Array;
}

export type Regularizer = (batch: Latents, grad: Float64Array, weight: number) => number;

/** Added to a label count so a batch without labels divides by a tiny number and contributes 0. */
export const LABEL_EPSILON = 1e-8;
