/**
 * `sca patch` as a library function: resolve each requested intervention
 * against the model (manifest, tensor type and width), check it, splice its
 * nodes in after the tensor, and record it in the manifest.
 */
import { findAnchor, recordIntervention } from '../anchors/manifest.js';
import { UsageError } from '../errors.js';
import { probeTensorInfo } from '../eval/probe.js';
import { allNames, opsetOf, requireTensor, setOpset, tensorInfo, type TensorInfo } from '../onnx/graph.js';
import type { Model } from '../onnx/model.js';
import { elementTypeName } from '../onnx/tensor.js';
import { DataType } from '../onnx/types.js';
import { foldLinearMap, subspaceMap } from './ablation.js';
import { buildAmplification } from './amplification.js';
import { normalize, orthonormalize } from './basis.js';
import { SubgraphBuilder, NODE_PREFIX } from './builder.js';
import { buildClamping } from './clamping.js';
import { applyErasure } from './erasure.js';
import { insertAfter } from './insert.js';
import { MODES, type Falloff, type Intervention, type Mode, type Target } from './intervention.js';
import { buildSteering } from './steering.js';
import { buildSuppression } from './suppression.js';

export interface PatchRequest {
  /** Tensor to act on; defaults to the concept's anchored tensor. */
  tensor?: string;
  /** Concept in the model's manifest: supplies tensor and direction/dims when not given. */
  concept?: string;
  /** One direction, or several spanning a subspace (orthonormalised here). */
  directions?: number[][];
  dims?: number[];
  mode: Mode;
  strength?: number;
  falloff?: Falloff;
  strengthInput?: string;
  /** Fold a linear suppression or amplification into the weights that read the tensor, adding no nodes. */
  fold?: boolean;
}

export interface AppliedPatch {
  tensor: string;
  concept?: string;
  intervention: Intervention;
  /** Prefix of every node and initializer added. */
  prefix: string;
  nodes: number;
}

const BUILDERS: Record<Mode, (b: SubgraphBuilder, z: string, out: string, iv: Intervention, width: number) => void> = {
  suppress: buildSuppression,
  amplify: buildAmplification,
  steer: buildSteering,
  clamp: buildClamping,
};

const DEFAULT_STRENGTH: Record<Mode, number> = { suppress: 1, amplify: 1, steer: 1, clamp: 0 };

export async function patchModel(model: Model, requests: PatchRequest[], label = 'model'): Promise<AppliedPatch[]> {
  const applied: AppliedPatch[] = [];
  for (const request of requests) applied.push(await applyOne(model, request, label));
  return applied;
}

async function applyOne(model: Model, request: PatchRequest, label: string): Promise<AppliedPatch> {
  if (!MODES.includes(request.mode)) throw new UsageError(`--mode: expected one of ${MODES.join(', ')}, got '${request.mode}'`);
  const graph = model.proto.graph!;
  const anchor = request.concept ? findAnchor(model.proto, request.concept, label) : undefined;
  // A concept anchored from data with LEACE is suppressed by its eraser (src/rewrite/erasure.ts).
  if (anchor?.eraser && request.mode === 'suppress' && !request.tensor && !request.directions && !request.dims) {
    if (request.strength !== undefined || request.falloff || request.strengthInput) throw new UsageError(`concept '${anchor.concept}' has a LEACE eraser, which takes no --strength, --falloff or --strength-input`);
    return applyErasure(model, anchor, { fold: request.fold }, label);
  }
  const tensor = request.tensor ?? anchor?.tensor;
  if (!tensor) throw new UsageError('give --tensor NAME or --concept NAME');
  requireTensor(graph, tensor, label);

  const info = await resolveInfo(model, tensor, label);
  const width = info.shape![info.shape!.length - 1] as number;
  const target = resolveTarget(request, anchor, width, tensor);
  const intervention = resolveIntervention(request, target);

  if (request.fold) return foldPatch(model, request, tensor, target, intervention, width);
  const b = new SubgraphBuilder(graph, uniquePrefix(model, request.mode), info.elemType!);
  if (request.strengthInput) checkStrengthInput(model, request.strengthInput, label);
  insertAfter(graph, tensor, b, ({ input, output }) => BUILDERS[request.mode](b, input, output, intervention, width));
  const opset = opsetOf(model.proto) ?? 1;
  if (b.minOpset > opset) setOpset(model.proto, b.minOpset);

  recordIntervention(model.proto, {
    kind: 'patch',
    tensor,
    ...(request.concept ? { concept: request.concept } : {}),
    mode: request.mode,
    ...(target.kind === 'dims' ? { dims: target.dims } : { basis: target.basis }),
    strength: intervention.strength,
    ...(intervention.falloff ? { falloff: intervention.falloff } : {}),
    ...(intervention.strengthInput ? { strengthInput: intervention.strengthInput } : {}),
    prefix: b.prefix,
  });
  return { tensor, concept: request.concept, intervention, prefix: b.prefix, nodes: b.nodes.length };
}

/**
 * The linear forms only: suppress z (I - b Q^T Q) and amplify z (I + S Q^T Q),
 * or their diagonal versions for dims. The falloff gate is not linear and steer
 * and clamp add constants, so none of those can be folded.
 */
function foldPatch(model: Model, request: PatchRequest, tensor: string, target: Target, iv: Intervention, width: number): AppliedPatch {
  if (request.mode !== 'suppress' && request.mode !== 'amplify') throw new UsageError(`--fold works with suppress and amplify, not ${request.mode}`);
  if (request.falloff) throw new UsageError('--fold makes a linear (ungated) suppression; it cannot take --falloff');
  if (request.strengthInput) throw new UsageError('--fold bakes the strength into the weights; it cannot take --strength-input');
  const c = request.mode === 'suppress' ? -iv.strength : iv.strength;
  const basis = target.kind === 'subspace' ? target.basis : target.dims.map((d) => Array.from({ length: width }, (_, i) => (i === d ? 1 : 0)));
  foldLinearMap(model, tensor, subspaceMap(basis, c), {
    ...(request.concept ? { concept: request.concept } : {}),
    mode: request.mode,
    ...(target.kind === 'dims' ? { dims: target.dims } : { basis: target.basis }),
    strength: iv.strength,
  });
  return { tensor, concept: request.concept, intervention: iv, prefix: '(folded into weights)', nodes: 0 };
}

/** Element type and a concrete last axis, from the file or else by running the model once. */
async function resolveInfo(model: Model, tensor: string, label: string): Promise<TensorInfo> {
  let info = tensorInfo(model.proto.graph!, tensor);
  const last = info.shape?.[info.shape.length - 1];
  if (info.elemType === undefined || typeof last !== 'number') info = await probeTensorInfo(model, tensor, label);
  if (info.elemType !== DataType.FLOAT && info.elemType !== DataType.FLOAT16) {
    throw new UsageError(`${label}: tensor '${tensor}' is ${elementTypeName(info.elemType)}; only float32 and float16 tensors can be patched`);
  }
  if (!info.shape || info.shape.length === 0) throw new UsageError(`${label}: tensor '${tensor}' is a scalar; interventions act on a last axis`);
  return info;
}

function resolveTarget(request: PatchRequest, anchor: { direction?: number[]; dims?: number[] } | undefined, width: number, tensor: string): Target {
  let { directions, dims } = request;
  if (directions && dims) throw new UsageError('give --direction or --dims, not both');
  if (!directions && !dims) {
    if (anchor?.direction) directions = [anchor.direction];
    else if (anchor?.dims) dims = anchor.dims;
    else throw new UsageError('give --direction or --dims (or --concept for a model with anchors)');
  }
  if (dims) return { kind: 'dims', dims: checkDims(dims, width, tensor) };
  for (const d of directions!) {
    if (d.length !== width) {
      throw new UsageError(`--direction has ${d.length} values but tensor '${tensor}' has ${width} in its last axis`);
    }
    if (!d.every(Number.isFinite)) throw new UsageError('--direction holds a value that is not a finite number');
  }
  return { kind: 'subspace', basis: directions!.length === 1 ? [normalize(directions![0], '--direction')] : orthonormalize(directions!) };
}

export function checkDims(dims: number[], width: number, tensor: string): number[] {
  if (dims.length === 0) throw new UsageError('--dims is empty');
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d >= width) {
      throw new UsageError(`--dims: ${d} is out of range for tensor '${tensor}' (last axis has ${width}: 0 to ${width - 1})`);
    }
  }
  if (new Set(dims).size !== dims.length) throw new UsageError('--dims lists a dim twice');
  return [...dims].sort((a, b) => a - b);
}

function resolveIntervention(request: PatchRequest, target: Target): Intervention {
  const strength = request.strength ?? DEFAULT_STRENGTH[request.mode];
  if (!Number.isFinite(strength)) throw new UsageError('--strength must be a finite number');
  if (request.falloff) {
    if (request.mode !== 'suppress') throw new UsageError('--falloff applies to --mode suppress only');
    if (target.kind !== 'subspace' || target.basis.length !== 1) throw new UsageError('--falloff needs a single --direction');
    if (request.strength !== undefined) throw new UsageError('give the strength in --falloff T,B,P or in --strength, not both');
    const { threshold, power } = request.falloff;
    if (!(threshold < 1)) throw new UsageError(`--falloff: threshold ${threshold} must be below 1`);
    if (!(power >= 0)) throw new UsageError(`--falloff: power ${power} must be 0 or more`);
  }
  return {
    mode: request.mode,
    target,
    strength: request.falloff?.strength ?? strength,
    ...(request.falloff ? { falloff: request.falloff } : {}),
    ...(request.strengthInput ? { strengthInput: request.strengthInput } : {}),
  };
}

/** A strength input may be shared by stacked patches, but must not shadow a tensor of the model. */
function checkStrengthInput(model: Model, name: string, label: string): void {
  const graph = model.proto.graph!;
  const isOurs = graph.input.some((v) => v.name === name) && graph.initializer.some((t) => t.name === name);
  if (!isOurs && allNames(graph).has(name)) throw new UsageError(`${label}: --strength-input '${name}' is already a tensor of the model`);
}

function uniquePrefix(model: Model, mode: Mode): string {
  const names = allNames(model.proto.graph!);
  for (let k = 0; ; k++) {
    const prefix = `${NODE_PREFIX}${mode}_${k}`;
    if (![...names].some((n) => n.startsWith(`${prefix}/`))) return prefix;
  }
}
