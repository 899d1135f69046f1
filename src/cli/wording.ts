/**
 * The library names options by their field names in backquotes (`mode`,
 * `strengthInput`); the CLI says its flags instead (--mode,
 * --strength-input). Field names whose flag differs are listed; the rest
 * become --kebab-case.
 */
const FLAGS: Record<string, string> = {
  directions: '--direction',
  taps: '--tap',
  patchedInputs: '--set',
  outDir: '--out',
  output: '--output',
};

export function flagFor(field: string): string {
  return FLAGS[field] ?? `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export function cliWording(message: string): string {
  return message.replace(/`([A-Za-z][A-Za-z0-9]*)`/g, (_, field: string) => flagFor(field));
}
