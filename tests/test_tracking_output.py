"""The output decision: a confirmed track is shown through two radar misses, not after a third."""

from __future__ import annotations

import numpy as np
from test_tracker_support import T0, make_site, position_scan

from fusion.tracking import SectorTracker, TrackerConfig
from fusion.tracking.management import reportable
from fusion.types import TrackStatus


def test_shown_through_two_misses_hidden_after_three() -> None:
    cfg = TrackerConfig()
    trk = SectorTracker("main", make_site(clutter=1e-7), cfg)
    p = np.array([1000.0, 1500.0])
    shown = []
    for k in range(10):
        z = p[None] if k < 6 else np.zeros((0, 2))
        reps = [r for r in trk.step(position_scan(T0 + k, z, 10.0, k)) if r.status != TrackStatus.DELETED]
        assert len(reps) == 1
        if k == 0:
            assert reps[0].status == TrackStatus.TENTATIVE and not reportable(reps[0], cfg)
        shown.append(reportable(reps[0], cfg))
    # scan 0: one detection, tentative; 1-5 hits; 6, 7 misses shown; 8 (third miss) hidden
    assert shown == [False, True, True, True, True, True, True, True, False, False]


def test_threshold_follows_report_existence() -> None:
    cfg = TrackerConfig(report_existence=0.95)
    trk = SectorTracker("main", make_site(clutter=1e-7), cfg)
    p = np.array([1000.0, 1500.0])
    shown = []
    for k in range(8):
        z = p[None] if k < 6 else np.zeros((0, 2))
        reps = [r for r in trk.step(position_scan(T0 + k, z, 10.0, k)) if r.status != TrackStatus.DELETED]
        shown.append(reportable(reps[0], cfg))
    assert shown == [False, True, True, True, True, True, True, False]
