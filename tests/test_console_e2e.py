"""The console end to end: a real mosquitto, the console server, and Debian's chromium driven by Playwright.

Contract messages go in on the broker; the test reads the page as an operator
would (alert cards, counts, link status) and checks that pressing Ack publishes
the contract ack on MQTT. Screenshots land in test-artifacts/ (gitignored).
"""

from __future__ import annotations

import asyncio
import json
import queue
import re
import struct
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from playwright import sync_api as playwright_sync

from adapters.timefmt import from_iso, to_iso
from borderwatch.console import Basemap, serve_console, serve_replay
from conftest import Mosquitto, free_port
from test_console_picture import alert, small_site, track


pytestmark = [pytest.mark.broker, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


class ConsoleThread:
    """A console coroutine on its own event loop thread, so the sync Playwright API can drive the page."""

    def __init__(self, factory: Callable[[asyncio.Event, Callable[[str], None]], Coroutine[Any, Any, None]]) -> None:
        self.factory = factory
        self.url = ""
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._stop = asyncio.Event()
            await self.factory(self._stop, self._on_ready)

        try:
            self._loop.run_until_complete(main())
        except BaseException as exc:  # reported to the test thread
            self.error = exc
            self._ready.set()

    def _on_ready(self, url: str) -> None:
        self.url = url
        self._ready.set()

    def start(self) -> "ConsoleThread":
        self._thread.start()
        assert self._ready.wait(15), "console did not start"
        if self.error:
            raise self.error
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        assert not self._thread.is_alive(), "console did not stop"


class Mqtt:
    """A plain paho client for the test's side of the broker."""

    def __init__(self, port: int) -> None:
        self.received: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-{time.monotonic_ns()}")
        self.client.on_message = lambda _c, _u, m: self.received.put((m.topic, json.loads(m.payload) if m.payload else {}))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def pub(self, topic: str, payload: dict | None, retain: bool = False) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        self.client.publish(topic, body, qos=1, retain=retain).wait_for_publish(5)

    def sub(self, topic: str) -> None:
        _, mid = self.client.subscribe(topic, qos=1)
        time.sleep(0.2)

    def expect(self, topic: str, timeout_s: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                got_topic, payload = self.received.get(timeout=0.2)
            except queue.Empty:
                continue
            if got_topic == topic:
                return payload
        raise AssertionError(f"nothing on {topic} within {timeout_s} s")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make browser` (apt-get install chromium)")
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def mqtt(mosquitto: Mosquitto) -> Iterator[Mqtt]:
    client = Mqtt(mosquitto.port)
    yield client
    client.close()


def live_console(mosquitto: Mosquitto, port: int = 0) -> ConsoleThread:
    site = small_site()
    return ConsoleThread(lambda stop, ready: serve_console(site, mosquitto.url, port=port, stop=stop, ready=ready)).start()


def shot(pg: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / name))


def health(console: ConsoleThread) -> dict:
    with urllib.request.urlopen(console.url + "api/health", timeout=5) as r:
        return json.loads(r.read())


def test_live_track_and_alert_appear_and_ack_reaches_the_broker(mosquitto: Mosquitto, mqtt: Mqtt, page: Any) -> None:
    now = time.time()
    # Published before the console starts: only the retained alert state can tell it about A-1.
    mqtt.pub("bw/v1/alerts/state/A-1", alert("A-1", now, summary="1 person heading south", eta_range_s=[60.0, 150.0]),
             retain=True)
    mqtt.pub("bw/v1/sensors/radar/tower-1/status", {"state": "offline", "time": to_iso(now)}, retain=True)
    console = live_console(mosquitto)
    try:
        mqtt.sub("bw/v1/alerts/+/ack")
        page.goto(console.url)
        page.wait_for_selector("li.alert[data-id='A-1']", timeout=10_000)
        for k in range(5):
            mqtt.pub("bw/v1/tracks/main", track("T-1", now + k, lat=49.004 - k * 2e-4))
        mqtt.pub("bw/v1/alerts", alert("A-2", now, severity="critical", kind="incursion", track_ids=["T-1"],
                                       eta_s=None, crossing_point=None, summary="person inside buffer-500m"))
        page.wait_for_selector("li.alert[data-id='A-2']", timeout=10_000)
        assert page.locator("#announce").inner_text() == "New CRITICAL alert: Incursion. person inside buffer-500m"
        page.wait_for_function("() => window.bwConsole.trackLayer.tracks.size === 1", timeout=10_000)
        page.wait_for_function("() => window.bwConsole.trackLayer.tracks.get('T-1').trail.length === 5", timeout=10_000)
        # Most severe first; severity is written out, not only coloured.
        cards = page.locator("li.alert")
        assert [cards.nth(i).get_attribute("data-id") for i in range(2)] == ["A-2", "A-1"]
        assert cards.nth(0).locator(".sev").inner_text() == "CRITICAL"
        eta = page.locator("li.alert[data-id='A-1'] .eta").inner_text()
        assert re.fullmatch(r"ETA 1:[0-3]\d \(0:[45]\d\u20132:[0-3]\d\)", eta), eta  # with the likely range
        assert page.locator("#count-tracks").inner_text() == "1"
        assert "offline" in page.locator("#sensors").inner_text()
        assert page.locator("#link-text").inner_text() == "Live feed connected"
        page.wait_for_function("() => window.bwConsole.trackLayer.alertTracks.has('T-1')")
        shot(page, "console-live.png")

        page.fill("#operator", "ops-desk-2")
        page.click("li.alert[data-id='A-1'] button.ack")
        ack = mqtt.expect("bw/v1/alerts/A-1/ack")
        assert (ack["action"], ack["operator"], ack["comment"]) == ("ack", "ops-desk-2", "")
        assert abs(time.time() - from_iso(ack["time"])) < 30
        page.wait_for_selector("li.alert[data-id='A-1'].ack-pending", timeout=5_000)
        assert "ack sent by ops-desk-2" in page.locator("li.alert[data-id='A-1'] .acted").inner_text()
        # The service takes it in and echoes it on the alert: the card shows it as confirmed.
        mqtt.pub("bw/v1/alerts", alert("A-1", now + 1, state="update", summary="1 person heading south",
                                       ack={"operator": "ops-desk-2", "action": "ack", "comment": ""}, acks=1))
        page.wait_for_selector("li.alert[data-id='A-1'].acked", timeout=5_000)
        assert "confirmed by the service" in page.locator("li.alert[data-id='A-1'] .acted").inner_text()

        # Keyboard only: focus the list, move down to the second card, escalate it.
        page.focus("li.alert[data-id='A-2']")
        page.keyboard.press("ArrowDown")
        assert page.evaluate("() => document.activeElement.dataset.id") == "A-1"
        page.keyboard.press("e")
        assert mqtt.expect("bw/v1/alerts/A-1/ack")["action"] == "escalate"
        shot(page, "console-acked.png")

        # The alert ends and the track is deleted: both leave the page.
        mqtt.pub("bw/v1/alerts", alert("A-1", now + 10, state="end"))
        mqtt.pub("bw/v1/alerts/state/A-1", None, retain=True)
        mqtt.pub("bw/v1/tracks/main", track("T-1", now + 10, status="deleted"))
        page.wait_for_selector("li.alert[data-id='A-1']", state="detached", timeout=5_000)
        page.wait_for_function("() => window.bwConsole.trackLayer.tracks.size === 0", timeout=5_000)
    finally:
        console.stop()


def test_dispatch_and_team_panel(mosquitto: Mosquitto, mqtt: Mqtt, page: Any) -> None:
    now = time.time()
    console = live_console(mosquitto)
    try:
        page.goto(console.url)
        page.wait_for_selector("#teams tr", timeout=10_000)
        assert "idle" in page.locator("#teams").inner_text()
        mqtt.pub("bw/v1/dispatch/unit-7", {"dispatch_id": "D-1", "alert_id": "A-9", "team_id": "unit-7", "time": to_iso(now),
                                           "state": "new", "target": {"lat": 49.001, "lon": -122.75},
                                           "intercept": {"lat": 48.999, "lon": -122.751, "eta_s": 95.0}, "summary": "intercept south of the line"})
        page.wait_for_function("() => document.querySelector('#teams').innerText.includes('A-9')", timeout=10_000)
        mqtt.pub("bw/v1/dispatch/unit-7/reply", {"dispatch_id": "D-1", "time": to_iso(now + 2), "reply": "on_scene"})
        page.wait_for_function("() => document.querySelector('#teams').innerText.includes('on scene')", timeout=10_000)
        row = page.locator("#teams tr").first.inner_text()
        assert "unit-7" in row and "1:3" in row  # about 95 s to the intercept, counting down
    finally:
        console.stop()


def test_page_and_console_reconnect_by_themselves(mosquitto: Mosquitto, mqtt: Mqtt, page: Any) -> None:
    port = free_port()
    console = live_console(mosquitto, port)
    try:
        page.goto(console.url)
        page.wait_for_function("() => document.querySelector('#link-text').innerText === 'Live feed connected'", timeout=10_000)
        # The broker goes away: the page says so (in words), then recovers when it is back.
        mosquitto.stop()
        page.wait_for_function("() => document.querySelector('#link-text').innerText.startsWith('Broker offline')", timeout=15_000)
        mosquitto.start()
        page.wait_for_function("() => document.querySelector('#link-text').innerText === 'Live feed connected'", timeout=20_000)
        # The console restarts on the same port: the page's EventSource finds it again, no reload.
        console.stop()
        page.wait_for_function("() => document.querySelector('#link-text').innerText.startsWith('Console unreachable')", timeout=10_000)
        console = live_console(mosquitto, port)
        again = Mqtt(mosquitto.port)
        try:
            again.pub("bw/v1/tracks/main", track("T-7", time.time()))
        finally:
            again.close()
        page.wait_for_function("() => window.bwConsole.trackLayer.tracks.has('T-7')", timeout=15_000)
    finally:
        console.stop()


def test_replay_mode_scrubs_plays_and_pauses(tmp_path: Path, page: Any) -> None:
    t0 = 1_795_000_000.0
    run = tmp_path / "run"
    run.mkdir()
    tracks = [{"topic": "bw/v1/tracks/main", "payload": track("T-1", t0 + k, lat=49.004 - k * 1e-4)} for k in range(60)]
    alerts = [{"topic": "bw/v1/alerts", "payload": alert("A-1", t0 + 20, track_ids=["T-1"])},
              {"topic": "bw/v1/alerts", "payload": alert("A-1", t0 + 40, state="end")}]
    (run / "tracks.jsonl").write_text("".join(json.dumps(x) + "\n" for x in tracks))
    (run / "alerts.jsonl").write_text("".join(json.dumps(x) + "\n" for x in alerts))
    site = small_site()
    console = ConsoleThread(lambda stop, ready: serve_replay(site, run, port=0, stop=stop, ready=ready)).start()
    try:
        page.goto(console.url)
        page.wait_for_selector("#replay-bar:not([hidden])", timeout=10_000)
        assert page.locator("#mode-badge").inner_text() == "REPLAY"
        assert page.locator("li.alert").count() == 0
        # Scrub to 30 s: the alert is open there; the track is where it was at 30 s.
        page.eval_on_selector("#replay-scrub", "(e) => { e.value = '30'; e.dispatchEvent(new Event('change')); }")
        page.wait_for_selector("li.alert[data-id='A-1']", timeout=10_000)
        assert page.locator("li.alert[data-id='A-1'] button.ack").is_disabled()  # nothing to send in replay
        lat = page.evaluate("() => window.bwConsole.trackLayer.tracks.get('T-1').lat")
        assert lat == pytest.approx(49.004 - 30e-4)
        shot(page, "console-replay.png")
        # Play at 60x: the alert ends at 40 s; pause stops the clock.
        page.select_option("#replay-speed", "60")
        page.click("#replay-play")
        page.wait_for_selector("li.alert[data-id='A-1']", state="detached", timeout=10_000)
        page.click("#replay-play")
        page.wait_for_function("() => !window.bwConsole.state.replay.playing", timeout=5_000)
        t_paused = page.evaluate("() => window.bwConsole.state.replay.t")
        page.wait_for_timeout(600)
        assert page.evaluate("() => window.bwConsole.state.replay.t") == t_paused
        # Scrub back before the alert: it is gone and the track is back north.
        page.eval_on_selector("#replay-scrub", "(e) => { e.value = '5'; e.dispatchEvent(new Event('change')); }")
        page.wait_for_function("() => Math.abs(window.bwConsole.trackLayer.tracks.get('T-1').lat - (49.004 - 5e-4)) < 1e-9", timeout=10_000)
        assert page.locator("li.alert").count() == 0
    finally:
        console.stop()


@pytest.mark.parametrize("width,height", [(1366, 768), (3840, 2160)])
def test_layout_fits_laptop_and_wall_screens(mosquitto: Mosquitto, mqtt: Mqtt, browser: Any, width: int, height: int) -> None:
    now = time.time()
    for k in range(12):
        mqtt.pub("bw/v1/alerts/state/A-%d" % k, alert("A-%d" % k, now, severity=("critical", "high", "medium", "low")[k % 4]), retain=True)
    console = live_console(mosquitto)
    ctx = browser.new_context(viewport={"width": width, "height": height})
    try:
        pg = ctx.new_page()
        pg.goto(console.url)
        pg.wait_for_function("() => document.querySelectorAll('li.alert').length === 12", timeout=10_000)
        dims = pg.evaluate(
            """() => ({sw: document.documentElement.scrollWidth, sh: document.documentElement.scrollHeight,
                      map: document.querySelector('#map').getBoundingClientRect().width,
                      side: document.querySelector('.side').getBoundingClientRect().width,
                      font: parseFloat(getComputedStyle(document.documentElement).fontSize),
                      lastAck: (() => { const b = document.querySelector('#sensors').getBoundingClientRect(); return b.bottom; })()})"""
        )
        assert dims["sw"] <= width and dims["sh"] <= height  # no page scrollbars: panels scroll inside
        assert dims["map"] >= 0.6 * width
        assert dims["lastAck"] <= height  # the sensor panel is on screen
        if width > 3000:
            assert dims["font"] >= 20  # readable from across the room
        # Lower severities sit below higher ones.
        sev = pg.eval_on_selector_all("li.alert .sev", "(xs) => xs.map((x) => x.innerText)")
        order = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3}
        assert [order[s] for s in sev] == sorted(order[s] for s in sev)
        shot(pg, f"console-{width}x{height}.png")
        assert health(console)["pages"] == 1
        ctx.close()
        # A closed page's stream is gone from the server (no queue left to fill).
        deadline = time.monotonic() + 5
        while health(console)["pages"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert health(console)["pages"] == 0
    finally:
        ctx.close()
        console.stop()


def tiny_png(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    """A solid-colour PNG, written by hand (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * size
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * size)) + chunk(b"IEND", b""))


def test_local_basemap_directory_is_served_offline(tmp_path: Path, page: Any) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "tracks.jsonl").write_text(json.dumps({"topic": "bw/v1/tracks/main", "payload": track("T-1", 1_795_000_000.0)}) + "\n")
    tiles = tmp_path / "tiles"
    tiles.mkdir()
    basemap = Basemap(directory=tiles, attribution="test tiles")
    console = ConsoleThread(lambda stop, ready: serve_replay(small_site(), run, port=0, stop=stop, ready=ready, basemap=basemap)).start()
    try:
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(console.url)
        page.wait_for_selector("#replay-bar:not([hidden])", timeout=10_000)
        page.wait_for_timeout(300)
        # Every request stays on the console (offline), tiles included.
        assert all(u.startswith(console.url) or u.startswith("data:") for u in requested), requested
        wanted = [u for u in requested if "/tiles/" in u]
        assert wanted, "the page asked for no tiles"
        for u in wanted:  # now the tiles exist: a reload shows them
            z, x, y = u.split("/tiles/")[1].removesuffix(".png").split("/")
            (tiles / z / x).mkdir(parents=True, exist_ok=True)
            (tiles / z / x / f"{y}.png").write_bytes(tiny_png((40, 60, 80)))
        page.reload()
        page.wait_for_selector("img.leaflet-tile-loaded", timeout=10_000)
        assert "test tiles" in page.locator(".leaflet-control-attribution").inner_text()
    finally:
        console.stop()
