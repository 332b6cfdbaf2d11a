"""report.pdf: WeasyPrint rendering of the very same report.html (no network access)."""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["html_to_pdf"]


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """URL fetcher of older WeasyPrint versions that refuses every request."""
    raise ValueError(f"report.pdf: refusing to fetch {url!r} (reports are self-contained)")


def _fetcher() -> Any:
    try:  # WeasyPrint >= 66: a URLFetcher with no allowed protocol fetches nothing
        from weasyprint.urls import URLFetcher
    except ImportError:  # pragma: no cover - older WeasyPrint takes a function
        return _no_fetch
    return URLFetcher(allowed_protocols=())


def html_to_pdf(html: str) -> bytes:
    """Render ``html`` (report.html text) to PDF bytes with WeasyPrint, fetching nothing.

    Examples
    --------
    >>> html_to_pdf("<p>verdict PASS</p>")[:5]
    b'%PDF-'
    """
    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return HTML(string=html, url_fetcher=_fetcher()).write_pdf()
