/**
 * The ONNX files of a model folder as the variants a user chooses among.
 * transformers.js names them by dtype (`model.onnx` fp32, `model_fp16.onnx`,
 * `model_quantized.onnx` q8, `model_q4.onnx`, ...), optimum by role
 * (`decoder_model_merged.onnx`), onnxruntime-genai has one `model.onnx`.
 */
import path from 'node:path';
import { UsageError } from '../errors.js';

export interface Variant {
  /** Path inside the folder, '/'-separated (`onnx/model_fp16.onnx`). */
  file: string;
  /** The file name without `.onnx` (`model_fp16`). */
  name: string;
  /** transformers.js's dtype for the file name: fp32 when it has no dtype suffix. */
  dtype: string;
}

/** transformers.js's file-name suffix for each dtype (DEFAULT_DTYPE_SUFFIX_MAPPING); fp32 has none. */
const DTYPE_SUFFIXES: Record<string, string> = {
  fp16: 'fp16',
  quantized: 'q8',
  int8: 'int8',
  uint8: 'uint8',
  q4: 'q4',
  q4f16: 'q4f16',
  bnb4: 'bnb4',
  q2: 'q2',
  q2f16: 'q2f16',
  q1: 'q1',
  q1f16: 'q1f16',
};

export function variantOf(file: string): Variant {
  const name = path.posix.basename(file, '.onnx');
  const suffix = /_([a-z0-9]+)$/.exec(name)?.[1];
  return { file, name, dtype: (suffix && DTYPE_SUFFIXES[suffix]) ?? 'fp32' };
}

/**
 * The variants `selection` names, each by its path, its file name or its
 * dtype (`fp32,fp16`, `onnx/model_q4.onnx`, `decoder_model_merged`); all of
 * them when there is no selection. A name that matches nothing is refused,
 * listing what the folder has.
 */
export function selectVariants(files: string[], selection?: string[]): Variant[] {
  const all = files.map(variantOf);
  if (!selection) return all;
  const picked = new Set<Variant>();
  for (const want of selection) {
    const matches = all.filter((v) => v.file === want || v.name === want || `${v.name}.onnx` === want || v.dtype === want);
    if (!matches.length) {
      const listed = all.map((v) => `${v.file} (${v.dtype})`).join(', ');
      throw new UsageError(`variant '${want}': no file of the folder is that variant; it has ${listed}`);
    }
    for (const v of matches) picked.add(v);
  }
  return all.filter((v) => picked.has(v));
}
