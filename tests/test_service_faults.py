"""The live service under faults, small form of ``benchmarks/faults.py``.

A real mosquitto (fixture, stopped and restarted by the test), ``borderwatch run`` as a
child process (killed with SIGKILL and started again), the demo incident played in
real time by a sensor client, and a console client. Checked afterwards:

- every detection the broker acknowledged to the sensors reached the pipeline
  (the final snapshot's duplicate-key memory holds every acknowledged (sensor, seq));
- the console got every alert event (alert id and state) and every confirmed track
  id that one uninterrupted pipeline makes of the same input (the service's journal,
  kept whole with ``--keep-journal``), and no other ids: the restarts renamed nothing;
- the track confirmed before the SIGKILL is published under the same id after it;
- a console that connects at the end learns the open alert from the retained state.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiomqtt
import pytest

from adapters.recording import RecordedMessage
from adapters.site_file import load_site
from adapters.timefmt import to_iso
from benchmarks.harness import Console, Player, ServiceProcess, detection_key, journal_reference, time_shift
from borderwatch.pipeline import PipelineConfig
from borderwatch.snapshots import read_snapshot
from simulators.engine import simulate
from simulators.scenario import load_scenario

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[1]


def _wait_healthy(svc: ServiceProcess, timeout_s: float = 20.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        h = svc.health()
        if h and h["status"] == "ok":
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"service not healthy after {timeout_s} s; log:\n{svc.log.read_text()[-3000:]}")


def test_sigkill_and_broker_restart_lose_nothing_and_keep_ids(mosquitto, tmp_path: Path) -> None:
    scenario = load_scenario(ROOT / "configs" / "scenarios" / "demo-group-crossing.yaml")
    site = load_site(scenario.site_path)
    scenario = scenario.model_copy(update={"duration_s": 24.0})
    messages = simulate(scenario, site).messages
    state = tmp_path / "state"
    svc = ServiceProcess(scenario.site_path, mosquitto.url, state, "--snapshot-interval", "0.5", "--keep-journal", "--track-qos", "1",
                         log=tmp_path / "service.log")
    svc.start()
    _wait_healthy(svc)
    messages = time_shift(messages, time.time() + 0.5 - messages[0].recv_time)
    start = messages[0].recv_time
    # alerts that open at once (the tracker's crossing alerts need minutes): a K-9 narcotics
    # indication before the kill, a tower going offline between the kill and the broker restart
    k9 = {"sensor_id": "k9-alpha", "seq": 1, "time": to_iso(start + 5.0), "platform": {"lat": 49.008, "lon": -122.77},
          "detections": [{"lat": 49.0101, "lon": -122.7705, "sigma_m": 120.0, "narcotics": True, "count": 3}]}
    offline = {"state": "offline", "time": to_iso(start + 13.0)}
    messages = sorted(
        [*messages, RecordedMessage(start + 5.0, "bw/v1/sensors/k9/k9-alpha/detections", json.dumps(k9).encode()),
         RecordedMessage(start + 13.0, "bw/v1/sensors/radar/tower-01/status", json.dumps(offline).encode())],
        key=lambda m: m.recv_time,
    )
    recovery: dict[str, float] = {}

    async def main() -> tuple[Console, Player, set[str]]:
        console = Console(mosquitto.url)
        console_task = asyncio.create_task(console.run())
        player = Player(mosquitto.url)
        play_task = asyncio.create_task(player.play(messages))
        await asyncio.sleep(start + 11.0 - time.time())
        before = {t["track_id"] for _, t in console.of_kind("tracks")}
        svc.kill()
        t_kill = time.monotonic()
        svc.start()
        await asyncio.to_thread(_wait_healthy, svc)
        recovery["sigkill"] = time.monotonic() - t_kill
        await asyncio.sleep(start + 16.0 - time.time())
        mosquitto.stop()
        t_stop = time.monotonic()
        await asyncio.sleep(0.5)
        mosquitto.start()
        await asyncio.to_thread(_wait_healthy, svc)
        recovery["broker"] = time.monotonic() - t_stop
        await play_task
        await asyncio.sleep(1.5)
        console_task.cancel()
        await asyncio.gather(console_task, return_exceptions=True)
        return console, player, before

    console, player, before_kill = asyncio.run(main())
    metrics = svc.metrics()
    assert svc.stop() == 0

    # nothing acknowledged to a sensor was lost
    snap = read_snapshot(state)
    assert snap is not None
    seen = {(sid, int(k[0])) for sid, keys in snap.pipeline["seen"].items() for k in keys}
    acked = {(k[0], k[1]) for m, _ in player.acked if (k := detection_key(m))}
    assert len(acked) == sum(1 for m in messages if m.topic.endswith("/detections"))
    assert acked <= seen

    # the console saw what an uninterrupted pipeline makes of the same input, under the same ids
    ref = journal_reference(state, site, PipelineConfig(track_qos=1))
    ref_alerts = {(a["alert_id"], a["state"]) for a in ref["alert"]}
    got_alerts = {(a["alert_id"], a["state"]) for _, a in console.of_kind("alerts")}
    assert {("A-west-000001", "new"), ("A-sensors-000001", "new")} <= ref_alerts
    assert got_alerts == ref_alerts
    ref_tracks = {t["track_id"] for t in ref["track"]}
    got_tracks = {t["track_id"] for _, t in console.of_kind("tracks")}
    assert ref_tracks and got_tracks == ref_tracks
    assert before_kill and before_kill <= got_tracks  # confirmed before the kill, same id after
    last_before = max(t for t, doc in console.of_kind("tracks") if doc["track_id"] in before_kill)
    assert last_before > start + 12.0  # ... and published again after the restart

    assert recovery["sigkill"] < 10.0 and recovery["broker"] < 10.0
    assert 'borderwatch_messages_in_total{kind="detections"}' in metrics

    # a console connecting now learns the alert still open from its retained state
    async def late_console() -> list[dict]:
        out = []
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as c:
            await c.subscribe("bw/v1/alerts/state/+", qos=1)
            try:
                async with asyncio.timeout(1.5):
                    async for m in c.messages:
                        if m.payload:
                            out.append(json.loads(m.payload))
            except TimeoutError:
                pass
        return out

    retained = asyncio.run(late_console())
    last_state: dict[str, str] = {}
    for a in ref["alert"]:
        last_state[a["alert_id"]] = a["state"]
    still_open = {aid for aid, st in last_state.items() if st != "end"}
    assert "A-west-000001" in still_open
    assert {a["alert_id"] for a in retained} == still_open
