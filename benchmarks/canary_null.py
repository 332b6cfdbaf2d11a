"""False-detection rate of the canary test when the null rate is estimated from a retrain.

Simulates ``m`` pairs (x_u, x_r) ~ Bin(n, q) x Bin(n, q) (U behaves like a retrain) over a
grid of q and n, and counts detections at ``alpha`` for the old plug-in test (the retrain's
observed rate taken as the known q of :func:`audit.lab.canary.canary_test`) and the exact
two-sample test (:func:`audit.lab.canary.canary_two_sample_test`). Prints a Markdown table with
the exact size next to the simulated rate, and the power against a backdoor rate.

Run: ``python -m benchmarks.canary_null [m] [alpha]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy import stats

from audit.lab.canary import canary_threshold, canary_two_sample_power

QS = (0.01, 0.05, 0.1, 0.3, 0.5, 0.9)
NS = (30, 100, 300)


def _old_detects(x_u: np.ndarray, x_r: np.ndarray, n: int, alpha: float) -> np.ndarray:
    k = {}
    for x in np.unique(x_r):
        q = float(np.clip(x / n, 1.0 / (n + 1), 1 - 1.0 / (n + 1)))  # as method_audit did
        k[int(x)] = canary_threshold(q, n, alpha)
    return x_u >= np.vectorize(k.get)(x_r)


def main(m: int = 20_000, alpha: float = 1e-3) -> None:
    rng = np.random.default_rng(0)
    print(f"| q | n | old plug-in | exact two-sample (sim) | exact size | ({m} pairs, alpha={alpha:g})")
    print("|---|---|---|---|---|")
    t0 = time.perf_counter()
    worst = {"old": 0.0, "new": 0.0}
    for n in NS:
        for q in QS:
            x_u, x_r = rng.binomial(n, q, m), rng.binomial(n, q, m)
            old = float(_old_detects(x_u, x_r, n, alpha).mean())
            new = float((stats.hypergeom.sf(x_u - 1, 2 * n, x_u + x_r, n) <= alpha).mean())
            size = canary_two_sample_power(q, q, n, n, alpha)
            worst = {"old": max(worst["old"], old), "new": max(worst["new"], new)}
            print(f"| {q:g} | {n} | {old:.4f} | {new:.5f} | {size:.2e} |")
    print(f"\nworst simulated rate: old {worst['old']:.4f}, new {worst['new']:.5f}; "
          f"{time.perf_counter() - t0:.1f} s")
    print("\npower vs backdoor rate p (retrain rate q, n = n_ref):")
    for p, q, n in ((0.9, 0.1, 30), (0.9, 0.1, 100), (0.5, 0.1, 100), (0.3, 0.1, 100), (0.2, 0.1, 100),
                    (0.3, 0.1, 300)):
        print(f"  p={p:g} q={q:g} n={n}: power {canary_two_sample_power(p, q, n, n, alpha):.4f}")


if __name__ == "__main__":
    main(*(int(sys.argv[1]),) if len(sys.argv) > 1 else (), *(float(a) for a in sys.argv[2:3]))
