/**
 * The concept file an SCA-trained language model ships with (concept.json in
 * its model folder, written by scripts/train_sca_lm.py): which words make up
 * the concept and how similar by design each other word is, the prompts that
 * invite each word, held-out text that never contains the concept, neutral
 * prompts, and the labelled training positions post-hoc methods are fitted
 * on. `sca demo lm` measures everything from it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../errors.js';

export interface ConceptWord {
  word: string;
  /** Part of the concept itself (the red family), not a neighbour. */
  family: boolean;
  /** Designed similarity to the concept, 1 for the family. */
  similarity: number;
  /** Prompts whose next word is this one. */
  prompts: string[];
}

export interface FitSequence {
  ids: number[];
  /** Positions labelled during training (their next token is the concept). */
  labelled: number[];
  /** Positions whose next token is any word of the file. */
  colour: number[];
}

export interface ConceptSpec {
  concept: string;
  site: { block: number; tensor: string; dims: number[] };
  words: ConceptWord[];
  heldOut: string[];
  neutral: string[];
  fit: FitSequence[];
}

export const CONCEPT_FILE = 'concept.json';

const strings = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && s.length > 0);
const integers = (v: unknown) => Array.isArray(v) && v.every((x) => Number.isInteger(x) && (x as number) >= 0);

export function loadConceptSpec(folder: string): ConceptSpec {
  const file = path.join(folder, CONCEPT_FILE);
  if (!fs.existsSync(file)) throw new UsageError(`${folder}: no ${CONCEPT_FILE} (the concept's words, prompts and labelled positions)`, 'BAD_DATA');
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`, 'BAD_DATA');
  }
  const bad = (what: string) => new UsageError(`${file}: ${what}`, 'BAD_DATA');
  const s = raw as ConceptSpec;
  if (!s || typeof s !== 'object' || typeof s.concept !== 'string') throw bad('needs a "concept" name');
  if (!s.site || !Number.isInteger(s.site.block) || typeof s.site.tensor !== 'string' || !integers(s.site.dims) || !s.site.dims.length)
    throw bad('"site" needs "block", "tensor" and "dims"');
  if (!Array.isArray(s.words) || s.words.length < 3) throw bad('"words" needs 3 words at least (the selectivity is a fit over them)');
  s.words.forEach((w, i) => {
    if (typeof w?.word !== 'string' || typeof w.family !== 'boolean' || !Number.isFinite(w.similarity) || !strings(w.prompts))
      throw bad(`words[${i}] needs "word", "family", a numeric "similarity" and a list of "prompts"`);
  });
  if (!s.words.some((w) => w.family)) throw bad('no word is marked "family": true');
  if (!strings(s.heldOut)) throw bad('"heldOut" must be a list of texts');
  if (!strings(s.neutral)) throw bad('"neutral" must be a list of prompts');
  if (!Array.isArray(s.fit) || !s.fit.length) throw bad('"fit" must list labelled sequences');
  s.fit.forEach((f, i) => {
    if (!integers(f?.ids) || !f.ids.length || !integers(f.labelled) || !integers(f.colour))
      throw bad(`fit[${i}] needs "ids", "labelled" and "colour" integer lists`);
    if ([...f.labelled, ...f.colour].some((p) => p >= f.ids.length)) throw bad(`fit[${i}]: a position lies past the sequence's ${f.ids.length} tokens`);
  });
  return s;
}
