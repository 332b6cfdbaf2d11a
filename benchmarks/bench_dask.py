"""Dask: the same parallel work in one process and on a two-worker ``LocalCluster``.

Three workloads that go through :mod:`audit.training.cluster` (joblib): scikit-learn references
(one fit per seed), a torch-mlp reference ensemble (split one group per worker) and a few
cells of the calibration grid. Each is timed in this process and on a ``LocalCluster``
of 2 worker processes (1 thread each) side by side; the cluster's start-up is timed apart.
On this 2-core machine the ceiling is 2x; a real cluster is reached the same way with
``--dask tcp://scheduler:8786`` or ``DASK_SCHEDULER_ADDRESS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _workloads() -> dict[str, Callable[[], Any]]:
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    from audit.calibration import quick_grid, run_grid
    from audit.core.model_objects import SklearnModel
    from audit.training.recipes import get_recipe
    from audit.training.references import reference_seeds, train_references

    ds = load_digits()
    X, y = (ds.data / 16.0).astype(np.float32), ds.target
    forest = get_recipe("sklearn", original=SklearnModel(RandomForestClassifier(n_estimators=150, n_jobs=1)))
    mlp = get_recipe("torch-mlp", {"hidden": [128], "epochs": 30})
    cells = quick_grid(seeds=1, references=4)[:2]  # two cells: one per worker
    return {
        "warm-up": lambda: train_references(mlp, X[:100], y[:100], 10, reference_seeds(1, 2)),
        "8 scikit-learn forest references (150 trees, digits)":
            lambda: train_references(forest, X, y, 10, reference_seeds(0, 8)),
        "8 torch-mlp references as one ensemble (30 epochs, digits)":
            lambda: train_references(mlp, X, y, 10, reference_seeds(0, 8)),
        f"calibration grid, {len(cells)} quick cells": lambda: run_grid(cells),
    }


def run() -> list[dict[str, Any]]:
    import distributed

    from audit.training.cluster import compute_on

    work = _workloads()
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as lc:
        start = time.perf_counter() - t0
        rows.append({"name": "LocalCluster start-up, 2 worker processes", "value": start, "unit": "s"})
        warm = work.pop("warm-up")
        with compute_on(lc.scheduler_address):
            warm()  # the workers import torch, scikit-learn and the audit once
        for name, fn in work.items():
            here = _timed(fn)
            with compute_on(lc.scheduler_address):
                there = _timed(fn)
            rows += [
                {"name": f"{name}: one process", "value": here, "unit": "s"},
                {"name": f"{name}: LocalCluster, 2 workers", "value": there, "unit": "s", "note": "workers warmed once"},
                {"name": f"{name}: speed-up", "value": here / there, "unit": "x", "note": "ceiling 2x on 2 cores"},
            ]
    return rows


if __name__ == "__main__":
    for r in run():
        print(f"{r['name']}: {r['value']:.3g} {r['unit']} {r.get('note', '')}")
