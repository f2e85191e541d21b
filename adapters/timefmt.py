"""Wire time format: ISO 8601 UTC with a Z, millisecond precision (CONTRACT.md "Conventions")."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache


def to_iso(t: float) -> str:
    """Epoch seconds -> ``2026-11-25T14:00:00.250Z`` (rounded to the millisecond)."""
    return _iso_ms(round(t * 1000.0))


@lru_cache(maxsize=4096)
def _iso_ms(ms: int) -> str:
    """Cached: the tracks of one tracker step share a time, and formatting costs ~5 us a call."""
    dt = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def from_iso(s: str) -> float:
    """ISO 8601 with an explicit UTC offset (``Z`` or ``+00:00`` ...) -> epoch seconds.

    A time without an offset is ambiguous and refused with ValueError.
    """
    dt = datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith(("Z", "z")) else s)
    if dt.tzinfo is None:
        raise ValueError(f"time {s!r} has no UTC offset (expected e.g. 2026-11-25T14:00:00.000Z)")
    return dt.timestamp()
