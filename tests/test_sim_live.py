"""``borderwatch simulate --broker``: paced publishing to a real mosquitto, retained status, last will."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiomqtt
import pytest

from adapters.site_file import load_site
from adapters.timefmt import from_iso
from simulators.engine import simulate
from simulators.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "scenarios" / "demo-group-crossing.yaml"
pytestmark = pytest.mark.broker


def _start(url: str, speed: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "borderwatch.cli", "simulate", str(DEMO), "--broker", url, "--speed", str(speed), "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def _collect(port: int, until, timeout_s: float) -> list[tuple[float, str, bytes, bool]]:
    got: list[tuple[float, str, bytes, bool]] = []
    async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.subscribe("bw/v1/#", qos=1)
        try:
            async with asyncio.timeout(timeout_s):
                async for msg in client.messages:
                    got.append((time.time(), str(msg.topic), bytes(msg.payload), bool(msg.retain)))
                    if until(got):
                        break
        except TimeoutError:
            pass
    return got


def test_publishes_every_message_paced_at_speed(mosquitto):
    scenario = load_scenario(DEMO)
    expected = simulate(scenario, load_site(scenario.site_path)).messages
    proc = _start(mosquitto.url, speed=120.0)
    try:
        got = asyncio.run(_collect(mosquitto.port, lambda g: len(g) >= len(expected), timeout_s=30))
        assert proc.wait(10) == 0, proc.stderr.read()
    finally:
        proc.kill()
    assert len(got) == len(expected)
    assert sorted(t for _, t, _, _ in got) == sorted(m.topic for m in expected)
    # times are rebased to now (the scenario says 02:00Z), and nothing goes out before its time on
    # the 120x clock: 240 s of scenario take at least ~2 s (no upper bound: a loaded machine is slower)
    det = [(w, json.loads(p)) for w, t, p, _ in got if t.endswith("tower-02/detections")]
    first_obs = from_iso(det[0][1]["time"])
    assert abs(first_obs - det[0][0]) < 30.0
    wall = det[-1][0] - det[0][0]
    sim = from_iso(det[-1][1]["time"]) - first_obs
    assert wall > 0.9 * sim / 120


def test_status_retained_and_last_will_on_kill(mosquitto):
    proc = _start(mosquitto.url, speed=5.0)
    try:
        got = asyncio.run(_collect(mosquitto.port, lambda g: sum(t.endswith("/detections") for _, t, _, _ in g) >= 6, timeout_s=20))
        assert any(t.endswith("tower-02/status") and json.loads(p)["state"] == "online" for _, t, p, _ in got)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
    finally:
        proc.kill()
    # a late subscriber sees the retained will of every sensor the simulator had connected
    wills = asyncio.run(
        _collect(mosquitto.port, lambda g: any(t.endswith("tower-02/status") and b"offline" in p for _, t, p, _ in g), timeout_s=20)
    )
    offline = [t for _, t, p, _ in wills if t.endswith("/status") and json.loads(p) == {"state": "offline"}]
    assert "bw/v1/sensors/radar/tower-02/status" in offline
