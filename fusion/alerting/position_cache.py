"""Every live track's last reported state as arrays, kept current one report at a time.

The alerting engine groups tracks over *all* live tracks on every call (groups are
connected components, so a group is only found whole from all positions), but only a
few tracks are reported per tracker step. Stacking a report list per call costs
per-track Python work; this cache costs that only for the reported tracks and hands
out positions at any time as array arithmetic. The other report fields alerting
evaluates (covariance, existence, class, status, count, whether a labelling sensor
saw it) are kept per slot too, so a call's track table is a gather (``columns``), not
a restacking of the ~150 focus reports it evaluates.

Slots are kept in track-id order (the order the engine has always evaluated tracks in,
which fixes group numbering and so alert numbering). A deleted track leaves a dead
slot; the slots are compacted once a quarter of them are dead, so a deletion does not
cost a rebuild of the whole index. The columns keep spare rows past the used slots
(twice the slots when they run out), so new tracks, which arrive with most calls, are
written in place rather than appended by a copy of every column.

An owner may keep columns of its own per slot (``kept``: the alerting memory), which
follow the slots through rebuilds and are never written from reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import NDArray

from fusion.types import TrackReport

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

def stack_reports(reports: list[TrackReport], labellers: frozenset[str] = frozenset()) -> dict[str, np.ndarray]:
    """The reports' cached fields as arrays, one row each (the values ``features.track_table`` stacks)."""
    n = len(reports)
    return {
        "x": _states(reports),
        "t": np.fromiter([r.time for r in reports], float, n),
        "P": _join([r.P for r in reports]).reshape(n, 4, 4),
        "existence": np.fromiter([r.existence for r in reports], float, n),
        "class_probs": _join([r.class_probs for r in reports]).reshape(n, 4),
        "count": np.maximum(np.fromiter([r.count for r in reports], np.int64, n), 1),
        "confirmed": np.fromiter([r.status == "confirmed" for r in reports], bool, n),
        "alive": np.fromiter([r.status in ("confirmed", "coasting") for r in reports], bool, n),
        "looked": np.fromiter([not labellers.isdisjoint(r.sensors) for r in reports], bool, n),
    }


def _join(parts: list[np.ndarray]) -> FloatArray:
    """Per-report arrays end to end, as floats: one ``np.concatenate`` (``np.array`` of a list of
    arrays walks each as a sequence, twice the cost for a step's ~130 reports)."""
    return np.concatenate(parts, dtype=float) if parts else np.zeros(0)


def _states(reports: list[TrackReport]) -> FloatArray:
    """(n, 4) east, north, v east, v north: the tracker's states as they are, a longer state cut to those."""
    n = len(reports)
    flat = _join([r.x for r in reports])
    if flat.size != 4 * n:
        flat = _join([r.x[:4] for r in reports])
    return flat.reshape(n, 4)


class PositionCache:
    def __init__(self, labellers: frozenset[str] = frozenset(),
                 kept: Callable[[int], dict[str, np.ndarray]] | None = None) -> None:
        self._labellers = labellers  # sensors that name classes: column "looked" is "one of them saw it"
        self._new_kept = kept  # the owner's columns for n new slots
        self._ids: list[str] = []  # per slot, sorted; dead slots keep their old id
        self._slot: dict[str, int] = {}  # live tracks only
        # x (s, 4): east, north (m), v east, v north (m/s) at the report time t (s,), UTC epoch s; then the
        # other columns of ``stack_reports``
        self._cols = stack_reports([], labellers) | (kept(0) if kept is not None else {})
        self._kept_names = tuple(kept(0)) if kept is not None else ()
        self._alive = np.zeros(0, dtype=bool)  # slot holds a live track (not the track status: column "alive")
        self._dead = 0

    def __len__(self) -> int:
        return len(self._slot)

    def put(self, reports: list[TrackReport], ids: list[str] | None = None) -> dict[str, np.ndarray]:
        """Insert or refresh these tracks' states (a track reported more than once: its last report).

        Returns the reports' ``stack_reports`` columns, a row per report as given (the caller's
        own arrays of them, stacked once). ``ids``: the reports' track ids, when the caller has them.
        """
        stacked = stack_reports(reports, self._labellers)
        last = dict(zip([r.track_id for r in reports] if ids is None else ids, range(len(reports))))  # one write per slot: numpy leaves repeats unordered
        old, slots, new = self._split(last)
        if old:
            whole = len(old) == len(reports)  # each report refreshes a slot of its own, in report order: no gather
            for name, col in stacked.items():
                self._cols[name][slots] = col if whole else col[old]
        if not new:
            return stacked
        start = len(self._ids)
        self._ids += [tid for tid, _ in new]
        end = len(self._ids)
        if end > self._alive.size:
            self._reserve(2 * end)
        rows = [k for _, k in new]
        for name, col in stacked.items():
            self._cols[name][start:end] = col[rows]
        self._alive[start:end] = True
        if start and self._ids[start - 1] > self._ids[start]:  # new ids usually sort last (serials rise)
            self._rebuild(sorted(np.flatnonzero(self._alive).tolist(), key=self._ids.__getitem__))
        else:
            self._slot.update((tid, start + k) for k, tid in enumerate(self._ids[start:]))
        return stacked

    def _split(self, last: dict[str, int]) -> tuple[list[int], IntArray, list[tuple[str, int]]]:
        """Of these reports (track id -> row): the rows of cached tracks with their slots, and the
        new tracks as (id, row) in id order; one dict lookup per report."""
        get = self._slot.get
        old: list[int] = []
        slots: list[int] = []
        new: list[tuple[str, int]] = []
        for tid, k in last.items():
            slot = get(tid)
            if slot is None:
                new.append((tid, k))
            else:
                old.append(k)
                slots.append(slot)
        new.sort()
        return old, np.array(slots, dtype=np.int64), new

    def _reserve(self, capacity: int) -> None:
        """Room for ``capacity`` slots: new tracks then take spare rows (kept columns already as for a
        track not seen yet) instead of a copy of every column per call that brings some."""
        extra = capacity - self._alive.size
        spare = self._new_kept(extra) if self._new_kept is not None else {}
        self._cols = {name: np.concatenate([col, spare[name] if name in spare else np.zeros((extra, *col.shape[1:]), col.dtype)])
                      for name, col in self._cols.items()}
        self._alive = np.concatenate([self._alive, np.zeros(extra, dtype=bool)])  # spare rows hold no track

    def drop(self, track_id: str) -> None:
        slot = self._slot.pop(track_id, None)
        if slot is None:
            return
        self._alive[slot] = False
        self._dead += 1
        if self._dead * 4 > len(self._ids):
            self._rebuild(np.flatnonzero(self._alive).tolist())

    def at(self, now: float) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
        """Per slot: positions (s, 2) m and velocities (s, 2) m/s at ``now`` (constant velocity), and alive."""
        n = len(self._ids)
        x = self._cols["x"][:n]
        dt = (now - self._cols["t"][:n])[:, None]
        return x[:, :2] + x[:, 2:] * dt, x[:, 2:], self._alive[:n]

    def columns(self, slots: IntArray, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """These slots' last reports (the ``stack_reports`` columns) and kept columns, row-aligned with ``slots``
        (only the ``names`` given: a call gathers what it reads)."""
        if names is None:
            return {name: col[slots] for name, col in self._cols.items()}
        return {name: self._cols[name][slots] for name in names}

    def kept(self) -> dict[str, np.ndarray]:
        """The owner's columns, per slot, to update in place (valid until the next ``put`` or ``drop``)."""
        return {name: self._cols[name] for name in self._kept_names}

    def ids(self, slots: IntArray) -> list[str]:
        return list(map(self._ids.__getitem__, slots.tolist()))

    def slots(self, ids: list[str]) -> IntArray:
        return np.fromiter(map(self._slot.__getitem__, ids), np.int64, len(ids))

    def live_slots(self) -> IntArray:
        return np.flatnonzero(self._alive[:len(self._ids)])

    def stale(self, now: float, limit_s: float) -> list[str]:
        """Tracks not reported for more than ``limit_s`` seconds."""
        n = len(self._ids)
        return self.ids(np.flatnonzero(self._alive[:n] & (now - self._cols["t"][:n] > limit_s)))

    def _rebuild(self, keep: list[int]) -> None:
        """Keep these slots, in this order."""
        self._ids = [self._ids[i] for i in keep]
        self._cols = {name: col[keep] for name, col in self._cols.items()}
        self._alive = np.ones(len(keep), dtype=bool)
        self._slot = {tid: i for i, tid in enumerate(self._ids)}
        self._dead = 0
