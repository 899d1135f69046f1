/**
 * `sca patch` as a whole task: load, patch, and where the IR's shapes leave
 * a needed axis open, run the model once to find it (by file path, so
 * external data works) and patch a fresh copy with what it found. The CLI
 * and `sca check`'s on-the-fly patches both come through here.
 */
import { loadModel, saveModel, type Model, type SaveOptions, type SaveResult } from '../onnx/model.js';
import { checkSameWidths, editFolderTo, type FolderEditOptions, type FolderEditResult } from './folder.js';
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

export type FolderPatchOptions = FolderEditOptions;

/**
 * `sca patch DIR -o OUTDIR`: the same interventions in every variant of a
 * model folder (or the ones named), checked to act on the same width in each.
 */
export async function patchFolderTo(
  dir: string,
  requests: PatchRequest[],
  outDir: string,
  options: FolderPatchOptions = {},
): Promise<FolderEditResult<AppliedPatch[]>> {
  return editFolderTo(
    dir,
    outDir,
    options,
    async (model, label) => {
      const { model: patched, applied } = await patchLoaded(model, label, requests);
      return { model: patched, result: applied };
    },
    (edited) => {
      for (let i = 0; i < requests.length; i++)
        checkSameWidths(
          dir,
          edited.map((v) => ({ file: v.file, tensor: v.result[i].tensor, width: v.result[i].intervention.target.width })),
        );
    },
  );
}
