"""The HTML report in a real browser: headless Chromium (Debian's `chromium` package,
installed by .ci/run) driven over the DevTools protocol. The page must load with no
console errors and no network request beyond its own file, its table must sort, and
its screenshot must not be blank.

Set ADVISOR_SCREENSHOT_DIR to keep the screenshot (report.png) for a look.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from advisor.cli.app import run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it)",
)
WIDTH = 1280
DEADLINE_S = 60.0


class DevTools:
    """A minimal DevTools protocol client over one browser websocket (flat sessions)."""

    def __init__(self, url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(url, timeout=DEADLINE_S, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        self.ws.settimeout(DEADLINE_S)
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float) -> dict[str, Any]:
        end = time.monotonic() + timeout
        for e in self.events:
            if e.get("method") == method:
                return e
        while time.monotonic() < end:
            self.ws.settimeout(max(0.1, end - time.monotonic()))
            e = json.loads(self.ws.recv())
            self.events.append(e)
            if e.get("method") == method:
                return e
        raise AssertionError(f"no {method} within {timeout} s")

    def drain(self, seconds: float) -> None:
        import websocket

        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ws.settimeout(max(0.05, end - time.monotonic()))
            try:
                self.events.append(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                break

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    pytest.importorskip("websocket", reason="websocket-client is not installed (dev extra)")
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    assert CHROMIUM is not None
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        end = time.monotonic() + DEADLINE_S
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if proc.poll() is not None or time.monotonic() > end:
                pytest.fail(f"chromium did not start (exit {proc.poll()})")
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        dt = DevTools(f"ws://127.0.0.1:{port}{path}")
        try:
            yield dt
        finally:
            dt.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _png_pixels(png: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    image_mod = pytest.importorskip("PIL.Image", reason="Pillow is not installed (dev extra)")
    im = image_mod.open(io.BytesIO(png)).convert("RGB")
    small = im.resize((im.width // 4, im.height // 4))
    raw = small.tobytes()
    return im.width, im.height, [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]


def test_report_loads_cleanly_offline_and_renders(browser: DevTools, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code = run(["report", "--params", "1.3B", "--budget", "5000", "--out", str(out)])
    assert code == 0
    url = out.resolve().as_uri()

    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Runtime", "Log", "Network", "Page"):
        browser.send(f"{domain}.enable", session)
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        session,
        width=WIDTH,
        height=900,
        deviceScaleFactor=1,
        mobile=False,
    )
    browser.events.clear()
    browser.send("Page.navigate", session, url=url)
    browser.wait_for("Page.loadEventFired", DEADLINE_S)
    browser.drain(1.0)

    mine = [e for e in browser.events if e.get("sessionId") == session]
    requests = [
        e["params"]["request"]["url"]
        for e in mine
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requests, "the navigation itself should be seen"
    assert all(u == url or u.startswith("data:") for u in requests), requests
    failed = [e["params"] for e in mine if e.get("method") == "Network.loadingFailed"]
    assert not failed, failed
    exceptions = [e["params"] for e in mine if e.get("method") == "Runtime.exceptionThrown"]
    assert not exceptions, exceptions
    console = [
        e["params"]
        for e in mine
        if e.get("method") == "Runtime.consoleAPICalled"
        and e["params"]["type"] in ("error", "assert", "warning")
    ]
    assert not console, console
    logs = [
        e["params"]["entry"]
        for e in mine
        if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] in ("error",)
    ]
    assert not logs, logs  # CSP violations and failed loads land here

    def evaluate(expr: str) -> Any:
        r = browser.send("Runtime.evaluate", session, expression=expr, returnByValue=True)
        assert "exceptionDetails" not in r, r
        return r["result"].get("value")

    assert evaluate("document.querySelectorAll('svg.plot').length") == 5
    assert evaluate("document.title").startswith("Training hardware for ")
    # Every figure is laid out at a real size.
    sizes = evaluate(
        "Array.from(document.querySelectorAll('svg.plot'))"
        ".map(s => [s.getBoundingClientRect().width, s.getBoundingClientRect().height])"
    )
    assert all(w > 600 and h > 200 for w, h in sizes), sizes
    # The inline script sorts the options table: cost descending puts the dearest first.
    first_rank = "document.querySelector('#options-table tbody tr td').textContent.trim()"
    assert evaluate(first_rank) == "1"
    cost_th = "document.querySelectorAll('#options-table thead th')[9]"
    evaluate(f"{cost_th}.click(); {cost_th}.click(); 0")
    assert evaluate(f"{cost_th}.getAttribute('aria-sort')") == "descending"
    assert evaluate(first_rank) != "1"
    evaluate("document.querySelectorAll('#options-table thead th')[0].click(); 0")
    assert evaluate(first_rank) == "1"

    height = int(evaluate("document.documentElement.scrollHeight"))
    assert height > 2000
    shot = browser.send(
        "Page.captureScreenshot",
        session,
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
    )
    png = base64.b64decode(shot["data"])
    keep = os.environ.get("ADVISOR_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / "report.png").write_bytes(png)
    w, h, pixels = _png_pixels(png)
    assert (w, h) == (WIDTH, height)
    distinct = len(set(pixels))
    ink = sum(1 for p in pixels if sum(p) < 600) / len(pixels)
    assert distinct > 200, distinct
    assert ink > 0.02, ink
