/**
 * Running a model with intermediate tensors exposed as extra outputs (taps):
 * what compare and the probes both do. The
 * model runs from memory with the outputs added; when its weights live in
 * external data, onnxruntime is told the folder they sit in, so it reads the
 * original data files in place: nothing is copied or written.
 */
import { Graph } from '../ir/graph.js';
import { isDirectory, variantFile } from '../onnx/folder.js';
import { loadModel, serializeModel, usesExternalData, type Model } from '../onnx/model.js';
import type { GraphProto, ModelProto } from '../onnx/types.js';
import { openSession, ort, withInputValues, type Device } from './session.js';

/** A model loaded for running; `path` is the file it came from unchanged, if any. */
export interface LoadedSource {
  label: string;
  model: Model;
  path?: string;
}

/** A file, or a model folder (its default variant: see variantFile), loaded for running. */
export function resolveSource(source: string | LoadedSource): LoadedSource {
  if (typeof source !== 'string') return source;
  const file = isDirectory(source) ? variantFile(source) : source;
  return { label: file, model: loadModel(file), path: file };
}

/** The tensors that are not graph outputs already. */
function notOutputs(graph: GraphProto, tensors: string[]): string[] {
  return tensors.filter((t) => !graph.output.some((o) => o.name === t));
}

/** `proto` with `tensors` added as graph outputs (those already outputs stay as they are); the input is not changed. */
export function withExtraOutputs(proto: ModelProto, tensors: string[]): ModelProto {
  const graph = proto.graph!;
  const extra = notOutputs(graph, tensors);
  return extra.length ? { ...proto, graph: { ...graph, output: [...graph.output, ...extra.map((name) => ({ name }))] } } : proto;
}

/** A session of `model` (from memory) with `tensors` as extra outputs; external data is read from the model's own folder. */
export function openTapped(model: Model, proto: ModelProto, tensors: string[], device: Device): Promise<ort.InferenceSession> {
  return openSession(serializeModel(withExtraOutputs(proto, tensors)), device, usesExternalData(model) ? model.baseDir : undefined);
}

/**
 * A session whose outputs include `tensors` (each must exist: a missing one
 * is refused with suggestions), with `inputValues` set as the defaults of
 * initializer-backed inputs. With nothing to add, the file runs as it is.
 */
export async function openWithOutputs(
  source: LoadedSource,
  tensors: string[],
  device: Device,
  inputValues: Record<string, number> = {},
): Promise<ort.InferenceSession> {
  const graph = source.model.proto.graph!;
  const ir = new Graph(graph);
  for (const t of tensors) ir.require(t, source.label);
  const extra = notOutputs(graph, tensors);
  const setsInputs = Object.keys(inputValues).length > 0;
  if (extra.length === 0 && !setsInputs && source.path) return openSession(source.path, device);
  const base = setsInputs ? withInputValues(source.model.proto, inputValues) : source.model.proto;
  return openTapped(source.model, base, tensors, device);
}
