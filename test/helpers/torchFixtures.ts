/**
 * The committed torch.onnx exports under test/fixtures/ (made by
 * scripts/make_fixtures.py) and their PyTorch reference files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import { openSession, ort } from '../../src/runtime/session.js';
import { saveModel, serializeModel, usesExternalData, type Model } from '../../src/onnx/model.js';

export const FIXTURE_DIR = fileURLToDir(new URL('../fixtures/', import.meta.url));

function fileURLToDir(url: URL): string {
  return decodeURIComponent(url.pathname);
}

export interface Input {
  type: 'int64' | 'float32';
  shape: number[];
  data: number[];
}
export interface Site {
  tensor: string;
  axis: number;
  shape: (string | number)[];
  torch_shape: number[];
  direction: number[];
  dims: number[];
  value: number[];
  /** Model output with the site replaced by a forward hook, per mode (suppress_half, suppress_full, dims_zero, amplify, steer, clamp). */
  outputs: Record<string, number[]>;
}
export interface Expected {
  model: string;
  inputs: Record<string, Input>;
  output: string;
  outputs: Record<string, { shape: number[]; data: number[] }>;
  strengths: { amplify: number; steer: number; clamp: number };
  sites: Record<string, Site>;
  weight_edits: Record<string, { edit: string; same_as: string; output: number[] }>;
}

export function fixturePath(name: string): string {
  return path.join(FIXTURE_DIR, `${name}.onnx`);
}

export function expected(name: string): Expected {
  return JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, `${name}.expected.json`), 'utf8')) as Expected;
}

export function feeds(inputs: Record<string, Input>): Record<string, ort.Tensor> {
  return Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [
      k,
      v.type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(v.data, BigInt), v.shape) : new ort.Tensor('float32', Float32Array.from(v.data), v.shape),
    ]),
  );
}

/** Float values of an output, float16 decoded (independently of the toolkit's own decoder). */
export function floats(t: ort.Tensor): ArrayLike<number> {
  return t.type === 'float16' ? new Float16Array((t.data as Uint16Array).buffer, (t.data as Uint16Array).byteOffset, t.size) : (t.data as Float32Array);
}

export async function runSource(source: string | Uint8Array, inputs: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await openSession(source);
  try {
    return await session.run(inputs);
  } finally {
    await session.release();
  }
}

/** Runs an in-memory model: from a buffer, or (external data) saved into `dir` first and run from its path. */
export async function runModel(model: Model, inputs: Record<string, ort.Tensor>, dir: string): Promise<Record<string, ort.Tensor>> {
  if (!usesExternalData(model)) return runSource(serializeModel(model.proto), inputs);
  const file = path.join(dir, `run-${Math.random().toString(36).slice(2, 8)}.onnx`);
  saveModel(model, file);
  return runSource(file, inputs);
}
