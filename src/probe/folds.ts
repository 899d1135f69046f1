/**
 * Seeded, stratified k-fold split: each class is shuffled and dealt round
 * the folds, so every fold keeps the class balance and a seed gives the same
 * split every time.
 */
import { UsageError } from '../errors.js';
import { Random } from '../maths/random.js';

export function stratifiedFolds(labels: ArrayLike<number>, classes: number, k: number, seed: number): number[][] {
  if (!Number.isInteger(k) || k < 2) throw new UsageError(`--folds: ${k} must be a whole number of at least 2`);
  const random = new Random(seed);
  const folds: number[][] = Array.from({ length: k }, () => []);
  let next = 0;
  for (let c = 0; c < classes; c++) {
    const members: number[] = [];
    for (let i = 0; i < labels.length; i++) if (labels[i] === c) members.push(i);
    for (let i = members.length - 1; i > 0; i--) {
      const j = random.int(i + 1);
      [members[i], members[j]] = [members[j], members[i]];
    }
    for (const m of members) folds[next++ % k].push(m);
  }
  return folds.map((f) => f.sort((a, b) => a - b));
}
