"""Replay mode: play a ``borderwatch replay`` output directory through the console's picture.

The run's ``tracks.jsonl``, ``alerts.jsonl`` and ``dispatch.jsonl`` (lines
``{"topic", "payload"}``, CONTRACT.md "Offline replay") are merged into one
timeline by each payload's ``time``; the player moves a replay clock forward at
a chosen speed and folds in every message up to it. Seeking backwards rebuilds
the picture from the start (a few hundred thousand messages a second), which is
simpler and exactly right, unlike undoing messages.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from pathlib import Path

from adapters.timefmt import from_iso
from borderwatch.console.picture import Picture

#: Files of a run, in the order messages with equal times are applied (a track before its alert).
RUN_FILES = ("tracks.jsonl", "alerts.jsonl", "dispatch.jsonl")
SPEEDS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class TimedMessage:
    t: float  # epoch seconds
    topic: str
    payload: dict | None


class ReplayError(ValueError):
    """The run directory is not a replay output the console can play."""


def load_run(run_dir: Path) -> list[TimedMessage]:
    """Every message of a run, ordered by time (stable: file order, then line order).

    A line without a usable ``time`` (a cleared retained state, say) takes the time
    of the line before it in the same file.
    """
    run_dir = Path(run_dir)
    present = [run_dir / name for name in RUN_FILES if (run_dir / name).is_file()]
    if not present:
        raise ReplayError(f"{run_dir}: none of {', '.join(RUN_FILES)} found (is it a `borderwatch replay --out` directory?)")
    out: list[TimedMessage] = []
    for path in present:
        last_t: float | None = None
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    topic = obj["topic"]
                except (ValueError, KeyError, TypeError) as exc:
                    raise ReplayError(f"{path}:{n}: not a {{\"topic\", \"payload\"}} line ({exc})") from exc
                payload = obj.get("payload")
                payload = payload if isinstance(payload, dict) and payload else None
                t = last_t
                if payload is not None and isinstance(payload.get("time"), str):
                    try:
                        t = from_iso(payload["time"])
                    except ValueError:
                        pass
                if t is None:
                    continue  # nothing to place it by before the first timed line
                last_t = t
                out.append(TimedMessage(t, str(topic), payload))
    out.sort(key=lambda m: m.t)
    if not out:
        raise ReplayError(f"{run_dir}: no timed messages")
    return out


class ReplayPlayer:
    """A replay clock over a timeline, driving a ``Picture``."""

    def __init__(self, messages: list[TimedMessage], picture: Picture) -> None:
        self.messages = messages
        self.times = [m.t for m in messages]
        self.picture = picture
        self.t0, self.t1 = messages[0].t, messages[-1].t
        self.t = self.t0
        self.speed = 1.0
        self.playing = False
        self._next = 0
        self._apply_until(self.t0)

    def _apply_until(self, t: float) -> None:
        end = bisect.bisect_right(self.times, t)
        for m in self.messages[self._next : end]:
            self.picture.apply(m.topic, m.payload, m.t)
        self._next = max(self._next, end)
        self.picture.prune(t)

    def advance(self, wall_dt_s: float) -> None:
        """Move the clock by ``wall_dt_s`` real seconds times the speed, if playing."""
        if not self.playing:
            return
        self.t = min(self.t1, self.t + wall_dt_s * self.speed)
        self._apply_until(self.t)
        if self.t >= self.t1:
            self.playing = False

    def seek(self, t: float) -> None:
        """Jump to ``t`` (clamped to the run); the picture is exactly what it was then."""
        t = min(max(t, self.t0), self.t1)
        if t < self.t:
            self.picture.reset()
            self._next = 0
        self.t = t
        self._apply_until(t)

    def set_speed(self, speed: float) -> None:
        if not 0.0 < speed <= 1000.0:
            raise ValueError("speed must be in (0, 1000]")
        self.speed = speed

    def clock(self) -> dict:
        return {"t": self.t, "rate": self.speed if self.playing else 0.0}

    def info(self) -> dict:
        return {"t0": self.t0, "t1": self.t1, "t": self.t, "speed": self.speed, "playing": self.playing,
                "messages": len(self.messages), "speeds": list(SPEEDS)}
