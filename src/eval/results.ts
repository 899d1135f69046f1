/**
 * The types a comparison produces, and the interfaces domains augment to add
 * their own fields (eval/domain.ts). They live apart from the code that
 * computes (compare.ts) and renders (report.ts, format.ts) them, so the
 * domain hook can name them without importing either.
 */
import type { Dataset } from '../data/datasets.js';
import type { TapPurity } from '../probe/purity.js';
import type { Device } from '../runtime/session.js';
import type { SampleMetrics, Summary } from './metrics.js';

export interface CompareOptions {
  /** `color-cube[:N]` or a .npy/.npz/.json file. */
  data: string;
  device?: Device;
  batchSize?: number;
  /** JSON file with a label per sample. */
  groups?: string;
  /** Intermediate tensors to expose and compare. */
  taps?: string[];
  /** Also report KL divergence and top-1 agreement, treating the last axis of outputs as class logits. */
  classifier?: boolean;
  /** Colour domain: the colour the selectivity score is measured against (default red). */
  anchorColor?: [number, number, number];
  /** Selectivity's power p (default: 3 when the patched model records a weight ablation or pruning, else 2). */
  selectivityPower?: number;
  /** Points per axis of the selectivity grid (default 8; the authors' notebooks also print 20). */
  selectivityGrid?: number;
  /** Values for the patched model's overridable inputs (e.g. a --strength-input), set in the model before running. */
  patchedInputs?: Record<string, number>;
  /** Two-class labels per sample (a .npy/.json file; the colour cube defaults to redness > 0.5), for taps' anchoring purity. */
  labels?: string;
  onProgress?: (done: number, total: number) => void;
}

export type OutputSummary = { name: string } & Summary;

export interface TapResult {
  tensor: string;
  change: Summary;
  /** Histogram of cos(tap, anchor direction), when the model records an anchor on this tensor. */
  cosine: { concept: string; bins: number[]; intact: number[]; patched: number[] } | null;
  /** Share of the concept's class-mean difference and of a probe's weight inside the anchor, with labels and an anchor on the tap. */
  purity?: TapPurity | null;
}

/**
 * What domains (src/domains/, eval/domain.ts) add to a result, by key: each
 * declares its field by augmenting this interface (the colour domain's
 * `color`). Every registered domain's field is present, null where it does
 * not apply, between `groups` and `taps`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface DomainResults {}

/** What domains add to the per-sample detail behind a result (for reports), declared the same way. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface DomainDetails {}

/** The stable JSON of `sca compare --json` (schemaVersion 1; see README). */
export interface ComparisonResult extends DomainResults {
  schemaVersion: 1;
  intact: string;
  patched: string;
  /** `filled`: decoder inputs built from the token ids (src/data/decoder.ts), not read from the data. */
  data: { name: string; samples: number; filled?: string[] };
  device: Device;
  outputs: OutputSummary[];
  groups: { group: string; samples: number; outputs: OutputSummary[] }[];
  taps: TapResult[];
  timing: { seconds: number; samplesPerSecond: number };
}

/** Per-sample numbers behind the summary, for reports. */
export interface ComparisonDetail extends DomainDetails {
  dataset: Dataset;
  perSample: Record<string, SampleMetrics>;
}

export interface Comparison {
  result: ComparisonResult;
  detail: ComparisonDetail;
}

/** What domains add to a report column, declared by augmenting this interface (the colour domain's `paper`). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ReportPartExtras {}

/** One column of a report. */
export interface ReportPart extends ReportPartExtras {
  heading: string;
  comparison: Comparison;
}
