/**
 * What `sca inspect --tensors` lists: every value a node writes, with its
 * producer op, element type and inferred shape, grouped by the module path
 * in its name (names.ts), and marked when it is quantized before its readers.
 */
import { elementTypeName } from '../onnx/tensor.js';
import type { Graph } from './graph.js';
import type { IrModel } from './model.js';
import { topologicalOrder } from './passes.js';
import { quantizedPath } from './qdq.js';
import { qualifiedOp } from '../onnx/graph.js';
import { modulePath } from './names.js';

export interface TensorListing {
  name: string;
  /** Module path from the name (`/blocks.0/attn`), '' when the name has none. */
  module: string;
  op: string;
  node: string;
  type: string;
  shape: (number | string | null)[] | null;
  /** Set when the tensor reaches its readers through a QuantizeLinear/DequantizeLinear pair: the dequantized value they use. */
  quantized?: { via: string; readersUse: string | null };
  /** For a value inside a nested graph: where (`then_branch of If 'optimum::if'`). Patching the name acts in every such graph. */
  scope?: string;
}

/**
 * Every activation (node outputs, Constant nodes left out: they are
 * parameters, not places a concept lives), in topological order: the main
 * graph's, then those of each If branch and Loop or Scan body, marked with
 * where they are; `filter` keeps names containing it (case-insensitive).
 */
export function listTensors(ir: IrModel, filter?: string): TensorListing[] {
  const wanted = filter?.toLowerCase();
  const out: TensorListing[] = [];
  const visit = (graph: Graph): void => {
    const nested: Graph[] = [];
    for (const node of topologicalOrder(graph)) {
      nested.push(...graph.subgraphs(node));
      if (node.opType === 'Constant') continue;
      for (const name of node.output) {
        if (!name || (wanted && !name.toLowerCase().includes(wanted))) continue;
        const type = ir.types.get(name);
        out.push({
          name,
          module: modulePath(name),
          op: qualifiedOp(node),
          node: node.name ?? '',
          type: elementTypeName(type?.elemType),
          shape: type?.shape ? type.shape.map((d) => d ?? null) : null,
          ...quantizedMark(graph, name),
          ...(graph.parent ? { scope: graph.scopeLabel() } : {}),
        });
      }
    }
    // Bodies after the graph that holds them, so each is listed in one run under its heading.
    for (const sub of nested) visit(sub);
  };
  visit(ir.graph);
  return out;
}

function quantizedMark(graph: Graph, name: string): Pick<TensorListing, 'quantized'> {
  const path = quantizedPath(graph, name);
  if (path.kind === 'none') return {};
  return { quantized: { via: path.quantize.name ?? '', readersUse: path.kind === 'pair' ? path.value : null } };
}

export function formatTensorListing(rows: TensorListing[]): string {
  const lines: string[] = [];
  let module: string | undefined;
  let scope: string | undefined;
  const width = Math.min(64, Math.max(0, ...rows.map((r) => r.name.length)));
  for (const r of rows) {
    if (r.scope !== scope) {
      scope = r.scope;
      module = undefined;
      lines.push(`== in ${scope ?? 'the main graph'} ==`);
    }
    if (r.module !== module) {
      module = r.module;
      lines.push(module || '(top level)');
    }
    const shape = r.shape ? `[${r.shape.map((d) => d ?? '?').join(', ')}]` : '[?]';
    const quantized = r.quantized ? `  quantized before its readers${r.quantized.readersUse ? `: they use '${r.quantized.readersUse}'` : ''}` : '';
    lines.push(`  ${r.name.padEnd(width)}  ${r.op.padEnd(18)} ${r.type} ${shape}${quantized}`);
  }
  return lines.join('\n');
}
