"""The report shows what the run cost (results.json ``cost``), and only when it is there."""

from __future__ import annotations

from reports.render import environment, render_view
from tests.reports.fixtures import sample_results


def _with_cost() -> dict:
    r = sample_results()
    r["cost"] = {"seconds": 12.5, "forward_passes": 18, "forward_seconds": 0.25, "overhead": 49.0,
                 "checks": {"utility": {"seconds": 1.5, "bootstrap_resamples": 4000},
                            "unlearning_inference": {"seconds": 9.0, "attack_models_trained": 25}}}
    return r


def test_html_has_a_row_per_check_and_the_run() -> None:
    html = render_view("report.html", _with_cost(), environment())
    assert '<table class="cost">' in html
    assert "<td>unlearning_inference</td>" in html and "<td>25</td>" in html and "<td>4000</td>" in html
    assert "inside the models" in html


def test_markdown_has_one_line() -> None:
    md = render_view("report.md", _with_cost(), environment())
    assert "Run cost: 12.5 s, 18 forward passes" in md


def test_no_cost_no_table() -> None:
    r = sample_results()
    r.pop("cost", None)
    assert 'class="cost"' not in render_view("report.html", r, environment())
    assert "Run cost" not in render_view("report.md", r, environment())
