"""What alerting remembers about each track between updates: side, dwell, recent path.

Side of the border with hysteresis (a Schmitt trigger): a sample counts for a side
only when the track is beyond ``margin = max(margin_m, k * sigma_d)`` from the line,
and the remembered side flips after ``confirm`` consecutive such samples on the
other side. A track wandering within the margin never flips, so it never flaps; the
cost is the time to get ``margin`` past the line (about 10 s for a walker with a
10 m cross-line sigma) plus ``confirm - 1`` updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TrackMemory:
    side: int = 0  # +1 protected, -1 unprotected, 0 not yet known
    pending: int = 0  # consecutive samples on the other side
    crossed_at: float | None = None  # time of the last flip into the protected side
    crossed_xy: tuple[float, float] | None = None
    crossing_event: str | None = None  # "into" | "out" when the side flipped in the latest batch
    near_since: float | None = None  # start of the current dwell near the line
    path: list[tuple[float, float, float]] = field(default_factory=list)  # (t, east, north) recent updates

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

    def observe_dwell(self, t: float, abs_d: float, near_m: float, exit_m: float) -> None:
        if abs_d <= near_m:
            if self.near_since is None:
                self.near_since = t
        elif abs_d > near_m + exit_m:
            self.near_since = None

    def observe_path(self, t: float, xy: np.ndarray, window_s: float) -> None:
        self.path.append((float(t), float(xy[0]), float(xy[1])))
        while self.path and self.path[0][0] < t - window_s:
            self.path.pop(0)

    def straightness(self, min_span_s: float) -> float | None:
        """Net displacement over path length of the recent path (1 = straight); None if too short."""
        if len(self.path) < 3 or self.path[-1][0] - self.path[0][0] < min_span_s:
            return None
        p = np.asarray(self.path)[:, 1:]
        length = float(np.sum(np.linalg.norm(np.diff(p, axis=0), axis=1)))
        if length < 1e-6:
            return 0.0
        return float(np.linalg.norm(p[-1] - p[0])) / length

    def net_speed(self, min_span_s: float) -> float | None:
        """Net displacement over the recent path divided by its duration, m/s; None if too short."""
        if len(self.path) < 2 or self.path[-1][0] - self.path[0][0] < min_span_s:
            return None
        (t0, e0, n0), (t1, e1, n1) = self.path[0], self.path[-1]
        return float(np.hypot(e1 - e0, n1 - n0)) / (t1 - t0)

    def to_dict(self) -> dict[str, object]:
        return {
            "side": self.side, "pending": self.pending, "crossed_at": self.crossed_at,
            "crossed_xy": None if self.crossed_xy is None else list(self.crossed_xy),
            "near_since": self.near_since, "path": [list(p) for p in self.path],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "TrackMemory":
        return cls(
            side=d["side"], pending=d["pending"], crossed_at=d["crossed_at"],
            crossed_xy=None if d["crossed_xy"] is None else tuple(d["crossed_xy"]),
            near_since=d["near_since"], path=[tuple(p) for p in d["path"]],
        )
