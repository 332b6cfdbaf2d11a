"""Attack figures: batched shadow ensemble vs loop, GFLOP/s vs GEMM, attacks at scale, RMIA memory.

``run() -> list[dict]`` (name, value, unit, note). Environment knobs for a quick run:
``BENCH_ATTACKS_K`` (default 64), ``BENCH_ATTACKS_EPOCHS`` (default 5),
``BENCH_ATTACKS_N`` (default 1_000_000), ``BENCH_ATTACKS_BOOT`` (default 100).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from typing import Any

import numpy as np

_RMIA_CHILD = """
import numpy as np, resource, sys
from attacks.rmia import rmia_scores
n = m = int(sys.argv[1]); k = 8
rng = np.random.default_rng(0)
if sys.argv[2] == "run":
    px, pz = rng.uniform(0.01, 1, n), rng.uniform(0.01, 1, m)
    s = rmia_scores(px, rng.uniform(0.01, 1, (k, n)), pz, rng.uniform(0.01, 1, (k, m)))
try:  # VmHWM is this process image's own peak (ru_maxrss survives exec from a big parent)
    hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))
    print(int(hwm.split()[1]))
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _gemm_gflops(k: int, bs: int, d: int, h: int, c: int, reps: int = 500) -> float:
    """torch's best GEMM throughput on the ensemble's layer shapes (bmm, baddbmm batch- or
    feature-major, or one flat mm), best over 1 and all intra-op threads."""
    import torch

    flops = 2 * k * bs * (d * h + h * c) * reps
    a, w1, b1 = torch.randn(k, bs, d), torch.randn(k, d, h), torch.zeros(k, 1, h)
    b, w2, b2 = torch.randn(k, bs, h), torch.randn(k, h, c), torch.zeros(k, 1, c)
    fa, fb, fw1, fw2 = a.reshape(-1, d), b.reshape(-1, h), w1[0], w2[0]
    w1t, w2t, b1t, b2t = w1.transpose(1, 2).contiguous(), w2.transpose(1, 2).contiguous(), b1.mT, b2.mT
    calls = {
        "feature-major baddbmm": lambda: (torch.baddbmm(b1t, w1t, a.mT), torch.baddbmm(b2t, w2t, b.mT)),
        "bmm": lambda: (torch.bmm(a, w1), torch.bmm(b, w2)),
        "baddbmm": lambda: (torch.baddbmm(b1, a, w1), torch.baddbmm(b2, b, w2)),
        "mm": lambda: (fa @ fw1, fb @ fw2),
    }
    best, threads = 0.0, torch.get_num_threads()
    for n in sorted({1, threads}):
        torch.set_num_threads(n)
        for fn in calls.values():
            for _ in range(3):
                t, _ = _timed(lambda fn=fn: [fn() for _ in range(reps)])
                best = max(best, flops / t / 1e9)
    torch.set_num_threads(threads)
    return best


def bench_ensemble(k: int, epochs: int) -> list[dict[str, Any]]:
    from sklearn.datasets import load_digits

    from audit.scenarios.digits import MLP_PARAMS
    from audit.training.mlp_ensemble import train_mlp_ensemble
    from audit.training.recipes import train_mlp

    ds = load_digits()
    X, y = (ds.data / 16.0).astype(np.float32), ds.target
    rng = np.random.default_rng(0)
    subs = [rng.choice(len(X), len(X) // 2, replace=False) for _ in range(k)]
    kw = {**MLP_PARAMS, "epochs": epochs}
    # warm both paths first (torch's first call on a shape builds kernels, ~2 s here), then
    # alternate them and keep each one's best of two
    train_mlp_ensemble(X, y, subs, 10, list(range(k)), **{**kw, "epochs": 1})
    train_mlp(X[subs[0]], y[subs[0]], 10, 0, **{**kw, "epochs": 1})
    bs, d, h, c = kw["batch_size"], X.shape[1], kw["hidden"][0], 10
    gemm = _gemm_gflops(k, bs, d, h, c)  # measured before and after the training runs; the best counts
    t_ens = t_loop = float("inf")
    for _ in range(2):
        t_ens = min(t_ens, _timed(lambda: train_mlp_ensemble(X, y, subs, 10, list(range(k)), **kw))[0])
        t_loop = min(t_loop, _timed(lambda: [train_mlp(X[s], y[s], 10, i, **kw) for i, s in enumerate(subs)])[0])
    steps = epochs * int(np.ceil(len(subs[0]) / bs))
    # GEMM flops actually performed: forward (both layers), dW (both layers), and the input
    # gradient of the second layer only (nobody needs d loss / d x)
    flops = 2 * k * bs * (2 * d * h + 3 * h * c) * steps
    gemm = max(gemm, _gemm_gflops(k, bs, d, h, c))
    achieved = flops / t_ens / 1e9
    note = (f"K={k}, {epochs} epochs, digits halves ({len(subs[0])} rows), hidden {h}, batch {bs}; "
            "warm, best of 2, alternated")
    return [
        {"name": f"shadows: batched ensemble, K={k}", "value": t_ens, "unit": "s", "note": note},
        {"name": f"shadows: per-model loop of train_mlp, K={k}", "value": t_loop, "unit": "s", "note": note},
        {"name": "shadows: loop / batched speed-up", "value": t_loop / t_ens, "unit": "x", "note": "goal >= 10x"},
        {"name": "shadows: achieved GFLOP/s (batched training)", "value": achieved, "unit": "GFLOP/s",
         "note": "GEMM flops performed: forward, dW, and dX of layers after the first"},
        {"name": "shadows: torch GEMM GFLOP/s on the same shapes", "value": gemm, "unit": "GFLOP/s",
         "note": "best of bmm / baddbmm (both layouts) / flat mm at 1 and all threads, 3 tries each, before and after training"},
        {"name": "shadows: achieved / GEMM", "value": 100 * achieved / gemm, "unit": "%", "note": "goal >= 50 %"},
    ]


def bench_population(n: int, n_boot: int) -> list[dict[str, Any]]:
    from scipy.special import log_softmax

    from attacks.population import population_scores
    from attacks.resample import paired_roc_bootstrap

    rng = np.random.default_rng(0)
    lp = log_softmax(rng.normal(size=(n, 10)), axis=1)
    y = rng.integers(0, 10, n)
    tracemalloc.start()
    t_pop, s = _timed(lambda: population_scores(lp, y))
    _, peak_pop = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    half = n // 2
    scores = s["logit_confidence"]
    t_boot, _ = _timed(lambda: paired_roc_bootstrap({"u": scores[:half], "r": scores[:half][::-1]},
                                                    {"u": scores[half:], "r": scores[half:][::-1]},
                                                    n_boot, rng, (0.01, 0.001)))
    _, peak_boot = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peer_boot = 5  # the peer: resample, then sklearn.metrics.roc_auc_score per model, one resample at a time
    t_peer, _ = _timed(lambda: [_sklearn_resample(scores, half, rng) for _ in range(peer_boot)])
    return [
        {"name": f"population attacks (5) on n={n:,} rows", "value": t_pop, "unit": "s"},
        {"name": "population attacks: peak traced memory", "value": peak_pop / 2**20, "unit": "MiB",
         "note": f"input log-probs alone: {lp.nbytes / 2**20:.0f} MiB"},
        {"name": f"paired AUC + TPR@FPR bootstrap, 2 models, n={n:,}, {n_boot} resamples",
         "value": t_boot, "unit": "s"},
        {"name": "paired bootstrap: peak traced memory", "value": peak_boot / 2**20, "unit": "MiB"},
        {"name": "same, per resample", "value": 1000 * t_boot / n_boot, "unit": "ms"},
        {"name": "peer: resample + sklearn roc_auc_score per model, per resample", "value": 1000 * t_peer / peer_boot,
         "unit": "ms", "note": f"AUC only (no TPR), {peer_boot} resamples"},
    ]


def _sklearn_resample(scores: np.ndarray, half: int, rng: np.random.Generator) -> list[float]:
    from sklearn.metrics import roc_auc_score

    i1, i0 = rng.integers(0, half, half), half + rng.integers(0, len(scores) - half, len(scores) - half)
    y = np.r_[np.ones(half), np.zeros(len(i0))]
    return [roc_auc_score(y, np.r_[s[i1], s[i0]]) for s in (scores, scores[::-1])]


def bench_rmia_memory(n: int = 20_000) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    rss = {}
    for mode in ("baseline", "run"):
        t, out = _timed(lambda mode=mode: subprocess.run([sys.executable, "-c", _RMIA_CHILD, str(n), mode],
                                                         capture_output=True, text=True, env=env, check=True))
        rss[mode] = (int(out.stdout.strip()) / 1024, t)
    full = n * n * 8 / 2**20
    return [
        {"name": f"RMIA {n:,} x {n:,} pairs: peak RSS", "value": rss["run"][0], "unit": "MiB",
         "note": f"process baseline {rss['baseline'][0]:.0f} MiB; a full float64 ratio matrix would be {full:,.0f} MiB"},
        {"name": f"RMIA {n:,} x {n:,} pairs: wall time (incl. interpreter start)", "value": rss["run"][1],
         "unit": "s"},
    ]


def run() -> list[dict[str, Any]]:
    """All attack figures (about a minute or two on two cores)."""
    k = int(os.environ.get("BENCH_ATTACKS_K", 64))
    epochs = int(os.environ.get("BENCH_ATTACKS_EPOCHS", 5))
    n = int(os.environ.get("BENCH_ATTACKS_N", 1_000_000))
    n_boot = int(os.environ.get("BENCH_ATTACKS_BOOT", 100))
    rows = [*bench_ensemble(k, epochs), *bench_population(n, n_boot), *bench_rmia_memory()]
    rows.append({"name": "machine load average (1 min) at the end", "value": os.getloadavg()[0], "unit": "",
                 "note": f"{os.cpu_count()} CPUs; figures above are unreliable when load exceeds that"})
    return rows


if __name__ == "__main__":  # pragma: no cover
    for row in run():
        print(row)
