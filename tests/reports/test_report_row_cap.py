"""Reports show at most ``general.max_report_rows`` findings / table rows per check; the rest stay in results.json."""

from __future__ import annotations

from reports.render import environment, render_view
from tests.reports.fixtures import sample_results


def _many(n: int, cap: int | None) -> dict:
    r = sample_results()
    check = r["checks"][0]
    check["findings"] = [{"message": f"finding {i}", "slice": {"g": f"v{i}"}} for i in range(n)]
    check["tables"] = [{"name": "groups", "columns": ["group", "n"], "rows": [[f"v{i}", i] for i in range(n)]}]
    if cap is not None:
        r["policy"]["general"]["max_report_rows"] = cap
    return r


def test_findings_and_rows_beyond_the_cap_are_left_to_results_json() -> None:
    r = _many(30, 10)
    html, md = (render_view(v, r, environment()) for v in ("report.html", "report.md"))
    assert "finding 9" in html and "finding 10" not in html
    assert "… and 20 more findings in results.json" in html and "the first 10 of 30 rows" in html
    assert "finding 9" in md and "finding 10" not in md and "… and 20 more findings in results.json" in md


def test_under_the_cap_everything_is_shown() -> None:
    r = _many(5, 10)
    html = render_view("report.html", r, environment())
    assert "finding 4" in html and "more findings" not in html and "rows; all are in results.json" not in html


def test_the_default_cap_applies_without_the_option() -> None:
    r = _many(250, None)
    r["policy"]["general"].pop("max_report_rows", None)
    html = render_view("report.html", r, environment())
    assert "finding 199" in html and "finding 200" not in html
