/**
 * One edit over every variant of a model folder (transformers.js's fp32,
 * fp16, q8, q4 files; optimum's merged decoder; genai's model.onnx), as one
 * task: each named variant is loaded, edited and checked, then the folder is
 * saved to a new folder atomically, side files and the variants left out
 * copied byte for byte. A variant that cannot take the edit fails the whole
 * command, naming the file; nothing is written.
 */
import path from 'node:path';
import { ScaError } from '../errors.js';
import { checkFolderDestination, loadModelFolder, saveModelFolder, type FolderSaveResult } from '../onnx/folder.js';
import type { Model } from '../onnx/model.js';
import { selectVariants, variantOf, type Variant } from '../onnx/variants.js';

export interface FolderEditOptions {
  /** The variants to edit, by path, file name or dtype (`fp32`, `fp16`, `q4`); the others are copied unchanged. Default: every `.onnx` file. */
  variants?: string[];
  onProgress?: (written: number, total: number) => void;
}

export interface VariantEdit<R> extends Variant {
  result: R;
}

export interface FolderEditResult<R> {
  edited: VariantEdit<R>[];
  /** Variants left out by `variants`, copied byte for byte. */
  unchanged: Variant[];
  saved: FolderSaveResult;
}

/**
 * Runs `edit` on each selected variant (it may return a fresh model to save in
 * place of the loaded one), then `check` on all results before anything is
 * written, then saves the folder to `outDir`.
 */
export async function editFolderTo<R>(
  dir: string,
  outDir: string,
  options: FolderEditOptions,
  edit: (model: Model, label: string) => Promise<{ model: Model; result: R }> | { model: Model; result: R },
  check: (edited: VariantEdit<R>[]) => void = () => {},
): Promise<FolderEditResult<R>> {
  const folder = loadModelFolder(dir);
  checkFolderDestination(dir, outDir);
  const variants = selectVariants([...folder.models.keys()], options.variants);
  const edited: VariantEdit<R>[] = [];
  for (const v of variants) {
    try {
      const { model, result } = await edit(folder.models.get(v.file)!, path.join(dir, v.file));
      folder.models.set(v.file, model);
      folder.edited.add(v.file);
      edited.push({ ...v, result });
    } catch (err) {
      if (err instanceof ScaError && !options.variants && folder.models.size > 1) {
        throw new ScaError(`${err.message} (nothing was written: name the variants to edit with \`variants\`, and the rest are copied unchanged)`, err.code);
      }
      throw err;
    }
  }
  check(edited);
  const unchanged = [...folder.models.keys()].filter((f) => !folder.edited.has(f)).map(variantOf);
  return { edited, unchanged, saved: saveModelFolder(folder, outDir, { onProgress: options.onProgress }) };
}

/** Variants of one model must act on the same width: dims or a direction could fit two different models. */
export function checkSameWidths(dir: string, widths: { file: string; tensor: string; width: number }[]): void {
  const first = widths[0];
  const other = widths.find((w) => w.tensor === first?.tensor && w.width !== first.width);
  if (first && other) {
    throw new ScaError(
      `${dir}: the variants disagree on the width of '${first.tensor}': ${first.file} has ${first.width}, ${other.file} has ${other.width}; they are not the same model`,
      'BAD_MODEL',
    );
  }
}
