/** What the folder forms of patch, ablate and anchor share on the command line: the --variant list and the closing lines. */
import type { FolderEditResult } from '../api/folder.js';
import { UsageError } from '../errors.js';
import type { Context } from './context.js';

/** `--variant fp32,fp16` as a list; undefined when not given. */
export function variantList(option: string | undefined): string[] | undefined {
  return option
    ?.split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/** A folder keeps each variant's external data as it had it: --external-data would change that. */
export function refuseExternalDataFlag(given: boolean | undefined): void {
  if (given) throw new UsageError("--external-data is for a single model: a folder keeps each variant's external data as it had it");
}

/** The variants copied unchanged, and what was written. */
export function printFolderEnd(io: Context['io'], result: FolderEditResult<unknown>): void {
  for (const v of result.unchanged) io.out(`${v.file} (${v.dtype}): copied unchanged (not among --variant)\n`);
  io.out(`wrote ${result.saved.dir}/ (${result.saved.files} files, ${result.saved.copied} copied byte for byte)\n`);
}
