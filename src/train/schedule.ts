/**
 * The authors' schedules: keyframes [step, value] joined by minimum-jerk
 * curves, v0 + (v1 - v0)(10u^3 - 15u^4 + 6u^5) with u = (t - t0)/(t1 - t0).
 * Before its first key a column holds its first value, after its last key
 * its last value.
 */
export type Keyframes = readonly (readonly [step: number, value: number])[];

export function minimumJerk(u: number): number {
  return u * u * u * (10 - 15 * u + 6 * u * u);
}

export function scheduleValue(keys: Keyframes, step: number): number {
  if (step <= keys[0][0]) return keys[0][1];
  for (let i = 1; i < keys.length; i++) {
    const [t1, v1] = keys[i];
    if (step <= t1) {
      const [t0, v0] = keys[i - 1];
      return v0 + (v1 - v0) * minimumJerk((step - t0) / (t1 - t0));
    }
  }
  return keys[keys.length - 1][1];
}
