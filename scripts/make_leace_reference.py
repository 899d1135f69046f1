#!/usr/bin/env python3
"""LEACE erasers computed by numpy, the references test/anchors/leace.test.ts checks against.

The data is not committed: it comes from the formula in src/maths/hashed.ts
(a hash of each value's position), which this file repeats bit for bit, so
the tests regenerate it in TypeScript and need no Python. The eraser is
computed as EleutherAI's concept-erasure computes it: eigh of the covariance,
W = Σ^(-1/2) over the eigenvalues above D · 2^-46 · λ_max (the tolerance
src/anchors/fromData.ts applies to its pivots; EleutherAI's float32 cut-off,
D · 2^-23 · λ_max, drops real directions of this data), the SVD of W Σ_xz, and E = W⁺ U Uᵀ W, written as its
low-rank factors (left = W⁺ U, right = W U, so E = left rightᵀ), in float32.

    python3 scripts/make_leace_reference.py     # writes test/fixtures/leace/*.npy and *.json
"""
import json
import os
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "leace")
M32 = np.uint64(0xFFFFFFFF)


def fmix32(h):
    h = h.astype(np.uint64) & M32
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & M32
    h ^= h >> np.uint64(16)
    return h


def uniform(i, j, seed):
    """u(i, j) for arrays i (rows) and j (columns), broadcast."""
    h = (np.asarray(i, dtype=np.uint64) * np.uint64(40503) + np.asarray(j, dtype=np.uint64) * np.uint64(2654435761) + np.uint64(seed)) & M32
    return fmix32(h).astype(np.float64) / 4294967296.0 - 0.5


def labels_of(i, classes, seed):
    return (fmix32((np.asarray(i, dtype=np.uint64) ^ np.uint64(0x9E3779B9) ^ np.uint64(seed)) & M32) % np.uint64(classes)).astype(np.int64)


def hashed_rows(width, classes, shift, seed, start, rows, duplicate=(), zero=()):
    i = np.arange(start, start + rows, dtype=np.uint64)[:, None]
    j = np.arange(width, dtype=np.uint64)[None, :]
    u = uniform(i, j, seed)
    labels = labels_of(np.arange(start, start + rows), classes, seed)
    offsets = shift * uniform(np.uint64(2**30) + np.arange(classes, dtype=np.uint64)[:, None], j, seed)
    x = (u + 0.5 * np.roll(u, -1, axis=1)) + offsets[labels]
    x = x.astype(np.float32)
    for a, b in duplicate:
        x[:, b] = x[:, a]
    for a in zero:
        x[:, a] = 0
    return x, labels


def eraser(x, labels, classes):
    n, d = x.shape
    xd = x.astype(np.float64)
    mu = xd.mean(0)
    xc = xd - mu
    sigma = xc.T @ xc / n
    z = np.eye(classes)[labels]
    sxz = xc.T @ (z - z.mean(0)) / n
    lam, v = np.linalg.eigh(sigma)
    keep = lam > lam.max() * d * 2.0**-46
    vk, lk = v[:, keep], lam[keep]
    w = (vk / np.sqrt(lk)) @ vk.T
    w_inv = (vk * np.sqrt(lk)) @ vk.T
    u, s, _ = np.linalg.svd(w @ sxz, full_matrices=False)
    u = u[:, s > max(1e-12, s.max() * 1e-6)]
    left, right = w_inv @ u, w @ u
    erased = xd - (xc @ right) @ left.T
    means = np.stack([erased[labels == c].mean(0) for c in range(classes)])
    gap = np.abs(means - means[0]).max() / np.abs(means).max()
    assert gap < 1e-8, gap
    return mu, left, right, int(keep.sum())


def write(name, spec, rows, **edits):
    x, labels = hashed_rows(spec["width"], spec["classes"], spec["shift"], spec["seed"], 0, rows, **edits)
    mu, left, right, rank = eraser(x, labels, spec["classes"])
    factors = np.stack([left.T, right.T]).astype(np.float32)  # (2, r, D)
    np.save(os.path.join(OUT, f"{name}.npy"), factors)
    meta = {
        "spec": spec,
        "rows": rows,
        **{k: [list(map(int, p)) if isinstance(p, tuple) else int(p) for p in v] for k, v in edits.items()},
        "covarianceRank": rank,
        "eraserRank": int(left.shape[1]),
        "meanChecksum": float(mu.sum()),
        "numpy": np.__version__,
    }
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"{name}: D={spec['width']} N={rows} classes={spec['classes']} covariance rank {rank}, eraser rank {left.shape[1]}", file=sys.stderr)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    # Width 4096, three classes, full rank: the size.
    write("hashed-4096", {"width": 4096, "classes": 3, "shift": 0.5, "seed": 7}, 6144)
    # Rank-deficient: fewer rows than features, a zero column and duplicated columns.
    write("deficient-96", {"width": 96, "classes": 3, "shift": 0.5, "seed": 11}, 64, duplicate=[(1, 5), (2, 40), (2, 41)], zero=[7, 90])
