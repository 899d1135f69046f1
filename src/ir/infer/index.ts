/**
 * Shape and type inference, pure TypeScript: symbolic dims, numpy
 * broadcasting, small integer values carried through shape computations.
 */
export {
  addDims,
  canonicalDim,
  ceilDiv,
  dimsEqual,
  evaluateDim,
  exactDiv,
  floorDiv,
  formatShape,
  isConcrete,
  mulDims,
  productOf,
  subDims,
  type Dim,
} from './dims.js';
export { decodeValues, knownOfTensor, smallTensorValues } from './constants.js';
export { smallTensorReader } from './read.js';
export {
  describeStop,
  graphDeclared,
  graphKnowns,
  inferGraph,
  inferModel,
  type GraphInference,
  type InferOptions,
  type InferStopInfo,
  type KnownSource,
} from './graph.js';
export { inferNode } from './node.js';
export { ruleFor, supportedOps } from './registry.js';
export { Elem, MAX_VALUE_ELEMENTS, type InferContext, type Known, type NodeLike, type NodeResult, type Rule, type TensorType } from './types.js';
export { compareTypes, declaredType, isFreshDim, mergeTypes, sameType, type TypeConflict } from './valueInfo.js';
