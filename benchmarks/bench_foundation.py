"""Foundation figures: full `run` on digits vs its forward passes; bootstrap at scale."""

from __future__ import annotations

import os
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


def _timed_cpu(fn: Any) -> tuple[float, float]:
    """(wall, process CPU) seconds of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def _load() -> str:
    return "load average (1, 5 min) {:.1f}, {:.1f} on {} CPUs".format(*os.getloadavg()[:2], os.cpu_count())


def bench_bootstrap() -> list[dict[str, Any]]:
    """Mean bootstrap, 10 000 resamples at n = 100 000: ours (all threads, one thread) beside scipy."""
    from scipy import stats as sps

    from attacks.blocks import default_threads
    from audit.stats import bootstrap_mean_ci, bootstrap_means

    x = np.random.default_rng(0).normal(size=100_000)
    threads = default_threads()
    before = _load()
    tracemalloc.start()
    t_ours, c_ours = _timed_cpu(lambda: bootstrap_mean_ci(x, 10_000, 0.9, np.random.default_rng(1)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t_one, c_one = _timed_cpu(lambda: bootstrap_mean_ci(x, 10_000, 0.9, np.random.default_rng(1), threads=1))
    t_scipy, c_scipy = _timed_cpu(lambda: sps.bootstrap((x,), np.mean, n_resamples=10_000, batch=100,
                                                        method="percentile", confidence_level=0.9,
                                                        random_state=1))
    six = np.random.default_rng(0).normal(size=(100_000, 6))
    t_six, c_six = _timed_cpu(lambda: bootstrap_means(six, 10_000, np.random.default_rng(1)))
    return [
        {"name": f"mean bootstrap 10 000 resamples, n = 100 000 (audit.stats, {threads} threads)", "value": t_ours,
         "unit": "s", "note": f"goal <= 2 s (issue 17); process CPU {c_ours:.2f} s; {before}"},
        {"name": "same, one thread", "value": t_one, "unit": "s", "note": f"process CPU {c_one:.2f} s"},
        {"name": "same with scipy.stats.bootstrap (percentile, batch=100)", "value": t_scipy, "unit": "s",
         "note": f"process CPU {c_scipy:.2f} s"},
        {"name": "scipy / audit.stats (mean)", "value": t_scipy / t_ours, "unit": "x"},
        {"name": "same, peak traced memory (ours)", "value": peak / 2**20, "unit": "MiB",
         "note": "blocks of ~2 M counts per thread"},
        {"name": "paired: 6 columns (a model and 5 references), same resamples", "value": t_six, "unit": "s",
         "note": f"bootstrap_means; process CPU {c_six:.2f} s"},
    ]


def bench_auc_bootstrap() -> list[dict[str, Any]]:
    """AUC bootstrap, 10 000 resamples at n = 100 000 (50 000 members, 50 000 non-members)."""
    from scipy import stats as sps

    from attacks.blocks import default_threads
    from attacks.metrics import auc_from_ranks
    from attacks.resample import paired_roc_bootstrap

    rng = np.random.default_rng(0)
    pos, neg = rng.normal(0.2, 1, 50_000), rng.normal(0, 1, 50_000)
    threads = default_threads()
    before = _load()
    t_one, c_one = _timed_cpu(lambda: paired_roc_bootstrap({"m": pos}, {"m": neg}, 10_000, np.random.default_rng(1)))
    t_single, c_single = _timed_cpu(lambda: paired_roc_bootstrap({"m": pos}, {"m": neg}, 10_000,
                                                                 np.random.default_rng(1), threads=1))
    t_two, c_two = _timed_cpu(lambda: paired_roc_bootstrap({"u": pos, "r": pos[::-1]}, {"u": neg, "r": neg[::-1]},
                                                           10_000, np.random.default_rng(1), (0.01, 0.001)))
    strata_p, strata_n = rng.integers(0, 10, 50_000), rng.integers(0, 10, 50_000)
    t_strat, c_strat = _timed_cpu(lambda: paired_roc_bootstrap({"u": pos, "r": pos[::-1]}, {"u": neg, "r": neg[::-1]},
                                                               10_000, np.random.default_rng(1), (), strata_p, strata_n))
    small_p = pos[:1_000]  # the audit's shape: 1 000 forget rows against the test split, six models
    t_audit, c_audit = _timed_cpu(lambda: paired_roc_bootstrap(
        {f"m{i}": small_p + 0.01 * i for i in range(6)}, {f"m{i}": neg + 0.01 * i for i in range(6)},
        10_000, np.random.default_rng(1), (0.01, 0.001)))
    peer_n = 100  # scipy.stats.bootstrap with the rank AUC: members and non-members resampled apart

    def auc(p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray:
        return auc_from_ranks(np.moveaxis(p, axis, -1), np.moveaxis(q, axis, -1))

    t_peer, c_peer = _timed_cpu(lambda: sps.bootstrap((pos, neg), auc, n_resamples=peer_n, batch=10,
                                                      method="percentile", paired=False, random_state=1))
    t_peer *= 10_000 / peer_n
    return [
        {"name": f"AUC bootstrap 10 000 resamples, n = 100 000 (50 000 + 50 000), 1 model ({threads} threads)",
         "value": t_one, "unit": "s",
         "note": f"goal <= 2 s (issue 17); attacks.resample: member prefix sums, one gather; "
                 f"process CPU {c_one:.2f} s; {before}"},
        {"name": "same, one thread", "value": t_single, "unit": "s", "note": f"process CPU {c_single:.2f} s"},
        {"name": "same AUC with scipy.stats.bootstrap (rank AUC, percentile)", "value": t_peer, "unit": "s",
         "note": f"extrapolated from {peer_n} resamples"},
        {"name": "scipy / attacks.resample (AUC, 1 model)", "value": t_peer / t_one, "unit": "x"},
        {"name": "paired AUC + TPR@(1 %, 0.1 %) FPR, 2 models, same resamples", "value": t_two, "unit": "s",
         "note": f"process CPU {c_two:.2f} s"},
        {"name": "two-level: stratified within (member, stratum), 10 strata, matched + unmatched AUC, 2 models",
         "value": t_strat, "unit": "s", "note": f"process CPU {c_strat:.2f} s"},
        {"name": "audit shape: 1 000 members vs 50 000 non-members, 6 models, AUC + TPR", "value": t_audit,
         "unit": "s", "note": f"process CPU {c_audit:.2f} s; {_load()} at the end"},
    ]


def run() -> list[dict[str, Any]]:
    return bench_run_vs_forward() + bench_bootstrap() + bench_auc_bootstrap()
