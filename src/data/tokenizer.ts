/**
 * A model folder's tokenizer, through Hugging Face's own tokenizers.js
 * (`@huggingface/tokenizers`, what transformers.js uses) and its Jinja for
 * chat templates: never a hand-written BPE. Read from the folder's
 * tokenizer.json and tokenizer_config.json, with the end-of-sequence id from
 * generation_config.json or config.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer as TokenizersJs } from '@huggingface/tokenizers';
import { UsageError } from '../errors.js';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface TextTokenizer {
  /** The folder the tokenizer files came from. */
  dir: string;
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** Ids that end a generation. */
  eos: number[];
  /** One past the largest id the tokenizer can produce. */
  vocabSize: number;
  /** The model's context length, from config.json, where it says. */
  contextLength?: number;
  /** Renders chat messages with the folder's chat template (refused without one). */
  renderChat(messages: ChatMessage[]): string;
}

/** The part of tokenizers.js's Tokenizer used here (its published types do not resolve under NodeNext). */
interface HfTokenizer {
  encode(text: string): { ids: number[] };
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
}
const Tokenizer = TokenizersJs as unknown as new (json: unknown, config: unknown) => HfTokenizer;

function readJson(file: string): Record<string, unknown> | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`, 'BAD_MODEL');
  }
}

/**
 * The folder holding a model's tokenizer: the model folder given, or for a
 * file, its own folder or the one above it (transformers.js keeps models in
 * `onnx/` beside the tokenizer).
 */
export function tokenizerDir(modelPath: string): string | undefined {
  const start = fs.statSync(modelPath).isDirectory() ? modelPath : path.dirname(modelPath);
  for (const dir of [start, path.dirname(start)]) if (fs.existsSync(path.join(dir, 'tokenizer.json'))) return dir;
  return undefined;
}

export function loadTokenizer(modelPath: string): TextTokenizer {
  const dir = tokenizerDir(modelPath);
  if (!dir) throw new UsageError(`${modelPath}: no tokenizer.json in the model's folder (or the one above it); text needs the model's tokenizer`, 'BAD_MODEL');
  const json = readJson(path.join(dir, 'tokenizer.json'))!;
  const config = readJson(path.join(dir, 'tokenizer_config.json')) ?? {};
  const modelConfig = readJson(path.join(dir, 'config.json')) ?? {};
  const generation = readJson(path.join(dir, 'generation_config.json')) ?? {};
  let tokenizer: HfTokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
  } catch (err) {
    throw new UsageError(`${path.join(dir, 'tokenizer.json')}: tokenizers.js cannot read it (${(err as Error).message})`, 'BAD_MODEL');
  }
  const vocab = (json.model as { vocab?: Record<string, number> } | undefined)?.vocab ?? {};
  const added = (json.added_tokens as { id: number }[] | undefined) ?? [];
  const vocabSize = Math.max(-1, ...Object.values(vocab), ...added.map((t) => t.id)) + 1;
  const eosIds = [generation.eos_token_id, modelConfig.eos_token_id].flat().filter((v): v is number => typeof v === 'number');
  const contextLength = [modelConfig.n_positions, modelConfig.max_position_embeddings].find((v): v is number => typeof v === 'number');
  const template = typeof config.chat_template === 'string' ? config.chat_template : undefined;
  return {
    dir,
    encode: (text) => tokenizer.encode(text).ids,
    decode: (ids) => tokenizer.decode(ids, { skip_special_tokens: true }),
    eos: [...new Set(eosIds)],
    vocabSize,
    ...(contextLength ? { contextLength } : {}),
    renderChat(messages) {
      if (!template) throw new UsageError(`${dir}: tokenizer_config.json has no chat_template, so {"messages": ...} prompts cannot be rendered`, 'BAD_DATA');
      try {
        return new Template(template).render({ messages, add_generation_prompt: true, bos_token: config.bos_token ?? '', eos_token: config.eos_token ?? '' });
      } catch (err) {
        throw new UsageError(`${dir}: the chat template failed to render (${(err as Error).message})`, 'BAD_DATA');
      }
    },
  };
}
