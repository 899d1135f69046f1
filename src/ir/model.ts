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
  /** For a view of a nested graph (scoped): the model's IR, which owns the types. */
  private readonly main?: IrModel;

  constructor(
    readonly model: Model,
    scope?: { graph: Graph; main: IrModel },
  ) {
    if (scope) {
      // Edits in a nested graph invalidate its parents, up to the main graph, which drops the types.
      this.graph = scope.graph;
      this.main = scope.main;
      return;
    }
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

  /** Declared value info, checked and completed by inference (ir/types.ts), nested graphs included. */
  get types(): TypeTable {
    if (this.main) return this.main.types;
    return (this.typeTable ??= new TypeTable(this));
  }

  /** True when this IR looks at a nested graph (an If branch, a Loop body), not the main one. */
  get nested(): boolean {
    return this.main !== undefined;
  }

  /**
   * The graphs a rewrite of `name` must edit, each seen as an IrModel: the
   * main graph when it defines `name`, else every nested graph that does (both
   * branches of a merged decoder's If); empty when none does.
   */
  scopesDefining(name: string): IrModel[] {
    if (this.graph.defines(name)) return [this];
    return this.graph.nestedDefining(name).map((graph) => new IrModel(this.model, { graph, main: this }));
  }

  metadata(key: string): string | undefined {
    return this.proto.metadataProps.find((p) => p.key === key)?.value;
  }
}
