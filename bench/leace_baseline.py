#!/usr/bin/env python3
"""numpy / scikit-learn baselines for bench/leace.ts, on the same files; prints JSON on the last line.

    (the time includes reading X.npy, as sca's includes reading it batch by batch)
    python3 bench/leace_baseline.py leace X.npy Y.npy        covariance (float64) + eigh + the LEACE eraser
    python3 bench/leace_baseline.py mean-diff X.npy Y.npy    the normalised difference of the class means
    python3 bench/leace_baseline.py probe X.npy Y.npy L2     StandardScaler + LogisticRegression (lbfgs), 5-fold stratified CV,
                                                             the same objective as sca's probe: C = 1 / (L2 * n_train), tol 1e-7, 300 iterations
    python3 bench/leace_baseline.py stream D N               LEACE over N rows of the hashed formula generated batch by batch
                                                             (numpy's shifted XᵀX per batch; generation not timed)
"""
import json
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from make_leace_reference import hashed_rows  # noqa: E402

CLASSES = 2
SPEC = dict(classes=CLASSES, shift=1 / 32, seed=23)


def eraser_from(mu_c, sigma, sxz, d):
    lam, v = np.linalg.eigh(sigma)
    keep = lam > lam.max() * d * 2.0**-46
    vk, lk = v[:, keep], lam[keep]
    # W Σxz and the factors through the eigenvectors (k columns), not the D x D W.
    wz = vk @ ((vk.T @ sxz) / np.sqrt(lk)[:, None])
    u, s, _ = np.linalg.svd(wz, full_matrices=False)
    u = u[:, s > max(1e-12, s.max() * 1e-6)]
    vu = vk.T @ u
    return vk @ (vu * np.sqrt(lk)[:, None]), vk @ (vu / np.sqrt(lk)[:, None])


def leace(x, y):
    n, d = x.shape
    t0 = time.perf_counter()
    xd = x.astype(np.float64)
    mu = xd.mean(0)
    xc = xd - mu
    sigma = xc.T @ xc / n
    z = np.eye(CLASSES)[y]
    sxz = xc.T @ (z - z.mean(0)) / n
    t1 = time.perf_counter()
    eraser_from(mu, sigma, sxz, d)
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "covarianceSeconds": t1 - t0, "eigenSeconds": t2 - t1}


def mean_diff(x, y):
    t0 = time.perf_counter()
    m1 = x[y == 1].astype(np.float64).mean(0)
    m0 = x[y == 0].astype(np.float64).mean(0)
    v = m1 - m0
    v /= np.linalg.norm(v)
    return {"seconds": time.perf_counter() - t0}


def probe(x, y, l2):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    import warnings

    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    n_train = len(y) * 4 / 5
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1 / (l2 * n_train), tol=1e-7, max_iter=300))
    scores = cross_val_score(clf, x, y, cv=StratifiedKFold(5, shuffle=True, random_state=0))
    return {"seconds": time.perf_counter() - t0, "accuracy": float(scores.mean())}


def stream(d, n, batch=1024):
    generate = 0.0
    t0 = time.perf_counter()
    shift = None
    s1 = np.zeros(d)
    s2 = np.zeros((d, d))
    cs = np.zeros((CLASSES, d))
    counts = np.zeros(CLASSES)
    for start in range(0, n, batch):
        g = time.perf_counter()
        x, y = hashed_rows(d, start=start, rows=min(batch, n - start), **SPEC)
        generate += time.perf_counter() - g
        xd = x.astype(np.float64)
        if shift is None:
            shift = xd.mean(0)
        xd -= shift
        s1 += xd.sum(0)
        s2 += xd.T @ xd
        for c in range(CLASSES):
            cs[c] += xd[y == c].sum(0)
            counts[c] += (y == c).sum()
    m = s1 / n
    sigma = s2 / n - np.outer(m, m)
    sxz = ((cs / counts[:, None] - m) * (counts / n)[:, None]).T
    eraser_from(shift + m, sigma, sxz, d)
    return {"seconds": time.perf_counter() - t0 - generate, "generateSeconds": generate}


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "stream":
        out = stream(int(sys.argv[2]), int(sys.argv[3]))
    else:
        # Reading the file is timed, as sca reads it batch by batch.
        t = time.perf_counter()
        x = np.load(sys.argv[2])
        y = np.load(sys.argv[3]).astype(np.int64)
        load = time.perf_counter() - t
        out = {"leace": lambda: leace(x, y), "mean-diff": lambda: mean_diff(x, y), "probe": lambda: probe(x, y, float(sys.argv[4]))}[mode]()
        out["seconds"] += load
        out["loadSeconds"] = load
    out["maxRssBytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(out))
