"""Severity and the wire-facing one-line summary of an alert.

Severity is a small additive score, so each rule is one line that can be read and
tested: a base per kind, one step up for a vehicle or a group of three or more, one
for a narcotics link, one for a restricted zone, one when an operator escalates,
one step down for a low-confidence track.
"""

from __future__ import annotations

import math

LEVELS: tuple[str, ...] = ("low", "medium", "high", "critical")

BASE: dict[str, int] = {
    "loitering": 0,
    "incursion": 1,
    "predicted_crossing": 1,
    "crossing": 2,
    "narcotics": 2,
    "sensor_offline": 1,
}


def severity(
    kind: str,
    cls: str = "person",
    count: int = 1,
    confidence: float = 1.0,
    *,
    narcotics: bool = False,
    restricted: bool = False,
    escalated: bool = False,
    low_confidence: float = 0.6,
) -> str:
    """The severity word for an alert with these facts (see module doc for the rules)."""
    score = BASE.get(kind, 1)
    score += int(cls == "vehicle" or count >= 3)
    score += int(narcotics) + int(restricted) + int(escalated)
    score -= int(confidence < low_confidence)
    if cls == "animal":
        score = min(score, 0)
    return LEVELS[max(0, min(len(LEVELS) - 1, score))]


def raise_one(level: str) -> str:
    return LEVELS[min(len(LEVELS) - 1, LEVELS.index(level) + 1)]


def duration_words(seconds: float) -> str:
    """About how long: "45 s", "2 min 20 s", "1 h 5 min" (10 s steps past a minute)."""
    s = max(0.0, float(seconds))
    if s < 60.0:
        return f"{int(round(s / 5.0) * 5)} s"
    if s < 3600.0:
        total = int(round(s / 10.0) * 10)
        m, r = divmod(total, 60)
        return f"{m} min" if r == 0 else f"{m} min {r} s"
    total_min = int(round(s / 60.0))
    h, m = divmod(total_min, 60)
    return f"{h} h" if m == 0 else f"{h} h {m} min"


_PLURAL = {"person": "people", "vehicle": "vehicles", "animal": "animals", "unknown": "unknown objects"}
_SINGULAR = {"unknown": "unknown object"}


def who(cls: str, count: int) -> str:
    """"1 person", "3 people", "2 vehicles", "1 unknown object"."""
    word = _SINGULAR.get(cls, cls) if count == 1 else _PLURAL.get(cls, cls + "s")
    return f"{count} {word}"


_COMPASS = ("north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west")


def heading_word(v_east: float, v_north: float) -> str:
    """Eight-point compass word for a velocity ("south", "north-east")."""
    bearing = math.degrees(math.atan2(v_east, v_north)) % 360.0
    return _COMPASS[int((bearing + 22.5) // 45.0) % 8]


def direction_word(direction: str | None) -> str:
    """"southbound" -> "south"."""
    return (direction or "").removesuffix("bound")
