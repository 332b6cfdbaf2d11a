"""Inline SVG figures drawn from the figure data in results.json.

Reports never compute metrics: these functions only place the numbers a check put in
``figure["data"]`` (shapes documented in :class:`audit.core.results.Figure`). Every piece of
text is XML-escaped, so untrusted labels (group names) render as text. The output is
deterministic: same data, same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

__all__ = ["render_figure", "roc_svg", "forest_svg", "histogram_svg", "drift_svg"]

W, H = 560, 340
L, R, T, B = 64, 16, 28, 48  # margins: left, right, top, bottom
FOREST_LEFT = 180  # room for group labels left of the forest plot
FOREST_MAX_ROWS = 100  # estimates drawn in one forest plot (the report's size stays bounded)
PALETTE = ("#1b6ca8", "#d1495b", "#2e8b57", "#8e6c8a", "#e09f3e", "#555555", "#00798c", "#a05195")


def _f(x: float) -> str:
    """Fixed-precision coordinate (deterministic, compact)."""
    return f"{x:.2f}"


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _tick(x: float) -> str:
    return f"{x:.3g}"


class _Axes:
    """Linear or log10 mapping of data to pixel coordinates."""

    def __init__(self, xlim: tuple[float, float], ylim: tuple[float, float], xlog: bool = False,
                 height: int = H, left: int = L) -> None:
        self.xlog, self.height, self.left = xlog, height, left
        self.x0, self.x1 = (math.log10(v) for v in xlim) if xlog else xlim
        self.y0, self.y1 = ylim
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1.0
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1.0

    def px(self, x: float) -> float:
        v = math.log10(x) if self.xlog else x
        return self.left + (v - self.x0) / (self.x1 - self.x0) * (W - self.left - R)

    def py(self, y: float) -> float:
        return self.height - B - (y - self.y0) / (self.y1 - self.y0) * (self.height - T - B)


def _frame(title: str, xlabel: str, ylabel: str, height: int = H, left: int = L) -> list[str]:
    t = escape(title)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="{W}" '
        f'height="{height}" role="img" aria-label="{t}" class="figure" font-family="sans-serif" '
        f'font-size="11">',
        f"<title>{t}</title>",
        f'<rect x="0" y="0" width="{W}" height="{height}" fill="#ffffff"/>',
        f'<text x="{W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{t}</text>',
        f'<text x="{(left + W - R) / 2}" y="{height - 8}" text-anchor="middle">{escape(xlabel)}</text>',
        f'<text x="14" y="{(T + height - B) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(T + height - B) / 2})">{escape(ylabel)}</text>',
        f'<rect x="{left}" y="{T}" width="{W - left - R}" height="{height - T - B}" fill="none" stroke="#333"/>',
    ]


def _xticks(ax: _Axes, ticks: Sequence[float], labels: Sequence[str]) -> list[str]:
    out = []
    for v, lab in zip(ticks, labels, strict=True):
        x = _f(ax.px(v))
        out.append(f'<line x1="{x}" y1="{ax.height - B}" x2="{x}" y2="{ax.height - B + 4}" stroke="#333"/>'
                   f'<text x="{x}" y="{ax.height - B + 16}" text-anchor="middle">{escape(lab)}</text>')
    return out


def _yticks(ax: _Axes, ticks: Sequence[float]) -> list[str]:
    out = []
    for v in ticks:
        y = _f(ax.py(v))
        out.append(f'<line x1="{L - 4}" y1="{y}" x2="{L}" y2="{y}" stroke="#333"/>'
                   f'<text x="{L - 6}" y="{y}" text-anchor="end" dominant-baseline="middle">{_tick(v)}</text>')
    return out


def _legend(labels: Sequence[str]) -> list[str]:
    out = []
    for i, lab in enumerate(labels):
        y = T + 14 + 14 * i
        col = PALETTE[i % len(PALETTE)]
        out.append(f'<line x1="{W - R - 150}" y1="{y}" x2="{W - R - 130}" y2="{y}" stroke="{col}" '
                   f'stroke-width="2"/><text x="{W - R - 125}" y="{y}" dominant-baseline="middle">'
                   f"{escape(lab)}</text>")
    return out


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    start = math.ceil(lo / step) * step
    return [round(start + i * step, 12) for i in range(int((hi - start) / step + 1e-9) + 1)]


def roc_svg(title: str, data: dict[str, Any]) -> Markup:
    """ROC curves with log-scale false-positive rate (low-FPR regime visible).

    Parameters
    ----------
    title : str
        Figure title.
    data : dict
        ``{"curves": [{"label", "fpr", "tpr"}]}``.

    Returns
    -------
    markupsafe.Markup
        An inline ``<svg>``.
    """
    curves = data.get("curves") or []
    positive = [f for c in curves for f in c.get("fpr", []) if _finite(f) and f > 0]
    fmin = max(min(positive, default=1e-3), 1e-5)
    lo_dec = math.floor(math.log10(fmin))
    ax = _Axes((10.0 ** lo_dec, 1.0), (0.0, 1.0), xlog=True)
    parts = _frame(title, "false positive rate (log scale)", "true positive rate")
    decades = [10.0 ** k for k in range(lo_dec, 1)]
    parts += _xticks(ax, decades, [_tick(d) for d in decades])
    parts += _yticks(ax, [0.0, 0.25, 0.5, 0.75, 1.0])
    # chance line TPR = FPR on log axis
    diag = " ".join(f"{_f(ax.px(d))},{_f(ax.py(d))}" for d in decades)
    parts.append(f'<polyline points="{diag}" fill="none" stroke="#999" stroke-dasharray="4 3"/>')
    for i, c in enumerate(curves):
        pts = [(f, t) for f, t in zip(c.get("fpr", []), c.get("tpr", []), strict=False)
               if _finite(f) and _finite(t) and f >= 10.0 ** lo_dec]
        if not pts:
            continue
        col = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{_f(ax.px(f))},{_f(ax.py(t))}" for f, t in pts)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{col}" stroke-width="1.8"/>')
    parts += _legend([str(c.get("label", "")) for c in curves])
    parts.append("</svg>")
    return Markup("".join(parts))


def _largest_rows(rows: list[dict[str, Any]], cap: int) -> list[dict[str, Any]]:
    """At most ``cap`` rows: those of largest ``|value|`` (ties: first), kept in their order.

    >>> [r["value"] for r in _largest_rows([{"value": v} for v in (0.1, -0.5, 0.2, 0.4)], 2)]
    [-0.5, 0.4]
    """
    if len(rows) <= cap:
        return rows
    size = [abs(r["value"]) if _finite(r.get("value")) else -1.0 for r in rows]
    keep = sorted(sorted(range(len(rows)), key=lambda i: -size[i])[:cap])
    return [rows[i] for i in keep]


def forest_svg(title: str, data: dict[str, Any]) -> Markup:
    """Forest plot: one row per estimate with its CI, zero line and ±margin band.

    At most :data:`FOREST_MAX_ROWS` rows are drawn (the largest ``|value|``), and the title
    says how many of how many, so a report with thousands of groups stays a few pages.

    Parameters
    ----------
    title : str
        Figure title.
    data : dict
        ``{"rows": [{"label", "value", "ci"}], "margin"}``.

    Returns
    -------
    markupsafe.Markup
    """
    rows = data.get("rows") or []
    if len(rows) > FOREST_MAX_ROWS:
        title = f"{title} — the {FOREST_MAX_ROWS} largest of {len(rows)} estimates; all are in results.json"
        rows = _largest_rows(rows, FOREST_MAX_ROWS)
    margin = data.get("margin")
    height = max(H, T + B + 22 * len(rows) + 10)
    vals = [v for r in rows for v in [r.get("value"), *(r.get("ci") or [])] if _finite(v)]
    if _finite(margin):
        vals += [-abs(margin), abs(margin)]
    lo, hi = min(vals, default=-1.0), max(vals, default=1.0)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    pad = 0.08 * (hi - lo or 1.0)
    ax = _Axes((lo - pad, hi + pad), (0.0, float(max(len(rows), 1))), height=height, left=FOREST_LEFT)
    xlabel = str(data.get("xlabel", "difference (unlearned − reference)"))
    parts = _frame(title, xlabel, "", height, left=FOREST_LEFT)
    ticks = _nice_ticks(lo - pad, hi + pad)
    parts += _xticks(ax, ticks, [_tick(t) for t in ticks])
    if _finite(margin):
        m = abs(margin)
        x0, x1 = ax.px(-m), ax.px(m)
        parts.append(f'<rect x="{_f(x0)}" y="{T}" width="{_f(x1 - x0)}" height="{height - T - B}" '
                     f'fill="#2e8b57" fill-opacity="0.12"><title>equivalence margin ±{_tick(m)}</title></rect>')
    parts.append(f'<line x1="{_f(ax.px(0))}" y1="{T}" x2="{_f(ax.px(0))}" y2="{height - B}" stroke="#666"/>')
    for i, r in enumerate(rows):
        y = _f(ax.py(len(rows) - i - 0.5))
        full = str(r.get("label", ""))
        short = full if len(full) <= 28 else full[:27] + "…"
        parts.append(f'<g><title>{escape(full)}</title><text x="{FOREST_LEFT - 6}" y="{y}" '
                     f'text-anchor="end" dominant-baseline="middle" font-size="10">{escape(short)}</text></g>')
        ci = r.get("ci") or [None, None]
        if _finite(ci[0]) and _finite(ci[1]):
            parts.append(f'<line x1="{_f(ax.px(ci[0]))}" y1="{y}" x2="{_f(ax.px(ci[1]))}" y2="{y}" '
                         f'stroke="#1b6ca8" stroke-width="2"/>')
        if _finite(r.get("value")):
            parts.append(f'<circle cx="{_f(ax.px(r["value"]))}" cy="{y}" r="3.5" fill="#1b6ca8"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram_svg(title: str, data: dict[str, Any]) -> Markup:
    """Overlaid step histograms, one per series (counts normalised to fractions).

    Parameters
    ----------
    title : str
        Figure title.
    data : dict
        ``{"series": [{"label", "bin_edges", "counts"}], "xlabel"}``.

    Returns
    -------
    markupsafe.Markup
    """
    series = data.get("series") or []
    edges_all = [e for s in series for e in s.get("bin_edges", []) if _finite(e)]
    fracs = []
    for s in series:
        counts = [c if _finite(c) else 0 for c in s.get("counts", [])]
        total = sum(counts) or 1
        fracs.append([c / total for c in counts])
    ymax = max((v for f in fracs for v in f), default=1.0) or 1.0
    lo, hi = min(edges_all, default=0.0), max(edges_all, default=1.0)
    ax = _Axes((lo, hi), (0.0, ymax * 1.05))
    parts = _frame(title, str(data.get("xlabel", "")), "fraction of rows")
    ticks = _nice_ticks(lo, hi)
    parts += _xticks(ax, ticks, [_tick(t) for t in ticks])
    parts += _yticks(ax, _nice_ticks(0.0, ymax * 1.05, 4))
    for i, (s, f) in enumerate(zip(series, fracs, strict=True)):
        edges = s.get("bin_edges", [])
        if len(edges) != len(f) + 1 or not all(_finite(e) for e in edges):
            continue
        col = PALETTE[i % len(PALETTE)]
        pts = [f"{_f(ax.px(edges[0]))},{_f(ax.py(0))}"]
        for k, v in enumerate(f):
            pts += [f"{_f(ax.px(edges[k]))},{_f(ax.py(v))}", f"{_f(ax.px(edges[k + 1]))},{_f(ax.py(v))}"]
        pts.append(f"{_f(ax.px(edges[-1]))},{_f(ax.py(0))}")
        parts.append(f'<polyline points="{" ".join(pts)}" fill="{col}" fill-opacity="0.15" '
                     f'stroke="{col}" stroke-width="1.5"/>')
    parts += _legend([str(s.get("label", "")) for s in series])
    parts.append("</svg>")
    return Markup("".join(parts))


def drift_svg(title: str, data: dict[str, Any]) -> Markup:
    """A stream's drift: one metric's delta step by step against that step's retrain bands.

    ``data["points"]``: ``{"step", "delta", "margin", "fail_margin", "status"}`` per step (a
    results.json ``stream.drift`` series). The pass band (±margin) is shaded green, the fail
    band (±fail_margin) drawn in red; a point is filled red where the step failed.

    Parameters
    ----------
    title : str
        Figure title.
    data : dict
        ``{"points": [...], "ylabel"}``; points without a finite ``step`` and ``delta`` are
        left out, and a band is drawn only through the points where it is finite.
        ``ylabel`` is optional (default "delta (unlearned − retrains)").

    Returns
    -------
    markupsafe.Markup
        The inline ``<svg>`` element.

    Examples
    --------
    >>> pts = [{"step": 1, "delta": 0.01, "margin": 0.05, "fail_margin": 0.1, "status": "pass"},
    ...        {"step": 2, "delta": 0.2, "margin": 0.05, "fail_margin": 0.1, "status": "fail"}]
    >>> svg = drift_svg("drift", {"points": pts})
    >>> svg.startswith("<svg"), svg.count("<circle"), "fail band" in svg
    (True, 2, True)
    """
    pts = [p for p in data.get("points") or [] if _finite(p.get("step")) and _finite(p.get("delta"))]
    vals = [v for p in pts for v in (p["delta"], p.get("margin"), p.get("fail_margin")) if _finite(v)]
    hi = max((abs(v) for v in vals), default=1.0) or 1.0
    steps = [p["step"] for p in pts] or [1]
    ax = _Axes((min(steps) - 0.5, max(steps) + 0.5), (-hi * 1.1, hi * 1.1))  # symmetric: bands are ±
    parts = _frame(title, "request (step of the stream)", str(data.get("ylabel", "delta (unlearned − retrains)")))
    parts += _xticks(ax, steps, [str(int(s)) for s in steps])
    parts += _yticks(ax, _nice_ticks(ax.y0, ax.y1))
    band = [p for p in pts if _finite(p.get("margin"))]
    if band:
        upper = [f"{_f(ax.px(p['step']))},{_f(ax.py(abs(p['margin'])))}" for p in band]
        lower = [f"{_f(ax.px(p['step']))},{_f(ax.py(-abs(p['margin'])))}" for p in reversed(band)]
        parts.append(f'<polygon points="{" ".join(upper + lower)}" fill="#2e8b57" fill-opacity="0.15">'
                     "<title>pass band: where fresh retrains lie</title></polygon>")
    fails = [p for p in pts if _finite(p.get("fail_margin"))]
    for sign in (1, -1):
        line = " ".join(f"{_f(ax.px(p['step']))},{_f(ax.py(sign * abs(p['fail_margin'])))}" for p in fails)
        if line:
            parts.append(f'<polyline points="{line}" fill="none" stroke="#d1495b" stroke-dasharray="4 3">'
                         "<title>fail band</title></polyline>")
    parts.append(f'<line x1="{L}" y1="{_f(ax.py(0))}" x2="{W - R}" y2="{_f(ax.py(0))}" stroke="#666"/>')
    line = " ".join(f"{_f(ax.px(p['step']))},{_f(ax.py(p['delta']))}" for p in pts)
    if line:
        parts.append(f'<polyline points="{line}" fill="none" stroke="#1b6ca8" stroke-width="2"/>')
    for p in pts:
        col = "#d1495b" if p.get("status") == "fail" else "#1b6ca8"
        parts.append(f'<circle cx="{_f(ax.px(p["step"]))}" cy="{_f(ax.py(p["delta"]))}" r="3.5" fill="{col}">'
                     f'<title>step {int(p["step"])}: delta {_tick(p["delta"])}, {escape(str(p.get("status")))}'
                     "</title></circle>")
    parts.append("</svg>")
    return Markup("".join(parts))


_KINDS = {"roc": roc_svg, "forest": forest_svg, "histogram": histogram_svg, "drift": drift_svg}


def render_figure(figure: dict[str, Any]) -> Markup:
    """Inline SVG for one ``results.json`` figure dict (unknown kinds render a note).

    Parameters
    ----------
    figure : dict
        ``{"kind": "roc" | "forest" | "histogram", "title", "data"}``.

    Returns
    -------
    markupsafe.Markup

    Examples
    --------
    >>> "<svg" in render_figure({"kind": "histogram", "title": "t",
    ...                          "data": {"series": [{"label": "a", "bin_edges": [0, 1], "counts": [3]}]}})
    True
    """
    draw = _KINDS.get(figure.get("kind", ""))
    if draw is None:
        return Markup("<p>(figure of unknown kind {} not drawn)</p>").format(figure.get("kind"))
    return draw(str(figure.get("title", "")), figure.get("data") or {})
