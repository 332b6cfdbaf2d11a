"""A real browser opens report.html from disk, offline: no requests, no errors, no script runs."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reports.cdp import Browser, find_browser
from tests.reports.fixtures import XSS

BROWSER = find_browser()
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium-family browser on PATH (Debian: apt-get install -y chromium; .ci/run installs it)")


@pytest.fixture()
def page(tmp_path: Path) -> Iterator[tuple[Browser, str]]:
    assert BROWSER is not None
    browser = Browser(BROWSER, tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Network.emulateNetworkConditions", {"offline": True, "latency": 0,
                     "downloadThroughput": -1, "uploadThroughput": -1}, session=session)
        yield browser, session
    finally:
        browser.close()


def _open(browser: Browser, session: str, url: str) -> None:
    browser.events.clear()
    browser.send("Page.navigate", {"url": url}, session=session)
    browser.wait_for("Page.loadEventFired")


def _eval(browser: Browser, session: str, expr: str) -> object:
    return browser.send("Runtime.evaluate", {"expression": expr, "returnByValue": True},
                        session=session)["result"].get("value")


def test_report_loads_offline_without_requests_errors_or_scripts(
        page: tuple[Browser, str], signed_pack: Path, tmp_path: Path) -> None:
    browser, session = page
    url = (signed_pack / "report.html").as_uri()
    _open(browser, session, url)
    shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                        session=session)
    (tmp_path / "report.png").write_bytes(base64.b64decode(shot["data"]))
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    methods = [e.get("method") for e in browser.events]
    requests = [e["params"]["request"]["url"] for e in browser.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert [u for u in requests if u != url] == [], "the report requested something"
    assert "Runtime.exceptionThrown" not in methods
    assert "Page.javascriptDialogOpening" not in methods, "a script ran and opened a dialog"
    errors = [e["params"] for e in browser.events if e.get("method") == "Runtime.consoleAPICalled"
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert errors == []

    assert _eval(browser, session, "document.scripts.length") == 0
    assert _eval(browser, session, "document.querySelectorAll('svg.figure').length") == 3
    assert _eval(browser, session, f"document.body.innerText.includes({XSS!r})") is True
    assert _eval(browser, session, "document.querySelector('.verdict strong').innerText") == "FAIL"


def test_harness_would_see_requests_and_dialogs(page: tuple[Browser, str], tmp_path: Path) -> None:
    """Control: a page that fetches and alerts is caught by the same listeners."""
    browser, session = page
    bad = tmp_path / "bad.html"
    bad.write_text('<img src="http://example.invalid/x.png"><script>console.error("boom")</script>')
    _open(browser, session, bad.as_uri())
    requests = [e["params"]["request"]["url"] for e in browser.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert "http://example.invalid/x.png" in requests
    assert any(e.get("method") == "Runtime.consoleAPICalled" for e in browser.events)
