/**
 * `sca patch` as a whole task: load, patch, and where the IR's shapes leave
 * a needed axis open, run the model once to find it (by file path, so
 * external data works) and patch a fresh copy with what it found. The CLI
 * and `sca check`'s on-the-fly patches both come through here.
 */
import path from 'node:path';
import { ScaError } from '../errors.js';
import { checkFolderDestination, loadModelFolder, saveModelFolder, type FolderSaveResult } from '../onnx/folder.js';
import { loadModel, saveModel, type Model, type SaveOptions, type SaveResult } from '../onnx/model.js';
import { selectVariants, variantOf, type Variant } from '../onnx/variants.js';
import { patchModel, type AppliedPatch, type PatchRequest } from '../rewrite/patch.js';
import { ShapeUnknownError } from '../rewrite/target.js';
import { probeShapes } from '../runtime/shapes.js';

export async function patchFile(file: string, requests: PatchRequest[]): Promise<{ model: Model; applied: AppliedPatch[] }> {
  return patchLoaded(loadModel(file), file, requests);
}

/** Patches `model`, loaded from `file`; a shape the IR leaves open is found by running the file, and a fresh copy is patched. */
async function patchLoaded(model: Model, file: string, requests: PatchRequest[]): Promise<{ model: Model; applied: AppliedPatch[] }> {
  try {
    return { model, applied: patchModel(model, requests, file) };
  } catch (err) {
    if (!(err instanceof ShapeUnknownError)) throw err;
    const shapes = await probeShapes(loadModel(file), [err.tensor], file);
    const fresh = loadModel(file);
    return { model: fresh, applied: patchModel(fresh, requests, file, { shapes }) };
  }
}

/** The whole of `sca patch`: load `file`, patch it, and save the result to `output` (atomically; a large fold is computed as it is written). */
export async function patchFileTo(
  file: string,
  requests: PatchRequest[],
  output: string,
  options: SaveOptions = {},
): Promise<{ applied: AppliedPatch[]; saved: SaveResult }> {
  const { model, applied } = await patchFile(file, requests);
  return { applied, saved: saveModel(model, output, options) };
}

export interface FolderPatchOptions {
  /** The variants to patch, by path, file name or dtype (`fp32`, `fp16`, `q4`); the others are copied unchanged. Default: every `.onnx` file. */
  variants?: string[];
  onProgress?: (written: number, total: number) => void;
}

export interface VariantPatch extends Variant {
  applied: AppliedPatch[];
}

export interface FolderPatchResult {
  patched: VariantPatch[];
  /** Variants left out by `variants`, copied byte for byte. */
  unchanged: Variant[];
  saved: FolderSaveResult;
}

/**
 * `sca patch DIR -o OUTDIR`: the same interventions in every variant of a
 * model folder (or the ones named), checked to act on the same width in each;
 * side files and untouched variants are copied byte for byte, and the output
 * folder appears whole or not at all. A variant that cannot take the edit
 * fails the whole command, naming the file.
 */
export async function patchFolderTo(dir: string, requests: PatchRequest[], outDir: string, options: FolderPatchOptions = {}): Promise<FolderPatchResult> {
  const folder = loadModelFolder(dir);
  checkFolderDestination(dir, outDir);
  const variants = selectVariants([...folder.models.keys()], options.variants);
  const patched: VariantPatch[] = [];
  for (const v of variants) {
    const label = path.join(dir, v.file);
    try {
      const { model, applied } = await patchLoaded(folder.models.get(v.file)!, label, requests);
      folder.models.set(v.file, model);
      folder.edited.add(v.file);
      patched.push({ ...v, applied });
    } catch (err) {
      if (err instanceof ScaError && !options.variants && folder.models.size > 1) {
        throw new ScaError(`${err.message} (nothing was written: name the variants to patch with \`variants\`, and the rest are copied unchanged)`, err.code);
      }
      throw err;
    }
  }
  checkSameWidths(dir, patched);
  const unchanged = [...folder.models.keys()].filter((f) => !folder.edited.has(f)).map(variantOf);
  return { patched, unchanged, saved: saveModelFolder(folder, outDir, { onProgress: options.onProgress }) };
}

/** Dims or a direction fit any width they index into; variants of one model must still agree on the width they act on. */
function checkSameWidths(dir: string, patched: VariantPatch[]): void {
  for (let i = 0; i < (patched[0]?.applied.length ?? 0); i++) {
    const widths = patched.map((p) => p.applied[i].intervention.target.width);
    const j = widths.findIndex((w) => w !== widths[0]);
    if (j > 0) {
      const t = patched[0].applied[i].tensor;
      throw new ScaError(
        `${dir}: the variants disagree on the width of '${t}': ${patched[0].file} has ${widths[0]}, ${patched[j].file} has ${widths[j]}; they are not the same model`,
        'BAD_MODEL',
      );
    }
  }
}
