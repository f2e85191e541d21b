"""Clocks for the edge of the system (the core never reads one).

``WarpClock`` runs ``speed`` times faster than the wall clock from a start instant,
so a simulated incident can be played through the live service in less time while
every component (simulator, service, recorder) agrees on what "now" is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WarpClock:
    speed: float = 1.0
    start: float = field(default_factory=time.time)  # epoch s at which warped and wall time agree

    def now(self) -> float:
        """Warped epoch seconds."""
        return self.start + self.speed * (time.time() - self.start)

    def wall_delay(self, warped_t: float) -> float:
        """Wall seconds to wait until warped time ``warped_t`` (<= 0 if already past)."""
        return (warped_t - self.now()) / self.speed
