"""What alerting remembers about each track between updates: side, dwell, recent path.

Side of the border with hysteresis (a Schmitt trigger): a sample counts for a side
only when the track is beyond ``margin = max(margin_m, k * sigma_d)`` from the line,
and the remembered side flips after ``confirm`` (default 2) consecutive such samples
on the other side: the direction comes from the side history, never from one noisy
sample. A track wandering within the margin never flips, so it never flaps; the
cost is the time to get ``margin`` past the line (about 7 s for a walker with a
10 m cross-line sigma) plus ``confirm - 1`` updates (2 s with a radar).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


#: Spacing (s) of the kept path: coarse enough to smooth radar noise and stay cheap.
PATH_STEP_S = 5.0


@dataclass
class TrackMemory:
    side: int = 0  # +1 protected, -1 unprotected, 0 not yet known
    pending: int = 0  # consecutive samples on the other side
    crossed_at: float | None = None  # time of the last flip into the protected side
    crossed_xy: tuple[float, float] | None = None
    crossing_event: str | None = None  # "into" | "out" when the side flipped in the latest batch
    near_since: float | None = None  # start of the current dwell near the line
    path: list[tuple[float, float, float]] = field(default_factory=list)  # (t, east, north) recent updates
    via_port: bool = False  # seen inside a port of entry: legal traffic, never a crossing threat
    farthest_m: float = 0.0  # farthest the track has been from the line (m): did it walk up to it?
    deepest_out_m: float = float("inf")  # lowest signed distance seen (m, most on the unprotected side)
    loitered: bool = False  # dwelt confined near the line (a person waiting, not an animal passing): a threat from then on
    moving: tuple[float, float] | None = None  # (straightness, net speed) of the recent path, see motion()
    spread_m: float = float("inf")  # spread of the dwell window, see spread()

    def observe_side(self, d: float, margin: float, confirm: int) -> str | None:
        """Feed one signed distance; return "into"/"out" when the side flips, else None."""
        sample = 1 if d > margin else (-1 if d < -margin else 0)
        if sample == 0:
            return None
        if self.side == 0:
            self.side = sample
            return None
        if sample == self.side:
            self.pending = 0
            return None
        self.pending += 1
        if self.pending < confirm:
            return None
        self.side, self.pending = sample, 0
        return "into" if sample > 0 else "out"

    def observe_dwell(self, t: float, d: float, near_m: float, exit_m: float) -> None:
        abs_d = abs(d)
        self.farthest_m = max(self.farthest_m, abs_d)
        self.deepest_out_m = min(self.deepest_out_m, d)
        if abs_d <= near_m:
            if self.near_since is None:
                self.near_since = t
        elif abs_d > near_m + exit_m:
            self.near_since = None

    def extend_path(self, t: float, xy: Sequence[float], keep_s: float, step_s: float = PATH_STEP_S) -> bool:
        """Keep a point every ``step_s`` seconds for ``keep_s`` (a smoothed, cheap history).

        Returns True when a point was kept: the motion figures are then stale and
        ``refresh_motion`` recomputes them (so they cost once per kept point, not per call).
        """
        if self.path and t - self.path[-1][0] < step_s:
            return False
        self.path.append((float(t), float(xy[0]), float(xy[1])))
        while self.path and self.path[0][0] < t - keep_s:
            self.path.pop(0)
        return True

    def recent(self, window_s: float) -> np.ndarray:
        """Path points (k, 3: t, east, north) of the last ``window_s`` seconds."""
        if not self.path:
            return np.zeros((0, 3))
        p = np.array(self.path)
        return p[p[:, 0] >= p[-1, 0] - window_s]

    def motion(self, window_s: float, min_span_s: float) -> tuple[float, float] | None:
        """(straightness, net speed m/s) of the recent path; None with less than ``min_span_s`` of it.

        Straightness is net displacement over path length (1 = straight line); net
        speed is net displacement over elapsed time. Both come from the filtered
        positions sampled every ``PATH_STEP_S``, smooth enough to tell a purposeful
        walk from milling about. The reference definition: ``refresh_motion`` computes
        the same, batched over tracks.
        """
        p = self.recent(window_s)
        if len(p) < 3 or p[-1, 0] - p[0, 0] < min_span_s:
            return None
        net = float(np.hypot(*(p[-1, 1:] - p[0, 1:])))
        length = float(np.sum(np.linalg.norm(np.diff(p[:, 1:], axis=0), axis=1)))
        return (net / length if length > 1e-6 else 0.0), net / float(p[-1, 0] - p[0, 0])

    def spread(self, window_s: float) -> float:
        """Largest distance (m) of the last ``window_s`` of path from its centroid (reference for ``refresh_motion``)."""
        p = self.recent(window_s)[:, 1:]
        if len(p) == 0:
            return float("inf")
        return float(np.max(np.linalg.norm(p - p.mean(axis=0), axis=1)))

    def to_dict(self) -> dict[str, object]:
        return {
            "side": self.side, "pending": self.pending, "crossed_at": self.crossed_at,
            "crossed_xy": None if self.crossed_xy is None else list(self.crossed_xy),
            "near_since": self.near_since, "path": [list(p) for p in self.path], "via_port": self.via_port, "loitered": self.loitered, "farthest_m": self.farthest_m,
            "deepest_out_m": None if np.isinf(self.deepest_out_m) else self.deepest_out_m,
            "moving": None if self.moving is None else list(self.moving),
            "spread_m": None if not np.isfinite(self.spread_m) else self.spread_m,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "TrackMemory":
        return cls(
            side=d["side"], pending=d["pending"], crossed_at=d["crossed_at"],
            crossed_xy=None if d["crossed_xy"] is None else tuple(d["crossed_xy"]),
            near_since=d["near_since"], path=[tuple(p) for p in d["path"]], via_port=d["via_port"], loitered=d["loitered"], farthest_m=d["farthest_m"],
            deepest_out_m=float("inf") if d["deepest_out_m"] is None else d["deepest_out_m"],
            moving=None if d["moving"] is None else tuple(d["moving"]),
            spread_m=float("inf") if d["spread_m"] is None else d["spread_m"],
        )


def refresh_motion(memories: list[TrackMemory], motion_window_s: float, min_span_s: float, spread_window_s: float) -> None:
    """Recompute ``moving`` and ``spread_m`` of memories whose path just grew.

    Same arithmetic as ``motion``/``spread`` track by track (bit for bit), but tracks
    whose windows hold the same number of points share one stacked numpy pass: a
    thousand small arrays cost far more in call overhead than in arithmetic.
    """
    by_motion: dict[int, list[tuple[TrackMemory, list[tuple[float, float, float]]]]] = defaultdict(list)
    by_spread: dict[int, list[tuple[TrackMemory, list[tuple[float, float, float]]]]] = defaultdict(list)
    for m in memories:
        times = [q[0] for q in m.path]  # increasing: a point is kept at most every step
        last = times[-1]
        rows = m.path[bisect_left(times, last - motion_window_s):]
        if len(rows) < 3 or rows[-1][0] - rows[0][0] < min_span_s:
            m.moving = None
        else:
            by_motion[len(rows)].append((m, rows))
        rows = m.path[bisect_left(times, last - spread_window_s):]
        by_spread[len(rows)].append((m, rows))
    for batch in by_motion.values():
        p = np.array([rows for _, rows in batch])  # (g, k, 3)
        net = np.hypot(*(p[:, -1, 1:] - p[:, 0, 1:]).T)
        step = np.diff(p[:, :, 1:], axis=1)
        length = np.sum(np.sqrt(np.add.reduce(step * step, axis=2)), axis=1)  # np.linalg.norm's own arithmetic
        span = p[:, -1, 0] - p[:, 0, 0]
        for (m, _), n_i, l_i, s_i in zip(batch, net.tolist(), length.tolist(), span.tolist()):
            m.moving = (n_i / l_i if l_i > 1e-6 else 0.0), n_i / s_i
    for batch in by_spread.values():
        xy = np.array([rows for _, rows in batch])[:, :, 1:]  # (g, k, 2)
        off = xy - xy.mean(axis=1)[:, None, :]
        spread = np.max(np.sqrt(np.add.reduce(off * off, axis=2)), axis=1)
        for (m, _), s_i in zip(batch, spread.tolist()):
            m.spread_m = s_i
