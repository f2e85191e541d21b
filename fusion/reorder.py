"""A bounded reorder buffer by observation time.

Sensors' messages reach the service out of observation order (network paths differ,
QoS 1 redelivery, a drone link that stalls). The tracker is cheapest and most
accurate when fed in time order, so each item waits ``latency_s`` of the receive
clock after its observation time, then leaves in observation-time order. An item
that arrives after items observed later than it have already left is "late" and is
handed straight back to the caller (the tracker's out-of-sequence path), never
dropped. When the buffer is full the oldest item leaves early, counted. An item
may also carry a receive-clock time ``not_before`` (the pipeline's next batch boundary
for a scan that arrived already due, so that a backlog is still published in
batches): the item leaves once a ``bound`` given with the release reaches it (by
default the release time itself); items behind it in order wait with it.

Pure: the clock is passed in, so replay and live release identically.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(order=True)
class _Entry(Generic[T]):
    obs_time: float
    arrival: int
    item: T = field(compare=False)
    not_before: float = field(default=float("-inf"), compare=False)


class ReorderBuffer(Generic[T]):
    """Holds items keyed by observation time (epoch s); releases them in that order."""

    def __init__(self, latency_s: float, max_items: int = 10_000) -> None:
        if latency_s < 0:
            raise ValueError("latency_s must be >= 0")
        self.latency_s = latency_s
        self.max_items = max_items
        self._heap: list[_Entry[T]] = []
        self._arrivals = 0
        self.watermark = float("-inf")  # observation time of the last item released
        self.forced_early = 0  # items released before their time because the buffer was full

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, obs_time: float, item: T, now: float, not_before: float = float("-inf"),
             bound: float | None = None) -> tuple[list[T], bool]:
        """Add an item; returns (items due now in time order, whether this item was late).

        A late item (observed before the watermark) is not buffered: it is the first
        element of the returned list and the flag is True. ``bound``: see ``release``.
        """
        if obs_time < self.watermark:
            return [item, *self.release(now, bound)], True
        heapq.heappush(self._heap, _Entry(obs_time, self._arrivals, item, not_before))
        self._arrivals += 1
        out: list[T] = []
        while len(self._heap) > self.max_items:
            out.append(self._pop())
            self.forced_early += 1
        out.extend(self.release(now, bound))
        return out, False

    def release(self, now: float, bound: float | None = None) -> list[T]:
        """Items whose wait is over at receive-clock time ``now`` and whose ``not_before`` is
        within ``bound`` (default ``now``), in observation order."""
        out: list[T] = []
        bound = now if bound is None else bound
        while self._heap and self._heap[0].obs_time + self.latency_s <= now and self._heap[0].not_before <= bound:
            out.append(self._pop())
        return out

    def next_due(self) -> float | None:
        """Receive-clock time at which the next item will be due, or None if empty."""
        if not self._heap:
            return None
        top = self._heap[0]
        return max(top.obs_time + self.latency_s, top.not_before)

    def drain(self) -> list[T]:
        """Everything still held, in observation order (end of a replay)."""
        out = []
        while self._heap:
            out.append(self._pop())
        return out

    def items(self) -> list[tuple[float, T]]:
        """(observation time, item) of everything held, in order, for snapshots (``not_before`` is the caller's to rebuild)."""
        return [(e.obs_time, e.item) for e in sorted(self._heap)]

    def _pop(self) -> T:
        entry = heapq.heappop(self._heap)
        self.watermark = max(self.watermark, entry.obs_time)
        return entry.item
