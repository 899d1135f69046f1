/** Runs the CLI in-process, capturing what it prints and its exit code. */
import { main } from '../../src/cli.js';

export async function sca(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}
