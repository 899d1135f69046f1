#!/usr/bin/env python3
"""Real torch.onnx exports and PyTorch references for the test suite.

Run by hand (never at test time) with Debian's PyTorch 1.13 and onnx 1.12:

    apt-get install -y python3-torch python3-onnx
    /usr/bin/python3 scripts/make_fixtures.py            # every fixture
    /usr/bin/python3 scripts/make_fixtures.py color cnn  # only some

Everything is written under test/fixtures/ and committed; test/fixtures/README.md
describes each file, site and formula. The run is seeded and single-threaded,
so the same torch build gives the same bytes.
"""
import json
import math
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# ---------------------------------------------------------------- helpers

def rounded(x):
    """Nested lists of floats with 8 significant digits (float32 carries ~7.2)."""
    a = np.asarray(x.detach().cpu().float().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    if a.ndim == 0:
        return float(f'{float(a):.8g}')
    return [rounded(v) for v in a] if a.ndim > 1 else [float(f'{float(v):.8g}') for v in a]


def flat(x):
    return rounded(x.reshape(-1))


def write_json(name, obj):
    path = os.path.join(OUT, name)
    with open(path + '.tmp', 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
        f.write('\n')
    os.replace(path + '.tmp', path)
    print(f'wrote {name} ({os.path.getsize(path)} bytes)')


def export(model, args, name, input_names, output_names, dynamic_axes, opset=14, **kw):
    path = os.path.join(OUT, name)
    torch.onnx.export(model, args, path, input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, opset_version=opset, **kw)
    onnx.checker.check_model(path)
    print(f'wrote {name} ({os.path.getsize(path)} bytes)')
    return onnx.load(path)


# ---------------------------------------------------------------- colour model (SCA.md, run 2.10.1)

class L2Norm(nn.Module):
    def forward(self, z):
        # z / max(|z|, 1e-12) as the authors write it. vector_norm exports as
        # Abs/Pow/ReduceSum/Pow/Clip/Div; F.normalize would give ReduceL2/Clip/Expand/Div.
        return z / torch.linalg.vector_norm(z, 2, dim=-1, keepdim=True).clamp(min=1e-12)


class ColorAutoencoder(nn.Module):
    def __init__(self, k=5, h=10):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(3, h), nn.GELU(), nn.Linear(h, h), nn.GELU(), nn.Linear(h, k))
        self.bottleneck = L2Norm()
        self.decoder = nn.Sequential(nn.Linear(k, h), nn.GELU(), nn.Linear(h, h), nn.GELU(), nn.Linear(h, 3))

    def forward(self, rgb, latent_edit=None):
        z = self.bottleneck(self.encoder(rgb))
        if latent_edit is not None:
            z = latent_edit(z)
        return torch.clamp(self.decoder(z), 0, 1)


def min_jerk(keys, t):
    """Keyframes joined by minimum-jerk curves; before the first key, its value."""
    if t <= keys[0][0]:
        return keys[0][1]
    for (t0, v0), (t1, v1) in zip(keys, keys[1:]):
        if t <= t1:
            u = (t - t0) / (t1 - t0)
            return v0 + (v1 - v0) * (10 * u ** 3 - 15 * u ** 4 + 6 * u ** 5)
    return keys[-1][1]


SCHEDULE = {  # paper run 2.10.1
    'lr': [(0, 1e-8), (10, 0.01), (750, 0.1), (1425, 0.1), (1500, 0.05)],
    'separate': [(0, 0.01), (248, 0.01), (750, 0.001), (1425, 0.0)],
    'anchor': [(0, 0.0), (248, 0.1), (750, 0.12), (1425, 0.0)],
    'anti_subspace': [(0, 0.25), (750, 0.005), (1425, 0.0)],
}


def redness(c):
    return c[:, 0] * (1 - c[:, 1] / 2 - c[:, 2] / 2)


def train_color(seed):
    torch.manual_seed(seed)
    model = ColorAutoencoder()
    grid = torch.linspace(0, 1, 8)
    cube = torch.cartesian_prod(grid, grid, grid)  # r slowest, b fastest
    opt = torch.optim.Adam(model.parameters())
    labelled = drawn = 0
    for step in range(1501):
        for g in opt.param_groups:
            g['lr'] = min_jerk(SCHEDULE['lr'], step)
        x = cube[torch.randint(0, 512, (64,))]
        labels = (torch.rand(64) < 0.08 * redness(x) ** 8).float()
        labelled += int(labels.sum())
        drawn += 64
        z = model.bottleneck(model.encoder(x))
        y = model.decoder(z)
        loss = F.mse_loss(y, x)
        anchor = (labels * (1 - z[:, 0])).sum() / (labels.sum() + 1e-8)
        anti_subspace = (z[:, 0] ** 2).mean()
        cos = z @ z.T  # z is unit length
        cos = torch.where(cos > 1 - 1e-6, torch.zeros_like(cos), cos)
        separate = (((1 + cos) / 2) ** 100).sum() / z.shape[0]
        loss = loss + min_jerk(SCHEDULE['anchor'], step) * anchor + min_jerk(SCHEDULE['anti_subspace'], step) * anti_subspace \
            + min_jerk(SCHEDULE['separate'], step) * separate
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model, cube, labelled / drawn


COLOR_NAMES = {'red': [1, 0, 0], 'green': [0, 1, 0], 'blue': [0, 0, 1], 'cyan': [0, 1, 1], 'yellow': [1, 1, 0],
               'magenta': [1, 0, 1], 'white': [1, 1, 1], 'black': [0, 0, 0], 'gray': [0.5, 0.5, 0.5]}


def make_color(seed=4):
    # Seeds vary a lot (SCA.md); of seeds 0-6, seed 4 isolates red best
    # (red MSE with latent dim 0 zeroed: 0.27, every other named colour < 0.015).
    model, cube, fraction = train_color(seed)
    e0 = torch.zeros(5)
    e0[0] = 1

    def suppress(z):
        return z - torch.clamp(z @ e0, min=0)[:, None] * e0

    def zero_dim0(z):
        z = z.clone()
        z[:, 0] = 0
        return z

    ablated_model = ColorAutoencoder()
    ablated_model.load_state_dict(model.state_dict())
    with torch.no_grad():
        ablated_model.encoder[4].weight[0] = 0
        ablated_model.encoder[4].bias[0] = 0
        ablated_model.decoder[0].weight[:, 0] = 0
    named = torch.tensor(list(COLOR_NAMES.values()), dtype=torch.float32)

    def named_mse(m, edit=None):
        y = m(named, edit)
        return {n: float(((y[i] - named[i]) ** 2).mean()) for i, n in enumerate(COLOR_NAMES)}

    with torch.no_grad():
        intact = model(cube)
        expected = {
            'cube': rounded(cube),
            'intact': rounded(intact),
            'suppressed': rounded(model(cube, suppress)),
            'ablated': rounded(model(cube, zero_dim0)),
            'ablated_weights': rounded(ablated_model(cube)),
            'latent': rounded(model.bottleneck(model.encoder(cube))),
            'named_mse': {'intact': named_mse(model), 'ablated_weights': named_mse(ablated_model),
                          'ablated': named_mse(model, zero_dim0)},
            'labelled_fraction': fraction,
            'cube_mse_intact': float(((intact - cube) ** 2).mean()),
        }
    print('colour seed', seed, 'red mse intact/ablated/weights/suppressed',
          expected['named_mse']['intact']['red'], expected['named_mse']['ablated']['red'],
          expected['named_mse']['ablated_weights']['red'], named_mse(model, suppress)['red'],
          'cube mse', expected['cube_mse_intact'], 'labelled', fraction)
    export(model, (torch.zeros(1, 3),), 'color_red.onnx', ['rgb'], ['out'], {'rgb': {0: 'batch'}, 'out': {0: 'batch'}})
    write_json('color_red.expected.json', expected)


# ---------------------------------------------------------------- main

MAKERS = {'color': make_color}

if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    for name in sys.argv[1:] or MAKERS:
        MAKERS[name]()
