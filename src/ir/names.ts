/**
 * Module paths in tensor names: torch.onnx writes the module into each name
 * (`/blocks.0/attn/MatMul_output_0` lives in module `/blocks.0/attn`). The
 * graph's "did you mean" for a module path and `inspect --tensors`'
 * grouping both read names this way; this module needs nothing else, so the
 * graph index can use it without importing the listing.
 */

/** The module part of a torch.onnx name: everything before its last '/'. */
export function modulePath(name: string): string {
  const cut = name.lastIndexOf('/');
  return cut > 0 ? name.slice(0, cut) : '';
}

/**
 * Tensors under a module named like `text` (`blocks.0`, `/blocks.0/attn`,
 * `blocks.0.attn`): for suggestions when `text` is a module, not a tensor.
 */
export function tensorsUnderModule(names: Iterable<string>, text: string): string[] {
  const key = text.replace(/^\/+|\/+$/g, '');
  if (!key) return [];
  const variants = new Set([key, key.replace(/\./g, '/')]);
  const hits: string[] = [];
  for (const name of names) {
    if (/\/Constant(_\d+)?_output_\d+$/.test(name)) continue;
    const segments = modulePath(name).split('/').filter(Boolean);
    const joined = segments.join('/');
    for (const v of variants) {
      if (joined === v || joined.startsWith(`${v}/`) || joined.endsWith(`/${v}`) || joined.includes(`/${v}/`)) {
        hits.push(name);
        break;
      }
    }
  }
  // The module's own outputs (the residual stream of a block) before those of its submodules.
  const depth = (n: string) => modulePath(n).split('/').length;
  return hits
    .map((n, i) => [n, i] as const)
    .sort((a, b) => depth(a[0]) - depth(b[0]) || a[1] - b[1])
    .map(([n]) => n);
}
