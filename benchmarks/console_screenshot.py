"""Regenerate docs/img/console.png: the console with a staged, busy but plausible picture.

A scene of contract messages on configs/site.yaml (a group walking south towards the
line with a predicted crossing and a team dispatched, a vehicle in the restricted
rail yard, a loiterer, an animal, a coasting unknown, a K-9 narcotics indication, a
silent tower) is published to a private mosquitto; the live console shows it in
headless chromium at 1366x768 and the screenshot is saved.

Run: ``.venv/bin/python benchmarks/console_screenshot.py [--out docs/img/console.png]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from adapters.site_file import load_site  # noqa: E402
from adapters.timefmt import to_iso  # noqa: E402
from borderwatch.console import serve_console  # noqa: E402
from console_load import CHROMIUM_ARGS, start_mosquitto  # noqa: E402

M_PER_DEG_LAT = 111_200.0
M_PER_DEG_LON = 73_000.0  # at 49 N


def walk(lat: float, lon: float, heading_deg: float, speed: float, seconds: float) -> tuple[float, float]:
    h = math.radians(heading_deg)
    return lat + speed * seconds * math.cos(h) / M_PER_DEG_LAT, lon + speed * seconds * math.sin(h) / M_PER_DEG_LON


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "console.png")
    ap.add_argument("--width", type=int, default=1366)
    ap.add_argument("--height", type=int, default=768)
    args = ap.parse_args()

    site = load_site(ROOT / "configs" / "site.yaml")
    work = Path(tempfile.mkdtemp(prefix="bw-console-shot-"))
    broker, port = start_mosquitto(work)
    loop = asyncio.new_event_loop()
    box: dict = {}
    ready = threading.Event()

    def run_console() -> None:
        async def go() -> None:
            box["stop"] = asyncio.Event()
            await serve_console(site, f"mqtt://127.0.0.1:{port}", port=0, stop=box["stop"], operator="ops-desk-2",
                                ready=lambda u: (box.update(url=u), ready.set()))

        loop.run_until_complete(go())

    th = threading.Thread(target=run_console, daemon=True)
    th.start()
    ready.wait(15)
    c = paho.Client(paho.CallbackAPIVersion.VERSION2)
    c.connect("127.0.0.1", port)
    c.loop_start()

    def pub(topic: str, payload: dict, retain: bool = False) -> None:
        c.publish(topic, json.dumps(payload), qos=1, retain=retain).wait_for_publish(5)

    now = time.time()

    def track(tid: str, sector: str, cls: str, status: str, lat: float, lon: float, heading: float, speed: float,
              history_s: float, sigma_m: float, sensors: list[str], count: int = 1, wobble: float = 0.0) -> None:
        """Publish a track's last ``history_s`` seconds every 5 s, ending now at (lat, lon)."""
        steps = int(history_s // 5)
        for k in range(steps, -1, -1):
            t = now - 5 * k
            hd = heading + wobble * math.sin(k / 2.0)
            la, lo = walk(lat, lon, hd + 180.0, speed, 5 * k)
            ve, vn = speed * math.sin(math.radians(hd)), speed * math.cos(math.radians(hd))
            pub(f"bw/v1/tracks/{sector}", {
                "track_id": tid, "time": to_iso(t), "status": status if k == 0 else "confirmed", "lat": round(la, 7), "lon": round(lo, 7),
                "vel_east_mps": round(ve, 3), "vel_north_mps": round(vn, 3),
                "cov_en_m2": [[sigma_m**2 * 1.3, sigma_m**2 * 0.2], [sigma_m**2 * 0.2, sigma_m**2 * 0.8]],
                "existence": 0.97, "class": cls, "sensors": sensors, "sector": sector, "count": count})

    def alert(aid: str, kind: str, severity: str, lat: float | None, lon: float | None, summary: str, age_s: float, **extra: object) -> None:
        payload = {"alert_id": aid, "state": "new", "kind": kind, "severity": severity, "time": to_iso(now - age_s),
                   "track_ids": [], "lat": lat, "lon": lon, "direction": None, "eta_s": None, "crossing_point": None,
                   "zone_id": None, "sensor_id": None, "summary": summary, **extra}
        pub("bw/v1/alerts", payload)
        pub(f"bw/v1/alerts/state/{aid}", payload, retain=True)

    try:
        time.sleep(1.0)
        for sid, state in (("tower-01", "online"), ("tower-02", "online"), ("tower-03", "degraded")):
            pub(f"bw/v1/sensors/radar/{sid}/status", {"state": state, "time": to_iso(now - 300)}, retain=True)
        for sid in ("tower-02", "tower-03"):
            pub(f"bw/v1/sensors/radar/{sid}/detections", {"sensor_id": sid, "seq": 1, "time": to_iso(now), "detections": []})
        pub("bw/v1/sensors/drone/drone-1/detections", {"sensor_id": "drone-1", "seq": 7, "time": to_iso(now - 3),
                                                        "platform": {"lat": 49.0021, "lon": -122.7712, "alt_m": 120}, "detections": []})
        pub("bw/v1/sensors/k9/k9-alpha/detections", {"sensor_id": "k9-alpha", "seq": 3, "time": to_iso(now - 40),
                                                      "platform": {"lat": 48.9952, "lon": -122.7215}, "detections": []})
        # The group: 4 people walking south to the line east of tower-02.
        g_lat, g_lon = 49.0019, -122.7391
        track("T-east-000003", "east", "person", "confirmed", g_lat, g_lon, 184.0, 1.2, 170, 9.0, ["tower-02", "tower-03"], count=4, wobble=6)
        eta = (g_lat - 49.0) * M_PER_DEG_LAT / 1.2
        alert("A-east-000001", "predicted_crossing", "high", g_lat, g_lon, f"4 people heading south, crossing in about {eta / 60:.0f} min",
              20, track_ids=["T-east-000003"], direction="southbound", eta_s=round(eta + 20, 1),
              crossing_point={"lat": 49.0, "lon": -122.73925}, zone_id="buffer-500m")
        pub("bw/v1/teams/unit-7/position", {"time": to_iso(now - 2), "lat": 48.9928, "lon": -122.7362, "available": True})
        pub("bw/v1/dispatch/unit-7", {"dispatch_id": "D-000004", "alert_id": "A-east-000001", "team_id": "unit-7", "time": to_iso(now - 15),
                                      "state": "new", "target": {"lat": g_lat, "lon": g_lon},
                                      "intercept": {"lat": 48.9986, "lon": -122.7394, "eta_s": 95.0},
                                      "summary": "intercept 150 m south of the line in 1 min 35 s"})
        pub("bw/v1/dispatch/unit-7/reply", {"dispatch_id": "D-000004", "time": to_iso(now - 10), "reply": "accept", "comment": "en route"})
        # A vehicle inside the restricted rail yard.
        track("T-east-000009", "east", "vehicle", "confirmed", 48.9962, -122.6985, 95.0, 4.0, 60, 12.0, ["tower-03"])
        alert("A-east-000002", "incursion", "critical", 48.9962, -122.6985, "vehicle inside rail-yard-restricted", 35,
              track_ids=["T-east-000009"], zone_id="rail-yard-restricted")
        # A loiterer dwelling by the line west of the port of entry.
        track("T-west-000011", "west", "person", "confirmed", 49.0012, -122.7668, 90.0, 0.5, 240, 14.0, ["tower-02", "drone-1"], wobble=120)
        alert("A-west-000003", "loitering", "medium", 49.0012, -122.7668, "1 person dwelling 130 m from the line for 6 min", 60,
              track_ids=["T-west-000011"], zone_id="buffer-500m")
        # Wildlife and an unknown plot.
        track("T-west-000014", "west", "animal", "tentative", 49.0068, -122.7560, 250.0, 0.7, 40, 20.0, ["tower-02"], wobble=40)
        track("T-east-000012", "east", "unknown", "coasting", 49.0047, -122.7190, 200.0, 0.9, 90, 35.0, ["tower-03"])
        # A K-9 indication and a tower that went silent.
        alert("A-east-000004", "narcotics", "medium", 48.9954, -122.7222, "K-9 alpha indicated narcotics on a fresh trail", 120, sensor_id="k9-alpha")
        alert("A-sensors-000005", "sensor_offline", "high", None, None, "radar tower-01 silent for 40 s", 40, sensor_id="tower-01")
        time.sleep(1.0)

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto(box["url"])
            page.wait_for_function("() => document.querySelectorAll('li.alert').length === 5", timeout=15_000)
            page.evaluate("() => window.bwConsole.map.fitBounds([[48.9915, -122.7745], [49.0085, -122.6900]])")
            page.focus("li.alert[data-id='A-east-000001']")
            page.wait_for_timeout(1500)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out))
            browser.close()
        print(f"wrote {args.out}")
    finally:
        c.loop_stop()
        c.disconnect()
        if "stop" in box:
            loop.call_soon_threadsafe(box["stop"].set)
        th.join(10)
        broker.terminate()
        broker.wait(5)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
