"""Console under load: page load time and update latency with 1,000 live tracks.

Starts its own mosquitto on a free port, the console for configs/site.yaml, and
Debian's headless chromium (Playwright). Then:

1. **Load**: 1,000 tracks are live before the page opens; the page is loaded and
   timed to DOMContentLoaded, to the first snapshot, and to the first drawn frame
   holding all 1,000 tracks.
2. **Updates**: every track is updated once a second (1,000 messages/s, spread
   over the second) for ``--seconds``, plus a probe track (5/s) whose ``time`` is its publish time. The page
   records, on each drawn frame, how old the probe it shows is: publish -> broker ->
   console -> coalesced SSE batch (4 Hz) -> page -> canvas drawn. Same machine,
   same clock.

Prints a table. Run: ``.venv/bin/python benchmarks/console_load.py [--tracks 1000] [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.site_file import load_site  # noqa: E402
from adapters.timefmt import to_iso  # noqa: E402
from borderwatch.console import serve_console  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def track_msg(i: int, t: float, n: int, lat0: float, lon0: float, lon1: float) -> dict:
    """Track i of n: spread along the border, walking slowly in a small circle."""
    lon = lon0 + (lon1 - lon0) * (i + 0.5) / n
    lat = lat0 + 0.004 * math.sin(i * 1.7) + 0.0003 * math.sin(t / 30 + i)
    return {"track_id": f"T-{i:06d}", "time": to_iso(t), "status": "confirmed", "lat": round(lat, 7), "lon": round(lon + 0.0003 * math.cos(t / 30 + i), 7),
            "vel_east_mps": round(math.cos(i), 3), "vel_north_mps": round(math.sin(i), 3), "cov_en_m2": [[120.0, 10.0], [10.0, 90.0]],
            "existence": 0.95, "class": ("person", "vehicle", "animal", "unknown")[i % 4], "sensors": ["tower-02"], "sector": "west"}


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--site", type=Path, default=ROOT / "configs" / "site.yaml")
    args = ap.parse_args()

    site = load_site(args.site)
    coords = site.border.line.coordinates
    lon0, lon1, lat0 = coords[0][0], coords[-1][0], coords[0][1]
    work = Path(tempfile.mkdtemp(prefix="bw-console-bench-"))
    broker, port = start_mosquitto(work)
    loop = asyncio.new_event_loop()
    box: dict = {}
    ready = threading.Event()

    def run_console() -> None:
        async def go() -> None:
            box["stop"] = asyncio.Event()
            await serve_console(site, f"mqtt://127.0.0.1:{port}", port=0, stop=box["stop"], ready=lambda u: (box.update(url=u), ready.set()))

        loop.run_until_complete(go())

    th = threading.Thread(target=run_console, daemon=True)
    th.start()
    ready.wait(15)
    pub = paho.Client(paho.CallbackAPIVersion.VERSION2)
    pub.max_queued_messages_set(0)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    n = args.tracks
    try:
        t = time.time()
        for i in range(n):  # QoS 1 so that all n are there before the page opens
            pub.publish("bw/v1/tracks/west", json.dumps(track_msg(i, t, n, lat0, lon0, lon1)), qos=1).wait_for_publish(5)
        time.sleep(1.5)
        rows: list[tuple[str, str]] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            t_nav = time.time()
            page.goto(box["url"], wait_until="domcontentloaded")
            page.wait_for_function(f"() => window.bwConsole && window.bwConsole.trackLayer.tracks.size >= {n} && window.bwConsole.trackLayer.drawCount > 0", timeout=30_000, polling=10)
            t_drawn = time.time()
            nav = page.evaluate("() => { const e = performance.getEntriesByType('navigation')[0]; return {dcl: e.domContentLoadedEventEnd, load: e.loadEventEnd}; }")
            rows += [
                ("page: DOMContentLoaded (browser timing)", f"{nav['dcl']:.0f} ms"),
                ("page: load event (browser timing)", f"{nav['load']:.0f} ms"),
                (f"page: navigation -> first frame with {n} tracks", f"{(t_drawn - t_nav) * 1000:.0f} ms"),
            ]
            # Zoom out to the whole site so every track is drawn every frame (the worst case).
            page.evaluate("() => window.bwConsole.map.setZoom(12)")
            page.evaluate(
                """() => { const L = window.bwConsole.trackLayer; L.lat = []; L.draws = []; let seen = 0;
                   const orig = L._draw.bind(L);
                   L._draw = () => { orig(); L.draws.push(L.lastDrawMs);
                     const pr = L.tracks.get('T-PROBE'); if (pr && pr.t !== seen) { seen = pr.t; L.lat.push(Date.now() / 1000 - pr.t); } }; }"""
            )
            start = time.time()
            slots, sent, k = 10, 0, 0  # each second in 10 slots: tracks update at different moments, as live ones do
            while time.time() - start < args.seconds:
                tick = time.time()
                for i in range(k % slots, n, slots):
                    pub.publish("bw/v1/tracks/west", json.dumps(track_msg(i, tick, n, lat0, lon0, lon1)))
                    sent += 1
                if k % 2 == 0:  # a probe 5 times a second, stamped with its publish time
                    probe = track_msg(0, time.time(), n, lat0, lon0, lon1) | {"track_id": "T-PROBE"}
                    pub.publish("bw/v1/tracks/west", json.dumps(probe), qos=1)
                    sent += 1
                k += 1
                time.sleep(max(0.0, 1.0 / slots - (time.time() - tick)))
            time.sleep(1.0)
            lat_s = page.evaluate("() => window.bwConsole.trackLayer.lat")
            draws = page.evaluate("() => window.bwConsole.trackLayer.draws")
            batches = page.evaluate("() => window.bwConsole.state.batches")
            browser.close()
        rows += [
            ("updates published", f"{sent} in {args.seconds:.0f} s ({sent / args.seconds:.0f}/s)"),
            ("update latency publish -> drawn, p50", f"{statistics.median(lat_s) * 1000:.0f} ms"),
            ("update latency publish -> drawn, p95", f"{pct(lat_s, 0.95) * 1000:.0f} ms"),
            ("update latency publish -> drawn, max", f"{max(lat_s) * 1000:.0f} ms"),
            ("probe samples", str(len(lat_s))),
            (f"canvas redraw of {n} tracks, p50", f"{statistics.median(draws):.1f} ms"),
            (f"canvas redraw of {n} tracks, p95", f"{pct(draws, 0.95):.1f} ms"),
            ("SSE batches received by the page", f"{batches} ({batches / (time.time() - start):.1f}/s)"),
        ]
        w = max(len(a) for a, _ in rows)
        print(f"Console load: {n} live tracks, site {site.site.name}, chromium headless 1920x1080, 2-core machine\n")
        print(f"| {'metric'.ljust(w)} | value |")
        print(f"|{'-' * (w + 2)}|-------|")
        for a, b in rows:
            print(f"| {a.ljust(w)} | {b} |")
    finally:
        pub.loop_stop()
        pub.disconnect()
        if "stop" in box:
            loop.call_soon_threadsafe(box["stop"].set)
        th.join(10)
        broker.terminate()
        broker.wait(5)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
