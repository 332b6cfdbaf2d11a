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


def _reference_training(case: Any) -> tuple[float, int]:
    """Seconds to retrain the case's references with its ``[training]`` recipe (the batched
    ensemble for ``torch-mlp``): what any audit against retrained references has to pay."""
    from audit.training.recipes import get_recipe
    from audit.training.references import reference_seeds, train_references

    recipe = get_recipe(case.recipe, case.recipe_params, original=case.models["original"])
    k = len(case.reference_roles)
    X, y = case.inputs("retain"), case.y("retain")
    train_references(recipe, X, y, case.n_classes, reference_seeds(1, k))  # warm (threads, allocator)
    dt, _ = _timed(lambda: train_references(recipe, X, y, case.n_classes, reference_seeds(0, k)))
    return dt, k


def _breakdown(tag: str, cost: dict[str, Any], t_run: float, t_load: float) -> list[dict[str, Any]]:
    """One row per check (its wall time, share of the audit and what it did), then the rest."""
    rows = []
    for cid, m in cost["checks"].items():
        did = ", ".join(f"{k} {v:,}" for k, v in m.items() if isinstance(v, int))
        share = f"{100 * m['seconds'] / t_run:.0f} % of run_audit"
        rows.append({"name": f"{tag}: check {cid}", "value": m["seconds"], "unit": "s",
                     "note": f"{share}; {did}" if did else share})
    rest = t_run - sum(m["seconds"] for m in cost["checks"].values())
    return rows + [
        {"name": f"{tag}: run_audit outside the checks", "value": max(rest, 0.0), "unit": "s",
         "note": "policy, controls, verdict, results assembly"},
        {"name": f"{tag}: case load + validation", "value": t_load, "unit": "s",
         "note": "models loaded and probed on a few rows, table validated"},
    ]


def bench_run_vs_forward() -> list[dict[str, Any]]:
    from audit.core.cache import OutputCache
    from audit.core.case_file import load_case
    from audit.engine.runner import run_audit
    from audit.scenarios import build_scenario

    with tempfile.TemporaryDirectory() as tmp:
        case_path = build_scenario("digits", Path(tmp) / "digits", seed=0)
        load_case(case_path)  # warm: imports, the model loaders
        t_load, case = _timed(lambda: load_case(case_path))
        probe = OutputCache(case.models, case.X, case.y)
        run_audit(case, cache=probe)
        needed = set(probe.calls)
        t_forward = 0.0
        for role, split in sorted(needed):
            X = case.X(split)
            dt, _ = _timed(lambda role=role, X=X: case.models[role].predict_logits(X))
            t_forward += dt
        t_refs, k = _reference_training(case)
        runs = [_timed(lambda: run_audit(case)) for _ in range(3)]
    t_run, res = sorted(runs, key=lambda r: r[0])[1]  # the median run and its own cost figures
    irreducible = t_forward + t_refs
    full = t_load + t_run
    return _breakdown("digits", res["cost"], t_run, t_load) + [
        {"name": f"digits: irreducible forward passes ({len(needed)} model x split)",
         "value": t_forward, "unit": "s"},
        {"name": f"digits: irreducible reference training ({k} references, the case's recipe)",
         "value": t_refs, "unit": "s", "note": "torch-mlp: the batched ensemble (audit.training.mlp_ensemble)"},
        {"name": "digits: irreducible part (forward passes + reference training)", "value": irreducible,
         "unit": "s"},
        {"name": "digits: full run_audit (median of 3)", "value": t_run, "unit": "s"},
        {"name": "digits: full audit (case load + run_audit)", "value": full, "unit": "s"},
        {"name": "digits: overhead of the full audit over its irreducible part",
         "value": 100 * (full - irreducible) / irreducible, "unit": "%",
         "note": "goal <= 50 % (issue 17): (load + run_audit - irreducible) / irreducible"},
        {"name": "digits: run_audit / forward passes", "value": t_run / t_forward, "unit": "x",
         "note": "the references shipped with the case: only the forward passes are the audit's own"},
        {"name": "machine load average (1 min) at the end", "value": os.getloadavg()[0], "unit": "",
         "note": f"{os.cpu_count()} CPUs; timings are unreliable when it exceeds that"},
    ]


def _timed_cpu(fn: Any) -> tuple[float, float]:
    """(wall, process CPU) seconds of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def _load() -> str:
    return "load average (1, 5 min) {:.1f}, {:.1f} on {} CPUs".format(*os.getloadavg()[:2], os.cpu_count())


def _exact(fn: Any) -> Any:
    """``fn`` with the exact row bootstrap at every size (no normal limit, decision record 0022)."""
    from attacks.normal import normal_from_rows

    def run() -> Any:
        with normal_from_rows(10**12):
            return fn()
    return run


def bench_bootstrap() -> list[dict[str, Any]]:
    """Mean bootstrap, 10 000 resamples at n = 100 000: the exact row bootstrap (all threads, one
    thread) beside scipy, and the audit's default there (the normal limit, decision record 0022)."""
    from scipy import stats as sps

    from attacks.blocks import default_threads
    from audit.core.stats import bootstrap_mean_ci, bootstrap_means

    x = np.random.default_rng(0).normal(size=100_000)
    threads = default_threads()
    before = _load()
    for warm in (None, 1):  # thread pool, scratch arrays, page faults: not what the figure measures
        _exact(lambda w=warm: bootstrap_mean_ci(x, 2_000, 0.9, np.random.default_rng(0), threads=w))()
    tracemalloc.start()
    t_ours, c_ours = _timed_cpu(_exact(lambda: bootstrap_mean_ci(x, 10_000, 0.9, np.random.default_rng(1))))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t_one, c_one = _timed_cpu(_exact(lambda: bootstrap_mean_ci(x, 10_000, 0.9, np.random.default_rng(1), threads=1)))
    t_scipy, c_scipy = _timed_cpu(lambda: sps.bootstrap((x,), np.mean, n_resamples=10_000, batch=100,
                                                        method="percentile", confidence_level=0.9,
                                                        random_state=1))
    six = np.random.default_rng(0).normal(size=(100_000, 6))
    t_six, c_six = _timed_cpu(_exact(lambda: bootstrap_means(six, 10_000, np.random.default_rng(1))))
    t_lim, _ = _timed_cpu(lambda: bootstrap_mean_ci(x, 10_000, 0.9, np.random.default_rng(1)))
    t_six_lim, _ = _timed_cpu(lambda: bootstrap_means(six, 10_000, np.random.default_rng(1)))
    return [
        {"name": f"mean bootstrap 10 000 resamples, n = 100 000, exact (audit.core.stats, {threads} threads)",
         "value": t_ours, "unit": "s", "note": f"goal <= 2 s (issue 17); process CPU {c_ours:.2f} s; {before}"},
        {"name": "same, one thread", "value": t_one, "unit": "s", "note": f"process CPU {c_one:.2f} s"},
        {"name": "same with scipy.stats.bootstrap (percentile, batch=100)", "value": t_scipy, "unit": "s",
         "note": f"process CPU {c_scipy:.2f} s"},
        {"name": "scipy / audit.core.stats (mean, exact)", "value": t_scipy / t_ours, "unit": "x"},
        {"name": "same, peak traced memory (ours)", "value": peak / 2**20, "unit": "MiB",
         "note": "blocks of ~2 M counts per thread"},
        {"name": "paired: 6 columns (a model and 5 references), same resamples, exact", "value": t_six,
         "unit": "s", "note": f"bootstrap_means; process CPU {c_six:.2f} s"},
        {"name": "mean, the audit's default at this size (normal limit)", "value": t_lim, "unit": "s",
         "note": "normal_from_rows = 50 000: covariance, skewness guard, 10 000 normal draws"},
        {"name": "paired 6 columns, the audit's default (normal limit)", "value": t_six_lim, "unit": "s"},
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
    for warm in (None, 1):  # thread pool, scratch arrays, page faults: not what the figure measures
        _exact(lambda w=warm: paired_roc_bootstrap({"m": pos}, {"m": neg}, 2_000, np.random.default_rng(0),
                                                   threads=w))()
    t_one, c_one = _timed_cpu(_exact(lambda: paired_roc_bootstrap({"m": pos}, {"m": neg}, 10_000,
                                                                  np.random.default_rng(1))))
    t_single, c_single = _timed_cpu(_exact(lambda: paired_roc_bootstrap({"m": pos}, {"m": neg}, 10_000,
                                                                        np.random.default_rng(1), threads=1)))

    def two() -> Any:
        return paired_roc_bootstrap({"u": pos, "r": pos[::-1]}, {"u": neg, "r": neg[::-1]}, 10_000,
                                    np.random.default_rng(1), (0.01, 0.001))

    strata_p, strata_n = rng.integers(0, 10, 50_000), rng.integers(0, 10, 50_000)

    def strat() -> Any:
        return paired_roc_bootstrap({"u": pos, "r": pos[::-1]}, {"u": neg, "r": neg[::-1]}, 10_000,
                                    np.random.default_rng(1), (), strata_p, strata_n)

    small_p = pos[:1_000]  # the audit's shape: 1 000 forget rows against the test split, six models

    def audit_shape() -> Any:
        return paired_roc_bootstrap({f"m{i}": small_p + 0.01 * i for i in range(6)},
                                    {f"m{i}": neg + 0.01 * i for i in range(6)}, 10_000, np.random.default_rng(1),
                                    (0.01, 0.001))

    t_two, c_two = _timed_cpu(_exact(two))
    t_strat, c_strat = _timed_cpu(_exact(strat))
    t_audit, c_audit = _timed_cpu(_exact(audit_shape))
    t_one_lim, _ = _timed_cpu(lambda: paired_roc_bootstrap({"m": pos}, {"m": neg}, 10_000, np.random.default_rng(1)))
    t_two_lim, _ = _timed_cpu(two)
    t_strat_lim, _ = _timed_cpu(strat)
    t_audit_lim, _ = _timed_cpu(audit_shape)
    peer_n = 100  # scipy.stats.bootstrap with the rank AUC: members and non-members resampled apart

    def auc(p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray:
        return auc_from_ranks(np.moveaxis(p, axis, -1), np.moveaxis(q, axis, -1))

    t_peer, c_peer = _timed_cpu(lambda: sps.bootstrap((pos, neg), auc, n_resamples=peer_n, batch=10,
                                                      method="percentile", paired=False, random_state=1))
    t_peer *= 10_000 / peer_n
    return [
        {"name": f"AUC bootstrap 10 000 resamples, n = 100 000 (50 000 + 50 000), 1 model, exact ({threads} threads)",
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
         "unit": "s", "note": f"exact; process CPU {c_audit:.2f} s"},
        {"name": "AUC, 1 model, the audit's default (non-member side in its normal limit)", "value": t_one_lim,
         "unit": "s", "note": "attacks.linearised: the 50 000 members still resampled exactly"},
        {"name": "paired AUC + TPR, 2 models, the audit's default", "value": t_two_lim, "unit": "s"},
        {"name": "two-level (10 strata), 2 models, the audit's default", "value": t_strat_lim, "unit": "s"},
        {"name": "audit shape (1 000 vs 50 000, 6 models), the audit's default", "value": t_audit_lim,
         "unit": "s", "note": f"{_load()} at the end"},
    ]


def run() -> list[dict[str, Any]]:
    return bench_run_vs_forward() + bench_bootstrap() + bench_auc_bootstrap()
