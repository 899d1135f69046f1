/**
 * Setting a patched model's overridable inputs (a `--strength-input`) for
 * runtimes that ignore feeds for initializer-backed inputs, as
 * onnxruntime-node does: the values are written into a copy of the model.
 */
import type { Model } from '../onnx/model.js';
import { withInputValues as protoWithInputValues } from '../runtime/session.js';

/** A copy of `model` with the named overridable inputs set to `values`; the model passed in is unchanged. */
export function withInputValues(model: Model, values: Record<string, number | number[]>): Model {
  return { ...model, proto: protoWithInputValues(model.proto, values) };
}
