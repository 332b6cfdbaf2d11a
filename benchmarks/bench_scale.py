"""Scale: the generated 10-class case at 10 000, 100 000 and 1 000 000 test rows, each in its own process.

Per check its wall time, its peak RSS and the work it did (results.json ``cost``), the audit
against its forward passes, its process CPU time beside its wall time (the bench machine is
shared), the time ratios between the sizes and each run's peak RSS. Issue 17's goal: the
1 000 000-row case in <= 2 GB and <= 12x the 100 000-row case.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

SIZES = (10_000, 100_000, 1_000_000)


def _run(n_test: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.scale_case", str(n_test)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rows_of(n: int, r: dict[str, Any]) -> list[dict[str, Any]]:
    cost = r["cost"]
    tag = f"generated case, {n:,} test rows"
    peaks = r.get("peak_rss_mib_by_check", {})
    rows = []
    for cid, m in cost["checks"].items():
        did = ", ".join(f"{k} {v:,}" for k, v in m.items() if k != "seconds" and isinstance(v, int))
        if cid in peaks:
            did = f"{did}; peak RSS {peaks[cid]:,.0f} MiB" if did else f"peak RSS {peaks[cid]:,.0f} MiB"
        rows.append({"name": f"{tag}: check {cid}", "value": m["seconds"], "unit": "s", "note": did})
    return rows + [
        {"name": f"{tag}: run_audit", "value": cost["seconds"], "unit": "s",
         "note": f"{cost['forward_passes']} forward passes in {cost['forward_seconds']:.2f} s; "
                 f"process CPU {r.get('audit_cpu_seconds', float('nan')):.1f} s"},
        {"name": f"{tag}: run_audit / forward passes", "value": cost["overhead"] + 1, "unit": "x"},
        *_overhead(tag, r),
        {"name": f"{tag}: peak RSS", "value": r["peak_rss_mib"], "unit": "MiB", "note": "goal <= 2 GiB"},
    ]


def _overhead(tag: str, r: dict[str, Any]) -> list[dict[str, Any]]:
    """The audit against its irreducible part: its forward passes plus retraining the references."""
    refs = r.get("reference_training_seconds")
    if refs is None:
        return []
    irreducible = r["cost"]["forward_seconds"] + refs
    return [
        {"name": f"{tag}: irreducible part (forward passes + reference training)", "value": irreducible,
         "unit": "s", "note": f"4 scikit-learn logistic-regression references fitted in {refs:.2f} s"},
        {"name": f"{tag}: overhead of run_audit over its irreducible part",
         "value": 100 * (r["cost"]["seconds"] - irreducible) / irreducible, "unit": "%",
         "note": "goal <= 50 % (issue 17)"},
    ]


def run() -> list[dict[str, Any]]:
    runs = {n: _run(n) for n in SIZES}
    rows: list[dict[str, Any]] = []
    for n, r in runs.items():
        rows += _rows_of(n, r)
    for small, large in zip(SIZES, SIZES[1:], strict=False):
        wall = runs[large]["cost"]["seconds"] / runs[small]["cost"]["seconds"]
        cpu_small, cpu_large = (runs[s].get("audit_cpu_seconds") for s in (small, large))
        cpu = f"; CPU time ratio {cpu_large / cpu_small:.1f}x" if cpu_small and cpu_large else ""
        goal = " (goal <= 12x)" if large == 1_000_000 else ""
        rows.append({"name": f"time {large:,} / {small:,} test rows", "value": wall, "unit": "x",
                     "note": f"10x rows; linear is 10x{goal}{cpu}"})
    return rows
