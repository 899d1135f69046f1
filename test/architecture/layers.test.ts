/**
 * The layer order of src/, written down once: each folder imports only from
 * folders below it (and from itself), and no folder-level circle exists.
 * The order, lowest first, is DESIGN's: small shared code, the codec, the
 * graph IR, what is known per op, weight kernels, the concept manifest,
 * rewrites, the runtime, data sources, probes, evaluation, domain plug-ins,
 * training, the verbs, the library surface, the CLI.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

export const LAYERS = [
  'errors.ts',
  'util',
  'maths',
  'onnx',
  'ir',
  'ops',
  'weights',
  'anchors',
  'rewrite',
  'runtime',
  'data',
  'probe',
  'eval',
  'domains',
  'train',
  'api',
  'index.ts',
  'cli',
  'cli.ts',
];

/**
 * Upward imports still to be removed, each with why it is here: the colour
 * dataset lives in eval/ until the colour domain plug-in (issue 19, item 4)
 * moves it to domains/color/ behind a dataset hook. This list may only shrink.
 */
const PENDING: string[] = [];

const SRC = path.join(path.dirname(decodeURIComponent(new URL(import.meta.url).pathname)), '..', '..', 'src');

export interface Edge {
  from: string;
  to: string;
}

/** Every relative import between modules of `root`, as paths relative to it. */
export function importGraph(root: string): Edge[] {
  const files = (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  const edges: Edge[] = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const to = path.posix.normalize(path.posix.join(path.posix.dirname(file.split(path.sep).join('/')), m[1])).replace(/\.js$/, '.ts');
      edges.push({ from: file.split(path.sep).join('/'), to });
    }
  }
  return edges;
}

export const layerOf = (file: string): number => LAYERS.indexOf(file.split('/')[0]);

export function upwardImports(edges: Edge[]): string[] {
  return edges.filter((e) => layerOf(e.to) > layerOf(e.from)).map((e) => `${e.from} -> ${e.to}`);
}

/** Folder-level circles: folders that reach each other through imports. */
export function circles(edges: Edge[]): string[] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    const [a, b] = [e.from.split('/')[0], e.to.split('/')[0]];
    if (a !== b) next.set(a, (next.get(a) ?? new Set()).add(b));
  }
  const reach = (from: string): Set<string> => {
    const seen = new Set<string>();
    const stack = [...(next.get(from) ?? [])];
    while (stack.length) {
      const n = stack.pop()!;
      if (seen.has(n)) continue;
      seen.add(n);
      stack.push(...(next.get(n) ?? []));
    }
    return seen;
  };
  const found: string[] = [];
  for (const a of next.keys()) for (const b of reach(a)) if (a < b && reach(b).has(a)) found.push(`${a} <-> ${b}`);
  return found;
}

/** Groups of modules that import each other, directly or round a loop (Tarjan's strongly connected components). */
export function fileCircles(edges: Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1) found.push(group.sort());
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('layering of src/', () => {
  const edges = importGraph(SRC);

  it('every top-level folder and file of src/ has a layer', () => {
    const tops = new Set((fs.readdirSync(SRC) as string[]).filter((f) => f.endsWith('.ts') || fs.statSync(path.join(SRC, f)).isDirectory()));
    expect([...tops].filter((t) => !LAYERS.includes(t))).toEqual([]);
  });

  it('imports only go down, apart from the listed pending ones', () => {
    expect(upwardImports(edges)).toEqual(PENDING);
  });

  it('has no folder-level circle, once the pending imports are left out', () => {
    expect(circles(edges.filter((e) => !PENDING.includes(`${e.from} -> ${e.to}`)))).toEqual([]);
  });

  it('has no circle between modules either, type-only imports included', () => {
    expect(fileCircles(edges)).toEqual([]);
  });

  it('the checks catch an upward import and the circle it makes', () => {
    const added = [...edges, { from: 'ir/graph.ts', to: 'rewrite/patch.ts' }];
    expect(upwardImports(added)).toContain('ir/graph.ts -> rewrite/patch.ts');
    expect(circles(added)).toContain('ir <-> rewrite');
    const within = [...edges, { from: 'ir/graph.ts', to: 'ir/model.ts' }];
    expect(fileCircles(within)).toContainEqual(expect.arrayContaining(['ir/graph.ts', 'ir/model.ts']));
  });
});
