/**
 * The library names options by their field names, in backquotes anywhere in
 * a message (`mode`, `strengthInput`) or as the message's leading subject
 * ("mode: expected one of ..."); the CLI says its flags instead (--mode,
 * --strength-input). Field names whose flag differs are listed; the rest
 * become --kebab-case.
 */
const FLAGS: Record<string, string> = {
  directions: '--direction',
  taps: '--tap',
  patchedInputs: '--set',
  outDir: '--out',
  output: '--output',
  variants: '--variant',
};

export function flagFor(field: string): string {
  return FLAGS[field] ?? `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Fields a library message may open with ("dims: the list is empty"). */
const LEADING_FIELDS = new Set([
  'mode',
  'dims',
  'directions',
  'direction',
  'falloff',
  'projection',
  'axis',
  'strength',
  'strengthInput',
  'tensor',
  'concept',
  'data',
  'groups',
  'device',
  'outDir',
]);

export function cliWording(message: string): string {
  const lead = /^([a-z][A-Za-z]*):/.exec(message);
  const opened = lead && LEADING_FIELDS.has(lead[1]) ? `${flagFor(lead[1])}${message.slice(lead[1].length)}` : message;
  return opened.replace(/`([A-Za-z][A-Za-z0-9]*)`/g, (_, field: string) => flagFor(field));
}
