"""report.pdf: WeasyPrint rendering of the very same report.html (no network access).

:class:`PdfJob` renders it in a worker process while the caller writes the other files
of the pack, so the PDF (seconds on a large report) is off the critical path; the pack
stays atomic because the caller waits for the job before it writes the manifest.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["html_to_pdf", "PdfJob"]


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


def _write_bytes(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _child(html: str, path: str, conn: Any) -> None:  # pragma: no cover - runs in the worker
    """Worker entry: write the PDF to ``path``; report ``None`` or the error's one line."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it terminates us if need be
    try:
        _write_bytes(path, html_to_pdf(html))
        conn.send(None)
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which raises it
        conn.send(f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


class PdfJob:
    """Render ``html`` to the PDF file ``path`` concurrently with the caller's work.

    With the built-in renderer the work runs in a spawned worker process (WeasyPrint holds
    the GIL; a process uses the second core). Another ``render`` callable (a test's, a
    caller's) runs in a daemon thread of this process and its bytes are written by
    :meth:`wait`. :meth:`wait` returns when the file is complete and raises the renderer's
    error (``RuntimeError`` with the worker's message from a process); :meth:`cancel`
    stops a worker process (interrupts, errors elsewhere in the pack).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "r.pdf"
    >>> job = PdfJob("<p>verdict PASS</p>", out)
    >>> job.in_process, job.wait(), out.read_bytes()[:5]
    (False, None, b'%PDF-')
    """

    def __init__(self, html: str, path: str | os.PathLike[str],
                 render: Callable[[str], bytes] | None = None) -> None:
        self.path = Path(path)
        self._proc: Any = None
        self._conn: Any = None
        self._thread: threading.Thread | None = None
        self._outcome: list[Any] = []
        if render is None or render is html_to_pdf:
            try:
                self._start_process(html)
                return
            except (OSError, RuntimeError, ValueError):  # pragma: no cover - no processes here
                render = html_to_pdf
        self._thread = threading.Thread(target=self._run_thread, args=(render, html), daemon=True,
                                        name="unlearn-audit-pdf")
        self._thread.start()

    @property
    def in_process(self) -> bool:
        """Whether the PDF renders in a thread of this process (not a worker process)."""
        return self._thread is not None

    def _start_process(self, html: str) -> None:
        ctx = multiprocessing.get_context("spawn")  # never fork a large, threaded audit process
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(html, str(self.path), child), daemon=True,
                           name="unlearn-audit-pdf")
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent

    def _run_thread(self, render: Callable[[str], bytes], html: str) -> None:
        try:
            self._outcome.append(render(html))
        except BaseException as exc:  # noqa: BLE001 - re-raised by wait() in the caller's thread
            self._outcome.append(exc)

    def wait(self) -> None:
        """Block until the PDF is written; raise the renderer's error if it failed."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            result = self._outcome.pop()
            if isinstance(result, BaseException):
                raise result
            _write_bytes(str(self.path), result)
            return
        if self._proc is None:
            return
        try:
            message = self._conn.recv()
        except EOFError:
            message = "the PDF worker ended without an answer"
        self._proc.join()
        self._close()
        if message is not None:
            raise RuntimeError(f"report.pdf could not be rendered: {message}")

    def cancel(self) -> None:
        """Stop a worker process that still runs (idempotent; a thread is left to finish)."""
        if self._proc is not None and self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None
