"""Record what the service would receive, in the contract's recording format.

Subscribes to the service's inbound topics (sensors, team positions, acks, dispatch
replies) and appends one line per message, flushed as it comes, so a recording
survives the recorder being killed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from adapters.mqtt_session import MqttSession
from adapters.recording import RecordedMessage, encode_line
from adapters.topics import Topics


async def record(
    broker_url: str,
    out_path: Path,
    *,
    topics: Topics = Topics(),
    stop: asyncio.Event | None = None,
    clock: Callable[[], float] = time.time,
    client_id: str = "borderwatch-recorder",
    on_message: Callable[[RecordedMessage], None] | None = None,
) -> int:
    """Record until ``stop`` is set (or cancelled); returns the number of messages written."""
    stop = stop or asyncio.Event()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(out_path, "a", encoding="utf-8") as fh:

        async def handle(topic: str, payload: bytes, _recv: float) -> None:
            nonlocal count
            msg = RecordedMessage(clock(), topic, payload)
            fh.write(encode_line(msg) + "\n")
            fh.flush()
            count += 1
            if on_message:
                on_message(msg)

        session = MqttSession(broker_url, client_id, topics.inbound_filters())
        runner = asyncio.create_task(session.run(handle))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (runner, stopper):
            task.cancel()
        await asyncio.gather(runner, stopper, return_exceptions=True)
    return count
