"""Record what the service would receive, in the contract's recording format.

Subscribes to the service's inbound topics (sensors, team positions, acks, dispatch
replies). JSON Lines (the default) are appended and flushed line by line, so a
recording survives the recorder being killed. A path ending in ``.mcap`` is written
as MCAP by a writer thread fed as messages arrive; MCAP is finalised (its index
written) when recording stops.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Callable
from pathlib import Path

from adapters.mcap_recording import write_mcap
from adapters.mqtt_session import MqttSession
from adapters.recording import RecordedMessage, encode_line
from adapters.topics import Topics


async def _call_when_set(event: asyncio.Event, fn: Callable[[], None]) -> None:
    await event.wait()
    fn()


async def record(
    broker_url: str,
    out_path: Path,
    *,
    topics: Topics = Topics(),
    stop: asyncio.Event | None = None,
    clock: Callable[[], float] = time.time,
    client_id: str = "borderwatch-recorder",
    on_message: Callable[[RecordedMessage], None] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> int:
    """Record until ``stop`` is set (or cancelled); returns the number of messages written."""
    stop = stop or asyncio.Event()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    if out_path.suffix == ".mcap":
        pending: queue.Queue[RecordedMessage | None] = queue.Queue()
        writer = asyncio.create_task(asyncio.to_thread(write_mcap, iter(pending.get, None), out_path))
        write, close = pending.put, lambda: pending.put(None)
    else:
        fh = open(out_path, "a", encoding="utf-8")
        writer = None

        def write(msg: RecordedMessage) -> None:
            fh.write(encode_line(msg) + "\n")
            fh.flush()

        close = fh.close

    async def handle(topic: str, payload: bytes, _recv: float) -> None:
        nonlocal count
        msg = RecordedMessage(clock(), topic, payload)
        write(msg)
        count += 1
        if on_message:
            on_message(msg)

    session = MqttSession(broker_url, client_id, topics.inbound_filters())
    runner = asyncio.create_task(session.run(handle))
    stopper = asyncio.create_task(stop.wait())
    tasks = [runner, stopper]
    if on_ready is not None:
        tasks.append(asyncio.create_task(_call_when_set(session.ready, on_ready)))
    try:
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        close()
        if writer is not None:
            await writer
    return count
