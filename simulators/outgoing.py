"""What a simulated sender produces before faults and ordering: one message with its times."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Outgoing:
    """A message as sent: when it was observed, when the service receives it, and its content."""

    recv_time: float  # epoch seconds, rounded to the millisecond
    obs_time: float  # epoch seconds: the observation (payload ``time``)
    topic: str
    payload: dict
    sender: str  # sensor or team id (faults select by it)


def recv_times(obs: np.ndarray, latency_s: float, rng: np.random.Generator) -> np.ndarray:
    """Receipt times: observation + latency, each with up to 20 % extra, at millisecond resolution."""
    obs = np.asarray(obs, dtype=float)
    return np.round(obs + latency_s * (1.0 + 0.2 * rng.random(obs.shape)), 3)


def in_windows(times: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    """Whether each time (s after start) falls in any [start, end) window."""
    times = np.asarray(times, dtype=float)
    mask = np.zeros(times.shape, dtype=bool)
    for a, b in windows:
        mask |= (times >= a) & (times < b)
    return mask
