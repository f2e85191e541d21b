"""The whole chain over a real mosquitto: sensors -> service -> consoles, and replay.

These are the foundation's acceptance tests: a simulated crossing published over
MQTT comes back as tracks and an alert to an independent subscriber; the recording
made during the run replays to the same alerts; replay is byte-identical; bad input
lands on the dead-letter topic with its reason while the service keeps working.
"""

from __future__ import annotations

import asyncio
import filecmp
import json
import time
from pathlib import Path

import aiomqtt
import pytest

from adapters.site_file import load_site
from adapters.timefmt import to_iso
from borderwatch.demo import DEFAULT_SCENARIO, run_demo
from borderwatch.replay import replay_messages
from borderwatch.service import ServiceConfig, run_service
from simulators.engine import simulate
from simulators.scenario import load_scenario

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


async def _collect(port: int, filters: list[str], into: list[tuple[str, bytes]], ready: asyncio.Event) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="test-console") as client:
        for f in filters:
            await client.subscribe(f, qos=1)
        ready.set()
        async for msg in client.messages:
            into.append((str(msg.topic), bytes(msg.payload)))


@pytest.mark.broker
def test_simulated_crossing_reaches_a_console_as_tracks_and_alerts(mosquitto, tmp_path: Path) -> None:
    received: list[tuple[str, bytes]] = []

    async def main() -> Path:
        ready = asyncio.Event()
        console = asyncio.create_task(_collect(mosquitto.port, ["bw/v1/tracks/+", "bw/v1/alerts", "bw/v1/dispatch/+"], received, ready))
        await asyncio.wait_for(ready.wait(), 5)
        try:
            return await run_demo(DEFAULT_SCENARIO, tmp_path / "demo", broker_url=mosquitto.url, speed=10.0, console_port=None, stream=open(tmp_path / "demo.log", "w"))
        finally:
            await asyncio.sleep(0.3)
            console.cancel()
            await asyncio.gather(console, return_exceptions=True)

    report = asyncio.run(main())

    tracks = [json.loads(p) for t, p in received if t.startswith("bw/v1/tracks/")]
    alerts = [json.loads(p) for t, p in received if t == "bw/v1/alerts"]
    confirmed = [t for t in tracks if t["status"] == "confirmed"]
    assert confirmed, "no confirmed track reached the console"
    assert any(t["sector"] == "east" for t in confirmed)  # the group crosses 800 m east of the origin
    kinds = {(a["kind"], a["state"]) for a in alerts}
    assert ("predicted_crossing", "new") in kinds
    crossing = [a for a in alerts if a["kind"] == "crossing"]
    assert crossing and crossing[0]["direction"] == "southbound"
    text = report.read_text()
    assert "gives the same alerts as the live run: **yes**" in text
    assert (tmp_path / "demo" / "score" / "overview.png").stat().st_size > 10_000


def test_replay_is_byte_identical(tmp_path: Path) -> None:
    scenario = load_scenario(CONFIGS / "scenarios" / "demo-group-crossing.yaml")
    site = load_site(scenario.site_path)
    messages = simulate(scenario, site).messages
    a = replay_messages(messages, site, tmp_path / "a")
    replay_messages(messages, site, tmp_path / "b")
    for name in ("tracks.jsonl", "alerts.jsonl", "dispatch.jsonl", "deadletter.jsonl"):
        assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False), name
    assert a.published["alert"] >= 2 and a.published["track"] > 50


@pytest.mark.broker
def test_bad_input_is_dead_lettered_with_its_reason_and_the_service_keeps_running(mosquitto, tmp_path: Path) -> None:
    site = load_site(CONFIGS / "site.yaml")
    now = time.time()
    good_scan = {
        "sensor_id": "tower-02", "seq": 1, "time": to_iso(now),
        "detections": [{"range_m": 900.0, "bearing_deg": 10.0, "sigma_range_m": 8.0, "sigma_bearing_deg": 0.4}],
    }
    bad: list[tuple[str, bytes, str]] = [
        ("bw/v1/sensors/radar/tower-02/detections", b"{not json", "invalid_json"),
        ("bw/v1/sensors/radar/tower-02/detections", b"[1, 2]", "not_object"),
        ("bw/v1/sensors/radar/tower-02/detections", b"\xff\xfe\x00", "not_utf8"),
        ("bw/v1/sensors/radar/tower-02/detections", b"[" * 5000 + b"]" * 5000, "too_deep"),
        ("bw/v1/sensors/radar/tower-02/detections", json.dumps({**good_scan, "seq": 2, "detections": [{"range_m": -5, "bearing_deg": 10, "sigma_range_m": 8, "sigma_bearing_deg": 0.4}]}).encode(), "schema"),
        ("bw/v1/sensors/radar/tower-02/detections", b'{"sensor_id":"tower-02","seq":3,"time":"2026-11-25T14:00:00.000Z","detections":[{"range_m":NaN,"bearing_deg":1,"sigma_range_m":8,"sigma_bearing_deg":0.4}]}', "invalid_json"),
        ("bw/v1/sensors/radar/tower-99/detections", json.dumps({**good_scan, "sensor_id": "tower-99"}).encode(), "unknown_sensor"),
        ("bw/v1/sensors/radar/tower-01/detections", json.dumps(good_scan).encode(), "sensor_mismatch"),
        ("bw/v1/sensors/radar/tower-02/detections", json.dumps({**good_scan, "seq": 4, "time": to_iso(now + 3600)}).encode(), "time_out_of_range"),
        ("bw/v1/sensors/drone/drone-1/detections", json.dumps({"sensor_id": "drone-1", "seq": 1, "time": to_iso(now), "detections": []}).encode(), "missing_platform"),
        ("bw/v1/sensors/radar/tower-02/detections", b"x" * (300 * 1024), "oversize"),
    ]
    dead: list[tuple[str, bytes]] = []

    async def main() -> dict:
        stop = asyncio.Event()
        services: list = []
        service = asyncio.create_task(
            run_service(site, mosquitto.url, config=ServiceConfig(state_dir=tmp_path / "state"), stop=stop, started=services.append)
        )
        ready = asyncio.Event()
        watcher = asyncio.create_task(_collect(mosquitto.port, ["bw/v1/deadletter"], dead, ready))
        await asyncio.wait_for(ready.wait(), 5)
        await asyncio.sleep(1.0)  # the service subscribes
        async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="test-sensor") as sensor:
            for topic, payload, _ in bad:
                await sensor.publish(topic, payload, qos=1)
            await sensor.publish("bw/v1/sensors/radar/tower-02/detections", json.dumps(good_scan).encode(), qos=1)
        deadline = time.monotonic() + 10
        while (len(dead) < len(bad) or not services[0].pipeline.counters["in.detections"]) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        counters = dict(services[0].pipeline.counters)
        stop.set()
        await asyncio.gather(service, return_exceptions=True)
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        return counters

    counters = asyncio.run(main())
    reasons = [json.loads(p)["reason"].split(":", 1)[0] for _, p in dead]
    assert reasons == [code for _, _, code in bad]
    assert all(set(json.loads(p)) >= {"time", "topic", "reason", "payload_excerpt"} for _, p in dead)
    assert counters["in.deadletter"] == len(bad)
    assert counters.get("in.detections") == 1  # the good scan after all that garbage was processed
