"""The service applies due ticks one at a time, yielding between them, in replay's order."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from adapters.site_file import load_site
from adapters.timefmt import to_iso
from borderwatch.service import Service, ServiceConfig

ROOT = Path(__file__).resolve().parent.parent
SITE = load_site(ROOT / "configs" / "site.yaml")
T0 = 1_800_000_000.0
TOPIC = "bw/v1/teams/unit-7/position"


def position(t: float) -> bytes:
    """A valid message (a dead letter would not start the pipeline's clock)."""
    return f'{{"time": "{to_iso(t)}", "lat": 48.99, "lon": -122.74}}'.encode()


def test_ticks_are_journalled_one_at_a_time_and_never_past_a_message_being_handled() -> None:
    """A message finds two housekeeping ticks due; while it yields between them the clock jumps
    5 s and the tick loop wakes. Replay applies the ticks up to the message's receipt, then the
    message, then the later ticks, so the journal must hold exactly that order."""
    now = [T0]

    async def main() -> list[tuple[float, str | None, tuple[float, ...]]]:
        svc = Service(SITE, "mqtt://127.0.0.1:1", ServiceConfig(clock=lambda: now[0]))
        await svc._on_message(TOPIC, position(T0), T0)  # starts the housekeeping clock
        now[0] = T0 + 2.0  # housekeeping due at T0 + 1 and T0 + 2
        handling = asyncio.create_task(svc._on_message(TOPIC, position(T0 + 2.0), T0 + 2.0))
        await asyncio.sleep(0)  # the message has read its receipt time and applied its first tick
        now[0] = T0 + 7.0
        ticking = asyncio.create_task(svc._tick_loop())
        await handling
        await asyncio.sleep(0.2)  # the tick loop (it sleeps 2 ms at the least) catches up after the message
        ticking.cancel()
        for task in [ticking, *svc._durable_tasks.values()]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return [(r.recv_time, r.topic, r.pre_ticks) for r in svc.journal.inbound_after(0)]

    rows = asyncio.run(main())
    assert all(len(ticks) <= 1 for _, _, ticks in rows)  # one tick a journal row
    messages = [i for i, (_, topic, _) in enumerate(rows) if topic is not None]
    assert len(messages) == 2
    before = [t - T0 for _, _, tk in rows[:messages[1]] for t in tk]
    after = [t - T0 for _, _, tk in rows[messages[1]:] for t in tk]
    assert before == [1.0, 2.0]  # the ticks due at the message's receipt, before it
    assert after == [3.0, 4.0, 5.0, 6.0, 7.0]  # the tick loop's, only after the message
