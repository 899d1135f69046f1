/**
 * `sca patch` as a library function: resolve each requested intervention
 * against the model (manifest, tensor type, axis and width, all from the IR:
 * no runtime), check it, splice its nodes in after the tensor, and record it
 * in the manifest. Synchronous and pure apart from editing `model`.
 */
import { findAnchor, readInterventions, recordIntervention, type Anchor, type InterventionRecord } from '../anchors/manifest.js';
import { UsageError } from '../errors.js';
import { IrModel } from '../ir/model.js';
import { residualChain, residualTensors } from '../ir/residual.js';
import type { ValueType } from '../ir/types.js';
import type { Model } from '../onnx/model.js';
import { buildAmplification } from './amplification.js';
import { normalize, orthonormalize } from '../maths/basis.js';
import { insertionOpset, SubgraphBuilder, uniquePrefix } from './builder.js';
import { buildClamping } from './clamping.js';
import { applyErasure } from './erasure.js';
import type { Splice } from './insert.js';
import { checkFoldable, insertAtPlacement, placeIntervention } from './placement.js';
import {
  MODES,
  PROJECTIONS,
  STRENGTH_RANGE,
  type Basis,
  type Falloff,
  type Intervention,
  type Mode,
  type Projection,
  type Target,
  type AppliedPatch,
} from './intervention.js';
import { buildSteering } from './steering.js';
import { buildSuppression } from './suppression.js';
import { foldIntoReaders } from './fold.js';
import { chooseAxis, tensorType, type Fit } from './target.js';

export interface PatchRequest {
  /** Tensor to act on; defaults to the concept's anchored tensor. */
  tensor?: string;
  /** Concept in the model's manifest: supplies tensor, axis and direction/dims when not given. */
  concept?: string;
  /** One direction, or several spanning a subspace (orthonormalised here). */
  directions?: number[][];
  dims?: number[];
  /** Axis to act on (negative counts from the end); default: the anchor's, else the feature axis. */
  axis?: number;
  mode: Mode;
  strength?: number;
  /** suppress along one direction: `half` (the paper's, default) or `full` (linear). */
  projection?: Projection;
  falloff?: Falloff;
  /** Expose the strength as a float32 scalar graph input of this name, which every caller feeds (onnxruntime-node, -web, Python, C++ alike). */
  strengthInput?: string;
  /**
   * Give the strength input a default instead (an initializer of the same name):
   * Python and C++ onnxruntime then take a feed or fall back to it, but
   * onnxruntime-node ignores a feed of such an input and onnxruntime-web refuses one.
   */
  strengthInputOptional?: boolean;
  /** Fold a linear suppression or amplification into the weights that read the tensor, adding no nodes. */
  fold?: boolean;
  /** With `fold` into quantized weights: refuse when requantizing adds a max error above this (the error is always reported). */
  foldTolerance?: number;
  /** `all`: the same patch at every tensor of the residual stream `tensor` belongs to (every block's residual adds and the embedding sum). */
  layers?: 'all';
}

export interface PatchOptions {
  /** Types found elsewhere (by running the model) for tensors the file and inference leave open. */
  shapes?: ReadonlyMap<string, ValueType>;
}

type Build = (b: SubgraphBuilder, z: string, out: string, iv: Intervention, width: number) => void;

const BUILDERS: Record<Mode, Build> = {
  suppress: buildSuppression,
  amplify: buildAmplification,
  steer: buildSteering,
  clamp: buildClamping,
};

const DEFAULT_STRENGTH: Record<Mode, number> = { suppress: 1, amplify: 1, steer: 1, clamp: 0 };

export type { AppliedPatch };

export function patchModel(model: Model, requests: PatchRequest[], label = 'model', options: PatchOptions = {}): AppliedPatch[] {
  return requests.flatMap((r) => everyLayer(model, r, label)).map((request) => applyOne(new IrModel(model), request, label, options));
}

/** A request with `layers: 'all'` as one request per residual tensor of its stream. */
function everyLayer(model: Model, request: PatchRequest, label: string): PatchRequest[] {
  if (request.layers === undefined) return [request];
  if (request.layers !== 'all') throw new UsageError(`layers: expected 'all', got '${String(request.layers)}'`);
  const tensor = request.tensor ?? (request.concept ? findAnchor(model.proto, request.concept, label).tensor : undefined);
  if (!tensor) throw new UsageError('`layers` needs a tensor (or a concept) of the residual stream');
  const ir = new IrModel(model);
  ir.graph.require(tensor, label);
  const chain = residualChain(ir.graph, tensor);
  if (!chain)
    throw new UsageError(`${label}: '${tensor}' is not written by a residual Add (r + branch(r)), so it has no layers to repeat the patch at`, 'REFUSED');
  const { layers: _all, ...one } = request;
  return residualTensors(chain).map((t) => ({ ...one, tensor: t }));
}

function applyOne(ir: IrModel, request: PatchRequest, label: string, options: PatchOptions): AppliedPatch {
  if (!MODES.includes(request.mode)) throw new UsageError(`mode: expected one of ${MODES.join(', ')}, got '${request.mode}'`);
  const anchor = request.concept ? findAnchor(ir.proto, request.concept, label) : undefined;
  // A concept anchored from data with LEACE is suppressed by its eraser (src/rewrite/erasure.ts).
  if (anchor?.eraser && request.mode === 'suppress' && !request.tensor && !request.directions && !request.dims && request.axis === undefined) {
    if (request.strength !== undefined || request.falloff || request.strengthInput || request.projection) {
      throw new UsageError(`concept '${anchor.concept}' has a LEACE eraser, which takes no strength, projection, falloff or strength input`);
    }
    if (!ir.graph.defines(anchor.tensor) && ir.scopesDefining(anchor.tensor).length) {
      throw new UsageError(
        `${label}: concept '${anchor.concept}' is anchored inside a nested graph; a LEACE eraser is applied in the main graph only`,
        'REFUSED',
      );
    }
    return applyErasure(ir, anchor, { fold: request.fold, shapes: options.shapes }, label);
  }
  const tensor = request.tensor ?? anchor?.tensor;
  if (!tensor) throw new UsageError('give a tensor or a concept to act on');
  const scopes = ir.scopesDefining(tensor);
  if (scopes.length === 0) ir.graph.require(tensor, label);
  if (!scopes[0].nested) {
    const { applied, record } = applyInScope(ir, request, tensor, anchor, label, options);
    if (record) recordIntervention(ir.proto, record);
    return applied;
  }
  // A value inside If branches or Loop bodies (a merged decoder's two branches): the same patch in each graph that defines it.
  const where = scopes.map((s) => s.graph.scopeLabel());
  if (request.fold) {
    throw new UsageError(
      `${label}: '${tensor}' is computed inside ${where.join(' and ')}; fold edits weights that nested graphs read from the main graph, which this toolkit does not do: patch without --fold (inserted nodes) instead`,
      'REFUSED',
    );
  }
  if (request.strengthInput) checkStrengthInput(ir, request.strengthInput, request.strengthInputOptional === true, label);
  const done = scopes.map((scope) => applyInScope(scope, request, tensor, anchor, label, options));
  const places = done.map(({ applied }, i) => ({ scope: where[i], prefix: applied.prefix }));
  recordIntervention(ir.proto, { ...done[0].record!, places });
  const first = done[0].applied;
  return { ...first, nodes: done.reduce((n, d) => n + d.applied.nodes, 0), places, notes: [...new Set(done.flatMap((d) => d.applied.notes ?? []))] };
}

/** One patch in one graph (the main graph, or a nested one that defines the tensor): the nodes, and what the manifest records. */
function applyInScope(
  ir: IrModel,
  request: PatchRequest,
  tensor: string,
  anchor: Anchor | undefined,
  label: string,
  options: PatchOptions,
) /* the record is absent for a fold, which records itself */ : { applied: AppliedPatch; record?: InterventionRecord } {
  // Nothing can be inserted without a default-domain opset: say that before anything about placement.
  const opset = request.fold ? ir.opset() : insertionOpset(ir.opset(), label);
  const place = placeIntervention(ir, tensor, label);

  const type = tensorType(ir, tensor, label, options.shapes);
  const basis = resolveBasis(request, anchor);
  const fit: Fit = basis.kind === 'dims' ? { maxDim: Math.max(...basis.dims) } : { length: basis.basis[0].length };
  const requestedAxis = request.axis ?? (request.tensor === undefined || request.tensor === anchor?.tensor ? anchor?.axis : undefined);
  const { axis, rank, width } = chooseAxis(ir, tensor, type.shape, requestedAxis, fit, label);
  const target: Target = { ...basis, tensor, axis, rank, width };
  const intervention = resolveIntervention(request, target);

  if (request.fold) {
    checkFoldable(place, label);
    return { applied: foldPatch(ir, request, target, intervention) };
  }
  if (request.strengthInputOptional && !request.strengthInput) throw new UsageError('`strengthInputOptional` goes with `strengthInput`');
  // Nested graphs of one patch share the input: the first (or the caller, for nested ones) checks it.
  if (request.strengthInput && !ir.nested) checkStrengthInput(ir, request.strengthInput, request.strengthInputOptional === true, label);
  // Inserted nodes take forms valid at the model's own opset (builder.ts); the opset is never raised.
  const b = new SubgraphBuilder(ir.graph, uniquePrefix(ir.graph.root, request.mode), type.elemType!, { opset: opset!, irVersion: Number(ir.proto.irVersion) });
  const build = BUILDERS[request.mode];
  const splice = ({ input, output }: Splice): void => {
    if (axis === rank - 1) return build(b, input, output, intervention, width);
    // The builders act on the last axis: move the target axis there and back.
    const moved = b.transpose('to_last', input, axis, rank);
    const done = b.name('on_last');
    build(b, moved, done, intervention, width);
    b.transpose('from_last', done, axis, rank, true, output);
  };
  const placed = insertAtPlacement(ir, place, type, b, splice, label, options.shapes);

  const record: InterventionRecord = {
    kind: 'patch',
    tensor,
    ...(request.concept ? { concept: request.concept } : {}),
    axis,
    mode: request.mode,
    ...(target.kind === 'dims' ? { dims: target.dims } : { basis: target.basis }),
    ...(intervention.projection ? { projection: intervention.projection } : {}),
    strength: intervention.strength,
    ...(intervention.falloff ? { falloff: intervention.falloff } : {}),
    ...(intervention.strengthInput ? { strengthInput: intervention.strengthInput } : {}),
    ...(intervention.strengthInputOptional ? { strengthInputOptional: true } : {}),
    prefix: b.prefix,
    ...placed.record,
  };
  return { applied: { tensor, concept: request.concept, axis, intervention, prefix: b.prefix, nodes: b.nodes.length, ...placed.result }, record };
}

/**
 * The linear forms only: suppress z (I - b Q Q^T) and amplify z (I + S Q Q^T),
 * or their diagonal versions for dims. The half projection and the falloff
 * gate are not linear, and steer and clamp add constants, so none of those
 * can be folded.
 */
function foldPatch(ir: IrModel, request: PatchRequest, target: Target, iv: Intervention): AppliedPatch {
  if (request.mode !== 'suppress' && request.mode !== 'amplify') throw new UsageError(`fold works with suppress and amplify, not ${request.mode}`);
  if (request.falloff) throw new UsageError('fold makes a linear (ungated) suppression; it cannot take a falloff');
  if (request.projection === 'half') throw new UsageError('fold applies the full (linear) projection; the half projection is not linear');
  if (request.strengthInput) throw new UsageError('fold bakes the strength into the weights; it cannot take a strength input');
  const c = request.mode === 'suppress' ? -iv.strength : iv.strength;
  const basis = target.kind === 'subspace' ? target.basis : target.dims.map((d) => Array.from({ length: target.width }, (_, i) => (i === d ? 1 : 0)));
  const folded = { ...iv, ...(request.mode === 'suppress' && target.kind === 'subspace' ? { projection: 'full' as const } : {}) };
  const record = {
    ...(request.concept ? { concept: request.concept } : {}),
    mode: request.mode,
    ...(target.kind === 'dims' ? { dims: target.dims } : { basis: target.basis }),
    ...(folded.projection ? { projection: folded.projection } : {}),
    strength: iv.strength,
  };
  const { requantized } = foldIntoReaders(ir.model, target, basis, c, record, {
    ...(request.foldTolerance !== undefined ? { requantizationTolerance: request.foldTolerance } : {}),
  });
  const notes = requantized.map(
    (r) => `requantized '${r.weight}' (${r.format}): max error ${r.maxError.toExponential(2)}, RMS ${r.rmsError.toExponential(2)} against the unquantized fold`,
  );
  return {
    tensor: target.tensor,
    concept: request.concept,
    axis: target.axis,
    intervention: folded,
    prefix: '(folded into weights)',
    nodes: 0,
    ...(notes.length ? { notes, requantized } : {}),
  };
}

function resolveBasis(request: PatchRequest, anchor: Anchor | undefined): Basis {
  let { directions, dims } = request;
  if (directions && dims) throw new UsageError('give a direction or dims, not both');
  if (!directions && !dims) {
    if (anchor?.direction) directions = [anchor.direction];
    else if (anchor?.dims) dims = anchor.dims;
    else throw new UsageError('give a direction or dims (or a concept of a model with anchors)');
  }
  if (dims) return { kind: 'dims', dims: checkDims(dims) };
  if (directions!.length === 0) throw new UsageError('the direction is empty');
  const length = directions![0].length;
  for (const d of directions!) {
    if (d.length === 0) throw new UsageError('the direction is empty');
    if (d.length !== length) throw new UsageError(`the directions have different lengths (${length} and ${d.length})`);
    if (!d.every(Number.isFinite)) throw new UsageError('the direction holds a value that is not a finite number');
  }
  return { kind: 'subspace', basis: directions!.length === 1 ? [normalize(directions![0], 'the direction')] : orthonormalize(directions!) };
}

/** Dims sorted; range against the axis is checked once the axis is known. */
export function checkDims(dims: number[]): number[] {
  if (dims.length === 0) throw new UsageError('dims: the list is empty');
  for (const d of dims) if (!Number.isInteger(d) || d < 0) throw new UsageError(`dims: ${d} is not a whole number of 0 or more`);
  if (new Set(dims).size !== dims.length) throw new UsageError('dims: a dim is listed twice');
  return [...dims].sort((a, b) => a - b);
}

function resolveIntervention(request: PatchRequest, target: Target): Intervention {
  const strength = request.falloff?.strength ?? request.strength ?? DEFAULT_STRENGTH[request.mode];
  if (!Number.isFinite(strength)) throw new UsageError('strength must be a finite number');
  const range = STRENGTH_RANGE[request.mode];
  if (strength < range.min || strength > range.max) {
    const bounds = range.max === Infinity ? `${range.min} or more` : `from ${range.min} to ${range.max}`;
    throw new UsageError(`strength ${strength} is out of range for ${request.mode}: it takes ${bounds} (${range.meaning})`);
  }
  const single = target.kind === 'subspace' && target.basis.length === 1;
  if (request.projection !== undefined) {
    if (!PROJECTIONS.includes(request.projection)) throw new UsageError(`projection: expected half or full, got '${request.projection}'`);
    if (request.mode !== 'suppress' || !single) throw new UsageError('a projection choice applies to suppression along a single direction');
  }
  if (request.falloff) {
    if (request.mode !== 'suppress') throw new UsageError('a falloff applies to suppression only');
    if (!single) throw new UsageError('a falloff needs a single direction');
    if (request.projection === 'full') throw new UsageError('the falloff gate is part of the half projection; it cannot be used with the full one');
    if (request.strength !== undefined) throw new UsageError('give the strength in the falloff T,B,P or as the strength, not both');
    const { threshold, power } = request.falloff;
    if (!(threshold < 1)) throw new UsageError(`falloff: threshold ${threshold} must be below 1`);
    if (!(power >= 0)) throw new UsageError(`falloff: power ${power} must be 0 or more`);
  }
  const projection = request.mode === 'suppress' && single ? (request.projection ?? (request.fold ? 'full' : 'half')) : undefined;
  return {
    mode: request.mode,
    target,
    strength,
    ...(projection ? { projection } : {}),
    ...(request.falloff ? { falloff: request.falloff } : {}),
    ...(request.strengthInput ? { strengthInput: request.strengthInput } : {}),
    ...(request.strengthInput && request.strengthInputOptional ? { strengthInputOptional: true } : {}),
  };
}

/** A strength input may be shared by stacked patches, but must not shadow a tensor of the model. */
function checkStrengthInput(ir: IrModel, name: string, optional: boolean, label: string): void {
  const g = ir.graph.root;
  const recorded = readInterventions(ir.proto).some((r) => r.strengthInput === name);
  const isOurs = g.isInput(name) && (g.initializer(name) !== undefined || recorded);
  if (!isOurs && g.allNames().has(name)) throw new UsageError(`${label}: strength input '${name}' is already a tensor of the model`);
  if (isOurs && (g.initializer(name) !== undefined) !== optional) {
    throw new UsageError(`${label}: strength input '${name}' is already ${optional ? 'required' : 'optional'}; stacked patches sharing it must all make it so`);
  }
}
