/**
 * `sca ablate` as a library function: remove a concept for good by editing
 * weights. Dims (given, or the concept's anchored dims) are zeroed or pruned;
 * a concept anchored to a direction is folded out of the weights that read
 * its tensor (W' = (I - a a^T) W, the full projection).
 */
import { findAnchor, recordIntervention } from '../anchors/manifest.js';
import { orthogonaliseWriters } from '../rewrite/writers.js';
import { UsageError } from '../errors.js';
import { loadModel, saveModel, type Model, type SaveOptions, type SaveResult } from '../onnx/model.js';
import { ablateDims } from '../rewrite/ablation.js';
import { patchModel } from '../rewrite/patch.js';
import path from 'node:path';
import { IrModel } from '../ir/model.js';
import { checkSameWidths, editFolderTo, type FolderEditOptions, type FolderEditResult } from './folder.js';

export interface AblateRequest {
  /** Concept from the model's anchors: supplies the tensor, axis and its dims or direction. */
  concept?: string;
  /** Anchored tensor, with `dims` (overrides the concept's). */
  tensor?: string;
  dims?: number[];
  /** Axis holding the dims (negative counts from the end); only the feature axis of Gemm/MatMul layers is supported. */
  axis?: number;
  /** Delete the dims instead of zeroing them (the anchored axis shrinks). */
  prune?: boolean;
  /**
   * Abliteration: orthogonalise every weight that writes into the residual
   * stream `tensor` belongs to against the concept's direction (or
   * `direction`), so no layer writes it.
   */
  writers?: boolean;
  direction?: number[];
}

export interface AblateOutcome {
  tensor: string;
  /** How the concept was removed. */
  method: 'zeroed' | 'pruned' | 'folded' | 'orthogonalised';
  /** For writers: the residual tensors of the stream. */
  stream?: string[];
  dims?: number[];
  /** Initializers that were changed (for dims). */
  edited: string[];
  axis?: number;
}

export function ablate(model: Model, request: AblateRequest, label = 'model'): AblateOutcome {
  const anchor = request.concept ? findAnchor(model.proto, request.concept, label) : undefined;
  const tensor = request.tensor ?? anchor?.tensor;
  if (!tensor) throw new UsageError('give `concept`, or `tensor` with `dims`');
  if (request.writers) {
    const direction = request.direction ?? anchor?.direction;
    if (!direction) throw new UsageError('`writers` needs a direction: a concept anchored to one, or `direction`');
    if (request.prune || request.dims) throw new UsageError('`writers` orthogonalises against a direction; it takes no `dims` or `prune`');
    const { stream, edited } = orthogonaliseWriters(model, tensor, direction, label);
    recordIntervention(model.proto, {
      kind: 'ablate',
      tensor,
      ...(request.concept ? { concept: request.concept } : {}),
      method: 'orthogonalised writers',
      direction,
      stream,
      edited,
    });
    return { tensor, method: 'orthogonalised', edited, stream };
  }
  const dims = request.dims ?? anchor?.dims;
  const axis = request.axis ?? anchor?.axis;
  if (dims) {
    const result = ablateDims(model, tensor, dims, { prune: request.prune, concept: request.concept, ...(axis !== undefined ? { axis } : {}) });
    return { tensor, method: result.pruned ? 'pruned' : 'zeroed', dims, edited: result.edited, ...(axis !== undefined ? { axis } : {}) };
  }
  if (anchor?.direction) {
    if (request.prune) throw new UsageError(`concept '${request.concept}' is anchored to a direction, not dims; \`prune\` needs dims`);
    const [applied] = patchModel(
      model,
      [{ concept: request.concept, mode: 'suppress', projection: 'full', fold: true, ...(axis !== undefined ? { axis } : {}) }],
      label,
    );
    return { tensor, method: 'folded', edited: [], axis: applied.axis };
  }
  throw new UsageError('give `dims` (or `concept` for a model with anchors)');
}

/** The whole of `sca ablate`: load `file`, remove the concept, and save the result to `output` (atomically). */
export function ablateFileTo(file: string, request: AblateRequest, output: string, options: SaveOptions = {}): { outcome: AblateOutcome; saved: SaveResult } {
  const model = loadModel(file);
  const outcome = ablate(model, request, file);
  return { outcome, saved: saveModel(model, output, options) };
}

/** `sca ablate DIR -o OUTDIR`: the same removal in every variant of a model folder (or those named), the rest copied unchanged. */
export function ablateFolderTo(dir: string, request: AblateRequest, outDir: string, options: FolderEditOptions = {}): Promise<FolderEditResult<AblateOutcome>> {
  const widths = new Map<string, number>();
  return editFolderTo(
    dir,
    outDir,
    options,
    (model, label) => {
      // The width before the edit (pruning shrinks it): variants of one model must agree on it.
      const tensor = request.tensor ?? (request.concept ? findAnchor(model.proto, request.concept, label).tensor : undefined);
      const shape = tensor ? new IrModel(model).types.get(tensor)?.shape : undefined;
      const width = shape?.[shape.length - 1];
      if (typeof width === 'number') widths.set(label, width);
      return { model, result: ablate(model, request, label) };
    },
    (edited) =>
      checkSameWidths(
        dir,
        edited.flatMap((v) => {
          const width = widths.get(path.join(dir, v.file));
          return width === undefined ? [] : [{ file: v.file, tensor: v.result.tensor, width }];
        }),
      ),
  );
}
