/**
 * The output-dependency table (src/ops/outputs.ts) covers every contrib op
 * the toolkit knows, so a fused op added to shape inference or the behaviour
 * registry cannot slip past the placement checks without a row.
 */
import { describe, expect, it } from 'vitest';
import { microsoftRules } from '../../src/ir/infer/ops/microsoft.js';
import { knownOpKeys } from '../../src/ops/registry.js';
import { outputIndependence, outputSpec, outputSpecKeys } from '../../src/ops/outputs.js';

const node = (domain: string, opType: string, output: string[]) => ({ domain, opType, input: [], output, attribute: [] });

describe('output dependencies', () => {
  const contrib = new Set([...Object.keys(microsoftRules).map((op) => `com.microsoft:${op}`), ...knownOpKeys().filter((k) => !k.startsWith(':'))]);

  it('every contrib op known to inference or the registry has an entry', () => {
    const missing = [...contrib].filter((k) => !outputSpecKeys().includes(k));
    expect(missing).toEqual([]);
  });

  it('every multi-output entry says, for each output, what it derives (or that nothing is derived)', () => {
    for (const key of outputSpecKeys()) {
      const [domain, op] = key.split(':');
      const spec = outputSpec(domain, op)!;
      for (const [from, to] of Object.entries(spec.derived ?? {})) {
        expect(Number(from)).toBeLessThan(spec.outputs.length);
        for (const i of to) expect(i, `${key} output ${from}`).toBeLessThan(spec.outputs.length);
        // A refusal must say what to patch instead, unless a split frees the output.
        if (!spec.split?.[Number(from)]) expect(spec.instead?.[Number(from)], `${key} output ${from}`).toBeTruthy();
      }
    }
  });

  it('the fused skip norms split on the residual sum and refuse on their statistics', () => {
    for (const op of ['SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']) {
      const n = node('com.microsoft', op, ['y', 'mean', 'istd', 'sum']);
      expect(outputIndependence(n, 3)).toMatchObject({ kind: 'split', derived: [0, 1, 2] });
      expect(outputIndependence(n, 1)).toMatchObject({ kind: 'derived', derived: [0] });
      expect(outputIndependence(n, 0)).toEqual({ kind: 'independent' });
    }
  });

  it('omitted optional outputs do not count', () => {
    expect(outputIndependence(node('', 'LayerNormalization', ['y', 'mean']), 0)).toEqual({ kind: 'independent' });
    expect(outputIndependence(node('com.microsoft', 'GroupQueryAttention', ['', 'pk', 'pv']), 1)).toEqual({ kind: 'independent' });
  });

  it('default-domain ops without an entry have independent outputs; unknown custom ops do not', () => {
    expect(outputIndependence(node('', 'Split', ['a', 'b']), 0)).toEqual({ kind: 'independent' });
    expect(outputIndependence(node('org.example', 'Mystery', ['a', 'b']), 0)).toEqual({ kind: 'unknown' });
    expect(outputIndependence(node('org.example', 'Mystery', ['a', '']), 0)).toEqual({ kind: 'independent' });
  });
});
