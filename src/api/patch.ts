/**
 * `sca patch` as a whole task: load, patch, and where the IR's shapes leave
 * a needed axis open, run the model once to find it (by file path, so
 * external data works) and patch a fresh copy with what it found. The CLI
 * and `sca check`'s on-the-fly patches both come through here.
 */
import { loadModel, saveModel, type Model, type SaveOptions, type SaveResult } from '../onnx/model.js';
import { patchModel, type AppliedPatch, type PatchRequest } from '../rewrite/patch.js';
import { ShapeUnknownError } from '../rewrite/target.js';
import { probeShapes } from '../runtime/shapes.js';

export async function patchFile(file: string, requests: PatchRequest[]): Promise<{ model: Model; applied: AppliedPatch[] }> {
  const model = loadModel(file);
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
