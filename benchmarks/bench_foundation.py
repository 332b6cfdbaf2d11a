"""Foundation figures: full `run` on digits vs its forward passes; bootstrap at scale."""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench_run_vs_forward() -> list[dict[str, Any]]:
    from audit.cache import OutputCache
    from audit.case import load_case
    from audit.runner import run_audit
    from audit.scenarios import build_scenario

    with tempfile.TemporaryDirectory() as tmp:
        case_path = build_scenario("digits", Path(tmp) / "digits", seed=0)
        t_load, case = _timed(lambda: load_case(case_path))
        needed = set()
        probe = OutputCache(case.models, case.X, case.y)
        run_audit(case, cache=probe)
        needed = set(probe.calls)
        t_forward = 0.0
        for role, split in sorted(needed):
            X = case.X(split)
            dt, _ = _timed(lambda role=role, X=X: case.models[role].predict_logits(X))
            t_forward += dt
        runs = [_timed(lambda: run_audit(case))[0] for _ in range(3)]
        cost = run_audit(case)["cost"]
    t_run = float(np.median(runs))
    per_check = [
        {"name": f"digits: check {cid}", "value": m["seconds"], "unit": "s",
         "note": "one run; " + ", ".join(f"{k} {v:,}" for k, v in m.items() if isinstance(v, int))}
        for cid, m in cost["checks"].items()
    ]
    return per_check + [
        {"name": "digits: case load + validation", "value": t_load, "unit": "s"},
        {"name": f"digits: irreducible forward passes ({len(needed)} model x split)",
         "value": t_forward, "unit": "s"},
        {"name": "digits: full run_audit (median of 3)", "value": t_run, "unit": "s"},
        {"name": "digits: run_audit / forward passes", "value": t_run / t_forward, "unit": "x"},
    ]


def bench_bootstrap() -> list[dict[str, Any]]:
    from scipy import stats as sps

    from audit.stats import bootstrap_mean_ci, bootstrap_means

    x = np.random.default_rng(0).normal(size=100_000)
    tracemalloc.start()
    t_ours, _ = _timed(lambda: bootstrap_mean_ci(x, 10_000, 0.9, np.random.default_rng(1)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t_scipy, _ = _timed(lambda: sps.bootstrap((x,), np.mean, n_resamples=10_000, batch=100,
                                              method="percentile", confidence_level=0.9,
                                              random_state=1))
    six = np.random.default_rng(0).normal(size=(100_000, 6))
    t_six, _ = _timed(lambda: bootstrap_means(six, 10_000, np.random.default_rng(1)))
    return [
        {"name": "bootstrap 10 000 resamples, n = 100 000 (audit.stats)", "value": t_ours, "unit": "s",
         "note": "goal <= 2 s (issue 17)"},
        {"name": "paired: 6 columns (a model and 5 references), same resamples", "value": t_six, "unit": "s",
         "note": "bootstrap_means: counts @ values"},
        {"name": "same, peak traced memory", "value": peak / 2**20, "unit": "MiB"},
        {"name": "same with scipy.stats.bootstrap (percentile, batch=100)", "value": t_scipy, "unit": "s"},
        {"name": "scipy / audit.stats", "value": t_scipy / t_ours, "unit": "x"},
    ]


def run() -> list[dict[str, Any]]:
    return bench_run_vs_forward() + bench_bootstrap()
