/**
 * A mistake in what the user gave us (a file, a tensor name, an option).
 * The CLI prints its message as one line and exits with code 2; anything
 * else that escapes is a bug and keeps its stack trace.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Up to `max` names from `candidates` closest to `name`, for "did you mean" hints. */
export function closeNames(name: string, candidates: Iterable<string>, max = 3): string[] {
  const scored: [number, string][] = [];
  for (const c of candidates) scored.push([editDistance(name.toLowerCase(), c.toLowerCase()), c]);
  scored.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
  const limit = Math.max(3, Math.ceil(name.length * 0.6));
  return scored.filter(([d]) => d <= limit).slice(0, max).map(([, c]) => c);
}

export function didYouMean(name: string, candidates: Iterable<string>): string {
  const close = closeNames(name, candidates);
  return close.length ? ` (did you mean ${close.map((c) => `'${c}'`).join(', ')}?)` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
