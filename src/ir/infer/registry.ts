/** Shape rules keyed by (domain, op type). Opset-dependent behaviour lives inside each rule. */
import { controlRules } from './ops/control.js';
import { elementwiseRules } from './ops/elementwise.js';
import { microsoftRules } from './ops/microsoft.js';
import { miscRules } from './ops/misc.js';
import { nnRules } from './ops/nn.js';
import { reduceRules } from './ops/reduce.js';
import { shapeRules } from './ops/shape.js';
import type { Rule } from './types.js';
import { domainKey } from '../../onnx/graph.js';

const rules = new Map<string, Rule>();

function register(domain: string, table: Record<string, Rule>): void {
  for (const [op, rule] of Object.entries(table)) rules.set(`${domain}\u0000${op}`, rule);
}

register('', { ...elementwiseRules, ...shapeRules, ...nnRules, ...reduceRules, ...controlRules, ...miscRules });
register('com.microsoft', microsoftRules);

export function ruleFor(domain: string | undefined, opType: string | undefined): Rule | undefined {
  return rules.get(`${domainKey(domain)}\u0000${opType ?? ''}`);
}

/** Op types with a rule, per domain ('' is the default domain). */
export function supportedOps(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const key of rules.keys()) {
    const [domain, op] = key.split('\u0000');
    out.set(domain, [...(out.get(domain) ?? []), op]);
  }
  return out;
}
