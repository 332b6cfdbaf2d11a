"""report.pdf: WeasyPrint rendering of the very same report.html (no network access).

:class:`PdfJob` renders it in a worker process while the caller writes the other files
of the pack, so the PDF (seconds on a large report) is off the critical path; the pack
stays atomic because the caller waits for the job before it writes the manifest.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
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

    No resource the HTML refers to (image, stylesheet URL) is fetched; WeasyPrint's and
    fontTools' logging is quietened to errors.

    Parameters
    ----------
    html : str
        A self-contained HTML document.

    Returns
    -------
    bytes
        The PDF file's contents.

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


def _die_with_parent() -> None:  # pragma: no cover - runs in the worker process
    """Linux: have the kernel kill this worker when its parent dies, even by SIGKILL.

    Without it a killed audit's worker would go on and write ``.report.pdf.part`` into a
    temporary directory the next run may already be cleaning."""
    import ctypes
    import signal

    parent = int(os.environ.get(_PARENT_ENV, os.getppid()))
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's cancel() is all there is
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _main() -> None:  # pragma: no cover - runs in the worker process
    """Worker entry: report.html on stdin, the PDF written to ``argv[1]``; an error is one line on stderr."""
    import signal
    import sys

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it terminates us if need be
    if sys.platform.startswith("linux"):
        _die_with_parent()
    try:
        _write_bytes(sys.argv[1], html_to_pdf(sys.stdin.buffer.read().decode("utf-8")))
    except Exception as exc:  # noqa: BLE001 - the parent raises it with this line
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        raise SystemExit(1) from None


_PARENT_ENV = "UNLEARN_AUDIT_PDF_PARENT"  # the caller's pid, for the worker's death check
_WORKER = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
           "from reports.pdf import _main; _main()")


class PdfJob:
    """Render ``html`` to the PDF file ``path`` concurrently with the caller's work.

    With the built-in renderer the work runs in a worker process — a fresh interpreter fed
    report.html on stdin (WeasyPrint holds the GIL; a process uses the second core).
    Another ``render`` callable (a test's, a caller's) runs in a daemon thread of this
    process and its bytes are written by :meth:`wait`. :meth:`wait` returns when the file is complete and raises the renderer's
    error (``RuntimeError`` with the worker's message from a process); :meth:`cancel`
    stops a worker process (interrupts, errors elsewhere in the pack).

    Parameters
    ----------
    html : str
        report.html's text.
    path : path
        The PDF file to write (the worker writes it directly; a thread's bytes by :meth:`wait`).
    render : callable, optional
        ``render(html) -> bytes``; default (or :func:`html_to_pdf` itself): :func:`html_to_pdf`
        in a worker process, falling back to a thread if no process can be started.

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
        self._proc: subprocess.Popen | None = None
        self._feeder: threading.Thread | None = None
        self._thread: threading.Thread | None = None
        self._outcome: list[Any] = []
        if render is None or render is html_to_pdf:
            try:
                self._start_process(html)
                return
            except OSError:  # pragma: no cover - no processes here
                render = html_to_pdf
        self._thread = threading.Thread(target=self._run_thread, args=(render, html), daemon=True,
                                        name="unlearn-audit-pdf")
        self._thread.start()

    @property
    def in_process(self) -> bool:
        """Whether the PDF renders in a thread of this process (not a worker process)."""
        return self._thread is not None

    def _start_process(self, html: str) -> None:
        # a fresh interpreter, not multiprocessing: spawn would re-run the caller's __main__
        # script (an audit at a script's top level) and fork would copy a large, threaded process
        root = str(Path(__file__).resolve().parents[1])
        proc = subprocess.Popen([sys.executable, "-c", _WORKER, root, str(self.path)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env={**os.environ, _PARENT_ENV: str(os.getpid())})
        self._proc = proc
        self._feeder = threading.Thread(target=self._feed, args=(proc, html.encode("utf-8")), daemon=True)
        self._feeder.start()

    @staticmethod
    def _feed(proc: subprocess.Popen, data: bytes) -> None:
        try:
            proc.stdin.write(data)  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):  # the worker died or was cancelled: wait() reports it
            pass

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
        proc, self._proc = self._proc, None
        err = proc.stderr.read().decode("utf-8", "replace").strip()  # type: ignore[union-attr]
        code = proc.wait()
        self._feeder.join()
        proc.stderr.close()  # type: ignore[union-attr]
        if code != 0:
            line = err.splitlines()[-1] if err else f"the PDF worker exited with {code}"
            raise RuntimeError(f"report.pdf could not be rendered: {line}")

    def cancel(self) -> None:
        """Stop a worker process that still runs (idempotent; a thread is left to finish)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            self._feeder.join()
            proc.stderr.close()  # type: ignore[union-attr]
