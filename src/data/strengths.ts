/**
 * The run-time strength inputs a patch added (`strengthInput`): required
 * float32 scalars, which this toolkit sets itself when it runs a patched
 * model (compare, check), to the strength the manifest recorded unless the
 * caller sets another.
 */
import { readInterventions } from '../anchors/manifest.js';
import type { ModelProto } from '../onnx/types.js';

/** Recorded strength of each required strength input of `proto` (first record wins: later patches share the input). */
export function strengthInputs(proto: ModelProto): Map<string, number> {
  const graph = proto.graph!;
  const required = new Set(graph.input.map((v) => v.name).filter((n) => n && !graph.initializer.some((t) => t.name === n)));
  const found = new Map<string, number>();
  for (const r of readInterventions(proto)) {
    const name = r.strengthInput;
    if (typeof name === 'string' && required.has(name) && !found.has(name) && typeof r.strength === 'number') found.set(name, r.strength);
  }
  return found;
}
