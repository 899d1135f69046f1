/**
 * Resolving where an intervention acts: the tensor's type and shape (from
 * the IR, no runtime), the axis (given, or the feature axis of a known
 * layout), and checking that the direction or dims fit that axis.
 *
 * A tensor whose layout is unknown and where the direction or dims would fit
 * more than one axis is refused: acting on the wrong axis gives a model that
 * runs and is silently wrong, the worst outcome this tool can have.
 */
import { UsageError } from '../errors.js';
import type { IrModel } from '../ir/model.js';
import { layoutOf } from '../ir/layout.js';
import type { Dim, ValueType } from '../ir/types.js';
import { elementTypeName } from '../onnx/tensor.js';
import { DataType } from '../onnx/types.js';

/** Element types an intervention can act on. */
export const FLOAT_TYPES: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16]);

/** The shape of a tensor could not be found without running the model; carries the tensor so a caller can probe it. */
export class ShapeUnknownError extends UsageError {
  constructor(
    readonly tensor: string,
    message: string,
  ) {
    super(message);
  }
}

export interface AxisChoice {
  axis: number;
  rank: number;
  width: number;
  /** Why this axis: named by the caller, the channel axis of a channel-first map, or the last axis. */
  reason: 'given' | 'channel' | 'last';
}

/** What must fit the axis: a direction's length, or the largest of the dims. */
export type Fit = { length: number } | { maxDim: number };

export function tensorType(ir: IrModel, tensor: string, label: string, hints?: ReadonlyMap<string, ValueType>): ValueType & { shape: (Dim | undefined)[] } {
  const conflict = ir.types.conflicts(tensor)[0];
  if (conflict) throw new UsageError(`${label}: the file's value_info and shape inference disagree on '${tensor}': ${conflict.message}`);
  const type = hints?.get(tensor) ?? ir.types.get(tensor);
  if (!type?.shape || type.elemType === undefined) {
    throw new ShapeUnknownError(tensor, `${label}: cannot find the shape of '${tensor}': ${ir.types.whyUnknown(tensor)}`);
  }
  if (!FLOAT_TYPES.has(type.elemType)) {
    throw new UsageError(`${label}: tensor '${tensor}' is ${elementTypeName(type.elemType)}; only float32, float16 and bfloat16 tensors can be patched`);
  }
  if (type.shape.length === 0) throw new UsageError(`${label}: tensor '${tensor}' is a scalar; an intervention needs an axis to act on`);
  return type as ValueType & { shape: (Dim | undefined)[] };
}

function fits(dim: Dim | undefined, fit: Fit): boolean {
  if (typeof dim !== 'number') return false;
  return 'length' in fit ? dim === fit.length : fit.maxDim < dim;
}

function describeFit(fit: Fit): string {
  return 'length' in fit ? `a direction of ${fit.length} values` : `dim ${fit.maxDim}`;
}

function shapeText(shape: (Dim | undefined)[]): string {
  return `[${shape.map((d) => d ?? '?').join(', ')}]`;
}

export function chooseAxis(ir: IrModel, tensor: string, shape: (Dim | undefined)[], requested: number | undefined, fit: Fit, label: string): AxisChoice {
  const rank = shape.length;
  let axis: number;
  let reason: AxisChoice['reason'];
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < -rank || requested >= rank) {
      throw new UsageError(`axis ${requested} is out of range for '${tensor}', which has rank ${rank} (${shapeText(shape)}): use ${-rank} to ${rank - 1}`);
    }
    axis = requested < 0 ? rank + requested : requested;
    reason = 'given';
  } else {
    const layout = layoutOf(ir.graph, tensor);
    axis = layout === 'channel-first' && rank >= 2 ? 1 : rank - 1;
    reason = axis === 1 && layout === 'channel-first' && rank > 2 ? 'channel' : 'last';
    if (layout === 'unknown') {
      const candidates = shape.map((d, i) => (fits(d, fit) ? i : -1)).filter((i) => i >= 0);
      if (candidates.length > 1) {
        throw new UsageError(
          `${label}: ${describeFit(fit)} fits axes ${candidates.join(' and ')} of '${tensor}' ${shapeText(shape)}, whose layout is unknown: say which with axis`,
          'REFUSED',
        );
      }
      if (candidates.length === 1 && candidates[0] !== axis) {
        throw new UsageError(
          `${label}: ${describeFit(fit)} fits axis ${candidates[0]} of '${tensor}' ${shapeText(shape)}, not its last axis; give the axis to act on explicitly`,
          'REFUSED',
        );
      }
    }
  }
  const width = shape[axis];
  if (typeof width !== 'number') {
    throw new ShapeUnknownError(tensor, `${label}: the length of axis ${axis} of '${tensor}' ${shapeText(shape)} is not known: ${ir.types.whyUnknown(tensor)}`);
  }
  if (!fits(width, fit)) {
    throw new UsageError(
      'length' in fit
        ? `${label}: the direction has ${fit.length} values but axis ${axis} of '${tensor}' ${shapeText(shape)} has ${width}`
        : `${label}: dim ${fit.maxDim} is out of range for axis ${axis} of '${tensor}' ${shapeText(shape)} (0 to ${width - 1})`,
    );
  }
  return { axis, rank, width, reason };
}
