/**
 * A loaded model seen through the IR: its main graph with def-use, its
 * opsets, its metadata, and the types of its values (declared or inferred).
 * Built on demand from a `Model` (onnx/model.ts), which stays the unit that is
 * loaded and saved; everything an IrModel changes is changed in that model.
 */
import type { Model } from '../onnx/model.js';
import { opsetOf } from '../onnx/graph.js';
import type { ModelProto } from '../onnx/types.js';
import { Graph } from './graph.js';
import { TypeTable } from './types.js';

export class IrModel {
  readonly graph: Graph;
  private typeTable?: TypeTable;

  constructor(readonly model: Model) {
    this.graph = new Graph(model.proto.graph!);
    const invalidate = this.graph.invalidate.bind(this.graph);
    // Any structural change also makes the inferred types stale.
    this.graph.invalidate = () => {
      invalidate();
      this.typeTable = undefined;
    };
  }

  get proto(): ModelProto {
    return this.model.proto;
  }

  get baseDir(): string {
    return this.model.baseDir;
  }

  /** The imported version of `domain` ('' and 'ai.onnx' both name the default domain). */
  opset(domain = ''): number | undefined {
    return opsetOf(this.proto, domain);
  }

  /** Declared value info, checked and completed by inference (ir/types.ts). */
  get types(): TypeTable {
    return (this.typeTable ??= new TypeTable(this));
  }

  metadata(key: string): string | undefined {
    return this.proto.metadataProps.find((p) => p.key === key)?.value;
  }
}
