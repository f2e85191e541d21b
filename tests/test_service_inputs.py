"""The service in-process against a real mosquitto: bad input of every class ends as a
dead letter with its reason and counter, never a crash; bounded outbound queues."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import aiomqtt
import pytest

from adapters.site_file import load_site
from benchmarks.garbage_gen import CLASSES, garbage
from borderwatch.pipeline import Outbound
from borderwatch.service import Service, ServiceConfig, run_service

ROOT = Path(__file__).resolve().parents[1]
SITE = load_site(ROOT / "configs" / "site.yaml")


@pytest.mark.broker
def test_every_bad_input_class_is_dead_lettered_with_reason_and_counter(mosquitto, tmp_path: Path) -> None:
    items = list(garbage(3 * sum(w for _, w in CLASSES), SITE, time.time()))
    expected = Counter(g.code for g in items)
    assert set(expected) == {code for code, _ in CLASSES}

    async def main() -> tuple[list[dict], str, dict]:
        stop = asyncio.Event()
        holder: dict[str, Service] = {}
        task = asyncio.create_task(
            run_service(SITE, mosquitto.url, config=ServiceConfig(state_dir=tmp_path / "state", metrics_port=0), stop=stop,
                        started=lambda s: holder.setdefault("s", s))
        )
        dead: list[dict] = []
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as console:
            await console.subscribe("bw/v1/deadletter", qos=1)
            while "s" not in holder or not holder["s"].session._ready.is_set():
                await asyncio.sleep(0.05)
            async with aiomqtt.Client("127.0.0.1", mosquitto.port) as sensor:
                for g in items:
                    await sensor.publish(g.topic, g.payload, qos=1)
            async with asyncio.timeout(20):
                async for m in console.messages:
                    dead.append(json.loads(m.payload))
                    if len(dead) == len(items):
                        break
        svc = holder["s"]
        want = f'borderwatch_messages_out_total{{kind="deadletter"}} {float(len(items))}'
        for _ in range(100):  # the PUBACK of the last dead letter may land just after the console has it
            reader, writer = await asyncio.open_connection("127.0.0.1", svc.metrics_port)
            writer.write(b"GET /metrics HTTP/1.0\r\n\r\n")
            metrics = (await reader.read()).decode()
            writer.close()
            if want in metrics:
                break
            await asyncio.sleep(0.05)
        ok, health = svc.health()
        stop.set()
        await task
        return dead, metrics, health

    dead, metrics, health = asyncio.run(main())
    assert Counter(d["code"] for d in dead) == expected
    for d in dead:
        assert d["reason"].startswith(d["code"] + ": ") and d["topic"].startswith("bw/v1/")
    # each dead letter names the message: the marker near the start of every textual payload
    markers = {json.loads(d["payload_excerpt"][: d["payload_excerpt"].index(",")] + "}")["g"] for d in dead if d["payload_excerpt"].startswith('{"g":')}
    assert len(markers) >= len(items) - expected["oversize"] - expected["not_utf8"]
    for code, n in expected.items():
        assert f'borderwatch_deadletters_total{{reason="{code}"}} {float(n)}' in metrics
    assert f'borderwatch_messages_out_total{{kind="deadletter"}} {float(len(items))}' in metrics
    assert health["live_tracks"] == 0 and health["mqtt_connected"]


def _track(track_id: str, n: int) -> Outbound:
    return Outbound("bw/v1/tracks/west", b'{"track_id":"%s","n":%d}' % (track_id.encode(), n), 0, False, "track")


def test_track_queue_coalesces_per_track_and_sheds_oldest_when_full() -> None:
    async def main() -> Service:
        svc = Service(SITE, "mqtt://127.0.0.1:1", ServiceConfig(track_queue_max=3, deadletter_queue_max=2))
        for n, tid in enumerate(["T-1", "T-2", "T-1", "T-3", "T-2", "T-4", "T-4"]):
            svc._queue_track(_track(tid, n))
        for n in range(5):
            svc._queue_deadletter(Outbound("bw/v1/deadletter", b"%d" % n, 1, False, "deadletter"))
        return svc

    svc = asyncio.run(main())
    # T-1 queued, T-2 queued, T-1 replaced, T-3 queued, T-2 replaced, T-4 sheds the oldest (T-1), T-4 replaced
    assert [(k, json.loads(o.payload)["n"]) for k, o in svc._tracks.items()] == [("T-3", 3), ("T-2", 4), ("T-4", 6)]
    m = svc.metrics.render().decode()
    assert "borderwatch_tracks_coalesced_total 3.0" in m
    assert 'borderwatch_shed_total{queue="tracks"} 1.0' in m
    assert [o.payload for o in svc._deadletters] == [b"3", b"4"]
    assert 'borderwatch_shed_total{queue="deadletter"} 3.0' in m
