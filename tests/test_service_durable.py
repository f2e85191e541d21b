"""The service's journalled outputs against a real mosquitto: each topic in journal order,
every record acknowledged once, the window never exceeded, whether a record was written
at once (``send_now``) or waited for its topic's drain task."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import aiomqtt
import pytest

from adapters.journal import OutboundRecord
from adapters.site_file import load_site
from borderwatch.service import Service, ServiceConfig, run_service

ROOT = Path(__file__).resolve().parents[1]
SITE = load_site(ROOT / "configs" / "site.yaml")


@pytest.mark.broker
def test_durable_records_keep_topic_order_within_the_window(mosquitto) -> None:
    topics = ["bw/v1/alerts", "bw/v1/dispatch/team-1", *(f"bw/v1/alerts/state/A-{k}" for k in range(5))]
    rng = random.Random(7)
    window = 6

    async def main() -> tuple[dict[str, list[int]], Service, int, int]:
        stop = asyncio.Event()
        holder: dict[str, Service] = {}
        config = ServiceConfig(durable_window=window)
        task = asyncio.create_task(run_service(SITE, mosquitto.url, config=config, stop=stop, started=lambda s: holder.setdefault("s", s)))
        got: dict[str, list[int]] = {t: [] for t in topics}
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as console:
            await console.subscribe("bw/v1/#", qos=1)
            while "s" not in holder or not holder["s"].session.ready.is_set():
                await asyncio.sleep(0.05)
            svc = holder["s"]
            sent_at_once = low_water = 0
            next_id = 1
            for burst in range(60):  # bursts of records, as commits make them, with turns of the loop between
                for _ in range(rng.randint(1, 12)):
                    before = len(svc._inflight.get(t := rng.choice(topics), ()))
                    svc._queue_durable(OutboundRecord(next_id, t, json.dumps({"n": next_id}).encode(), 1, False, "alert"))
                    sent_at_once += len(svc._inflight[t]) > before
                    low_water = min(low_water, svc._window.free)
                    next_id += 1
                await asyncio.sleep(0 if burst % 3 else 0.01)
            n = next_id - 1
            async with asyncio.timeout(20):
                async for m in console.messages:
                    got[m.topic.value].append(json.loads(m.payload)["n"])
                    if sum(len(v) for v in got.values()) >= n:
                        break
            while svc._durable:
                await asyncio.sleep(0.01)
        stop.set()
        await task
        return got, svc, sent_at_once, low_water

    got, svc, sent_at_once, low_water = asyncio.run(main())
    for t, ns in got.items():
        assert ns == sorted(ns), t  # journal order per topic (ids rise with the journal)
    all_ids = sorted(n for ns in got.values() for n in ns)
    assert all_ids == list(range(1, len(all_ids) + 1))  # each once: no loss, no duplicate on a steady connection
    assert svc._window.free == window and low_water >= 0
    assert 0 < sent_at_once < len(all_ids)  # both ways were taken
