/**
 * The library surface of sca-onnx: what the `sca` commands do, as typed
 * functions. Importing this module changes nothing process-wide: sessions set
 * their own onnxruntime log level, the trainer loads only when training
 * starts, and tfjs is not loaded at all (it is only the bench's baseline).
 *
 * Errors the caller can fix are ScaError (UsageError is its subclass), with a
 * `code` and a message that names the file, tensor or field at fault.
 */

// Errors
// The shipped domains (the colour models) register with compare, reports and datasets.
import './domains/index.js';
export { ScaError, UsageError, type ScaErrorCode } from './errors.js';

// Models: load, save, inspect
export { loadModel, saveModel, parseModel, modelBytes, type Model, type SaveOptions, type SaveResult } from './onnx/model.js';
export { loadModelFolder, saveModelFolder, type ModelFolder, type FolderSaveResult, type FolderSaveOptions } from './onnx/folder.js';
export { summarizeModel, summarizeFolder, type ModelSummary, type TensorSummary, type FolderSummary, type VariantSummary } from './api/inspect.js';
export { variantFile } from './onnx/folder.js';
export { selectVariants, type Variant } from './onnx/variants.js';
export { type FolderEditOptions, type FolderEditResult } from './api/folder.js';

// Interventions inserted as nodes (sca patch)
export { patchModel, type PatchRequest, type AppliedPatch } from './rewrite/patch.js';
export { patchFile, patchFileTo, patchFolderTo } from './api/patch.js';
export { MODES, PROJECTIONS, STRENGTH_RANGE, type Mode, type Projection, type Falloff, type Intervention, type Target } from './rewrite/intervention.js';

// Removal by editing weights (sca ablate: zero, prune, fold)
export { ablate, ablateFileTo, ablateFolderTo, type AblateRequest, type AblateOutcome } from './api/ablate.js';

// Anchors: the concept manifest in metadata_props (sca anchor)
export { readAnchors, writeAnchors, findAnchor, readInterventions, type Anchor, type InterventionRecord } from './anchors/manifest.js';

// Comparing intact and patched models (sca compare) and reports
export {
  compareModels,
  type CompareOptions,
  type Comparison,
  type ComparisonResult,
  type ModelSource,
  type OutputSummary,
  type TapResult,
} from './eval/compare.js';
export { type NamedColorRow, type ColorAnalysis } from './domains/color/analysis.js';
export { renderReport, type ReportOptions, type ReportPart } from './eval/report.js';

// Language models in text (sca compare --prompts)
export { compareText, type TextComparison, type TextCompareOptions, type PromptResult } from './eval/compareText.js';
export { renderTextReport } from './eval/textReport.js';
export { loadTokenizer, type TextTokenizer } from './data/tokenizer.js';
export { cudaAvailable, type Device } from './runtime/session.js';
export { withInputValues } from './api/inputs.js';

// CI gate (sca check)
export { runChecks, parseSpec, junitXml, type Spec, type CheckSpec, type CheckResult } from './api/check.js';
export { checkSummaryMarkdown } from './api/checkSummary.js';

// Probes (sca probe) and concepts found from labelled data (sca anchor --from-data)
export { probeModels, type ProbeRequest, type ProbeReport, type TensorProbe } from './probe/run.js';
export {
  anchorFromData,
  anchorManually,
  anchorFolderTo,
  METHODS,
  type Method,
  type AnchorFromDataRequest,
  type ManualAnchorRequest,
  type FolderAnchorRequest,
} from './api/anchor.js';
export { anchorFromPrompts, type PromptAnchorRequest } from './api/contrast.js';
export { fitLeace, applyEraser, meanDifference, type Eraser } from './anchors/fromData.js';

// Training (sca train color): the paper's presets, seed sweeps on worker threads; the trainer loads on the first call
export { trainColorModel, type ColorTrainingOptions, type ColorTraining, type PresetName, type ScoreStats, type SeedResult } from './api/train.js';
export { PRESETS, PRESET_NAMES, type Preset } from './train/presets.js';

// The paper's selectivity and published numbers
export { selectivity, hsvSimilarity, SELECTIVITY_POWER, SELECTIVITY_GRID } from './domains/color/palette.js';
export { PAPER_SELECTIVITY, type PublishedSelectivity } from './domains/color/paper.js';

// The main job end to end (sca demo) on the shipped models (anchored: suppression; isolated: ablation)
export { runDemo, paperTable, SHIPPED_MODELS, type DemoResult, type DemoRun, type PaperRow } from './domains/color/demo.js';
