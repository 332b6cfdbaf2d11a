"""Scale: the generated 10-class case at 10 000 and 100 000 test rows, each in its own process.

Per check its wall time and the work it did (results.json ``cost``), the audit against its
forward passes, the time ratio between the sizes and each run's peak RSS.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

SIZES = (10_000, 100_000)


def _run(n_test: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.scale_case", str(n_test)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    runs = {n: _run(n) for n in SIZES}
    for n, r in runs.items():
        cost = r["cost"]
        tag = f"generated case, {n:,} test rows"
        for cid, m in cost["checks"].items():
            did = ", ".join(f"{k} {v:,}" for k, v in m.items() if k != "seconds" and isinstance(v, int))
            rows.append({"name": f"{tag}: check {cid}", "value": m["seconds"], "unit": "s", "note": did})
        rows += [
            {"name": f"{tag}: run_audit", "value": cost["seconds"], "unit": "s",
             "note": f"{cost['forward_passes']} forward passes in {cost['forward_seconds']:.2f} s"},
            {"name": f"{tag}: run_audit / forward passes", "value": cost["overhead"] + 1, "unit": "x",
             "note": "goal: overhead <= 50 % (issue 17)"},
            {"name": f"{tag}: peak RSS", "value": r["peak_rss_mib"], "unit": "MiB", "note": "goal <= 2 GiB"},
        ]
    small, large = (runs[n]["cost"]["seconds"] for n in SIZES)
    rows.append({"name": "time 100 000 / 10 000 test rows", "value": large / small, "unit": "x",
                 "note": "10x rows; linear is 10x"})
    return rows
