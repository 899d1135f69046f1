/**
 * A model folder: what transformers.js, optimum and onnxruntime-genai ship.
 * Several `.onnx` files (in subfolders too, like transformers.js's `onnx/`),
 * each with its own external data, beside side files the toolkit never edits
 * (`config.json`, `generation_config.json`, `tokenizer*.json`,
 * `genai_config.json`, anything else).
 *
 * Saving writes a new folder atomically: everything goes into a temporary
 * folder beside the destination, which is renamed into place only when
 * complete, so a failure leaves neither an output folder nor temporaries.
 * Models that were not edited, their external data and every side file are
 * copied byte for byte; an edited model is encoded again, keeping the name
 * of its external data file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { asWriteFailure, checkFreeSpace, fsReason, isInside } from '../util/files.js';
import { temporaryFor } from '../util/temporaries.js';
import { selectVariants, variantOf } from './variants.js';
import { keepsDataLayout, loadModel, saveGraphOnly, saveModel, type Model } from './model.js';
import { allTensors, externalRef, isExternal } from './tensor.js';

export interface ModelFolder {
  /** The folder as the user named it. */
  dir: string;
  /** Every `.onnx` file, by '/'-separated path relative to `dir`, with weights left in their files. */
  models: Map<string, Model>;
  /** Every other regular file (external data included), relative to `dir`. */
  files: string[];
  /** Models changed since loading (relative paths): these are encoded again on save, the rest copied. */
  edited: Set<string>;
}

export interface FolderSaveResult {
  dir: string;
  /** Files written, and how many of them were copied unchanged. */
  files: number;
  copied: number;
  bytes: number;
}

/** Guards against a folder that is not a model folder (a home directory, a dataset). */
const MAX_FILES = 10_000;
const MAX_DEPTH = 8;

export function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Loads every `.onnx` file of `dir`; the folder must hold only regular files and folders. */
export function loadModelFolder(dir: string): ModelFolder {
  if (!isDirectory(dir)) throw new UsageError(`${dir}: not a folder`, 'NOT_FOUND');
  const entries = listFolder(dir);
  const models = new Map<string, Model>();
  const files: string[] = [];
  for (const rel of entries) {
    if (rel.endsWith('.onnx')) models.set(rel, loadModel(path.join(dir, rel)));
    else files.push(rel);
    if (rel.endsWith('.json')) checkJson(path.join(dir, rel));
  }
  if (models.size === 0) throw new UsageError(`${dir}: the folder holds no .onnx file`, 'BAD_MODEL');
  return { dir, models, files, edited: new Set() };
}

/** The `.onnx` files of a model folder, relative to it, without loading them (links and special files are refused as by loadModelFolder). */
export function onnxFilesIn(dir: string): string[] {
  if (!isDirectory(dir)) throw new UsageError(`${dir}: not a folder`, 'NOT_FOUND');
  const files = listFolder(dir).filter((f) => f.endsWith('.onnx'));
  if (files.length === 0) throw new UsageError(`${dir}: the folder holds no .onnx file`, 'BAD_MODEL');
  return files;
}

/**
 * The one file of a model folder that a command running a single model
 * uses: the variant named (by dtype, file name or path), else the only
 * `.onnx` file, else the only fp32 one; otherwise refused, listing them.
 */
export function variantFile(dir: string, want?: string): string {
  const files = onnxFilesIn(dir);
  const listed = () => files.map((f) => `${f} (${variantOf(f).dtype})`).join(', ');
  const picked = want ? selectVariants(files, [want]) : files.length === 1 ? files.map(variantOf) : selectVariants(files).filter((v) => v.dtype === 'fp32');
  if (picked.length !== 1) {
    throw new UsageError(
      `${dir}: ${want ? `'${want}' matches ${picked.length} files` : 'holds several variants'} (${listed()}); name one with \`variant\` (a dtype, file name or path)`,
    );
  }
  return path.join(dir, picked[0].file);
}

/** Side files are copied as they are, but a config or tokenizer that is not JSON means a broken folder: say so before writing anything. */
function checkJson(file: string): void {
  try {
    JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    const why = err instanceof SyntaxError ? err.message : fsReason(err);
    throw new UsageError(`${file}: not valid JSON (${why}); the model folder is broken`, 'BAD_MODEL');
  }
}

function listFolder(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new UsageError(`${dir}: folders nest more than ${MAX_DEPTH} deep at '${rel}'; is this a model folder?`);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    } catch (err) {
      throw new UsageError(`${path.join(dir, rel)}: cannot read: ${fsReason(err)}`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(child, depth + 1);
      else if (e.isFile()) out.push(child);
      // A link could lead outside the folder; a FIFO or device could hang a copy.
      else
        throw new UsageError(
          `${dir}: '${child}' is ${e.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; a model folder may hold only regular files and folders`,
        );
      if (out.length > MAX_FILES) throw new UsageError(`${dir}: more than ${MAX_FILES} files; is this a model folder?`);
    }
  };
  walk('', 0);
  return out;
}

/** External data files a model reads, relative to the folder. */
function dataFilesOf(rel: string, model: Model): string[] {
  const base = path.posix.dirname(rel);
  const locations = new Set(
    allTensors(model.proto)
      .filter(isExternal)
      .map((t) => externalRef(t).location),
  );
  return [...locations].map((loc) => path.posix.normalize(base === '.' ? loc : `${base}/${loc}`));
}

export interface FolderSaveOptions {
  onProgress?: (written: number, total: number) => void;
  /** Called before each file is written (tests inject failures here). */
  beforeFile?: (rel: string) => void;
  /** Most inline bytes an edited model may have and still keep its data files as they are; tests lower it to exercise the repacking path. */
  keptLayoutInlineLimit?: number;
}

/** Refuses an output folder that exists, whose parent does not, or that is inside the input folder (or holds it): before any work is done. */
export function checkFolderDestination(inputDir: string, outDir: string): void {
  const out = path.resolve(outDir);
  const input = path.resolve(inputDir);
  if (isInside(input, out) || isInside(out, input))
    throw new UsageError(`${outDir}: the output folder must be outside the input folder ${inputDir}, and not hold it`);
  if (fs.existsSync(out)) throw new UsageError(`${outDir}: already exists; give a new folder for the output`);
  const parent = path.dirname(out);
  if (!isDirectory(parent)) throw new UsageError(`${outDir}: folder ${parent} does not exist`);
}

/**
 * Writes `folder` to `outDir`, which must not exist yet and must not be
 * inside the input folder (nor hold it).
 */
export function saveModelFolder(folder: ModelFolder, outDir: string, options: FolderSaveOptions = {}): FolderSaveResult {
  checkFolderDestination(folder.dir, outDir);
  const out = path.resolve(outDir);
  const parent = path.dirname(out);

  // An edited model whose weights stay where they were is written as its graph alone, and its data files are copied.
  // Data files only the other edited models read are written again by saveModel; any other reader keeps the copy.
  const relaid = new Set([...folder.edited].filter((rel) => !keepsDataLayout(folder.models.get(rel)!, options.keptLayoutInlineLimit)));
  const kept = new Set([...folder.models].filter(([rel]) => !relaid.has(rel)).flatMap(([rel, m]) => dataFilesOf(rel, m)));
  const rewritten = new Set([...relaid].flatMap((rel) => dataFilesOf(rel, folder.models.get(rel)!)).filter((f) => !kept.has(f)));
  const copies = [...[...folder.models.keys()].filter((rel) => !folder.edited.has(rel)), ...folder.files.filter((f) => !rewritten.has(f))];
  const size = (rel: string) => fs.statSync(path.join(folder.dir, rel)).size;
  const total = copies.reduce((sum, rel) => sum + size(rel), 0);

  // An edited model and the data it rewrites take about what they took in the input.
  const rewrites = [...folder.edited, ...rewritten].reduce((sum, rel) => sum + size(rel), 0);
  checkFreeSpace(parent, total + rewrites, outDir);
  const tmp = temporaryFor(out);
  try {
    fs.mkdirSync(tmp);
  } catch (err) {
    throw asWriteFailure(err, outDir);
  }
  let bytes = 0;
  let written = copies.length;
  try {
    for (const rel of copies) {
      options.beforeFile?.(rel);
      const dest = path.join(tmp, rel);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(path.join(folder.dir, rel), dest, fs.constants.COPYFILE_EXCL);
      bytes += size(rel);
      options.onProgress?.(bytes, total);
    }
    for (const rel of folder.edited) {
      options.beforeFile?.(rel);
      const model = folder.models.get(rel);
      if (!model) throw new Error(`saveModelFolder: '${rel}' is marked edited but is not a model of the folder`);
      const dest = path.join(tmp, rel);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      if (!relaid.has(rel)) {
        bytes += saveGraphOnly(model, dest).bytes;
        written += 1;
        continue;
      }
      const own = dataFilesOf(rel, model).filter((f) => rewritten.has(f));
      const dataName = own.length === 1 && path.posix.dirname(own[0]) === path.posix.dirname(rel) ? path.posix.basename(own[0]) : undefined;
      const saved = saveModel(model, dest, dataName ? { dataName } : {});
      bytes += saved.bytes + (saved.dataBytes ?? 0);
      written += saved.dataPath ? 2 : 1;
    }
    fs.renameSync(tmp, out);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw asWriteFailure(err, outDir);
  }
  return { dir: outDir, files: written, copied: copies.length, bytes };
}
