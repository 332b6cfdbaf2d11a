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
         "value": t_refs, "unit": "s", "note": "torch-mlp: the batched ensemble (audit.training.shadows)"},
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


def bench_bootstrap() -> list[dict[str, Any]]:
    from scipy import stats as sps

    from audit.core.stats import bootstrap_mean_ci, bootstrap_means

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
        {"name": "bootstrap 10 000 resamples, n = 100 000 (audit.core.stats)", "value": t_ours, "unit": "s",
         "note": "goal <= 2 s (issue 17)"},
        {"name": "paired: 6 columns (a model and 5 references), same resamples", "value": t_six, "unit": "s",
         "note": "bootstrap_means: conditioned-Poisson counts @ values (decision record 0018)"},
        {"name": "same, peak traced memory", "value": peak / 2**20, "unit": "MiB"},
        {"name": "same with scipy.stats.bootstrap (percentile, batch=100)", "value": t_scipy, "unit": "s"},
        {"name": "scipy / audit.core.stats", "value": t_scipy / t_ours, "unit": "x"},
    ]


def bench_auc_bootstrap() -> list[dict[str, Any]]:
    """AUC bootstrap, 10 000 resamples at n = 100 000 (50 000 members, 50 000 non-members)."""
    from scipy import stats as sps

    from attacks.metrics import auc_from_ranks
    from attacks.resample import paired_roc_bootstrap

    rng = np.random.default_rng(0)
    pos, neg = rng.normal(0.2, 1, 50_000), rng.normal(0, 1, 50_000)
    t_one, _ = _timed(lambda: paired_roc_bootstrap({"m": pos}, {"m": neg}, 10_000, np.random.default_rng(1)))
    t_two, _ = _timed(lambda: paired_roc_bootstrap({"u": pos, "r": pos[::-1]}, {"u": neg, "r": neg[::-1]},
                                                   10_000, np.random.default_rng(1), (0.01, 0.001)))
    peer_n = 100  # scipy.stats.bootstrap with the rank AUC: members and non-members resampled apart

    def auc(p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray:
        return auc_from_ranks(np.moveaxis(p, axis, -1), np.moveaxis(q, axis, -1))

    t_peer, _ = _timed(lambda: sps.bootstrap((pos, neg), auc, n_resamples=peer_n, batch=10, method="percentile",
                                             paired=False, random_state=1))
    t_peer *= 10_000 / peer_n
    return [
        {"name": "AUC bootstrap 10 000 resamples, n = 100 000 (50 000 + 50 000), 1 model", "value": t_one,
         "unit": "s", "note": "goal <= 2 s (issue 17); attacks.resample: bucket totals, one sparse product"},
        {"name": "paired AUC + TPR@(1 %, 0.1 %) FPR, 2 models, same resamples", "value": t_two, "unit": "s"},
        {"name": "same AUC with scipy.stats.bootstrap (rank AUC, percentile)", "value": t_peer, "unit": "s",
         "note": f"extrapolated from {peer_n} resamples"},
        {"name": "scipy / attacks.resample (AUC, 1 model)", "value": t_peer / t_one, "unit": "x"},
    ]


def run() -> list[dict[str, Any]]:
    return bench_run_vs_forward() + bench_bootstrap() + bench_auc_bootstrap()
