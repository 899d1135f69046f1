/**
 * Piecewise-linear schedules over training steps, given as keyframes
 * [position, value]. Positions are fractions of the run (0..1) so a schedule
 * scales with --steps; two keyframes at one position make a step.
 */
export type Keyframes = [position: number, value: number][];

export function scheduleValue(keys: Keyframes, step: number, steps: number): number {
  const t = steps <= 1 ? 1 : step / (steps - 1);
  if (t <= keys[0][0]) return keys[0][1];
  for (let i = 1; i < keys.length; i++) {
    const [p1, v1] = keys[i];
    if (t < p1 || (t === p1 && i === keys.length - 1)) {
      const [p0, v0] = keys[i - 1];
      return p1 === p0 ? v1 : v0 + ((t - p0) / (p1 - p0)) * (v1 - v0);
    }
  }
  return keys[keys.length - 1][1];
}

/** The paper's learning rate: 1e-8 to 0.01 in 10 steps (of 1500), up to 0.1 by mid-run, 0.05 at the end. */
export const PAPER_LEARNING_RATE: Keyframes = [[0, 1e-8], [10 / 1500, 0.01], [0.5, 0.1], [1, 0.05]];

/** Run 2.10.1's regularizer weights, all off for the last 10% of steps. */
export const PAPER_WEIGHTS = {
  anchor: [[0, 0.1], [0.9, 0.12], [0.9, 0], [1, 0]] as Keyframes,
  separate: [[0, 0.01], [0.9, 0.001], [0.9, 0], [1, 0]] as Keyframes,
  antiSubspace: [[0, 0.25], [0.9, 0.005], [0.9, 0], [1, 0]] as Keyframes,
};
