"""Every live track's last reported state as arrays, kept current one report at a time.

The alerting engine groups tracks over *all* live tracks on every call (groups are
connected components, so a group can only be found whole from all positions), but
only a few tracks are reported per tracker step. Stacking a report list per call
costs per-track Python work; this cache costs that only for the reported tracks and
hands out positions at any time as array arithmetic.

Rows are kept in track-id order (the order the engine has always evaluated tracks in,
which fixes group numbering and so alert numbering); deletions are applied lazily, in
one compaction before the next read.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fusion.types import TrackReport

FloatArray = NDArray[np.float64]


class PositionCache:
    def __init__(self) -> None:
        self.ids: list[str] = []  # sorted
        self._row: dict[str, int] = {}
        self._x = np.zeros((0, 4))  # (n, 4) east, north (m), v east, v north (m/s) at the report time
        self._t = np.zeros(0)  # (n,) report time, UTC epoch s
        self._dropped: list[int] = []

    def put(self, reports: list[TrackReport]) -> None:
        """Insert or refresh these tracks' states."""
        self._compact()
        old = [(self._row[r.track_id], r) for r in reports if r.track_id in self._row]
        if old:
            rows = np.fromiter((i for i, _ in old), np.int64, len(old))
            self._x[rows] = np.array([r.x[:4] for _, r in old], dtype=float)
            self._t[rows] = [r.time for _, r in old]
        new = sorted({r.track_id: r for r in reports if r.track_id not in self._row}.values(), key=lambda r: r.track_id)
        if not new:
            return
        ids = self.ids + [r.track_id for r in new]
        x = np.concatenate([self._x, np.array([r.x[:4] for r in new], dtype=float)])
        t = np.concatenate([self._t, np.array([r.time for r in new], dtype=float)])
        if self.ids and self.ids[-1] > new[0].track_id:  # new ids usually sort last (serials rise)
            order = sorted(range(len(ids)), key=ids.__getitem__)
            ids, x, t = [ids[i] for i in order], x[order], t[order]
        self._set(ids, x, t)

    def drop(self, track_id: str) -> None:
        row = self._row.pop(track_id, None)
        if row is not None:
            self._dropped.append(row)

    def at(self, now: float) -> tuple[list[str], FloatArray, FloatArray]:
        """(ids, positions (n, 2) m, velocities (n, 2) m/s) at ``now``, constant velocity."""
        self._compact()
        dt = (now - self._t)[:, None]
        return self.ids, self._x[:, :2] + self._x[:, 2:] * dt, self._x[:, 2:]

    def rows(self, ids: list[str]) -> NDArray[np.int64]:
        self._compact()
        return np.fromiter((self._row[i] for i in ids), np.int64, len(ids))

    def stale(self, now: float, limit_s: float) -> list[str]:
        """Tracks not reported for more than ``limit_s`` seconds."""
        self._compact()
        return [self.ids[i] for i in np.flatnonzero(now - self._t > limit_s).tolist()]

    def _set(self, ids: list[str], x: FloatArray, t: FloatArray) -> None:
        self.ids, self._x, self._t = ids, x, t
        self._row = {tid: i for i, tid in enumerate(ids)}

    def _compact(self) -> None:
        if not self._dropped:
            return
        keep = np.ones(len(self.ids), bool)
        keep[self._dropped] = False
        self._dropped = []
        rows = np.flatnonzero(keep)
        self._set([self.ids[i] for i in rows.tolist()], self._x[rows], self._t[rows])
