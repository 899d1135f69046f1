/**
 * The hook through which compare, the report and the terminal tables know a
 * domain (src/domains/): what is specific to one kind of model, such as the
 * colour autoencoders' per-colour table and selectivity. Generic code never
 * names a domain; a domain registers itself when it is loaded, declares the
 * fields it adds to a result (by augmenting `DomainResults` and
 * `DomainDetails` in compare.ts), fills them after compare's loop, and
 * supplies the report's verdict and sections for the comparisons it owns.
 */
import type { Dataset } from '../data/datasets.js';
import type { Model } from '../onnx/model.js';
import type { ort } from '../runtime/session.js';
import type { CompareOptions, Comparison, ComparisonDetail, ComparisonResult, DomainResults, ReportPart } from './results.js';

export interface DomainContext {
  dataset: Dataset;
  intact: { model: Model; session: ort.InferenceSession };
  patched: { model: Model; session: ort.InferenceSession };
  /** The first output both models have. */
  output: string;
  options: CompareOptions;
  result: ComparisonResult;
  detail: ComparisonDetail;
}

export interface Domain {
  name: string;
  /** This domain's fields of every result, as they read when its analysis does not apply. */
  emptyResult(): Partial<DomainResults>;
  /** Group names in the domain's order, for per-group tables (others follow alphabetically). */
  groupOrder?: readonly string[];
  /** Adds the domain's analysis to the result and detail, when the dataset is the domain's own. */
  analyse(ctx: DomainContext): Promise<void>;
  /** Whether a result carries this domain's analysis; then the pieces below replace the generic ones. */
  owns(result: ComparisonResult): boolean;
  /** The report's verdict, as list items (HTML). */
  verdictItems(part: ReportPart): string[];
  /** The report's sections between the summary and the per-group table (HTML). */
  sections(c: Comparison): string[];
  /** What a group is, for the per-group table's definitions. */
  groupDefinition: string;
  /** Lines for the terminal after the outputs' table. */
  text(result: ComparisonResult): string[];
}

const DOMAINS: Domain[] = [];

/** Called by a domain's module as it is loaded. */
export function registerDomain(domain: Domain): void {
  if (!DOMAINS.some((d) => d.name === domain.name)) DOMAINS.push(domain);
}

export function registeredDomains(): readonly Domain[] {
  return DOMAINS;
}

/** The domain whose analysis `result` carries, if any. */
export function domainOf(result: ComparisonResult): Domain | undefined {
  return DOMAINS.find((d) => d.owns(result));
}

/** Every registered domain's fields, empty, in registration order. */
export function emptyDomainResults(): DomainResults {
  return Object.assign({}, ...DOMAINS.map((d) => d.emptyResult())) as DomainResults;
}

/** Group names in the first registered domain order that knows them, the rest alphabetically. */
export function orderGroups(names: Iterable<string>): string[] {
  const order = DOMAINS.flatMap((d) => d.groupOrder ?? []);
  // Names no domain orders rank -1: first, alphabetically, as compare always sorted them.
  return [...new Set(names)].sort((x, y) => order.indexOf(x) - order.indexOf(y) || x.localeCompare(y));
}
