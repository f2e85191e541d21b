"""Duplicate merge: a track that absorbs several duplicates in one step keeps what each brought."""

from __future__ import annotations

import numpy as np

from fusion.tracking import SectorTracker, TrackerConfig
from fusion.types import SensorType
from test_tracker_support import T0, make_site, position_scan


def test_a_track_absorbing_two_duplicates_at_once_keeps_the_largest_head_count() -> None:
    """Three tracks born on one group (head counts 1, 4, 2); the oldest takes every later detection,
    the other two ripen as its duplicates in the same step and merge into it together."""
    trk = SectorTracker("s", make_site(), TrackerConfig())
    born = np.array([[1000.0, 500.0], [1001.5, 500.0], [1000.0, 501.5]])
    trk.step(position_scan(T0, born, 3.0, 0, "drone-1", SensorType.DRONE, count=np.array([1, 4, 2])))
    for k in range(1, TrackerConfig().merge_steps + 1):
        trk.step(position_scan(T0 + k, born[:1], 3.0, k, "drone-1", SensorType.DRONE, count=np.array([1])))
    (survivor,) = trk.reports()
    assert trk.counters["merged"] == 2 and survivor.track_id == "T-s-000001"
    assert survivor.count == 4  # the largest of what it absorbed, not the last one merged (2)
