#!/usr/bin/env python3
"""QDQ static-quantized fixtures, written the way onnxruntime's quantize_static writes them.

There is no Python onnxruntime here, so this script is its own quantizer: it exports the float
model with torch.onnx (for torch's tensor names), calibrates min/max with PyTorch hooks, and
rewrites the graph into QDQ form with onnx.helper, following onnxruntime's QDQ conventions
(QuantFormat.QDQ, activations uint8 asymmetric per-tensor, weights int8 symmetric, biases int32,
Relu removed where its producer has no other reader). See test/fixtures/qdq/README.md.

Run by hand (never at test time) with Debian's PyTorch 1.13 and onnx 1.12:

    /usr/bin/python3 scripts/make_qdq_fixtures.py                    # write test/fixtures/qdq/
    /usr/bin/python3 scripts/make_qdq_fixtures.py --variants /tmp/x  # only the edited copies (below)

`--variants DIR` reads the committed fixtures and writes, under DIR (never under test/), copies
with each reference intervention inserted either right after the site's DequantizeLinear (where
it belongs) or between the site's producer and its QuantizeLinear (where a patcher that looks
for the tensor by name lands); scripts/check-qdq-fixtures.mjs runs them in onnxruntime-node.

Seeded and single-threaded: the same torch build gives the same bytes.
"""
import copy
import io
import json
import os
import re
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import write_json  # noqa: E402
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'qdq')
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

OPSET = 13
IR_VERSION = 7
BATCH = 4          # reference inputs
CALIBRATION = 256  # calibration samples, drawn apart from the reference inputs (which are added to them)
# Calibration inputs are N(0, sd^2), wider than the N(0, 1) reference inputs, so that every reference
# intervention keeps every downstream activation inside its calibrated range (build() checks it). With
# sd = 1, steer (+2a) pushes the MLPs' y and the CNN's pooled features past their ranges and those
# QuantizeLinear nodes saturate wherever the edit is placed: a separate effect from the placement these
# fixtures are about. Each sd is the smallest of 1, 1.5, 2, 2.5, 3 that passes the check.
CAL_STD = {'mlp': 1.5, 'cnn': 3.0}
MODES = ['intact', 'suppress_full', 'suppress_half', 'steer', 'amplify', 'dims_zero', 'clamp']
FORMULAS = {
    'notation': 'z is the post-ReLU activation at the site; a the site\'s unit direction; z.a the dot product '
                'along the site\'s axis (a broadcast over every other axis); S the mode\'s strength from '
                '`strengths`.',
    'intact': 'z',
    'suppress_full': 'z - (z.a) a',
    'suppress_half': 'z - max(z.a, 0) a',
    'steer': 'z + S a',
    'amplify': 'z + S (z.a) a',
    'dims_zero': 'z with indices `dims` of the site\'s axis set to 0',
    'clamp': 'z + (S - z.a) a',
}
STRENGTHS = {'steer': 2.0, 'amplify': 1.0, 'clamp': 0.5}
DIMS = [1, 3]


# ---------------------------------------------------------------- helpers

def rounded_flat(x):
    a = np.asarray(x.detach().cpu().float().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    return [float(f'{float(v):.8g}') for v in a.reshape(-1)]


def intervene(mode, z, axis, a, dims):
    zl = z.movedim(axis, -1)
    s = (zl @ a)[..., None]
    if mode == 'intact':
        out = zl
    elif mode == 'suppress_full':
        out = zl - s * a
    elif mode == 'suppress_half':
        out = zl - torch.clamp(s, min=0) * a
    elif mode == 'steer':
        out = zl + STRENGTHS['steer'] * a
    elif mode == 'amplify':
        out = zl + STRENGTHS['amplify'] * s * a
    elif mode == 'dims_zero':
        out = zl.clone()
        out[..., dims] = 0
    elif mode == 'clamp':
        out = zl + (STRENGTHS['clamp'] - s) * a
    else:
        raise ValueError(mode)
    return out.movedim(-1, axis)


def export_float(model, example, input_name, output_name):
    buf = io.BytesIO()
    torch.onnx.export(model, (example,), buf, input_names=[input_name], output_names=[output_name],
                      dynamic_axes={input_name: {0: 'batch'}, output_name: {0: 'batch'}}, opset_version=OPSET)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    return proto


def scope_of(tensor):
    m = re.fullmatch(r'/(.+)/[A-Za-z]+_output_0', tensor)
    return m.group(1) if m else None


def calibrate(model, graph, inputs):
    """min/max of every graph tensor over the calibration set, from hooks on the module that makes it."""
    modules = dict(model.named_modules())
    ranges, hooks = {}, []
    in_name, out_name = graph.input[0].name, graph.output[0].name

    def keep(name, t):
        lo, hi = float(t.min()), float(t.max())
        old = ranges.get(name)
        ranges[name] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))

    for node in graph.node:
        for t in node.output:
            if t == out_name:
                continue
            scope = scope_of(t)
            if scope not in modules or not node.name.startswith(f'/{scope}/'):
                raise RuntimeError(f'{t}: no module for it')
            hooks.append(modules[scope].register_forward_hook(lambda m, i, o, t=t: keep(t, o)))
    with torch.no_grad():
        keep(in_name, inputs)
        keep(out_name, model(inputs))
    for h in hooks:
        h.remove()
    return ranges


# ---------------------------------------------------------------- onnxruntime's quantization arithmetic

def activation_qparams(rmin, rmax):
    """uint8 asymmetric (onnxruntime compute_scale_zp, symmetric=False): the range always holds 0."""
    rmin, rmax = min(rmin, 0.0), max(rmax, 0.0)
    if rmax == rmin:
        return np.float32(1.0), np.uint8(0)
    scale = np.float32((np.float32(rmax) - np.float32(rmin)) / np.float32(255))
    zp = np.clip(np.round(np.float32(0) - np.float32(rmin) / scale), 0, 255)
    return scale, np.uint8(zp)


def quantize_weight(w, axis=None):
    """int8 symmetric in [-127, 127], zero point 0; per tensor, or per channel along `axis`."""
    w = w.astype(np.float32)
    if axis is None:
        absmax = np.float32(np.abs(w).max())
        scale = np.float32(absmax / np.float32(127)) if absmax > 0 else np.float32(1)
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        return q, scale, np.int8(0)
    wl = np.moveaxis(w, axis, 0)
    absmax = np.abs(wl.reshape(wl.shape[0], -1)).max(axis=1).astype(np.float32)
    scale = np.where(absmax > 0, absmax / np.float32(127), np.float32(1)).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale, np.zeros(scale.shape, np.int8)


def quantize_bias(b, input_scale, weight_scale):
    """int32 with scale input_scale * weight_scale (a vector for per-channel weights), zero point 0."""
    scale = (np.float32(input_scale) * np.asarray(weight_scale, np.float32)).astype(np.float32)
    q = np.round(b.astype(np.float32) / scale).astype(np.int32)
    zp = np.zeros(scale.shape, np.int32)
    return q, scale, zp


def dequantize(q, scale, zp, axis=None):
    scale, zp = np.asarray(scale, np.float32), np.asarray(zp)
    if scale.ndim and axis is not None:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return ((q.astype(np.int64) - zp.astype(np.int64)).astype(np.float32) * scale).astype(np.float32)


# ---------------------------------------------------------------- the QDQ rewrite

class QDQRewrite:
    """Rewrites a torch.onnx float graph the way onnxruntime's QDQQuantizer does (QuantFormat.QDQ)."""

    def __init__(self, proto, ranges, per_channel, remove_relu):
        self.src, self.ranges = proto.graph, ranges
        self.per_channel, self.remove_relu = per_channel, remove_relu
        self.weights = {i.name: numpy_helper.to_array(i) for i in self.src.initializer}
        self.nodes, self.inits = [], []
        self.act = {}      # activation tensor -> (scale, zero_point)
        self.wq = {}       # weight name -> (dequantized array, scale, axis)
        self.bias_deq = {}  # bias name -> dequantized array

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))

    def qdq_activation(self, t, graph_output=False):
        """t_QuantizeLinear -> t_QuantizeLinear_Output -> t_DequantizeLinear -> t_DequantizeLinear_Output,
        or, for a graph output, t_QuantizeLinear_Input -> ... -> t."""
        scale, zp = activation_qparams(*self.ranges[t])
        self.act[t] = (scale, zp)
        self.init(f'{t}_scale', scale)
        self.init(f'{t}_zero_point', zp)
        q_in = f'{t}_QuantizeLinear_Input' if graph_output else t
        dq_out = t if graph_output else f'{t}_DequantizeLinear_Output'
        self.nodes.append(helper.make_node('QuantizeLinear', [q_in, f'{t}_scale', f'{t}_zero_point'],
                                           [f'{t}_QuantizeLinear_Output'], f'{t}_QuantizeLinear'))
        self.nodes.append(helper.make_node('DequantizeLinear', [f'{t}_QuantizeLinear_Output', f'{t}_scale',
                                                                f'{t}_zero_point'], [dq_out], f'{t}_DequantizeLinear'))

    def qdq_weight(self, w, axis):
        q, scale, zp = quantize_weight(self.weights[w], axis)
        self.wq[w] = (dequantize(q, scale, zp, axis), scale, axis)
        self.init(f'{w}_quantized', q)
        self.init(f'{w}_scale', scale)
        self.init(f'{w}_zero_point', zp)
        kw = {'axis': axis} if axis is not None else {}
        self.nodes.append(helper.make_node('DequantizeLinear', [f'{w}_quantized', f'{w}_scale', f'{w}_zero_point'],
                                           [f'{w}_DequantizeLinear_Output'], f'{w}_DequantizeLinear', **kw))
        return f'{w}_DequantizeLinear_Output'

    def qdq_bias(self, b, input_tensor, w):
        _, w_scale, axis = self.wq[w]
        q, scale, zp = quantize_bias(self.weights[b], self.act[input_tensor][0], w_scale)
        self.bias_deq[b] = dequantize(q, scale, zp, 0)
        self.init(f'{b}_quantized', q)
        self.init(f'{b}_quantized_scale', scale)
        self.init(f'{b}_quantized_zero_point', zp)
        kw = {'axis': 0} if scale.ndim else {}
        # onnxruntime's bias DequantizeLinear writes the bias's own name
        self.nodes.append(helper.make_node('DequantizeLinear', [f'{b}_quantized', f'{b}_quantized_scale',
                                                                f'{b}_quantized_zero_point'], [b],
                                           f'{b}_DequantizeLinear', **kw))
        return b

    def run(self):
        g = self.src
        graph_in, graph_out = g.input[0].name, g.output[0].name
        readers = {}
        for n in g.node:
            for i in n.input:
                readers.setdefault(i, []).append(n)
        # Relu removal (QDQRemovableActivation): the producer writes the Relu's output name directly;
        # that tensor's calibrated range (min 0) makes its QuantizeLinear do the ReLU.
        rename, removed = {}, set()
        if self.remove_relu:
            for n in g.node:
                if n.op_type == 'Relu' and len(readers.get(n.input[0], [])) == 1 and n.input[0] != graph_in \
                        and n.output[0] != graph_out:
                    rename[n.input[0]] = n.output[0]
                    removed.add(n.name)
        quantized_ops = {'Gemm', 'Conv', 'Relu', 'GlobalAveragePool'}  # Flatten: not in onnxruntime's list
        quantized = set()  # tensors with a Q/DQ pair

        def ensure(t):
            if t not in quantized:
                quantized.add(t)
                self.qdq_activation(t, graph_output=(t == graph_out))

        def read(t):
            return f'{t}_DequantizeLinear_Output' if t in quantized else t

        ensure(graph_in)
        for n in g.node:
            if n.name in removed:
                continue
            ins = list(n.input)
            outs = [rename.get(o, o) for o in n.output]
            if n.op_type in ('Gemm', 'Conv'):
                ensure(ins[0])
                axis = None
                if self.per_channel:
                    trans_b = any(a.name == 'transB' and a.i for a in n.attribute)
                    axis = 0 if (n.op_type == 'Conv' or trans_b) else 1
                new_ins = [read(ins[0]), self.qdq_weight(ins[1], axis)]
                if len(ins) > 2:
                    new_ins.append(self.qdq_bias(ins[2], ins[0], ins[1]))
            elif n.op_type in quantized_ops:
                for i in ins:
                    ensure(i)
                new_ins = [read(i) for i in ins]
            else:
                new_ins = [read(i) for i in ins]
            final_outs = [f'{o}_QuantizeLinear_Input' if (o == graph_out and n.op_type in quantized_ops) else o
                          for o in outs]
            node = helper.make_node(n.op_type, new_ins, final_outs, n.name)
            node.attribute.extend(n.attribute)
            self.nodes.append(node)
            if n.op_type in quantized_ops:
                for o in outs:
                    ensure(o)
        graph = helper.make_graph(self.nodes, g.name, list(g.input), list(g.output), self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET),
                                                        helper.make_opsetid('com.microsoft', 1)],
                                  producer_name='onnx.quantize', producer_version='0.1.0')
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        return model, rename


# ---------------------------------------------------------------- models

class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.relu2(self.conv2(self.relu1(self.conv1(x)))))))


def copy_module(model):
    return copy.deepcopy(model)


def site_direction(value, axis, gen):
    rows = value.movedim(axis, -1).reshape(-1, value.shape[axis]).double()
    mean = rows.mean(0)
    r = torch.randn(value.shape[axis], generator=gen, dtype=torch.float64)
    r = r / r.norm()
    a = r - (r @ mean) / (mean @ mean) * mean
    a = (a / a.norm()).float()
    za = rows.float() @ a
    if not (bool((za > 0).any()) and bool((za < 0).any())):
        raise RuntimeError('z.a has one sign')
    return rounded_flat(a)


def build(name, model, input_name, output_name, inputs, calib, cal_std, per_channel, remove_relu,
          site_module, site_tensor, gen):
    example = inputs[:1]
    proto = export_float(model, example, input_name, output_name)
    ranges = calibrate(model, proto.graph, torch.cat([inputs, calib]))
    rewrite = QDQRewrite(proto, ranges, per_channel, remove_relu)
    qmodel, rename = rewrite.run()

    deq = copy_module(model)
    state = deq.state_dict()
    for k in state:
        if k in rewrite.wq:
            state[k] = torch.from_numpy(rewrite.wq[k][0].copy())
        elif k in rewrite.bias_deq:
            state[k] = torch.from_numpy(rewrite.bias_deq[k].copy())
        else:
            raise RuntimeError(f'{k}: neither weight nor bias was quantized')
    deq.load_state_dict(state)
    deq.eval()
    module = dict(deq.named_modules())[site_module]

    seen = {}
    h = module.register_forward_hook(lambda m, i, o: seen.setdefault('z', o.detach().clone()))
    with torch.no_grad():
        deq(inputs)
    h.remove()
    z = seen['z']
    axis = 1
    direction = site_direction(z, axis, gen)
    a = torch.tensor(direction)

    # Which tensor each QuantizeLinear reads, as a module of the float model (a removed Relu's name is
    # its module's output: the QuantizeLinear's range starting at 0 is that ReLU).
    modules = dict(deq.named_modules())
    watched = {t: modules[scope_of(t)] for t in rewrite.act if scope_of(t) in modules and t != site_tensor}
    float_outputs, saturated = {}, {}
    for mode in MODES:
        seen = {}
        h = [module.register_forward_hook(lambda m, i, o, mode=mode: intervene(mode, o, axis, a, DIMS))]
        h += [m.register_forward_hook(lambda m, i, o, t=t: seen.setdefault(t, o.detach().clone()))
              for t, m in watched.items()]
        with torch.no_grad():
            out = deq(inputs)
        for k in h:
            k.remove()
        seen[output_name] = out
        float_outputs[mode] = {'shape': list(out.shape), 'data': rounded_flat(out)}
        # Every downstream QuantizeLinear must see values inside its calibrated grid (half a step of
        # slack: those still round onto the end points), or that Q saturates and no placement of the
        # edit can match the float reference.
        for t, v in seen.items():
            sc, zp = rewrite.act[t]
            lo, hi = (0 - float(zp) - 0.5) * float(sc), (255 - float(zp) + 0.5) * float(sc)
            n = int(((v < lo) | (v > hi)).sum())
            if n:
                saturated.setdefault(mode, {})[t] = n
    if saturated:
        raise RuntimeError(f'{name}: reference interventions leave a calibrated range: {saturated}')

    nodes = {o: n for n in qmodel.graph.node for o in n.output}
    q_node = f'{site_tensor}_QuantizeLinear'
    dq_out = f'{site_tensor}_DequantizeLinear_Output'
    if site_tensor not in nodes or dq_out not in nodes or not any(n.name == q_node for n in qmodel.graph.node):
        raise RuntimeError(f'{name}: site tensors missing')
    dq_readers = [n.name for n in qmodel.graph.node if dq_out in n.input]
    scale, zp = rewrite.act[site_tensor]
    producer = nodes[site_tensor]
    site = {
        'tensor': site_tensor,
        'producer': producer.name,
        'producer_op': producer.op_type,
        'holds': ('pre-ReLU values (the Relu was removed; the QuantizeLinear range starting at 0 applies it)'
                  if site_tensor in rename.values() else 'post-ReLU values'),
        'q_node': q_node,
        'q_output': f'{site_tensor}_QuantizeLinear_Output',
        'dq_node': f'{site_tensor}_DequantizeLinear',
        'dq_output': dq_out,
        'dq_readers': dq_readers,
        'scale': float(scale),
        'zero_point': int(zp),
        'axis': axis,
        'shape': ['batch'] + list(z.shape[1:]),
        'direction': direction,
        'dims': DIMS,
        'value': rounded_flat(z),
    }
    path = os.path.join(OUT, f'{name}.onnx')
    data = qmodel.SerializeToString()
    with open(path + '.tmp', 'wb') as f:
        f.write(data)
    os.replace(path + '.tmp', path)
    print(f'wrote {name}.onnx ({len(data)} bytes); site {site_tensor} -> {q_node} -> {dq_out} -> {dq_readers}')
    with torch.no_grad():
        fl = model(inputs)
    print(f'  max |float(original) - float(dequantized weights)| = '
          f'{float((fl - deq(inputs)).abs().max()):.3g}')
    return {
        'file': f'{name}.onnx',
        'inputs': {input_name: {'type': 'float32', 'shape': list(inputs.shape), 'data': rounded_flat(inputs)}},
        'output': output_name,
        'calibration': f'MinMax over the {BATCH} reference inputs and {len(calib)} seeded N(0, {cal_std:g}^2) samples',
        'output_quantized': True,
        'output_scale': float(rewrite.act[output_name][0]),
        'output_zero_point': int(rewrite.act[output_name][1]),
        'relu': 'removed' if remove_relu else 'kept',
        'weights': 'int8 symmetric per channel (axis 0)' if per_channel else 'int8 symmetric per tensor',
        'site': site,
        'float_outputs': float_outputs,
    }


def make_all():
    os.makedirs(OUT, exist_ok=True)
    ref = {'formulas': FORMULAS, 'strengths': STRENGTHS, 'models': {}}

    gen = torch.Generator().manual_seed(1234)
    x = torch.randn(BATCH, 8, generator=gen)
    x_cal = CAL_STD['mlp'] * torch.randn(CALIBRATION, 8, generator=gen)
    for name, remove in (('mlp_relu_removed', True), ('mlp_relu_kept', False)):
        torch.manual_seed(7)
        mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
        dgen = torch.Generator().manual_seed(99)
        ref['models'][name] = build(name, mlp, 'x', 'y', x, x_cal, CAL_STD['mlp'], False, remove, '1', '/1/Relu_output_0', dgen)

    gen = torch.Generator().manual_seed(4321)
    p = torch.randn(BATCH, 3, 8, 8, generator=gen)
    p_cal = CAL_STD['cnn'] * torch.randn(CALIBRATION, 3, 8, 8, generator=gen)
    torch.manual_seed(11)
    cnn = CNN().eval()
    dgen = torch.Generator().manual_seed(98)
    ref['models']['cnn_per_channel'] = build('cnn_per_channel', cnn, 'pixels', 'logits', p, p_cal, CAL_STD['cnn'], True, True,
                                             'relu1', '/relu1/Relu_output_0', dgen)

    write_json(os.path.join(OUT, 'reference.json'), ref)


# ---------------------------------------------------------------- edited copies for the check script

def intervention_nodes(mode, z, out, axis, rank, direction, dims, prefix):
    """Nodes and initializers computing `out` = mode(z) (the formulas above) at opset 13."""
    c = len(direction)
    shape = [1] * rank
    shape[axis] = c
    a = np.asarray(direction, np.float32).reshape(shape)
    nodes, inits = [], []

    def const(n, v):
        inits.append(numpy_helper.from_array(np.asarray(v), f'{prefix}/{n}'))
        return f'{prefix}/{n}'

    def op(t, ins, n, **kw):
        o = f'{prefix}/{n}'
        nodes.append(helper.make_node(t, ins, [o], o, **kw))
        return o

    def dot():
        zm = op('Mul', [z, const('a', a)], 'za_mul')
        return op('ReduceSum', [zm, const('axes', np.array([axis], np.int64))], 'za', keepdims=1)

    if mode == 'intact':
        nodes.append(helper.make_node('Identity', [z], [out], f'{prefix}/out'))
    elif mode == 'steer':
        nodes.append(helper.make_node('Add', [z, const('Sa', (np.float32(STRENGTHS['steer']) * a).astype(np.float32))],
                                      [out], f'{prefix}/out'))
    elif mode == 'dims_zero':
        mask = np.ones(shape, np.float32)
        mask.reshape(-1)[dims] = 0
        nodes.append(helper.make_node('Mul', [z, const('mask', mask)], [out], f'{prefix}/out'))
    else:
        s = dot()
        if mode == 'suppress_full':
            sa = op('Mul', [s, f'{prefix}/a'], 'sa')
            nodes.append(helper.make_node('Sub', [z, sa], [out], f'{prefix}/out'))
        elif mode == 'suppress_half':
            sa = op('Mul', [op('Relu', [s], 'relu'), f'{prefix}/a'], 'sa')
            nodes.append(helper.make_node('Sub', [z, sa], [out], f'{prefix}/out'))
        elif mode == 'amplify':
            ss = op('Mul', [s, const('S', np.float32(STRENGTHS['amplify']))], 'Ss')
            sa = op('Mul', [ss, f'{prefix}/a'], 'sa')
            nodes.append(helper.make_node('Add', [z, sa], [out], f'{prefix}/out'))
        elif mode == 'clamp':
            d = op('Sub', [const('S', np.float32(STRENGTHS['clamp'])), s], 'S_minus_za')
            sa = op('Mul', [d, f'{prefix}/a'], 'sa')
            nodes.append(helper.make_node('Add', [z, sa], [out], f'{prefix}/out'))
        else:
            raise ValueError(mode)
    return nodes, inits


def edited_copy(model, site, mode, where, rank):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    if where == 'after_dq':
        z = site['dq_output']          # every reader of the DQ output reads the edited tensor
    else:
        z = site['tensor']             # the producer's output: only the QuantizeLinear reads it
    edited = f'{z}_sca_{mode}'
    for n in g.node:
        if n.name == site['q_node'] and where == 'before_q':
            n.input[0] = edited
        elif where == 'after_dq':
            for k, i in enumerate(n.input):
                if i == z:
                    n.input[k] = edited
    nodes, inits = intervention_nodes(mode, z, edited, site['axis'], rank, site['direction'], site['dims'],
                                      f'sca_{mode}')
    # insert right after the node writing z, keeping the node list topologically sorted
    at = next(k for k, n in enumerate(g.node) if z in n.output) + 1
    rest = list(g.node)
    del g.node[:]
    g.node.extend(rest[:at] + nodes + rest[at:])
    g.initializer.extend(inits)
    onnx.checker.check_model(m)
    return m


def make_variants(out_dir):
    out_dir = os.path.abspath(out_dir)
    if os.path.commonpath([out_dir, os.path.abspath(os.path.join(ROOT, 'test'))]) == os.path.abspath(
            os.path.join(ROOT, 'test')):
        raise SystemExit('--variants: refusing to write under test/')
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(OUT, 'reference.json')) as f:
        ref = json.load(f)
    written = []
    for name, rec in ref['models'].items():
        model = onnx.load(os.path.join(OUT, rec['file']))
        site = rec['site']
        rank = len(site['shape'])
        for mode in MODES:
            for where in ('after_dq', 'before_q'):
                m = edited_copy(model, site, mode, where, rank)
                file = f'{name}.{mode}.{where}.onnx'
                with open(os.path.join(out_dir, file), 'wb') as f:
                    f.write(m.SerializeToString())
                written.append(file)
        # and one copy exposing the site tensor and its DequantizeLinear output as graph outputs
        m = onnx.ModelProto()
        m.CopyFrom(model)
        m.graph.output.extend([helper.make_tensor_value_info(t, TensorProto.FLOAT, site['shape'])
                               for t in (site['tensor'], site['dq_output'])])
        onnx.checker.check_model(m)
        with open(os.path.join(out_dir, f'{name}.probe.onnx'), 'wb') as f:
            f.write(m.SerializeToString())
        written.append(f'{name}.probe.onnx')
    print(f'wrote {len(written)} edited copies under {out_dir}')


if __name__ == '__main__':
    args = sys.argv[1:]
    if args[:1] == ['--variants']:
        if len(args) != 2:
            raise SystemExit('usage: make_qdq_fixtures.py [--variants DIR]')
        make_variants(args[1])
    elif args:
        raise SystemExit('usage: make_qdq_fixtures.py [--variants DIR]')
    else:
        make_all()
