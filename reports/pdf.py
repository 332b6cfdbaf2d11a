"""report.pdf: WeasyPrint rendering of the very same report.html (no network access)."""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["html_to_pdf"]


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """URL fetcher that refuses every request: the report must be self-contained."""
    raise ValueError(f"report.pdf: refusing to fetch {url!r} (reports are self-contained)")


def html_to_pdf(html: str) -> bytes:
    """Render ``html`` (report.html text) to PDF bytes with WeasyPrint.

    Examples
    --------
    >>> html_to_pdf("<p>verdict PASS</p>")[:5]
    b'%PDF-'
    """
    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return HTML(string=html, url_fetcher=_no_fetch).write_pdf()
