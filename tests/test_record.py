"""`borderwatch record` against a real broker, as JSON Lines and as MCAP."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiomqtt
import pytest

from adapters.recording import read_recording

MESSAGES = [
    ("bw/v1/sensors/radar/tower-02/detections", b'{"sensor_id":"tower-02","seq":1,"time":"2026-11-25T14:00:00.000Z","detections":[]}'),
    ("bw/v1/sensors/radar/tower-02/detections", b"\xff\x00 not utf-8"),
    ("bw/v1/teams/unit-7/position", b'{"time":"2026-11-25T14:00:01.000Z","lat":48.99,"lon":-122.74,"available":true}'),
    ("bw/v1/tracks/east", b'{"not":"an inbound topic, so not recorded"}'),
]


@pytest.mark.broker
@pytest.mark.parametrize("suffix", [".jsonl", ".mcap"])
def test_record_writes_every_inbound_message_exactly(mosquitto, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"rec{suffix}"
    started = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "borderwatch.cli", "record", "--broker", mosquitto.url, "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    assert "recording" in proc.stderr.readline()  # printed once connected and subscribed

    async def publish() -> None:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
            for topic, payload in MESSAGES:
                await client.publish(topic, payload, qos=1)
        await asyncio.sleep(1.0)

    asyncio.run(publish())
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    got = list(read_recording(out))
    assert [(m.topic, m.payload) for m in got] == MESSAGES[:3]
    assert all(started < m.recv_time < time.time() for m in got)
    assert "recorded 3 messages" in output
