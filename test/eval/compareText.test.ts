/**
 * Language-model behaviour in text: `sca compare --prompts` on the fixture's
 * Hugging Face-style GPT-2 folder (test/fixtures/gpt2-folder), intact and
 * steered at block 0. The runner's greedy tokens are PyTorch's (hooked
 * generation with the KV cache), and transformers.js's generate() gives the
 * same; first-token KL is the KL of PyTorch's own logits; a strength-0 patch
 * agrees exactly. KL is also checked on hand-worked numbers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AutoModelForCausalLM, AutoTokenizer, env } from '@huggingface/transformers';
import { klFromLogits, pairMetrics, perplexity } from '../../src/eval/textMetrics.js';
import { sca } from '../helpers/cli.js';
import { copyFixtureFolder, GPT2_DIR, gpt2Reference, steerFixture } from '../helpers/gpt2Folder.js';
import { useTempDir } from '../helpers/tmp.js';

const ref = gpt2Reference();
const tmp = useTempDir('compare-text');
const V = ref.config.vocab_size;
const TJS = path.join(GPT2_DIR, 'tjs');

async function steered(...extra: string[]): Promise<string> {
  const r = await steerFixture('tjs', path.join(tmp(), `steered-${extra.length}`), ...extra);
  expect(r.code, r.err).toBe(0);
  return r.dir;
}

function prompts(...lines: string[]): string {
  const f = path.join(tmp(), 'prompts.txt');
  fs.writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

async function compareJson(intact: string, patched: string, ...args: string[]) {
  const r = await sca('compare', intact, patched, ...args, '--json', '-');
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out);
}

describe('text metrics on hand-worked numbers', () => {
  it('KL(p ‖ q) for p = (1/2, 1/2), q = (1/4, 3/4) is ln(4/3)/2; perplexity of a certain model is 1', () => {
    expect(klFromLogits([0, 0], [0, Math.log(3)])).toBeCloseTo(Math.log(4 / 3) / 2, 12);
    expect(klFromLogits([1, 2, 3], [1, 2, 3])).toBe(0);
    const sure = [Float64Array.from([0, 50]), Float64Array.from([50, 0])];
    expect(perplexity([0, 1, 0], sure)).toBeCloseTo(1, 10);
  });

  it('agreement, first divergence and the shared-prefix log-prob difference', () => {
    const l = (...v: number[]) => Float64Array.from(v);
    const intact = { tokens: [1, 1, 0], logits: [l(0, 1), l(0, 2), l(3, 0)] };
    const patched = { tokens: [1, 0, 0], logits: [l(0, 1), l(1, 0), l(3, 0)] };
    const m = pairMetrics(intact, patched, intact.logits);
    expect(m.tokenAgreement).toBeCloseTo(2 / 3, 12);
    expect(m.firstDivergence).toBe(1);
    expect(m.sharedPrefixMaxLogprobDiff).toBe(0);
    expect(m.meanKl).toBe(0);
  });
});

describe('sca compare --prompts on a GPT-2 folder', () => {
  it('generates PyTorch’s greedy tokens, intact and steered, and first-token KL is the KL of PyTorch’s logits (1e-4 relative)', async () => {
    const out = await compareJson(TJS, await steered(), '--prompts', prompts(ref.prompt), '--max-new-tokens', String(ref.intact.greedy.length));
    const [p] = out.text.prompts;
    expect(p.intactTokens).toEqual(ref.intact.greedy);
    expect(p.patchedTokens).toEqual(ref.steer.greedy);
    expect(p.firstDivergence).toBe(ref.intact.greedy.findIndex((t, i) => t !== ref.steer.greedy[i]));
    const want = klFromLogits(ref.intact.step_logits.slice(0, V), ref.steer.step_logits.slice(0, V));
    expect(Math.abs(p.firstTokenKl - want) / want).toBeLessThan(1e-4);
    expect(out.text.firstTokenKl).toBe(p.firstTokenKl);
    expect(out.intact).toBe(path.join(TJS, 'onnx/model.onnx'));
  });

  it('decodes with the folder’s tokenizer as transformers.js does, and its generate() gives the runner’s tokens', async () => {
    const out = await compareJson(TJS, TJS, '--prompts', prompts(ref.prompt, 'the mat sat'), '--max-new-tokens', '10');
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = GPT2_DIR + '/';
    const tokenizer = await AutoTokenizer.from_pretrained('tjs', { local_files_only: true });
    const model = await AutoModelForCausalLM.from_pretrained('tjs', { local_files_only: true, dtype: 'fp32' });
    try {
      for (const p of out.text.prompts) {
        expect(p.intact).toBe(tokenizer.decode(p.intactTokens, { skip_special_tokens: true }));
        const inputs = tokenizer(p.prompt);
        const gen = await model.generate({ ...inputs, max_new_tokens: 10, do_sample: false });
        const ids = Array.from((gen as { data: BigInt64Array }).data, Number).slice(inputs.input_ids.dims[1]);
        expect(p.intactTokens).toEqual(ids);
      }
    } finally {
      await model.dispose();
    }
    expect(out.text.tokenAgreement).toBe(1);
    expect(out.text.firstTokenKl).toBe(0);
  }, 60_000);

  it('a strength-0 patch agrees exactly: token agreement 1, KL 0; the recorded strength moves it', async () => {
    const patched = await steered('--strength-input', 'k');
    const off = await compareJson(TJS, patched, '--prompts', prompts(ref.prompt), '--max-new-tokens', '6', '--set', 'k=0');
    expect(off.text.tokenAgreement).toBe(1);
    expect(off.text.firstTokenKl).toBe(0);
    expect(off.text.meanKl).toBe(0);
    const on = await compareJson(TJS, patched, '--prompts', prompts(ref.prompt), '--max-new-tokens', '6');
    expect(on.text.firstTokenKl).toBeGreaterThan(1e-3);
  });

  it('term and refusal rates, and perplexity on a held-out text', async () => {
    const terms = path.join(tmp(), 'terms.txt');
    fs.writeFileSync(terms, '/./\nnever-generated-word\n');
    const text = path.join(tmp(), 'held-out.txt');
    fs.writeFileSync(text, 'The cat sat on the mat. The dog sat on the log.');
    const out = await compareJson(TJS, await steered(), '--prompts', prompts(ref.prompt), '--max-new-tokens', '4', '--terms', terms, '--text', text);
    expect(out.text.termRate).toEqual({ intact: 1, patched: 1 });
    expect(out.text.refusalRate).toEqual({ intact: 0, patched: 0 });
    expect(out.text.perplexity.intact).toBeGreaterThan(1);
    expect(out.text.perplexity.patched).not.toBe(out.text.perplexity.intact);
  });
});

describe('sca compare --prompts: bad input is one line and exit 2', () => {
  const run = async (intact: string, ...args: string[]) => {
    const r = await sca('compare', intact, intact, ...args);
    expect(r.code, r.out).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    return r.err;
  };

  it('an empty prompts file, one that is not UTF-8, and a prompt longer than the context', async () => {
    const f = path.join(tmp(), 'p.txt');
    fs.writeFileSync(f, '\n\n');
    expect(await run(TJS, '--prompts', f)).toMatch(/no prompts/);
    fs.writeFileSync(f, Buffer.from([0xff, 0xfe, 0x41]));
    expect(await run(TJS, '--prompts', f)).toMatch(/not UTF-8/);
    fs.writeFileSync(f, 'q w e r t y u i o p '.repeat(20));
    expect(await run(TJS, '--prompts', f)).toMatch(/longer than the model's context of 64/);
  });

  it('chat messages: rendered through the folder’s template; a folder without one, or a template that fails, is refused', async () => {
    const chat = copyFixtureFolder('tjs', path.join(tmp(), 'chat'));
    const config = JSON.parse(fs.readFileSync(path.join(chat, 'tokenizer_config.json'), 'utf8'));
    const jsonl = path.join(tmp(), 'p.jsonl');
    fs.writeFileSync(jsonl, `${JSON.stringify({ messages: [{ role: 'user', content: 'the cat' }] })}\n`);
    expect(await run(chat, '--prompts', jsonl)).toMatch(/has no chat_template/);
    config.chat_template = '{% for m in messages %}{{ m.role }}: {{ m.content }} {% endfor %}{% if add_generation_prompt %}bot:{% endif %}';
    fs.writeFileSync(path.join(chat, 'tokenizer_config.json'), JSON.stringify(config));
    const ok = await sca('compare', chat, chat, '--prompts', jsonl, '--max-new-tokens', '2', '--json', '-');
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out).text.prompts[0].prompt).toBe('user: the cat bot:');
    config.chat_template = '{% for m in messages %}{{ m.role | nofilter }}{% endfor %}';
    fs.writeFileSync(path.join(chat, 'tokenizer_config.json'), JSON.stringify(config));
    expect(await run(chat, '--prompts', jsonl)).toMatch(/the chat template failed to render/);
  });

  it('--max-new-tokens beyond the model’s positions, a folder with no tokenizer, and a tokenizer that is not the model’s', async () => {
    expect(await run(TJS, '--prompts', prompts('hi'), '--max-new-tokens', '64')).toMatch(/beyond the model's 64 positions/);
    const bare = copyFixtureFolder('tjs', path.join(tmp(), 'bare'));
    fs.rmSync(path.join(bare, 'tokenizer.json'));
    expect(await run(bare, '--prompts', prompts('hi'))).toMatch(/no tokenizer\.json/);
    const other = copyFixtureFolder('tjs', path.join(tmp(), 'other'));
    const tok = JSON.parse(fs.readFileSync(path.join(other, 'tokenizer.json'), 'utf8'));
    tok.added_tokens.push({ id: 511, content: '<|extra|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    fs.writeFileSync(path.join(other, 'tokenizer.json'), JSON.stringify(tok));
    expect(await run(other, '--prompts', prompts('hi'))).toMatch(/logits cover 300 tokens but .* has 512: not this model's tokenizer/);
  });
});

describe('sca check with text metrics', () => {
  it('runs the shipped example spec: a strength-0 steer gives agreement 1 and KL 0, a real one moves the first token', async () => {
    const spec = path.join(GPT2_DIR, '..', '..', '..', 'examples', 'checks', 'gpt2-steering.json');
    const r = await sca('check', spec, '--json', '-');
    expect(r.code, r.out + r.err).toBe(0);
    const results = JSON.parse(r.out).results as { metric: string; value: number; passed: boolean }[];
    expect(results.map((c) => c.metric)).toEqual(['token_agreement', 'first_token_kl', 'first_token_kl', 'perplexity_ratio']);
    expect(results[0].value).toBe(1);
    expect(results[1].value).toBe(0);
    expect(results[2].value).toBeGreaterThan(0.01);
  }, 60_000);

  it('a text metric without prompts is refused, naming the check', async () => {
    const spec = path.join(tmp(), 'spec.json');
    fs.writeFileSync(spec, JSON.stringify({ intact: TJS, checks: [{ name: 'kl', patched: TJS, metric: 'first_token_kl', max: 0 }] }));
    const r = await sca('check', spec);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/kl.*metric first_token_kl needs `prompts`|--prompts/);
  });
});

describe('the text report', () => {
  const CHROMIUM = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && fs.existsSync(p));

  it.runIf(CHROMIUM || process.env.CI)(
    'renders in headless Chromium: the generations side by side, the first divergence marked, the metrics below',
    async () => {
      expect(CHROMIUM, "CI needs Debian's chromium (apt-get install chromium)").toBeDefined();
      const report = path.join(tmp(), 'text.html');
      const r = await sca(
        'compare',
        TJS,
        await steered(),
        '--prompts',
        prompts(ref.prompt),
        '--max-new-tokens',
        String(ref.intact.greedy.length),
        '--report',
        report,
      );
      expect(r.code, r.err).toBe(0);
      const { execFileSync } = await import('node:child_process');
      const args = [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        `--user-data-dir=${path.join(tmp(), 'chromium')}`,
      ];
      const dom = execFileSync(CHROMIUM!, [...args, '--dump-dom', `file://${report}`], {
        encoding: 'utf8',
        timeout: 60_000,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const side = (name: string) => new RegExp(`<div class="side" data-side="${name}">[\\s\\S]*?</div>`).exec(dom)?.[0] ?? '';
      const spans = (html: string) => [...html.matchAll(/<span class="tok (\w[\w-]*)">/g)].map((m) => m[1]);
      const diverge = ref.intact.greedy.findIndex((t, i) => t !== ref.steer.greedy[i]);
      for (const name of ['intact', 'patched']) {
        const classes = spans(side(name));
        expect(classes).toHaveLength(ref.intact.greedy.length);
        expect(classes.indexOf('first-divergence')).toBe(diverge);
        expect(classes.slice(0, diverge).every((c) => c === 'same')).toBe(true);
      }
      expect(dom).toContain(`first divergence at generated token ${diverge + 1}`);
      expect(dom).toMatch(/<table class="metrics">[\s\S]*first-token KL[\s\S]*token agreement/);
      expect(dom.indexOf('data-side="intact"')).toBeLessThan(dom.indexOf('<table class="metrics">'));
    },
    90_000,
  );
});

describe('batched generation', () => {
  it('left-padded batches give every prompt the tokens and logits it gets alone', async () => {
    const { compareText } = await import('../../src/eval/compareText.js');
    const file = prompts(ref.prompt, 'a', 'the dog ran to the big red tree', 'sat', 'The mat');
    const patched = await steered();
    const alone = await compareText(TJS, patched, { prompts: file, maxNewTokens: 10, batchSize: 1 });
    const together = await compareText(TJS, patched, { prompts: file, maxNewTokens: 10, batchSize: 5 });
    together.text.prompts.forEach((p, i) => {
      const q = alone.text.prompts[i];
      expect(p.intactTokens, p.prompt).toEqual(q.intactTokens);
      expect(p.patchedTokens, p.prompt).toEqual(q.patchedTokens);
      expect(Math.abs(p.firstTokenKl - q.firstTokenKl)).toBeLessThan(1e-6 * Math.max(1, q.firstTokenKl));
      expect(Math.abs(p.meanKl - q.meanKl)).toBeLessThan(1e-6 * Math.max(1, q.meanKl));
    });
  });
});
