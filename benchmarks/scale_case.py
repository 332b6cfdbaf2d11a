"""A generated 10-class case of any test-split size, audited once; prints the run's cost as JSON.

Usage: ``python -m benchmarks.scale_case N_TEST [--forget 1000] [--retain 20000]``. Run in
its own process so its peak RSS is its own (VmHWM, reported in MiB, overall and while each
check ran); the audit's process CPU time is reported beside its wall time. Models are
multinomial logistic regressions (scikit-learn) on Gaussian class clusters; the original
also saw the forget rows, the four references and the unlearned model did not.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import pandas as pd


def build_case(n_test: int, n_forget: int = 1000, n_retain: int = 20_000, seed: int = 0,  # noqa: ANN201
               timings: dict | None = None, family: str = "logistic", candidate: str = "retrain"):
    """The generated :class:`audit.core.case.AuditCase` (10 classes, 20 features, one 4-value group);
    ``timings["reference_training"]`` receives the seconds the four references took to fit.

    ``family``: ``logistic`` (multinomial logistic regressions: barely memorise, so the
    original cannot be told from a retrain), ``forest`` (fully grown random forests of 25
    trees) or ``mlp`` (scikit-learn MLPs, one hidden layer of 128, no weight decay, 120
    epochs): the last two memorise their training rows. ``candidate``: ``retrain`` (the unlearned model is
    a fifth retrain on the retain rows) or ``not_forgotten`` (fitted on the forget and
    retain rows like the original, with another seed: an unlearning that did nothing)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    from audit.core.case import AuditCase

    if family not in ("logistic", "forest", "mlp") or candidate not in ("retrain", "not_forgotten"):
        raise ValueError(f"unknown family {family!r} or candidate {candidate!r}")
    rng = np.random.default_rng(seed)
    classes, dims = 10, 20
    centres = rng.normal(size=(classes, dims)) * 0.6

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, classes, n)
        return (centres[y] + rng.normal(size=(n, dims))).astype(np.float32), y

    (xf, yf), (xr, yr), (xt, yt) = draw(n_forget), draw(n_retain), draw(n_test)

    def fit(X: np.ndarray, y: np.ndarray, s: int):  # noqa: ANN202
        if family == "forest":
            return RandomForestClassifier(n_estimators=25, random_state=1000 * seed + s, n_jobs=1).fit(X, y)
        if family == "mlp":
            return MLPClassifier((128,), alpha=0.0, max_iter=120, tol=0.0, n_iter_no_change=120,
                                 random_state=1000 * seed + s).fit(X, y)
        keep = np.random.default_rng(s).choice(len(X), int(0.9 * len(X)), replace=False)
        return LogisticRegression(max_iter=200, C=0.5 + 0.1 * s).fit(X[keep], y[keep])

    original = fit(np.r_[xf, xr], np.r_[yf, yr], 0)
    frame = pd.DataFrame(np.r_[xf, xr, xt], columns=[f"x{i}" for i in range(dims)])
    frame["label"] = np.r_[yf, yr, yt]
    frame["split"] = np.repeat(["forget", "retain", "test"], [n_forget, n_retain, n_test])
    frame["grp"] = rng.integers(0, 4, len(frame)).astype(str)
    t0 = time.perf_counter()
    retrained = [fit(xr, yr, s) for s in (1, 2, 3, 4)]
    if timings is not None:
        timings["reference_training"] = time.perf_counter() - t0
    unlearned = fit(xr, yr, 5) if candidate == "retrain" else fit(np.r_[xf, xr], np.r_[yf, yr], 5)
    return AuditCase(original=original, unlearned=unlearned, retrained=retrained,
                     data=frame, groups=["grp"], name=f"generated, {n_test} test rows")


def _peak_rss_mib() -> float:
    """This process image's own peak RSS (VmHWM; ``ru_maxrss`` survives exec from a big parent)."""
    try:
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith("VmHWM")).split()[1]) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakPerCheck:
    """A ``run_audit`` progress callback: the peak RSS (MiB) reached while each check ran.

    Linux resets the VmHWM high-water mark when ``5`` is written to ``/proc/self/clear_refs``;
    where that is not allowed the figures are the running peak.
    """

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}
        self._current: str | None = None

    def __call__(self, check_id: str | None) -> None:
        if self._current is not None:
            self.peaks[self._current] = round(_peak_rss_mib(), 1)
        self._current = check_id
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    from audit.engine.runner import run_audit

    ap = argparse.ArgumentParser()
    ap.add_argument("n_test", type=int)
    ap.add_argument("--forget", type=int, default=1000)
    ap.add_argument("--retain", type=int, default=20_000)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    timings: dict[str, float] = {}
    case = build_case(args.n_test, args.forget, args.retain, timings=timings)
    built = time.perf_counter() - start
    before = _peak_rss_mib()
    cpu = time.process_time()
    per_check = PeakPerCheck()
    res = run_audit(case, seed=0, progress=per_check)
    per_check(None)
    cpu = time.process_time() - cpu
    peak = max([before, *per_check.peaks.values()])
    print(json.dumps({"n_test": args.n_test, "build_seconds": built, "verdict": res["verdict"],
                      "peak_rss_mib": peak, "peak_rss_mib_by_check": per_check.peaks,
                      "audit_cpu_seconds": round(cpu, 2),
                      "reference_training_seconds": round(timings["reference_training"], 3),
                      "cost": res["cost"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
