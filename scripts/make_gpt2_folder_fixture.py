#!/usr/bin/env python3
"""A tiny Hugging Face-style GPT-2 as transformers.js model folders, with PyTorch references.

Run by hand (never at test time) with Debian's PyTorch 1.13 and onnx 1.12:

    /usr/bin/python3 scripts/make_gpt2_folder_fixture.py
    node scripts/check-gpt2-folder-fixture.mjs      # onnxruntime-node and transformers.js vs the references

Writes test/fixtures/gpt2-folder/ (see its README.md):

    tjs/          config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
                  onnx/model.onnx (fp32, opset 14, with past) and onnx/model_fp16.onnx
    tjs-op17/     the same side files; onnx/model.onnx at opset 17 (LayerNormalization), every
                  initializer in onnx/model.onnx_data, no value_info
    merged/       the same side files; onnx/decoder_model_merged.onnx: optimum's merge of the export
                  without past and the export with past under one If on use_cache_branch
    direction.npy float32 [n_embd] unit steering direction
    reference.json

The model is written module for module like transformers.models.gpt2.modeling_gpt2 (Conv1D layers,
"gelu_new", HF's additive attention mask, KV cache concatenated on the sequence axis) and exported as
optimum exports `text-generation-with-past` for transformers.js. The tokenizer is a byte-level BPE
learned here from a small built-in English corpus. Weights are random (seeded); the run is
single-threaded and deterministic, so the same torch build gives the same bytes.
"""
import copy
import hashlib
import json
import math
import os
import re
import sys
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import write_json  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'gpt2-folder'))

VOCAB, N_EMBD, N_HEAD, N_LAYER, N_POS = 300, 64, 2, 2, 64
HEAD_DIM, N_INNER, LN_EPS = N_EMBD // N_HEAD, 4 * N_EMBD, 1e-5
EOT = '<|endoftext|>'
EOT_ID = VOCAB - 1
N_MERGES = VOCAB - 256 - 1
PROMPT = 'The cat sat on the mat'
GREEDY_STEPS = 12
ALPHA = 2.0          # steering strength: resid_block0 += ALPHA * direction
ABLATE = [1, 3]      # MLP hidden units of h.0 ablated / pruned
# Weight seed 2 was picked from seeds 0-19 as one whose greedy tokens vary (intact and steered, which differ)
# with a smallest top-2 logit margin far above the fp16 error (0.36 intact, 0.17 steered).
SEED_WEIGHTS, SEED_NORMS, SEED_DIRS, SEED_DUMMY = 2, 102, 2, 3

B, S, P = 'batch_size', 'sequence_length', 'past_sequence_length'
T = 'past_sequence_length + sequence_length'


# ---------------------------------------------------------------- tokenizer (byte-level BPE, HF tokenizers JSON)

CORPUS = """\
The cat sat on the mat. The dog sat on the rug. The cat and the dog are friends.
Every morning the cat walks to the garden, and the dog walks with the cat.
In the garden there is a tree, and under the tree there is a small pond.
The cat likes to sit by the pond and watch the fish. The dog likes to run.
When the sun is high, the cat and the dog rest in the shade of the tree.
The girl who lives in the house gives the cat milk and gives the dog a bone.
She reads a book on the bench, and the cat sits on the book, and the dog sits on her feet.
At night the house is quiet. The cat sleeps on the mat and the dog sleeps on the rug.
It is a good life for the cat, for the dog, and for the girl in the house by the garden.
"""

# GPT-2's pattern, with \\p{L} and \\p{N} written for ASCII (the corpus and prompt are ASCII, where the two agree).
GPT2_PATTERN = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    """GPT-2's byte -> printable character table; its order is GPT-2's order of the 256 base tokens."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('\xa1'), ord('\xac') + 1)) + list(range(ord('\xae'), ord('\xff') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return list(zip(bs, [chr(c) for c in cs]))


BYTE_TABLE = bytes_to_unicode()
BYTE_ENCODER = dict(BYTE_TABLE)


def pre_tokenize(text):
    assert text.isascii()
    return [''.join(BYTE_ENCODER[b] for b in piece.encode('utf-8')) for piece in GPT2_PATTERN.findall(text)]


def train_bpe():
    """Most frequent adjacent pair first; ties broken by the smaller pair (string order)."""
    words = Counter(tuple(w) for w in pre_tokenize(CORPUS))
    merges = []
    for _ in range(N_MERGES):
        pairs = Counter()
        for w, c in words.items():
            for p in zip(w, w[1:]):
                pairs[p] += c
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        merged = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] += c
        words = merged
    vocab = {ch: i for i, (_, ch) in enumerate(BYTE_TABLE)}
    for a, b in merges:
        assert a + b not in vocab, (a, b)
        vocab[a + b] = len(vocab)
    assert len(vocab) == EOT_ID
    return vocab, merges


def bpe_encode(text, vocab, merges):
    """GPT-2's bpe(): repeatedly merge the lowest-ranked adjacent pair."""
    ranks = {m: i for i, m in enumerate(merges)}
    ids = []
    for piece in pre_tokenize(text):
        word = list(piece)
        while len(word) > 1:
            best = min(zip(word, word[1:]), key=lambda p: ranks.get(p, math.inf))
            if best not in ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        ids += [vocab[t] for t in word]
    return ids


def tokenizer_json(vocab, merges):
    byte_level = {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True}
    return {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': [{'id': EOT_ID, 'content': EOT, 'single_word': False, 'lstrip': False, 'rstrip': False,
                          'normalized': True, 'special': True}],
        'normalizer': None,
        'pre_tokenizer': byte_level,
        'post_processor': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': False, 'use_regex': True},
        'decoder': {'type': 'ByteLevel', 'add_prefix_space': True, 'trim_offsets': True, 'use_regex': True},
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': '',
                  'end_of_word_suffix': '', 'fuse_unk': False, 'byte_fallback': False, 'vocab': vocab,
                  'merges': [f'{a} {b}' for a, b in merges]},
    }


def side_files():
    vocab, merges = train_bpe()
    config = {
        'activation_function': 'gelu_new',
        'architectures': ['GPT2LMHeadModel'],
        'attn_pdrop': 0.0,
        'bos_token_id': EOT_ID,
        'embd_pdrop': 0.0,
        'eos_token_id': EOT_ID,
        'initializer_range': 0.02,
        'layer_norm_epsilon': LN_EPS,
        'model_type': 'gpt2',
        'n_ctx': N_POS,
        'n_embd': N_EMBD,
        'n_head': N_HEAD,
        'n_inner': None,
        'n_layer': N_LAYER,
        'n_positions': N_POS,
        'reorder_and_upcast_attn': False,
        'resid_pdrop': 0.0,
        'scale_attn_by_inverse_layer_idx': False,
        'scale_attn_weights': True,
        'tie_word_embeddings': True,
        'use_cache': True,
        'vocab_size': VOCAB,
    }
    generation = {'bos_token_id': EOT_ID, 'eos_token_id': EOT_ID}
    tok_config = {
        'add_bos_token': False,
        'add_prefix_space': False,
        'added_tokens_decoder': {str(EOT_ID): {'content': EOT, 'lstrip': False, 'normalized': True, 'rstrip': False,
                                               'single_word': False, 'special': True}},
        'bos_token': EOT,
        'clean_up_tokenization_spaces': False,
        'eos_token': EOT,
        'errors': 'replace',
        'model_max_length': N_POS,
        'pad_token': None,
        'tokenizer_class': 'GPT2Tokenizer',
        'unk_token': EOT,
    }
    files = {'config.json': config, 'generation_config.json': generation,
             'tokenizer.json': tokenizer_json(vocab, merges), 'tokenizer_config.json': tok_config}
    return files, vocab, merges


# ---------------------------------------------------------------- model (transformers.models.gpt2.modeling_gpt2, eager)

class Conv1D(nn.Module):
    """HF's Conv1D: a linear layer with its weight stored [in, out]."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


class NewGELUActivation(nn.Module):
    """"gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer('bias', torch.tril(torch.ones((N_POS, N_POS), dtype=torch.bool)).view(1, 1, N_POS, N_POS),
                             persistent=False)
        self.embed_dim, self.num_heads, self.head_dim, self.split_size = N_EMBD, N_HEAD, HEAD_DIM, N_EMBD
        self.c_attn = Conv1D(3 * N_EMBD, N_EMBD)
        self.c_proj = Conv1D(N_EMBD, N_EMBD)

    def _attn(self, query, key, value, attention_mask=None):
        attn_weights = torch.matmul(query, key.transpose(-1, -2))
        attn_weights = attn_weights / torch.full([], value.size(-1) ** 0.5, dtype=attn_weights.dtype,
                                                 device=attn_weights.device)
        query_length, key_length = query.size(-2), key.size(-2)
        causal_mask = self.bias[:, :, key_length - query_length: key_length, :key_length]
        mask_value = torch.finfo(attn_weights.dtype).min
        mask_value = torch.full([], mask_value, dtype=attn_weights.dtype, device=attn_weights.device)
        attn_weights = torch.where(causal_mask, attn_weights.to(attn_weights.dtype), mask_value)
        if attention_mask is not None:
            attn_weights = attn_weights + attention_mask
        attn_weights = nn.functional.softmax(attn_weights, dim=-1)
        attn_weights = attn_weights.type(value.dtype)
        return torch.matmul(attn_weights, value)

    def _split_heads(self, tensor):
        tensor = tensor.view(tensor.size()[:-1] + (self.num_heads, self.head_dim))
        return tensor.permute(0, 2, 1, 3)  # [batch, head, seq, head_dim]

    def _merge_heads(self, tensor):
        tensor = tensor.permute(0, 2, 1, 3).contiguous()
        return tensor.view(tensor.size()[:-2] + (self.num_heads * self.head_dim,))

    def forward(self, hidden_states, layer_past=None, attention_mask=None):
        query, key, value = self.c_attn(hidden_states).split(self.split_size, dim=2)
        query, key, value = self._split_heads(query), self._split_heads(key), self._split_heads(value)
        if layer_past is not None:
            past_key, past_value = layer_past
            key = torch.cat((past_key, key), dim=-2)
            value = torch.cat((past_value, value), dim=-2)
        present = (key, value)
        attn_output = self._merge_heads(self._attn(query, key, value, attention_mask))
        return self.c_proj(attn_output), present


class GPT2MLP(nn.Module):
    def __init__(self, inner=N_INNER):
        super().__init__()
        self.c_fc = Conv1D(inner, N_EMBD)
        self.c_proj = Conv1D(N_EMBD, inner)
        self.act = NewGELUActivation()

    def forward(self, hidden_states):
        return self.c_proj(self.act(self.c_fc(hidden_states)))


class GPT2Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(N_EMBD, eps=LN_EPS)
        self.attn = GPT2Attention()
        self.ln_2 = nn.LayerNorm(N_EMBD, eps=LN_EPS)
        self.mlp = GPT2MLP()

    def forward(self, hidden_states, layer_past=None, attention_mask=None):
        residual = hidden_states
        attn_output, present = self.attn(self.ln_1(hidden_states), layer_past=layer_past, attention_mask=attention_mask)
        hidden_states = attn_output + residual
        residual = hidden_states
        hidden_states = residual + self.mlp(self.ln_2(hidden_states))
        return hidden_states, present


class GPT2Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, N_EMBD)
        self.wpe = nn.Embedding(N_POS, N_EMBD)
        self.h = nn.ModuleList(GPT2Block() for _ in range(N_LAYER))
        self.ln_f = nn.LayerNorm(N_EMBD, eps=LN_EPS)

    @property
    def dtype(self):
        return self.wte.weight.dtype

    def forward(self, input_ids, attention_mask, position_ids, past_key_values=None):
        input_shape = input_ids.size()
        input_ids = input_ids.view(-1, input_shape[-1])
        batch_size = input_ids.shape[0]
        if past_key_values is None:
            past_key_values = tuple([None] * len(self.h))
        position_ids = position_ids.view(-1, input_shape[-1])
        attention_mask = attention_mask.view(batch_size, -1)[:, None, None, :]
        attention_mask = attention_mask.to(dtype=self.dtype)
        attention_mask = (1.0 - attention_mask) * torch.finfo(self.dtype).min
        hidden_states = self.wte(input_ids) + self.wpe(position_ids)
        output_shape = (-1,) + input_shape[1:] + (hidden_states.size(-1),)
        presents = ()
        for block, layer_past in zip(self.h, past_key_values):
            hidden_states, present = block(hidden_states, layer_past=layer_past, attention_mask=attention_mask)
            presents = presents + (present,)
        hidden_states = self.ln_f(hidden_states)
        return hidden_states.view(output_shape), presents


class GPT2LMHeadModel(nn.Module):
    """forward(input_ids, attention_mask, position_ids, past_key_values) -> (logits, presents), as optimum exports it."""

    def __init__(self):
        super().__init__()
        self.transformer = GPT2Model()
        self.lm_head = nn.Linear(N_EMBD, VOCAB, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied

    def forward(self, input_ids, attention_mask, position_ids, past_key_values=None):
        hidden_states, presents = self.transformer(input_ids, attention_mask, position_ids, past_key_values)
        return self.lm_head(hidden_states), presents


def make_model():
    torch.manual_seed(SEED_WEIGHTS)
    model = GPT2LMHeadModel()
    g = torch.Generator().manual_seed(SEED_WEIGHTS)
    gn = torch.Generator().manual_seed(SEED_NORMS)
    with torch.no_grad():
        t = model.transformer
        t.wte.weight.copy_(0.5 * torch.randn(VOCAB, N_EMBD, generator=g))
        t.wpe.weight.copy_(1.0 * torch.randn(N_POS, N_EMBD, generator=g))
        for name, m in model.named_modules():
            if isinstance(m, Conv1D):
                # std 1/sqrt(in), doubled for the writers into the residual (c_proj), so that the blocks, not
                # the tied embedding of the last token, decide the next token (greedy does not just repeat it)
                gain = 2.0 if name.endswith('c_proj') else 1.0
                m.weight.copy_(gain * torch.randn(m.weight.shape, generator=g) / math.sqrt(m.weight.shape[0]))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
        for m in model.modules():  # randomise_norms (make_fixtures.py): non-trivial LayerNorm affine parameters
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=gn))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gn))
    return model.eval()


def empty_past(batch=1, dtype=torch.float32):
    return tuple((torch.zeros(batch, N_HEAD, 0, HEAD_DIM, dtype=dtype), torch.zeros(batch, N_HEAD, 0, HEAD_DIM, dtype=dtype))
                 for _ in range(N_LAYER))


def prompt_run(model, ids):
    """The prompt with an empty (length 0) past, as the first step of generation."""
    n = ids.shape[1]
    with torch.no_grad():
        return model(ids, torch.ones(1, n, dtype=torch.int64), torch.arange(n)[None], empty_past())


def greedy(model, ids, steps=GREEDY_STEPS):
    """Greedy decoding with the KV cache: prompt with empty past, then one token a step, present -> past.
    Returns tokens, the last position's logits at each step [steps, V], and the smallest top-2 margin."""
    n = ids.shape[1]
    with torch.no_grad():
        logits, past = prompt_run(model, ids)
        tokens, step_logits, margins, total = [], [], [], n
        while True:
            last = logits[0, -1]
            step_logits.append(last.clone())
            top = torch.topk(last, 2).values
            margins.append(float(top[0] - top[1]))
            t = int(torch.argmax(last))
            tokens.append(t)
            if len(tokens) == steps:
                break
            logits, past = model(torch.tensor([[t]]), torch.ones(1, total + 1, dtype=torch.int64),
                                 torch.tensor([[total]]), past)
            total += 1
    return tokens, torch.stack(step_logits), min(margins)


def greedy_full(model, ids, steps=GREEDY_STEPS):
    """The same without the cache (full recompute each step), as a cross-check."""
    out = []
    with torch.no_grad():
        for _ in range(steps):
            n = ids.shape[1]
            logits, _ = model(ids, torch.ones(1, n, dtype=torch.int64), torch.arange(n)[None])
            out.append(logits[0, -1].clone())
            ids = torch.cat([ids, torch.tensor([[int(torch.argmax(logits[0, -1]))]])], dim=1)
    return ids[0, -steps:].tolist(), torch.stack(out)


class Hook:
    """A forward hook replacing a module's output (the hidden state of a block's (hidden, present) tuple)."""

    def __init__(self, module, fn):
        def hook(m, i, o):
            if isinstance(o, tuple):
                return (fn(o[0]),) + tuple(o[1:])
            return fn(o)
        self.handle = module.register_forward_hook(hook)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.handle.remove()


def capture(model, module, ids):
    seen = {}
    with Hook(module, lambda z: seen.setdefault('v', z.detach().clone())):
        prompt_run(model, ids)
    return seen['v']


# ---------------------------------------------------------------- export (optimum text-generation-with-past)

def io_names(with_past):
    inputs = ['input_ids', 'attention_mask', 'position_ids']
    outputs = ['logits']
    axes = {'input_ids': {0: B, 1: S}, 'attention_mask': {0: B, 1: T}, 'position_ids': {0: B, 1: S}, 'logits': {0: B, 1: S}}
    for i in range(N_LAYER):
        for kv in ('key', 'value'):
            if with_past:
                inputs.append(f'past_key_values.{i}.{kv}')
                axes[f'past_key_values.{i}.{kv}'] = {0: B, 2: P}
            outputs.append(f'present.{i}.{kv}')
            axes[f'present.{i}.{kv}'] = {0: B, 2: T}
    return inputs, outputs, axes


def export(model, opset, with_past):
    """torch.onnx export with dummy batch 2, sequence 5 (and past 3); returns the ModelProto."""
    g = torch.Generator().manual_seed(SEED_DUMMY)
    b, s, p = 2, 5, 3 if with_past else 0
    ids = torch.randint(0, VOCAB, (b, s), generator=g)
    mask = torch.ones(b, p + s, dtype=torch.int64)
    pos = torch.arange(p, p + s)[None].expand(b, s).contiguous()
    args = (ids, mask, pos)
    if with_past:
        args = args + (tuple((torch.randn(b, N_HEAD, p, HEAD_DIM, generator=g), torch.randn(b, N_HEAD, p, HEAD_DIM, generator=g))
                             for _ in range(N_LAYER)),)
    inputs, outputs, axes = io_names(with_past)
    tmp = os.path.join(OUT, f'export.{opset}.{int(with_past)}.tmp.onnx')
    torch.onnx.export(model, args, tmp, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                      opset_version=opset, do_constant_folding=True)
    proto = onnx.load(tmp)
    os.remove(tmp)
    assert [i.name for i in proto.graph.input] == inputs, [i.name for i in proto.graph.input]
    assert [o.name for o in proto.graph.output] == outputs
    onnx.checker.check_model(proto)
    return proto


def save(proto, path, external=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    for p in (path, os.path.join(os.path.dirname(path), external or '')):
        if os.path.isfile(p):
            os.remove(p)  # onnx appends external data to an existing file
    if external:
        onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True, location=external,
                        size_threshold=0, convert_attribute=False)
    else:
        onnx.save_model(proto, path)
    onnx.checker.check_model(path)
    print(f'wrote {os.path.relpath(path, OUT)} ({os.path.getsize(path)} bytes)')
    if external:
        d = os.path.join(os.path.dirname(path), external)
        print(f'wrote {os.path.relpath(d, OUT)} ({os.path.getsize(d)} bytes)')


# ---------------------------------------------------------------- fp16 (as transformers.js's float16 conversion, keep_io_types=False)

FP16_MAX, FP16_MIN_POSITIVE = 65504.0, 1e-7
# onnxconverter-common's DEFAULT_OP_BLOCK_LIST members that could appear in a torch export: none may.
FP16_BLOCKED = {'Range', 'CumSum', 'Min', 'Max', 'TopK', 'Resize', 'Upsample', 'RandomUniformLike', 'NonMaxSuppression'}


def fp16_array(a):
    """onnxconverter-common's convert_np_to_float16: clip to float16's finite range, tiny non-zeros to +-1e-7."""
    a = np.asarray(a, dtype=np.float32)
    a = np.where((a > 0) & (a < FP16_MIN_POSITIVE), FP16_MIN_POSITIVE, a)
    a = np.where((a < 0) & (a > -FP16_MIN_POSITIVE), -FP16_MIN_POSITIVE, a)
    return np.clip(a, -FP16_MAX, FP16_MAX).astype(np.float16)


def fp16_tensor(t):
    if t.data_type != TensorProto.FLOAT:
        return t
    out = numpy_helper.from_array(fp16_array(numpy_helper.to_array(t)), t.name)
    return out


def to_fp16(proto):
    """Every float initializer, Constant, ConstantOfShape value, Cast target and graph input/output float16."""
    m = copy.deepcopy(proto)
    g = m.graph
    blocked = {n.op_type for n in g.node} & FP16_BLOCKED
    assert not blocked, blocked
    for i, t in enumerate(g.initializer):
        g.initializer[i].CopyFrom(fp16_tensor(t))
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR and n.op_type in ('Constant', 'ConstantOfShape'):
                a.t.CopyFrom(fp16_tensor(a.t))
            if n.op_type == 'Cast' and a.name == 'to' and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
            assert a.type not in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.FLOAT16
    onnx.checker.check_model(m)
    return m


# ---------------------------------------------------------------- optimum's merge_decoders (optimum/onnx/graph_transformations.py)

def _find_duplicate_initializers(models):
    duplicates = defaultdict(set)
    for i, model in enumerate(models):
        for init in model.graph.initializer:
            dims = tuple(init.dims)
            if len(dims) > 1 or (len(dims) == 1 and init.data_type not in (6, 7)):
                digest = hashlib.sha512(np.ascontiguousarray(numpy_helper.to_array(init)).tobytes()).hexdigest()
                duplicates[(init.data_type, digest, dims)].add((init.name, i))
    return duplicates


def _create_name_sharing_dict(duplicates, suffix):
    """As optimum, except that the common name is the smallest (name, model) pair, not set.pop(): deterministic."""
    sharing, used = {}, {}
    for key in sorted(duplicates, key=lambda k: sorted(duplicates[k])[0]):
        group = sorted(duplicates[key])
        common = group[0][0]
        used[common] = used[common] + 1 if common in used else 0
        for k in group:
            sharing[k] = f'{common}_{suffix}_{used[common]}'
    return sharing


def merge_decoders(decoder, decoder_with_past, graph_name='merged', producer_name='optimum-onnx'):
    decoder, decoder_with_past = copy.deepcopy(decoder), copy.deepcopy(decoder_with_past)
    assert decoder.opset_import[0].version == decoder_with_past.opset_import[0].version
    # _unify_onnx_outputs (strict): same names and types; model1's (the decoder's) shapes for both.
    assert [o.name for o in decoder.graph.output] == [o.name for o in decoder_with_past.graph.output]
    for idx, o1 in enumerate(decoder.graph.output):
        o2 = decoder_with_past.graph.output[idx]
        assert o1.type.tensor_type.elem_type == o2.type.tensor_type.elem_type
        o2.CopyFrom(o1)
    # _get_all_inputs: first occurrence of each name, the decoder's first.
    all_inputs, seen = [], set()
    for model in (decoder, decoder_with_past):
        for inp in model.graph.input:
            if inp.name not in seen:
                seen.add(inp.name)
                all_inputs.append(inp)
    # _deduplicated_cross_model_initializers
    models = [decoder, decoder_with_past]
    sharing = _create_name_sharing_dict(_find_duplicate_initializers(models), graph_name)
    for i, model in enumerate(models):
        for node in model.graph.node:
            for j in range(len(node.input)):
                node.input[j] = sharing.get((node.input[j], i), node.input[j])
    dedup, done = [], set()
    for i, model in enumerate(models):
        for init in model.graph.initializer:
            new = sharing.get((init.name, i))
            if new is not None and new not in done:
                done.add(new)
                t = copy.deepcopy(init)
                t.name = new
                dedup.append(t)

    def small(model):  # kept in the branches: 0-d, or 1-d int32/int64
        return [t for t in model.graph.initializer if len(t.dims) == 0 or (len(t.dims) == 1 and t.data_type in (6, 7))]

    no_past = helper.make_graph(nodes=decoder.graph.node, name='no_past', inputs=[], outputs=decoder.graph.output,
                                initializer=small(decoder))
    with_past = helper.make_graph(nodes=decoder_with_past.graph.node, name='with_past', inputs=[],
                                  outputs=decoder_with_past.graph.output, initializer=small(decoder_with_past))
    use_cache_branch = helper.make_tensor_value_info('use_cache_branch', TensorProto.BOOL, [1])
    if_node = helper.make_node('If', inputs=['use_cache_branch'], outputs=[o.name for o in no_past.output],
                               name='optimum::if', then_branch=with_past, else_branch=no_past)
    merged_graph = helper.make_graph(nodes=[if_node], name=graph_name, inputs=all_inputs + [use_cache_branch],
                                     outputs=no_past.output, initializer=dedup)
    opsets, domains = [], set()
    for o in list(decoder.opset_import) + list(decoder_with_past.opset_import):
        if o.domain not in domains:
            opsets.append(o)
            domains.add(o.domain)
    # optimum-onnx writes ir_version 9; onnx 1.12's checker knows up to 8, the version torch 1.13's exports carry.
    merged = helper.make_model(merged_graph, producer_name=producer_name, opset_imports=opsets)
    merged.ir_version = 8
    onnx.checker.check_model(merged)
    return merged, sharing


# ---------------------------------------------------------------- sites (as make_fixtures.py's module_output, per graph)

SITES = {  # site -> (module path, ONNX scope, width)
    'resid_block0': ('transformer.h.0', '/transformer/h.0/', N_EMBD),
    'mlp0_hidden': ('transformer.h.0.mlp.act', '/transformer/h.0/mlp/act/', N_INNER),
    'ln_f': ('transformer.ln_f', '/transformer/ln_f/', N_EMBD),
    'ln1_block1': ('transformer.h.1.ln_1', '/transformer/h.1/ln_1/', N_EMBD),
}


def scope_output(graph, scope):
    """The one non-present tensor that nodes under a module scope hand to the rest of the graph."""
    inside = [n for n in graph.node if n.name.startswith(scope) and n.op_type != 'Constant']
    produced = {o for n in inside for o in n.output}
    outside = {i for n in graph.node if not n.name.startswith(scope) for i in n.input} | {o.name for o in graph.output}
    found = sorted(x for x in produced & outside if not x.startswith('present.'))
    if len(found) != 1:
        raise RuntimeError(f'{scope}: expected one output tensor, found {found}')
    return found[0]


def check_site(proto, tensor, width, elem_type):
    """The tensor is produced, with rank 3, last dim `width` and the variant's float type (onnx shape inference)."""
    inferred = onnx.shape_inference.infer_shapes(proto)
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        if vi.name == tensor:
            tt = vi.type.tensor_type
            dims = [d.dim_value if d.HasField('dim_value') else d.dim_param for d in tt.shape.dim]
            assert tt.elem_type == elem_type, (tensor, tt.elem_type)
            # torch's dynamic Reshapes leave some ranks unknown to onnx's inference; where known, they must match
            assert not tt.HasField('shape') or not dims or (len(dims) == 3 and dims[2] == width), (tensor, dims)
            return dims
    raise RuntimeError(f'{tensor}: no inferred type')


def conv1d_nodes(graph, scope='/transformer/h.0/mlp/c_fc/'):
    """The data path of a Conv1D (Reshape -> Gemm -> Reshape); its shape computations are left out."""
    nodes = [n for n in graph.node if n.name.startswith(scope) and n.op_type in ('Reshape', 'Gemm')]
    assert [n.op_type for n in nodes] == ['Reshape', 'Gemm', 'Reshape'], [n.op_type for n in nodes]
    # The output Reshape's target is Concat(batch, seq, Constant [nf]): nf is baked into the graph.
    producer = {o: n for n in graph.node for o in n.output}
    concat = producer[nodes[2].input[1]]
    assert concat.op_type == 'Concat'
    const = producer[concat.input[2]]
    assert const.op_type == 'Constant'
    return {'nodes': [{'name': n.name, 'op_type': n.op_type, 'inputs': list(n.input), 'outputs': list(n.output),
                       **({'transB': next((a.i for a in n.attribute if a.name == 'transB'), 0)} if n.op_type == 'Gemm' else {})}
                      for n in nodes],
            'out_shape_nf_constant': {'node': const.name, 'tensor': const.output[0],
                                      'value': numpy_helper.to_array(const.attribute[0].t).tolist()}}


def unembedding(graph, outer=None):
    """The initializer the logits' MatMul reads (torch.onnx gives the tied lm_head its own transposed copy)."""
    inits = {t.name for t in list(graph.initializer) + list(outer.initializer if outer else [])}
    for n in graph.node:
        if 'logits' in n.output:
            found = [i for i in n.input if i in inits]
            assert len(found) == 1, found
            return found[0]
    raise RuntimeError('no logits node')


# ---------------------------------------------------------------- references

def floats(t):
    """Flat list; 9 significant digits give back the same float32."""
    return [float(f'{v:.9g}') for v in np.asarray(t.detach().numpy(), dtype=np.float32).reshape(-1).tolist()]


def seeded_unit(gen, n=N_EMBD, orthogonal_to=None):
    r = torch.randn(n, generator=gen, dtype=torch.float64)
    if orthogonal_to is not None:
        m = orthogonal_to.double()
        r = r - (r @ m) / (m @ m) * m
    return (r / r.norm()).float()


def max_diff(x, y):
    return float((x - y).abs().max())


def agree(name, x, y, tol=1e-5):
    d = max_diff(x, y)
    if d > tol:
        raise RuntimeError(f'{name}: weight edit and hook disagree by {d}')
    return d


def references(model, ids, site_names):
    gen = torch.Generator().manual_seed(SEED_DIRS)
    direction = seeded_unit(gen)
    with torch.no_grad():
        intact, _ = prompt_run(model, ids)
        tokens, step_logits, margin = greedy(model, ids)
        full_tokens, full_logits = greedy_full(model, ids)
        assert full_tokens == tokens and max_diff(full_logits, step_logits) < 1e-5, 'KV cache != full recompute'
        assert EOT_ID not in tokens, 'greedy reaches <|endoftext|>: transformers.js would stop early'
        print(f'intact greedy {tokens} (min top-2 margin {margin:.4f}; cache vs full {max_diff(full_logits, step_logits):.1e})')

        # steering: resid_block0 += ALPHA * direction at every position, also the new ones
        h0 = model.transformer.h[0]
        steer = lambda z: z + ALPHA * direction  # noqa: E731
        with Hook(h0, steer):
            steered, _ = prompt_run(model, ids)
            s_tokens, s_step_logits, s_margin = greedy(model, ids)
            sf_tokens, sf_logits = greedy_full(model, ids)
        assert sf_tokens == s_tokens and max_diff(sf_logits, s_step_logits) < 1e-5
        assert EOT_ID not in s_tokens
        print(f'steered greedy {s_tokens} (min top-2 margin {s_margin:.4f}); max |steered - intact| prompt logits '
              f'{max_diff(steered, intact):.3f}')

        sites = {}
        for site, (path, _, width) in SITES.items():
            value = capture(model, model.get_submodule(path), ids)
            sites[site] = {'module': path, 'shape': [B, S, width], 'torch_shape': list(value.shape),
                           'tensors': site_names[site], 'value': floats(value)}

        edits = {}
        # (a) ablate MLP hidden units 1, 3 of h.0 (Conv1D [in, out]: c_fc columns and bias, c_proj rows)
        hooked_zero = lambda z: z.index_fill(-1, torch.tensor(ABLATE), 0.0)  # noqa: E731
        with Hook(model.transformer.h[0].mlp.act, hooked_zero):
            zeroed, _ = prompt_run(model, ids)
        ablated = copy.deepcopy(model)
        mlp = ablated.transformer.h[0].mlp
        mlp.c_fc.weight[:, ABLATE] = 0
        mlp.c_fc.bias[ABLATE] = 0
        mlp.c_proj.weight[ABLATE, :] = 0
        out, _ = prompt_run(ablated, ids)
        d = agree('ablate', out, zeroed)
        edits['ablate_mlp0_hidden'] = {
            'site': 'mlp0_hidden', 'dims': ABLATE,
            'edit': f'transformer.h.0.mlp.c_fc.weight [{N_EMBD},{N_INNER}] columns 1,3 and c_fc.bias 1,3 set to 0; '
                    f'transformer.h.0.mlp.c_proj.weight [{N_INNER},{N_EMBD}] rows 1,3 set to 0 (Conv1D stores [in, out])',
            'same_as': f'zeroing units 1,3 of mlp0_hidden by a hook (max |diff| in PyTorch {d:.1e}; gelu_new(0) = 0)',
            'max_diff_vs_hook': d, 'logits': floats(out)}
        # (b) prune the same units: the shapes shrink
        pruned = copy.deepcopy(model)
        keep = torch.tensor([j for j in range(N_INNER) if j not in ABLATE])
        old = pruned.transformer.h[0].mlp
        new = GPT2MLP(inner=N_INNER - len(ABLATE))
        new.c_fc.weight.copy_(old.c_fc.weight[:, keep])
        new.c_fc.bias.copy_(old.c_fc.bias[keep])
        new.c_proj.weight.copy_(old.c_proj.weight[keep, :])
        new.c_proj.bias.copy_(old.c_proj.bias)
        pruned.transformer.h[0].mlp = new
        out, _ = prompt_run(pruned, ids)
        d = agree('prune', out, zeroed)
        edits['prune_mlp0_hidden'] = {
            'site': 'mlp0_hidden', 'dims': ABLATE,
            'edit': f'transformer.h.0.mlp.c_fc.weight columns 1,3 and c_fc.bias entries 1,3 deleted ([{N_EMBD},{N_INNER}] -> '
                    f'[{N_EMBD},{N_INNER - 2}], [{N_INNER}] -> [{N_INNER - 2}]); transformer.h.0.mlp.c_proj.weight rows 1,3 '
                    f'deleted ([{N_INNER},{N_EMBD}] -> [{N_INNER - 2},{N_EMBD}])',
            'shapes': {'transformer.h.0.mlp.c_fc.weight': [N_EMBD, N_INNER - 2], 'transformer.h.0.mlp.c_fc.bias': [N_INNER - 2],
                       'transformer.h.0.mlp.c_proj.weight': [N_INNER - 2, N_EMBD]},
            'same_as': f'zeroing units 1,3 of mlp0_hidden by a hook (max |diff| in PyTorch {d:.1e})',
            'max_diff_vs_hook': d, 'logits': floats(out)}
        # (c) fold (I - a a^T) at ln_f into the unembedding (untied)
        ln_f_value = capture(model, model.transformer.ln_f, ids)
        a = seeded_unit(gen, orthogonal_to=ln_f_value[0].mean(0))
        with Hook(model.transformer.ln_f, lambda z: z - (z @ a)[..., None] * a):
            projected, _ = prompt_run(model, ids)
        folded = copy.deepcopy(model)
        w = folded.transformer.wte.weight.detach().clone()  # [V, d]; logits = z W^T
        folded.lm_head.weight = nn.Parameter(w - torch.outer(w @ a, a))
        out, _ = prompt_run(folded, ids)
        d = agree('fold ln_f', out, projected)
        edits['fold_ln_f'] = {
            'site': 'ln_f', 'direction': floats(a),
            'edit': 'unembedding W^T [d, vocab] replaced by (I - a a^T) W^T, i.e. lm_head.weight W [vocab, d] by W - (W a) a^T, '
                    'untied from transformer.wte.weight (the embedding keeps its values)',
            'same_as': f'z - (z.a) a at ln_f by a hook (max |diff| in PyTorch {d:.1e})',
            'max_diff_vs_hook': d, 'logits': floats(out)}
        # (d) fold (I - b b^T) at h.1.ln_1's output into h.1.attn.c_attn (Conv1D [in, out]: W <- (I - b b^T) W)
        ln1_value = capture(model, model.transformer.h[1].ln_1, ids)
        bdir = seeded_unit(gen, orthogonal_to=ln1_value[0].mean(0))
        with Hook(model.transformer.h[1].ln_1, lambda z: z - (z @ bdir)[..., None] * bdir):
            projected, _ = prompt_run(model, ids)
        folded = copy.deepcopy(model)
        c = folded.transformer.h[1].attn.c_attn
        c.weight.copy_(c.weight - torch.outer(bdir, bdir @ c.weight))
        out, _ = prompt_run(folded, ids)
        d = agree('fold ln1_block1', out, projected)
        edits['fold_ln1_block1'] = {
            'site': 'ln1_block1', 'direction': floats(bdir),
            'edit': f'transformer.h.1.attn.c_attn.weight W [{N_EMBD},{3 * N_EMBD}] (Conv1D [in, out]) replaced by (I - b b^T) W; '
                    'the bias is unchanged',
            'same_as': f'z - (z.b) b at ln1_block1 by a hook (max |diff| in PyTorch {d:.1e})',
            'max_diff_vs_hook': d, 'logits': floats(out)}
        for name, e in edits.items():
            print(f'{name}: max |edit - hook| {e["max_diff_vs_hook"]:.1e}')

        # fp16: the weights rounded to float16, run in fp32 arithmetic (torch 1.13 has no CPU Half LayerNorm)
        rounded = copy.deepcopy(model)
        for p in rounded.parameters():
            p.copy_(p.half().float())
        rw, _ = prompt_run(rounded, ids)
        rw_tokens, rw_step_logits, _ = greedy(rounded, ids)
        max_logit = float(intact.abs().max())
        fp16 = {
            'weights_fp16_math_fp32_logits': floats(rw),
            'weights_fp16_math_fp32_greedy': rw_tokens,
            'error_scale': {
                'weights_rounded_to_fp16': max_diff(rw, intact),
                'weights_rounded_to_fp16_step_logits': max_diff(rw_step_logits, step_logits),
                'max_abs_fp32_logit': max_logit,
                'fp16_ulp_at_max_logit': 2.0 ** math.floor(math.log2(max_logit)) * 2 ** -10,
                'note': 'PyTorch 1.13 has no CPU Half kernels for LayerNorm, so no fp16 PyTorch output is given. '
                        'weights_rounded_to_fp16 is max |logits(fp16-rounded weights, fp32 maths) - fp32 logits| on the '
                        'prompt. The check script bounds max |fp16 onnxruntime - fp32 PyTorch| by '
                        '4 * weights_rounded_to_fp16 + 4 * fp16_ulp_at_max_logit.',
            },
        }
        print(f'fp16: weights rounded move the prompt logits by {fp16["error_scale"]["weights_rounded_to_fp16"]:.4f} '
              f'(max |logit| {max_logit:.2f}); greedy with rounded weights {rw_tokens}')
        assert rw_tokens == tokens

    return {
        'intact': {'logits': floats(intact), 'greedy': tokens, 'step_logits': floats(step_logits), 'min_top2_margin': margin},
        'steer': {'site': 'resid_block0', 'alpha': ALPHA, 'direction': floats(direction),
                  'formula': 'z + alpha * direction at resid_block0 (the output of transformer.h.0) at every position, the '
                             'prompt and each new token (with the KV cache, as a graph patch does)',
                  'logits': floats(steered), 'greedy': s_tokens, 'step_logits': floats(s_step_logits),
                  'min_top2_margin': s_margin},
        'sites': sites, 'weight_edits': edits, 'fp16': fp16,
    }, direction


# ---------------------------------------------------------------- main

def write_side(folder, files):
    os.makedirs(folder, exist_ok=True)
    for name, value in files.items():
        path = os.path.join(folder, name)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(value, f, indent=2, ensure_ascii=False)
            f.write('\n')
        print(f'wrote {os.path.relpath(path, OUT)} ({os.path.getsize(path)} bytes)')


def names_in(graph, elem_type, proto_for_check):
    out = {}
    for site, (_, scope, width) in SITES.items():
        t = scope_output(graph, scope)
        if proto_for_check is not None:
            check_site(proto_for_check, t, width, elem_type)
        out[site] = t
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    files, vocab, merges = side_files()
    prompt_ids = bpe_encode(PROMPT, vocab, merges)
    assert len(prompt_ids) <= 8, prompt_ids
    print(f'prompt {PROMPT!r} -> {prompt_ids}')
    model = make_model()
    ids = torch.tensor([prompt_ids])

    with torch.no_grad():
        op14 = export(model, 14, True)
        op17 = export(model, 17, True)
        op14_nopast = export(model, 14, False)
    fp16 = to_fp16(op14)
    merged, sharing = merge_decoders(op14_nopast, op14)
    del op17.graph.value_info[:]
    assert not any(n.op_type == 'LayerNormalization' for n in op14.graph.node)
    assert any(n.op_type == 'LayerNormalization' for n in op17.graph.node)

    F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16
    then_b = next(a.g for a in merged.graph.node[0].attribute if a.name == 'then_branch')
    else_b = next(a.g for a in merged.graph.node[0].attribute if a.name == 'else_branch')
    site_names = {}
    per_variant = {
        'tjs/onnx/model.onnx': names_in(op14.graph, F32, op14),
        'tjs/onnx/model_fp16.onnx': names_in(fp16.graph, F16, fp16),
        'tjs-op17/onnx/model.onnx': names_in(op17.graph, F32, op17),
        # the branches hold the exports' nodes unchanged (only initializer names change), so the names are
        # found in, and their shapes checked on, the two exports before merging
        'merged/onnx/decoder_model_merged.onnx#then_branch': names_in(then_b, F32, op14),
        'merged/onnx/decoder_model_merged.onnx#else_branch': names_in(else_b, F32, op14_nopast),
    }
    for site in SITES:
        site_names[site] = {k: v[site] for k, v in per_variant.items()}
    for site, by in site_names.items():
        print(f'site {site}: {json.dumps(by)}')

    ref, direction = references(model, ids, site_names)
    doc = {
        'about': 'A tiny Hugging Face-style GPT-2 (module for module like transformers.models.gpt2.modeling_gpt2: Conv1D, '
                 'gelu_new, additive attention mask with finfo(float32).min, KV cache [batch, heads, seq, head_dim]) '
                 'exported as optimum does for transformers.js (text-generation-with-past). Random seeded weights, '
                 'byte-level BPE tokenizer learned from a small built-in corpus. See README.md.',
        'config': {'vocab_size': VOCAB, 'n_embd': N_EMBD, 'n_head': N_HEAD, 'head_dim': HEAD_DIM, 'n_layer': N_LAYER,
                   'n_inner': N_INNER, 'n_positions': N_POS, 'layer_norm_epsilon': LN_EPS, 'bos_token_id': EOT_ID,
                   'eos_token_id': EOT_ID},
        'prompt': PROMPT,
        'prompt_ids': prompt_ids,
        'position_ids': list(range(len(prompt_ids))),
        'logits_shape': [1, len(prompt_ids), VOCAB],
        'greedy_steps': GREEDY_STEPS,
        'step_logits_shape': [GREEDY_STEPS, VOCAB],
        'greedy_note': 'greedy[k] = argmax of step_logits[k]; step 0 is the prompt (empty past), step k feeds greedy[k-1] '
                       'at position len(prompt)+k-1 with the cache. Checked against full recompute in PyTorch.',
        **ref,
        'graph': {
            'conv1d_h0_mlp_c_fc': {'tjs/onnx/model.onnx': conv1d_nodes(op14.graph),
                                   'tjs-op17/onnx/model.onnx': conv1d_nodes(op17.graph)},
            'unembedding_initializer': {'tjs/onnx/model.onnx': unembedding(op14.graph),
                                        'tjs-op17/onnx/model.onnx': unembedding(op17.graph),
                                        'merged/onnx/decoder_model_merged.onnx#then_branch': unembedding(then_b, merged.graph),
                                        'merged/onnx/decoder_model_merged.onnx#else_branch': unembedding(else_b, merged.graph)},
            'merged_outer_initializers': len(merged.graph.initializer),
            'merged_shared_by_both_branches': len({v for (_, i), v in sharing.items() if i == 0} &
                                                  {v for (_, i), v in sharing.items() if i == 1}),
        },
    }

    tjs, op17_dir, merged_dir = (os.path.join(OUT, d) for d in ('tjs', 'tjs-op17', 'merged'))
    for folder in (tjs, op17_dir, merged_dir):
        write_side(folder, files)
    save(op14, os.path.join(tjs, 'onnx', 'model.onnx'))
    save(fp16, os.path.join(tjs, 'onnx', 'model_fp16.onnx'))
    save(op17, os.path.join(op17_dir, 'onnx', 'model.onnx'), external='model.onnx_data')
    reloaded = onnx.load(os.path.join(op17_dir, 'onnx', 'model.onnx'), load_external_data=False)
    assert not reloaded.graph.value_info
    assert all(t.data_location == TensorProto.EXTERNAL for t in reloaded.graph.initializer)
    save(merged, os.path.join(merged_dir, 'onnx', 'decoder_model_merged.onnx'))
    np.save(os.path.join(OUT, 'direction.npy'), direction.numpy().astype(np.float32))
    print(f'wrote direction.npy ({os.path.getsize(os.path.join(OUT, "direction.npy"))} bytes)')
    write_json(os.path.join(OUT, 'reference.json'), doc)
    for stale in [f for f in os.listdir(OUT) if f.endswith('.tmp.onnx')]:
        os.remove(os.path.join(OUT, stale))


if __name__ == '__main__':
    main()
