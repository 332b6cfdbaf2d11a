"""Evidence-pack figures: rendering, writing (with and without PDF), verifying; a large pack."""

from __future__ import annotations

import copy
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def _large(results: dict[str, Any]) -> dict[str, Any]:
    """500 subgroup findings, a 5,000-point ROC curve per model, 200-row forest plot."""
    r = copy.deepcopy(results)
    sub = r["checks"][1]
    sub["findings"] = [dict(sub["findings"][1], slice={"district": f"D{i:03d}"}) for i in range(500)]
    sub["figures"][0]["data"]["rows"] = [{"label": f"D{i:03d}", "value": 0.001 * i - 0.1,
                                          "ci": [0.001 * i - 0.15, 0.001 * i - 0.05]} for i in range(200)]
    fpr = [i / 5000 for i in range(5001)]
    r["checks"][0]["figures"][0]["data"]["curves"] = [
        {"label": m, "fpr": fpr, "tpr": [min(1.0, f ** 0.5) for f in fpr]} for m in ("U", "R", "O")]
    return r


def run() -> list[dict[str, Any]]:
    from reports import render_html, verify_pack, write_pack
    from tests.reports.fixtures import sample_results

    small, large = sample_results(), _large(sample_results())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for label, res in (("sample (4 checks, 3 figures)", small), ("large (500 findings, 15k ROC points)", large)):
            rows.append({"name": f"render report.html — {label}", "unit": "ms",
                         "value": _median_ms(lambda res=res: render_html(res), 10)})
            rows.append({"name": f"write_pack without PDF — {label}", "unit": "ms",
                         "value": _median_ms(lambda res=res: write_pack(res, d / "a", pdf=False), 5)})
            rows.append({"name": f"write_pack with PDF — {label}", "unit": "ms",
                         "value": _median_ms(lambda res=res: write_pack(res, d / "b"), 3),
                         "note": f"report.pdf {(d / 'b' / 'report.pdf').stat().st_size / 1024:.0f} KiB"})
            rows.append({"name": f"verify_pack — {label}", "unit": "ms",
                         "value": _median_ms(lambda: verify_pack(d / "b"), 5),
                         "note": "hashes, signature, schema, re-rendered views"})
    return rows
