"""Inline SVG figures: well-formed, log-scale ROC, margin band, escaped labels."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from reports.svg import FOREST_LEFT, W, _Axes, forest_svg, histogram_svg, render_figure, roc_svg

NS = "{http://www.w3.org/2000/svg}"


def _tree(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{NS}text")]


def test_roc_uses_log_fpr_axis_down_to_the_smallest_positive_fpr() -> None:
    svg = roc_svg("ROC", {"curves": [{"label": "U", "fpr": [0.0, 0.0004, 0.01, 1.0],
                                      "tpr": [0.0, 0.01, 0.1, 1.0]}]})
    labels = _texts(_tree(svg))
    for tick in ("0.0001", "0.001", "0.01", "0.1", "1"):
        assert tick in labels
    assert "false positive rate (log scale)" in labels


def test_log_axis_places_decades_evenly() -> None:
    ax = _Axes((1e-3, 1.0), (0.0, 1.0), xlog=True)
    a, b, c = ax.px(1e-3), ax.px(1e-2), ax.px(1e-1)
    assert math.isclose(b - a, c - b)
    assert math.isclose(ax.px(1.0), W - 16)


def test_forest_has_margin_band_zero_line_and_one_row_per_estimate() -> None:
    data = {"rows": [{"label": "a", "value": -0.1, "ci": [-0.2, 0.0]},
                     {"label": "b", "value": 0.02, "ci": [-0.01, 0.05]},
                     {"label": "c", "value": None, "ci": [None, None]}], "margin": 0.03}
    root = _tree(forest_svg("F", data))
    band = [r for r in root.iter(f"{NS}rect") if r.get("fill") == "#2e8b57"]
    assert len(band) == 1
    zero = [ln for ln in root.iter(f"{NS}line") if ln.get("stroke") == "#666"]
    centre = float(band[0].get("x")) + float(band[0].get("width")) / 2
    assert math.isclose(centre, float(zero[0].get("x1")), abs_tol=0.02)  # band is symmetric about 0
    assert float(band[0].get("x")) > FOREST_LEFT
    assert len(list(root.iter(f"{NS}circle"))) == 2  # a row without a value draws no point
    assert {"a", "b", "c"} <= set(_texts(root))


def test_histogram_draws_each_series_with_matching_edges() -> None:
    data = {"series": [{"label": "U", "bin_edges": [0, 1, 2], "counts": [3, 1]},
                       {"label": "bad", "bin_edges": [0, 1], "counts": [3, 1]}], "xlabel": "KL"}
    root = _tree(histogram_svg("H", data))
    assert len(list(root.iter(f"{NS}polyline"))) == 1  # the inconsistent series is not drawn
    assert "KL" in _texts(root)


def test_labels_are_escaped_and_output_deterministic() -> None:
    fig = {"kind": "forest", "title": "<b>t</b>", "data": {"rows": [
        {"label": "<script>alert(1)</script>", "value": 0.0, "ci": [-0.1, 0.1]}], "margin": None}}
    svg = str(render_figure(fig))
    assert "<script" not in svg and "&lt;script&gt;" in svg and "&lt;b&gt;" in svg
    assert svg == str(render_figure(fig))
    ET.fromstring(svg)


def test_empty_and_unknown_figures_do_not_crash() -> None:
    for kind in ("roc", "forest", "histogram"):
        ET.fromstring(str(render_figure({"kind": kind, "title": "empty", "data": {}})))
    assert "unknown kind" in str(render_figure({"kind": "pie", "title": "x", "data": {}}))


def test_forest_draws_at_most_the_cap_and_says_so() -> None:
    from reports.svg import FOREST_MAX_ROWS

    rows = [{"label": f"g{i}", "value": (i % 7) / 100 - 0.03, "ci": [-0.1, 0.1]} for i in range(FOREST_MAX_ROWS * 5)]
    rows[3]["value"] = -0.9  # the most extreme estimate is always drawn
    svg = str(forest_svg("Accuracy U − R per group", {"rows": rows, "margin": 0.05}))
    assert svg.count("<circle") == FOREST_MAX_ROWS and ">g3<" in svg
    assert f"the {FOREST_MAX_ROWS} largest of {len(rows)} estimates; all are in results.json" in svg
    few = str(forest_svg("F", {"rows": rows[:5], "margin": 0.05}))
    assert few.count("<circle") == 5 and "largest of" not in few


def test_drift_svg_is_escaped_deterministic_and_marks_failed_steps() -> None:
    from xml.dom.minidom import parseString

    from reports.svg import drift_svg

    pts = [{"step": 1, "delta": 0.01, "margin": 0.05, "fail_margin": 0.1, "status": "pass"},
           {"step": 2, "delta": 0.2, "margin": 0.04, "fail_margin": 0.08, "status": "fail"}]
    a = str(drift_svg("<b>loss</b>", {"points": pts, "comparator": "two_sided"}))
    assert a == str(drift_svg("<b>loss</b>", {"points": pts, "comparator": "two_sided"}))
    parseString(a)  # well-formed
    assert "<b>" not in a and "&lt;b&gt;" in a
    assert a.count('fill="#d1495b"') == 1  # the failed step's point
    assert str(drift_svg("empty", {"points": []})).endswith("</svg>")
