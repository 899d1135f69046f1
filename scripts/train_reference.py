#!/usr/bin/env python3
"""Independent PyTorch reference of the authors' colour-autoencoder recipe.

Written from SCA.md ("The authors' exact recipe") to check `sca train color`
(src/train/, hand-written backward pass) against autograd and torch.optim.Adam.
Run by hand with Debian's PyTorch (never at test time):

    /usr/bin/python3 scripts/train_reference.py --preset isolated --seeds 60 --json out.json
    /usr/bin/python3 scripts/train_reference.py --preset anchored --peak-lr 0.05 --fallback
    /usr/bin/python3 scripts/train_reference.py --probe probe.json   # one step, terms + gradients

Presets: anchored (2.4.1: K=4, N=1, anchor + separate + subspace on
"vibrant" labels, scored by suppression with p=2), isolated (2.9.1: K=5, N=2,
anchor + anti-anchor + separate + anti-subspace, scored by ablation with p=3),
2.10.1 (2.9.1 without anti-anchor, anchor 0.12 and anti-subspace 0.005 at 750).
Follow-up options: --peak-lr LR (plateau 750-1425, half of it at 1500) and
--fallback [W] (W * MSE(decoder(-e0), mid-grey) added every step).

Single-threaded; one seed fixes the initialisation, the batches and the labels.
"""
import argparse
import colorsys
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(1)

STEPS = 1501
BATCH = 64
HIDDEN = 16


# ---------------------------------------------------------------- schedules

def min_jerk(u):
    return u * u * u * (10 - 15 * u + 6 * u * u)


def column(keys):
    """keys: [(step, value)] in step order -> value(t)."""
    def value(t):
        if t <= keys[0][0]:
            return keys[0][1]
        for (t0, v0), (t1, v1) in zip(keys, keys[1:]):
            if t <= t1:
                return v0 + (v1 - v0) * min_jerk((t - t0) / (t1 - t0))
        return keys[-1][1]
    return value


def schedules(preset, peak_lr=None):
    peak = 0.1 if peak_lr is None else peak_lr
    lr = [(0, 1e-8), (10, 0.01), (750, peak), (1425, peak), (1500, peak / 2)]
    if preset == 'anchored':
        cols = {
            'separate': [(0, 0.01), (750, 0.01), (1425, 0.0)],
            'anchor': [(0, 0.01), (750, 0.1), (1425, 0.0)],
            'subspace': [(0, 0.01), (375, 0.1), (1125, 0.1), (1425, 0.0)],
        }
    elif preset == 'isolated':
        cols = {
            'separate': [(0, 0.01), (248, 0.01), (750, 0.001), (1425, 0.0)],
            'anchor': [(0, 0.0), (248, 0.1), (750, 0.1), (1425, 0.0)],
            'anti-anchor': [(0, 0.0), (248, 0.05), (1425, 0.0)],
            'anti-subspace': [(0, 0.25), (750, 0.003), (1425, 0.0)],
        }
    elif preset == '2.10.1':
        cols = {
            'separate': [(0, 0.01), (248, 0.01), (750, 0.001), (1425, 0.0)],
            'anchor': [(0, 0.0), (248, 0.1), (750, 0.12), (1425, 0.0)],
            'anti-subspace': [(0, 0.25), (750, 0.005), (1425, 0.0)],
        }
    else:
        raise SystemExit(f'unknown preset {preset}')
    cols['lr'] = lr
    return {name: column(keys) for name, keys in cols.items()}


def shape(preset):
    return (4, 1) if preset == 'anchored' else (5, 2)


# ---------------------------------------------------------------- model

class AutoEncoder(nn.Module):
    def __init__(self, k, n):
        super().__init__()
        enc = [nn.Linear(3, HIDDEN), nn.GELU()]
        for _ in range(n - 1):
            enc += [nn.Linear(HIDDEN, HIDDEN), nn.GELU()]
        enc.append(nn.Linear(HIDDEN, k))
        dec = [nn.Linear(k, HIDDEN), nn.GELU()]
        for _ in range(n - 1):
            dec += [nn.Linear(HIDDEN, HIDDEN), nn.GELU()]
        dec.append(nn.Linear(HIDDEN, 3))
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)

    def encode(self, x):
        h = self.encoder(x)
        return h / h.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def forward(self, x):
        z = self.encode(x)
        return self.decoder(z), z

    def linears(self):
        return [m for m in list(self.encoder) + list(self.decoder) if isinstance(m, nn.Linear)]


def weights_to_json(model):
    return [{'weight': m.weight.detach().double().tolist(), 'bias': m.bias.detach().double().tolist()}
            for m in model.linears()]


def weights_from_json(model, layers):
    with torch.no_grad():
        for m, l in zip(model.linears(), layers, strict=True):
            m.weight.copy_(torch.tensor(l['weight'], dtype=m.weight.dtype))
            m.bias.copy_(torch.tensor(l['bias'], dtype=m.bias.dtype))


# ---------------------------------------------------------------- data and labels

def grid(n):
    c = np.linspace(0, 1, n)
    r, g, b = np.meshgrid(c, c, c, indexing='ij')
    return np.stack([r.ravel(), g.ravel(), b.ravel()], -1)


def validation_set():
    c = np.linspace(1 / 16, 15 / 16, 7)
    r, g, b = np.meshgrid(c, c, c, indexing='ij')
    centres = np.stack([r.ravel(), g.ravel(), b.ravel()], -1)
    return np.concatenate([centres, grid(2)], 0)


def redness(rgb):
    return rgb[..., 0] * (1 - rgb[..., 1] / 2 - rgb[..., 2] / 2)


def vibrancy(rgb):
    return np.array([colorsys.rgb_to_hsv(*c)[1] * colorsys.rgb_to_hsv(*c)[2] for c in rgb])


TRAIN = grid(8)
P_RED = torch.tensor(0.08 * redness(TRAIN) ** 8, dtype=torch.float32)
P_VIBRANT = torch.tensor(0.01 * vibrancy(TRAIN) ** 10, dtype=torch.float32)
TRAIN_T = torch.tensor(TRAIN, dtype=torch.float32)


# ---------------------------------------------------------------- losses

def separate(z):
    c = z @ z.T
    c = torch.where(torch.isclose(c, torch.ones_like(c)), torch.zeros_like(c), c)
    return (((1 + c) / 2) ** 100).sum(-1).mean()


def labelled_mean(per_sample, labels):
    return (per_sample * labels).sum() / (labels.sum() + 1e-8)


def loss_terms(model, x, red, vibrant, preset, fallback):
    y, z = model(x)
    terms = {'recon': ((y - x) ** 2).mean()}
    terms['separate'] = separate(z)
    terms['anchor'] = labelled_mean(1 - z[:, 0], red)
    if preset == 'anchored':
        terms['subspace'] = labelled_mean((z[:, 2:] ** 2).sum(-1), vibrant)
    else:
        terms['anti-subspace'] = (z[:, 0] ** 2).mean()
        if preset == 'isolated':
            terms['anti-anchor'] = torch.clamp(-z[:, 0], min=0).mean()
    if fallback:
        k = z.shape[1]
        e = torch.zeros(1, k, dtype=z.dtype)
        e[0, 0] = -1
        terms['fallback'] = ((model.decoder(e) - 0.5) ** 2).mean()
    return terms


def total(terms, weights, fallback):
    loss = terms['recon']
    for name, t in terms.items():
        if name == 'recon':
            continue
        w = fallback if name == 'fallback' else weights[name]
        loss = loss + w * t
    return loss


# ---------------------------------------------------------------- training

def train(preset, seed, peak_lr=None, fallback=0.0, init=None, dtype=torch.float32):
    k, n = shape(preset)
    torch.manual_seed(seed)
    model = AutoEncoder(k, n).to(dtype)
    if init is not None:
        weights_from_json(model, init)
    gen = torch.Generator().manual_seed(seed + 1_000_003)
    sched = schedules(preset, peak_lr)
    opt = torch.optim.Adam(model.parameters(), lr=1e-8)
    n_red = 0
    for step in range(STEPS):
        idx = torch.randint(0, len(TRAIN), (BATCH,), generator=gen)
        x = TRAIN_T[idx].to(dtype)
        red = (torch.rand(BATCH, generator=gen) < P_RED[idx]).to(dtype)
        vibrant = (torch.rand(BATCH, generator=gen) < P_VIBRANT[idx]).to(dtype)
        n_red += int(red.sum())
        adam_step(model, opt, x, red, vibrant, preset, fallback, {name: f(step) for name, f in sched.items()})
    return model, n_red


def adam_step(model, opt, x, red, vibrant, preset, fallback, weights):
    """One step at this step's term weights, the learning rate overwritten from the schedule first."""
    loss = total(loss_terms(model, x, red, vibrant, preset, fallback), weights, fallback)
    opt.zero_grad()
    loss.backward()
    for g in opt.param_groups:
        g['lr'] = weights['lr']
    opt.step()


# ---------------------------------------------------------------- evaluation

def similarity_to_red(rgb):
    out = []
    for c in rgb:
        h, s, v = colorsys.rgb_to_hsv(*c)
        d = 360 * min(abs(h), 1 - abs(h))
        sim_hue = max(0.0, (90 - d) / 90)
        r = (s * v + 1) / 2
        out.append((r * sim_hue + 1 - r) * (1 - abs(s - 1)) * (1 - abs(v - 1)))
    return np.array(out)


@torch.no_grad()
def outputs(model, rgb, intervention=None):
    x = torch.tensor(rgb, dtype=model.linears()[0].weight.dtype)
    if intervention == 'ablation':
        enc_last = model.linears()[len(model.linears()) // 2 - 1]
        dec_first = model.linears()[len(model.linears()) // 2]
        saved = (enc_last.weight.clone(), enc_last.bias.clone(), dec_first.weight.clone())
        enc_last.weight[0, :] = 0
        enc_last.bias[0] = 0
        dec_first.weight[:, 0] = 0
        y, _ = model(x)
        enc_last.weight.copy_(saved[0])
        enc_last.bias.copy_(saved[1])
        dec_first.weight.copy_(saved[2])
    elif intervention == 'suppression':
        z = model.encode(x)
        dot = z[:, 0]
        z = z.clone()
        z[:, 0] = torch.where(dot > 0, torch.zeros_like(dot), dot)  # z - 1[z.a>0](z.a)a, a = e0
        y = model.decoder(z)
    else:
        y, _ = model(x)
    y = y.clamp(0, 1)
    return ((y - x) ** 2).mean(-1).double().numpy()


def pearson(a, b):
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float('nan')


def selectivity(model, intervention, power, n=8):
    rgb = grid(n)
    return pearson(similarity_to_red(rgb) ** power, outputs(model, rgb, intervention)) ** 2


NAMED = [(name, colorsys.hsv_to_rgb(i / 12, 1, 1)) for i, name in enumerate(
    'red orange yellow lime green teal cyan azure blue purple magenta pink'.split())] + \
    [(f'grey{v}', (v, v, v)) for v in (0.0, 0.25, 0.5, 0.75, 1.0)]


def named_table(model):
    rgb = np.array([c for _, c in NAMED])
    base = outputs(model, rgb)
    ab = outputs(model, rgb, 'ablation')
    sup = outputs(model, rgb, 'suppression')
    return {name: {'baseline': float(base[i]), 'ablation': float(ab[i] - base[i]),
                   'suppression': float(sup[i] - base[i])} for i, (name, _) in enumerate(NAMED)}


@torch.no_grad()
def validation(model):
    dtype = model.linears()[0].weight.dtype
    x = torch.tensor(validation_set(), dtype=dtype)
    y, _ = model(x)
    recon = float(((y.clamp(0, 1) - x) ** 2).mean())
    z = model.encode(torch.tensor([[1.0, 0.0, 0.0]], dtype=dtype))
    return recon, float(1 - z[0, 0])


def score_of(preset):
    return ('suppression', 2) if preset == 'anchored' else ('ablation', 3)


def evaluate(model, preset):
    recon, anchor = validation(model)
    return {
        'selectivity': {
            'suppression': selectivity(model, 'suppression', 2),
            'ablation': selectivity(model, 'ablation', 3),
        },
        'valRecon': recon,
        'valAnchor': anchor,
        'named': named_table(model),
    }


# ---------------------------------------------------------------- probe (one step, for parity tests)

def probe(spec, dtype=torch.float64):
    """spec: {preset, weights, x [[r,g,b]], red [], vibrant [], step, fallback, peakLr, adamSteps?}

    In float64 by default, so a float64 implementation can be held to ~1e-12."""
    preset = spec['preset']
    k, n = shape(preset)
    model = AutoEncoder(k, n).to(dtype)
    weights_from_json(model, spec['weights'])
    x = torch.tensor(spec['x'], dtype=dtype)
    red = torch.tensor(spec['red'], dtype=dtype)
    vibrant = torch.tensor(spec.get('vibrant', [0] * len(spec['x'])), dtype=dtype)
    fallback = spec.get('fallback', 0.0)
    sched = schedules(preset, spec.get('peakLr'))
    step = spec['step']
    w = {name: f(step) for name, f in sched.items()}
    terms = loss_terms(model, x, red, vibrant, preset, fallback)
    loss = total(terms, w, fallback)
    model.zero_grad()
    loss.backward()
    out = {
        'weightsAtStep': w,
        'terms': {name: float(t) for name, t in terms.items()},
        'loss': float(loss),
        'grads': [{'weight': m.weight.grad.double().tolist(), 'bias': m.bias.grad.double().tolist()}
                  for m in model.linears()],
    }
    # A few Adam steps on the same batch, lr from the schedule at step, step+1, ...
    steps = spec.get('adamSteps', 0)
    if steps:
        weights_from_json(model, spec['weights'])
        opt = torch.optim.Adam(model.parameters(), lr=1e-8)
        for i in range(steps):
            adam_step(model, opt, x, red, vibrant, preset, fallback, {name: f(step + i) for name, f in sched.items()})
        out['afterAdam'] = weights_to_json(model)
    return out


FIXTURE_CASES = [
    # Every term of each preset is on at these steps; the Adam steps cross keys.
    {'name': 'isolated, fallback, step 500', 'preset': 'isolated', 'seed': 11, 'step': 500, 'fallback': 0.05, 'adamSteps': 4},
    {'name': 'anchored, vibrant labels, step 370', 'preset': 'anchored', 'seed': 4, 'step': 370, 'fallback': 0.0, 'adamSteps': 4},
    {'name': '2.10.1, peak lr 0.05, step 747', 'preset': '2.10.1', 'seed': 5, 'step': 747, 'fallback': 0.0,
     'peakLr': 0.05, 'adamSteps': 5},
]


def fixture_batch(seed, vibrant_too):
    """64 draws from the 8^3 grid with two duplicates, red labels on the reddest draws, vibrant on the most vibrant."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(TRAIN), 64)
    idx[:3] = [7 * 64, 7 * 64, 7 * 64 + 1]  # pure red twice (a duplicate pair) and a near red
    idx[10] = idx[11]
    x = TRAIN[idx]
    red = (redness(x) > 0.6).astype(float)
    vib = (vibrancy(x) > 0.99).astype(float) if vibrant_too else np.zeros(64)
    return x, red, vib


def make_eval_fixture(path):
    """One trained seed per preset, its weights and its evaluation in float64."""
    cases = []
    for preset, seed in (('anchored', 1), ('isolated', 1)):
        model, _ = train(preset, seed)
        model.double()
        ev = evaluate(model, preset)
        ev['selectivity20'] = {'suppression': selectivity(model, 'suppression', 2, 20),
                               'ablation': selectivity(model, 'ablation', 3, 20)}
        cases.append({'preset': preset, 'seed': seed, 'weights': weights_to_json(model), 'expected': ev})
        print(f"{preset} seed {seed}: {ev['selectivity']}", file=sys.stderr)
    with open(path, 'w') as f:
        json.dump({'generator': 'scripts/train_reference.py --eval-fixture (PyTorch-trained, evaluated in float64)',
                   'torch': torch.__version__, 'cases': cases}, f)


def make_fixture(path):
    cases = []
    for case in FIXTURE_CASES:
        k, n = shape(case['preset'])
        torch.manual_seed(case['seed'])
        model = AutoEncoder(k, n)
        x, red, vib = fixture_batch(case['seed'], case['preset'] == 'anchored')
        spec = dict(case, weights=weights_to_json(model), x=x.tolist(), red=red.tolist(), vibrant=vib.tolist())
        out = probe(spec)
        cases.append(dict(spec, expected=out))
        print(f"{case['name']}: loss {out['loss']:.6g}, terms {out['terms']}", file=sys.stderr)
    with open(path, 'w') as f:
        json.dump({'generator': 'scripts/train_reference.py --fixture (PyTorch, float64)', 'torch': torch.__version__,
                   'layout': 'weights [out, in] as torch.nn.Linear stores them; encoder layers then decoder layers',
                   'cases': cases}, f)


# ---------------------------------------------------------------- main

def stats(xs):
    xs = np.array(xs)
    return {'mean': float(xs.mean()), 'sd': float(xs.std(ddof=1)) if len(xs) > 1 else 0.0,
            'min': float(xs.min()), 'max': float(xs.max())}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='isolated', choices=['anchored', 'isolated', '2.10.1'])
    ap.add_argument('--seeds', type=int, default=60)
    ap.add_argument('--first-seed', type=int, default=0)
    ap.add_argument('--peak-lr', type=float)
    ap.add_argument('--fallback', type=float, nargs='?', const=0.05, default=0.0)
    ap.add_argument('--float64', action='store_true', help='train in float64 (as the TypeScript trainer does)')
    ap.add_argument('--json', help='write per-seed results here')
    ap.add_argument('--probe', help='JSON spec: one forward/backward (and optional Adam steps); prints JSON')
    ap.add_argument('--fixture', help='write the float64 parity fixture (loss terms, gradients, Adam steps) here')
    ap.add_argument('--eval-fixture', help='write trained weights and their float64 evaluation here')
    ap.add_argument('--init', help='JSON weights to start seed --first-seed from (one seed)')
    ap.add_argument('--save-weights', help='write the trained weights of the last seed here')
    args = ap.parse_args()

    if args.fixture:
        make_fixture(args.fixture)
        return
    if args.eval_fixture:
        make_eval_fixture(args.eval_fixture)
        return
    if args.probe:
        with open(args.probe) as f:
            json.dump(probe(json.load(f)), sys.stdout)
        return

    init = None
    if args.init:
        with open(args.init) as f:
            init = json.load(f)
    kind, power = score_of(args.preset)
    runs = []
    t0 = time.time()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        model, n_red = train(args.preset, seed, args.peak_lr, args.fallback, init,
                             torch.float64 if args.float64 else torch.float32)
        ev = evaluate(model, args.preset)
        ev.update(seed=seed, labels=n_red, score=ev['selectivity'][kind])
        runs.append(ev)
        print(f"seed {seed:3d}  score {ev['score']:.4f}  (supp {ev['selectivity']['suppression']:.4f}"
              f" abl {ev['selectivity']['ablation']:.4f})  valRecon {ev['valRecon']:.2e}"
              f"  valAnchor {ev['valAnchor']:.4f}  labels {n_red}", file=sys.stderr)
    seconds = time.time() - t0
    if args.save_weights:
        with open(args.save_weights, 'w') as f:
            json.dump(weights_to_json(model), f)
    scores = [r['score'] for r in runs]
    best = max(runs, key=lambda r: r['score'])
    s = stats(scores)
    print(f"{args.preset} peakLr={args.peak_lr} fallback={args.fallback} float64={args.float64}: {kind} p={power} over {len(runs)} seeds: "
          f"{s['mean']:.3f} +- {s['sd']:.3f}, min {s['min']:.3f}, best {s['max']:.3f} (seed {best['seed']}), "
          f"{seconds:.0f} s")
    print(f"best seed {best['seed']}: red ablation delta {best['named']['red']['ablation']:.3f}, "
          f"red suppression delta {best['named']['red']['suppression']:.3f}, "
          f"ablation sel {best['selectivity']['ablation']:.4f}, suppression sel {best['selectivity']['suppression']:.4f}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'preset': args.preset, 'peakLr': args.peak_lr, 'fallback': args.fallback, 'float64': args.float64,
                       'score': {'intervention': kind, 'power': power}, 'stats': s, 'best': best['seed'],
                       'seconds': seconds, 'runs': runs}, f, indent=1)


if __name__ == '__main__':
    main()
