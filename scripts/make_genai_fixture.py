#!/usr/bin/env python3
"""A tiny Llama-style decoder in onnxruntime-genai's model-builder graph form, with PyTorch references.

Run by hand (never at test time) with Debian's PyTorch 1.13 and onnx 1.12:

    /usr/bin/python3 scripts/make_genai_fixture.py
    node scripts/check-genai-fixture.mjs      # ORT vs the references

Writes test/fixtures/genai/ (see its README.md):

    fp32/             model.onnx + model.onnx.data + genai_config.json (float MatMul weights, no value_info)
    fp32-value-info/  the same graph with value_info for every intermediate tensor
    int4/             every projection and lm_head as com.microsoft MatMulNBits (4 bits, block 32, asymmetric)
    direction.npy     float32 [64] unit vector orthogonal to the mean residual after layer 0
    reference.json    prompt, PyTorch logits (intact and patched), residual after layer 0, greedy tokens

Node, tensor and initializer names follow onnxruntime-genai's builder.py (Llama, CPU, separate
RotaryEmbedding nodes feeding GroupQueryAttention with do_rotary=0). The weights are random
(seeded); the run is single-threaded and deterministic, so the same torch build gives the same bytes.
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import write_json  # noqa: E402

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import convert_model_to_external_data

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'genai')

HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, INTER, VOCAB = 64, 2, 4, 2, 16, 128, 96
EPS, THETA, MAX_POS = 1e-5, 10000.0, 64
PROMPT_LEN, GREEDY_STEPS = 8, 12
BITS, BLOCK = 4, 32
SEED = 0
OPSET = 21  # as the builder; onnx 1.12's checker (which knows schemas up to 17) accepts it
IR_VERSION = 8
# SimplifiedLayerNormalization is registered by onnxruntime in the ONNX ("") domain, as the builder emits it.
SLN_DOMAIN = ''
RESIDUAL_TENSOR = '/model/layers.1/input_layernorm/output_3'

B, S, T, P = 'batch_size', 'sequence_length', 'total_sequence_length', 'past_sequence_length'


# ---------------------------------------------------------------- weights

def make_weights():
    g = torch.Generator().manual_seed(SEED)

    def randn(*shape, std=1.0):
        return (torch.randn(*shape, generator=g) * std).float()

    def linear(k, n):  # stored [K, N] (in, out), as the builder stores MatMul weights
        return randn(k, n, std=1.0 / math.sqrt(k))

    def gamma():
        return 1.0 + randn(HIDDEN, std=0.1)

    w = {'embed': randn(VOCAB, HIDDEN), 'layers': []}
    for _ in range(LAYERS):
        w['layers'].append({
            'input_layernorm': gamma(),
            'q_proj': linear(HIDDEN, HEADS * HEAD_DIM),
            'k_proj': linear(HIDDEN, KV_HEADS * HEAD_DIM),
            'v_proj': linear(HIDDEN, KV_HEADS * HEAD_DIM),
            'o_proj': linear(HEADS * HEAD_DIM, HIDDEN),
            'post_attention_layernorm': gamma(),
            'gate_proj': linear(HIDDEN, INTER),
            'up_proj': linear(HIDDEN, INTER),
            'down_proj': linear(INTER, HIDDEN),
        })
    w['final_norm'] = gamma()
    w['lm_head'] = linear(HIDDEN, VOCAB)
    inv_freq = 1.0 / (THETA ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.int64).float() / HEAD_DIM))
    freqs = torch.outer(torch.arange(MAX_POS, dtype=torch.int64).float(), inv_freq)  # [64, 8]
    w['cos_cache'], w['sin_cache'] = torch.cos(freqs), torch.sin(freqs)
    prompt = torch.randint(0, VOCAB, (1, PROMPT_LEN), generator=g, dtype=torch.int64)
    direction = torch.randn(HIDDEN, generator=g, dtype=torch.float64)
    return w, prompt, direction


PROJS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']


# ---------------------------------------------------------------- int4 (MatMulNBits) quantization

def quantize_int4(w):
    """w: float32 [K, N]. Returns (B uint8 [N, K/32, 16], scales f32 [N*K/32], zp uint8 packed, dequantized [K, N]).

    Per the ContribOperators spec: per column n and block of 32 rows, asymmetric,
    q = clamp(round(w / scale) + zp, 0, 15); w ~ (q - zp) * scale; two 4-bit values a byte, low nibble first."""
    w = w.numpy().astype(np.float32)
    k, n = w.shape
    nb = k // BLOCK
    blocks = w.T.reshape(n, nb, BLOCK)  # [N, blocks, 32]: column n, rows b*32 .. b*32+31
    mn = np.minimum(blocks.min(axis=2), 0).astype(np.float32)
    mx = np.maximum(blocks.max(axis=2), 0).astype(np.float32)
    scale = ((mx - mn) / np.float32(15)).astype(np.float32)
    assert (scale > 0).all()
    zp = np.clip(np.round(-mn / scale), 0, 15).astype(np.int32)
    q = np.clip(np.round(blocks / scale[:, :, None]) + zp[:, :, None], 0, 15).astype(np.int32)
    packed_b = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)  # [N, nb, 16]
    zp_bytes = (nb + 1) // 2
    zp_pad = np.zeros((n, zp_bytes * 2), dtype=np.int32)
    zp_pad[:, :nb] = zp
    packed_zp = (zp_pad[:, 0::2] | (zp_pad[:, 1::2] << 4)).astype(np.uint8).reshape(-1)  # [N * ceil(nb/2)]
    deq = ((q - zp[:, :, None]).astype(np.float32) * scale[:, :, None]).astype(np.float32)  # [N, nb, 32]
    deq = deq.reshape(n, k).T.copy()
    return packed_b, scale.reshape(-1), packed_zp, torch.from_numpy(deq)


def dequantized_weights(w):
    out = {'embed': w['embed'], 'final_norm': w['final_norm'], 'cos_cache': w['cos_cache'],
           'sin_cache': w['sin_cache'], 'layers': [], 'quant': {}}
    for i, lw in enumerate(w['layers']):
        ld = dict(lw)
        for p in PROJS:
            qb, sc, zp, deq = quantize_int4(lw[p])
            ld[p] = deq
            out['quant'][(i, p)] = (qb, sc, zp)
        out['layers'].append(ld)
    qb, sc, zp, deq = quantize_int4(w['lm_head'])
    out['lm_head'] = deq
    out['quant']['lm_head'] = (qb, sc, zp)
    return out


# ---------------------------------------------------------------- PyTorch reference forward

def rms_norm(x, gamma):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + EPS) * gamma


def rope(x, cos, sin):  # x [1, heads, S, 16]; cos/sin [S, 8]; rotate-half (non-interleaved)
    half = HEAD_DIM // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def forward(w, ids, direction=None):
    """ids [1, S]; returns (logits [1, S, V], residual after layer 0 [1, S, H] as ORT's graph holds it).
    With direction a: the residual after layer 0, h, becomes h - (h.a) a for everything that reads it."""
    s = ids.shape[1]
    pos = torch.arange(s)
    cos, sin = w['cos_cache'][pos], w['sin_cache'][pos]
    causal = torch.full((s, s), float('-inf')).triu(1)
    h = w['embed'][ids]
    residual0 = None
    for i, lw in enumerate(w['layers']):
        x = rms_norm(h, lw['input_layernorm'])
        q = (x @ lw['q_proj']).view(1, s, HEADS, HEAD_DIM).transpose(1, 2)
        k = (x @ lw['k_proj']).view(1, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        v = (x @ lw['v_proj']).view(1, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        rep = HEADS // KV_HEADS
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(HEAD_DIM) + causal, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(1, s, HEADS * HEAD_DIM)
        h = h + o @ lw['o_proj']
        x = rms_norm(h, lw['post_attention_layernorm'])
        m = (torch.sigmoid(x @ lw['gate_proj']) * (x @ lw['gate_proj'])) * (x @ lw['up_proj'])
        h = h + m @ lw['down_proj']
        if i == 0:
            residual0 = h
            if direction is not None:
                h = h - (h @ direction)[..., None] * direction
    return rms_norm(h, w['final_norm']) @ w['lm_head'], residual0


def greedy(w, prompt, steps, direction=None):
    ids, out, margins = prompt, [], []
    for _ in range(steps):
        logits, _ = forward(w, ids, direction)
        last = logits[0, -1]
        top = torch.topk(last, 2).values
        margins.append(float(top[0] - top[1]))
        t = int(torch.argmax(last))
        out.append(t)
        ids = torch.cat([ids, torch.tensor([[t]], dtype=torch.int64)], dim=1)
    return out, min(margins)


# ---------------------------------------------------------------- ONNX graph (builder.py form)

class Graph:
    def __init__(self):
        self.nodes, self.inits, self.vi, self.consts = [], [], {}, set()

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, outputs, name, domain='', shapes=None, **attrs):
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain or None, **attrs))
        for out, (dtype, shape) in zip(outputs, shapes or []):
            if out:
                self.vi[out] = (dtype, shape)
        return outputs[0]

    def const(self, dtype, value):  # the builder's /model/constants/{DTYPE}/{value} Constant nodes
        assert dtype == 'INT64'
        name = f'/model/constants/INT64/{json.dumps(value).replace(" ", "")}'
        if name not in self.consts:
            self.consts.add(name)
            arr = np.array(value, dtype=np.int64)
            self.node('Constant', [], [name], name, shapes=[(TensorProto.INT64, list(arr.shape))],
                      value=numpy_helper.from_array(arr, ''))
        return name


F32, I64, I32 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32


def build_model(w, int4=False, value_info=False, quant=None):
    g = Graph()

    def matmul(base, x, weight, key, k, n):
        """base e.g. /model/layers.0/attn/q_proj; returns the output name."""
        shape = [(F32, [B, S, n])]
        if not int4:
            name = f'{base}/MatMul'
            wname = g.init(name[1:].replace('/', '.') + '.weight', weight.numpy())
            return g.node('MatMul', [x, wname], [f'{name}/output_0'], name, shapes=shape)
        name = f'{base}/MatMulNBits'
        qb, sc, zp = quant[key]
        prefix = name[1:].replace('/', '.')
        ins = [x, g.init(prefix + '.qweight', qb), g.init(prefix + '.scales', sc), g.init(prefix + '.qzeros', zp)]
        return g.node('MatMulNBits', ins, [f'{name}/output_0'], name, domain='com.microsoft', shapes=shape,
                      K=k, N=n, bits=BITS, block_size=BLOCK, accuracy_level=0)

    def skip_norm(base, x, skip, gamma_name):
        name = f'{base}/SkipLayerNorm'
        outs = [f'{base}/output_0', '', '', f'{base}/output_3']
        g.node('SkipSimplifiedLayerNormalization', [x, skip, gamma_name], outs, name, domain='com.microsoft',
               shapes=[(F32, [B, S, HIDDEN])] * 4, epsilon=EPS)
        return outs[0], outs[3]

    emb = g.init('model.embed_tokens.weight', w['embed'].numpy())
    h = g.node('Gather', [emb, 'input_ids'], ['/model/embed_tokens/Gather/output_0'], '/model/embed_tokens/Gather',
               shapes=[(F32, [B, S, HIDDEN])])

    # seqlens_k and total_sequence_length for GroupQueryAttention, once
    base = '/model/attn_mask_reformat/attn_mask_subgraph'
    one_1d = g.const('INT64', [1])
    rs = g.node('ReduceSum', ['attention_mask', one_1d], [f'{base}/ReduceSum/output_0'], f'{base}/ReduceSum',
                shapes=[(I64, [B, 1])])
    sub = g.node('Sub', [rs, one_1d], [f'{base}/Sub/output_0'], f'{base}/Sub', shapes=[(I64, [B, 1])])
    seqlens_k = g.node('Cast', [sub], [f'{base}/Sub/Cast/output_0'], f'{base}/Sub/Cast', to=I32,
                       shapes=[(I32, [B, 1])])
    shp = g.node('Shape', ['attention_mask'], [f'{base}/Shape/output_0'], f'{base}/Shape', shapes=[(I64, [2])])
    gat = g.node('Gather', [shp, g.const('INT64', 1)], [f'{base}/Gather/output_0'], f'{base}/Gather', axis=0,
                 shapes=[(I64, [])])
    total_len = g.node('Cast', [gat], [f'{base}/Gather/Cast/output_0'], f'{base}/Gather/Cast', to=I32,
                       shapes=[(I32, [])])

    cos = g.init('cos_cache', w['cos_cache'].numpy())
    sin = g.init('sin_cache', w['sin_cache'].numpy())

    residual = h
    x = None
    for i, lw in enumerate(w['layers']):
        lb = f'/model/layers.{i}'
        gamma = g.init(f'model.layers.{i}.input_layernorm.weight', lw['input_layernorm'].numpy())
        if i == 0:
            x = g.node('SimplifiedLayerNormalization', [h, gamma], [f'{lb}/input_layernorm/output_0'],
                       f'{lb}/input_layernorm/LayerNorm', domain=SLN_DOMAIN, shapes=[(F32, [B, S, HIDDEN])],
                       axis=-1, epsilon=EPS, stash_type=1)
        else:
            x, residual = skip_norm(f'{lb}/input_layernorm', x, residual, gamma)
        q = matmul(f'{lb}/attn/q_proj', x, lw['q_proj'], (i, 'q_proj'), HIDDEN, HEADS * HEAD_DIM)
        k = matmul(f'{lb}/attn/k_proj', x, lw['k_proj'], (i, 'k_proj'), HIDDEN, KV_HEADS * HEAD_DIM)
        v = matmul(f'{lb}/attn/v_proj', x, lw['v_proj'], (i, 'v_proj'), HIDDEN, KV_HEADS * HEAD_DIM)
        rq, rk = f'{lb}/attn/q_rotary/RotaryEmbedding', f'{lb}/attn/k_rotary/RotaryEmbedding'
        q = g.node('RotaryEmbedding', [q, 'position_ids', cos, sin], [f'{rq}/output_0'], rq, domain='com.microsoft',
                   shapes=[(F32, [B, S, HEADS * HEAD_DIM])], interleaved=0)
        k = g.node('RotaryEmbedding', [k, 'position_ids', cos, sin], [f'{rk}/output_0'], rk, domain='com.microsoft',
                   shapes=[(F32, [B, S, KV_HEADS * HEAD_DIM])], interleaved=0)
        ga = f'{lb}/attn/GroupQueryAttention'
        att = g.node('GroupQueryAttention',
                     [q, k, v, f'past_key_values.{i}.key', f'past_key_values.{i}.value', seqlens_k, total_len],
                     [f'{ga}/output_0', f'present.{i}.key', f'present.{i}.value'], ga, domain='com.microsoft',
                     shapes=[(F32, [B, S, HEADS * HEAD_DIM])], num_heads=HEADS, kv_num_heads=KV_HEADS, do_rotary=0)
        o = matmul(f'{lb}/attn/o_proj', att, lw['o_proj'], (i, 'o_proj'), HEADS * HEAD_DIM, HIDDEN)
        gamma = g.init(f'model.layers.{i}.post_attention_layernorm.weight', lw['post_attention_layernorm'].numpy())
        x, residual = skip_norm(f'{lb}/post_attention_layernorm', o, residual, gamma)
        gate = matmul(f'{lb}/mlp/gate_proj', x, lw['gate_proj'], (i, 'gate_proj'), HIDDEN, INTER)
        up = matmul(f'{lb}/mlp/up_proj', x, lw['up_proj'], (i, 'up_proj'), HIDDEN, INTER)
        shape = [(F32, [B, S, INTER])]
        sig = g.node('Sigmoid', [gate], [f'{lb}/mlp/act_fn/Sigmoid/output_0'], f'{lb}/mlp/act_fn/Sigmoid', shapes=shape)
        act = g.node('Mul', [gate, sig], [f'{lb}/mlp/act_fn/Mul/output_0'], f'{lb}/mlp/act_fn/Mul', shapes=shape)
        prod = g.node('Mul', [act, up], [f'{lb}/mlp/Mul/output_0'], f'{lb}/mlp/Mul', shapes=shape)
        x = matmul(f'{lb}/mlp/down_proj', prod, lw['down_proj'], (i, 'down_proj'), INTER, HIDDEN)

    gamma = g.init(f'model.layers.{LAYERS}.final_norm_layernorm.weight', w['final_norm'].numpy())
    x, _ = skip_norm(f'/model/layers.{LAYERS}/final_norm_layernorm', x, residual, gamma)
    if int4:
        qb, sc, zp = quant['lm_head']
        ins = [x, g.init('lm_head.MatMulNBits.qweight', qb), g.init('lm_head.MatMulNBits.scales', sc),
               g.init('lm_head.MatMulNBits.qzeros', zp)]
        g.node('MatMulNBits', ins, ['logits'], '/lm_head/MatMulNBits', domain='com.microsoft',
               K=HIDDEN, N=VOCAB, bits=BITS, block_size=BLOCK, accuracy_level=0)
    else:
        g.node('MatMul', [x, g.init('lm_head.MatMul.weight', w['lm_head'].numpy())], ['logits'], '/lm_head/MatMul')

    inputs = [helper.make_tensor_value_info('input_ids', I64, [B, S]),
              helper.make_tensor_value_info('attention_mask', I64, [B, T]),
              helper.make_tensor_value_info('position_ids', I64, [B, S])]
    outputs = [helper.make_tensor_value_info('logits', F32, [B, S, VOCAB])]
    for i in range(LAYERS):
        for kv in ('key', 'value'):
            inputs.append(helper.make_tensor_value_info(f'past_key_values.{i}.{kv}', F32, [B, KV_HEADS, P, HEAD_DIM]))
            outputs.append(helper.make_tensor_value_info(f'present.{i}.{kv}', F32, [B, KV_HEADS, T, HEAD_DIM]))
    graph_outputs = {o.name for o in outputs}
    vi = [helper.make_tensor_value_info(n, dt, shape) for n, (dt, shape) in g.vi.items()
          if n not in graph_outputs] if value_info else []
    graph = helper.make_graph(g.nodes, 'main_graph', inputs, outputs, initializer=g.inits, value_info=vi)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET),
                                                    helper.make_opsetid('com.microsoft', 1)],
                              producer_name='sca-onnx scripts/make_genai_fixture.py (onnxruntime-genai builder form)')
    model.ir_version = IR_VERSION
    return model


def check(model):
    """onnx's checker knows no SimplifiedLayerNormalization in "": check a copy with it moved to com.microsoft."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for n in m.graph.node:
        if n.op_type == 'SimplifiedLayerNormalization':
            n.domain = 'com.microsoft'
    onnx.checker.check_model(m)


def save(model, folder):
    os.makedirs(folder, exist_ok=True)
    path, data = os.path.join(folder, 'model.onnx'), os.path.join(folder, 'model.onnx.data')
    for p in (path, data):
        if os.path.exists(p):
            os.remove(p)  # onnx appends external data to an existing file
    convert_model_to_external_data(model, all_tensors_to_one_file=True, location='model.onnx.data',
                                   size_threshold=0, convert_attribute=False)
    onnx.save_model(model, path)
    with open(os.path.join(folder, 'genai_config.json'), 'w') as f:
        json.dump(genai_config(), f, indent=4)
        f.write('\n')
    for p in (path, data):
        print(f'wrote {os.path.relpath(p, OUT)} ({os.path.getsize(p)} bytes)')


def genai_config():
    return {
        'model': {
            'bos_token_id': 1,
            'context_length': MAX_POS,
            'decoder': {
                'session_options': {'log_id': 'onnxruntime-genai', 'provider_options': []},
                'filename': 'model.onnx',
                'head_size': HEAD_DIM,
                'hidden_size': HIDDEN,
                'inputs': {
                    'input_ids': 'input_ids',
                    'attention_mask': 'attention_mask',
                    'position_ids': 'position_ids',
                    'past_key_names': 'past_key_values.%d.key',
                    'past_value_names': 'past_key_values.%d.value',
                },
                'outputs': {
                    'logits': 'logits',
                    'present_key_names': 'present.%d.key',
                    'present_value_names': 'present.%d.value',
                },
                'num_attention_heads': HEADS,
                'num_hidden_layers': LAYERS,
                'num_key_value_heads': KV_HEADS,
            },
            'eos_token_id': 2,
            'pad_token_id': 0,
            'type': 'llama',
            'vocab_size': VOCAB,
        },
        'search': {
            'diversity_penalty': 0.0, 'do_sample': False, 'early_stopping': True, 'length_penalty': 1.0,
            'max_length': MAX_POS, 'min_length': 0, 'no_repeat_ngram_size': 0, 'num_beams': 1,
            'num_return_sequences': 1, 'past_present_share_buffer': False, 'repetition_penalty': 1.0,
            'temperature': 1.0, 'top_k': 1, 'top_p': 1.0,
        },
    }


def floats(t):
    """Flat list; 9 significant digits give back the same float32."""
    return [float(f'{v:.9g}') for v in np.asarray(t.detach().numpy(), dtype=np.float32).reshape(-1).tolist()]


# ---------------------------------------------------------------- main

def main():
    w, prompt, r = make_weights()
    wq = dequantized_weights(w)

    with torch.no_grad():
        _, h0 = forward(w, prompt)
        mean = h0[0].double().mean(0)
        mean = mean / mean.norm()
        a = r - (r @ mean) * mean
        a = (a / a.norm()).float()
        z = h0[0] @ a
        assert (z > 0).any() and (z < 0).any(), z
        print('z.a over the prompt:', [round(float(v), 4) for v in z])

        ref = {
            'prompt': prompt.reshape(-1).tolist(),
            'prompt_shape': list(prompt.shape),
            'position_ids': list(range(PROMPT_LEN)),
            'residual_tensor': RESIDUAL_TENSOR,
            'patch': 'h - (h.a) a on the residual after layer 0 (h = embeds + attn0 + mlp0), a = direction.npy, '
                     'for everything that reads it (layer 1 input norm and the residual carried to later skip-adds)',
            'logits_shape': [1, PROMPT_LEN, VOCAB],
            'residual_shape': [1, PROMPT_LEN, HIDDEN],
            'direction': floats(a),
            'greedy': {},
            'config': {'hidden': HIDDEN, 'layers': LAYERS, 'heads': HEADS, 'kv_heads': KV_HEADS,
                       'head_dim': HEAD_DIM, 'vocab': VOCAB, 'intermediate': INTER, 'rms_eps': EPS,
                       'rope_theta': THETA, 'max_positions': MAX_POS, 'int4_bits': BITS, 'int4_block_size': BLOCK},
        }
        for variant, weights in (('fp32', w), ('int4', wq)):
            intact, h = forward(weights, prompt)
            patched, hp = forward(weights, prompt, a)
            ref[variant] = {'intact_logits': floats(intact), 'patched_logits': floats(patched),
                            'residual_after_layer0': floats(h)}
            gi, mi = greedy(weights, prompt, GREEDY_STEPS)
            gp, mp = greedy(weights, prompt, GREEDY_STEPS, a)
            ref['greedy'][variant] = {'intact': gi, 'patched': gp}
            print(f'{variant}: greedy intact {gi} (min top-2 margin {mi:.4f})')
            print(f'{variant}: greedy patched {gp} (min top-2 margin {mp:.4f})')
            print(f'{variant}: max |patched - intact| logits {float((patched - intact).abs().max()):.4f}')
            assert min(mi, mp) > 1e-3, 'greedy margin too small for a robust ORT comparison'
        print('max |int4 dequantized - fp32| logits',
              f'{max(abs(x - y) for x, y in zip(ref["int4"]["intact_logits"], ref["fp32"]["intact_logits"])):.4f}')

    os.makedirs(OUT, exist_ok=True)
    for folder, kw in (('fp32', {}), ('fp32-value-info', {'value_info': True}),
                       ('int4', {'int4': True, 'quant': wq['quant']})):
        model = build_model(w, **kw)
        check(model)
        save(model, os.path.join(OUT, folder))
    np.save(os.path.join(OUT, 'direction.npy'), a.numpy().astype(np.float32))
    print(f'wrote direction.npy ({os.path.getsize(os.path.join(OUT, "direction.npy"))} bytes)')
    write_json(os.path.join(OUT, 'reference.json'), ref)


if __name__ == '__main__':
    main()
