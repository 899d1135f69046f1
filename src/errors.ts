/**
 * What a library caller can tell apart. `BAD_INPUT` covers a mistake in what
 * was given (a value, a file's contents); the others narrow it down.
 */
export type ScaErrorCode =
  | 'BAD_INPUT' // a value or option out of range, or a combination that makes no sense
  | 'NOT_FOUND' // a file, tensor, concept or anchor that is not there
  | 'BAD_MODEL' // a file that is not a valid or supported ONNX model
  | 'BAD_DATA' // input data or groups that do not fit the model
  | 'BAD_SPEC' // a check spec or plan that is malformed
  | 'REFUSED' // an edit that would not be provably sound (the message names the node)
  | 'CANNOT_WRITE' // the output could not be written: a full disk, a read-only or missing folder, a folder where a file goes
  | 'NO_CUDA'; // --device cuda without onnxruntime's CUDA provider installed

/**
 * The one error type the library throws for anything the caller can fix.
 * Messages name the file, tensor or option at fault; options are written as
 * the library's field names in backquotes (`mode`, `strengthInput`), which the
 * CLI turns into its flags (--mode, --strength-input). Anything else that
 * escapes is a bug and keeps its stack trace.
 */
export class ScaError extends Error {
  override readonly name: string = 'ScaError';

  constructor(
    message: string,
    readonly code: ScaErrorCode = 'BAD_INPUT',
  ) {
    super(message);
  }
}

/**
 * A mistake in what the user gave us (a file, a tensor name, an option):
 * a ScaError, code BAD_INPUT unless given. The CLI prints its message as
 * one line and exits with code 2.
 */
export class UsageError extends ScaError {
  override readonly name: string = 'UsageError';
}

/** Up to `max` names from `candidates` closest to `name`, for "did you mean" hints. */
export function closeNames(name: string, candidates: Iterable<string>, max = 3): string[] {
  const scored: [number, string][] = [];
  for (const c of candidates) scored.push([editDistance(name.toLowerCase(), c.toLowerCase()), c]);
  scored.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
  const limit = Math.max(3, Math.ceil(name.length * 0.6));
  return scored
    .filter(([d]) => d <= limit)
    .slice(0, max)
    .map(([, c]) => c);
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
