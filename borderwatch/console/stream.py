"""Server-Sent Events fan-out: one coalesced batch per tick, serialised once, queued per page.

A page that falls behind (its queue fills) is not allowed to hold memory or slow
the others: its queue is emptied and it gets a fresh snapshot instead, which is
always correct because a snapshot replaces everything the page had.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

#: Batches a page may have queued before it is resynchronised with a snapshot (16 s at 4 Hz).
QUEUE_BATCHES = 64
KEEPALIVE_S = 15.0
RETRY_MS = 2000

_RESYNC = "resync"
_CLOSE = "close"


def sse(event: str, data: dict) -> str:
    """One SSE frame. JSON has no raw newlines, so one ``data:`` line suffices."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), allow_nan=False)}\n\n"


class Hub:
    """The set of connected pages. ``snapshot()`` builds what a (re)connecting page gets first."""

    def __init__(self, snapshot: Callable[[], dict]) -> None:
        self._snapshot = snapshot
        self._queues: set[asyncio.Queue[str]] = set()
        self.batches_sent = 0
        self.resyncs = 0

    @property
    def clients(self) -> int:
        return len(self._queues)

    def broadcast(self, event: str, data: dict) -> None:
        """Queue one frame for every page; a full queue turns into a resync."""
        if not self._queues:
            return
        frame = sse(event, data)
        self.batches_sent += 1
        for q in self._queues:
            try:
                q.put_nowait(frame)
            except asyncio.QueueFull:
                self._resync(q)

    def _resync(self, q: asyncio.Queue[str]) -> None:
        while not q.empty():
            q.get_nowait()
        q.put_nowait(_RESYNC)
        self.resyncs += 1

    def resync_all(self) -> None:
        """Every page gets a new snapshot (after a replay seek rebuilt the picture)."""
        for q in self._queues:
            self._resync(q)

    def close(self) -> None:
        """End every stream (server shutdown); pages will retry and find the next server."""
        for q in self._queues:
            while not q.empty():
                q.get_nowait()
            q.put_nowait(_CLOSE)

    async def stream(self) -> AsyncIterator[str]:
        """The SSE body for one page: retry hint, snapshot, then batches and keep-alives."""
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=QUEUE_BATCHES)
        self._queues.add(q)
        try:
            yield f"retry: {RETRY_MS}\n\n"
            yield sse("snapshot", self._snapshot())
            while True:
                try:
                    item = await asyncio.wait_for(q.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if item == _CLOSE:
                    return
                yield sse("snapshot", self._snapshot()) if item == _RESYNC else item
        finally:
            self._queues.discard(q)
