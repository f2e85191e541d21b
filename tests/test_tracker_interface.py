"""SectorTracker's contract with the pipeline: reports, statuses, IDs, advance, snapshot."""

from __future__ import annotations

import json
import re

import numpy as np
from test_tracker_support import T0, make_site, polar_scan, position_scan

from fusion.tracking import SectorTracker, TrackerConfig
from fusion.types import CLASSES, SensorType, TrackStatus


def _walk(trk: SectorTracker, site, rng, steps: int, start: int = 0, pd: float = 1.0) -> list:
    out = []
    for k in range(start, start + steps):
        truth = np.array([[1000.0 + 1.4 * 2 * k, 2000.0], [-2500.0, 800.0 - 12.0 * 2 * k]])
        out.append(trk.step(polar_scan(site, T0 + 2.0 * k, truth, rng, k, pd=pd, n_clutter=3)))
    return out


def test_two_targets_confirmed_with_stable_ids_and_classes() -> None:
    site = make_site()
    trk = SectorTracker("west", site)
    steps = _walk(trk, site, np.random.default_rng(2), 30)
    last = [r for r in steps[-1] if r.status == TrackStatus.CONFIRMED]
    assert len(last) == 2
    assert all(re.fullmatch(r"T-west-\d{6}", r.track_id) for r in last)
    by_east = sorted(last, key=lambda r: r.x[0])
    vehicle, walker = by_east
    assert np.hypot(*(walker.x[:2] - [1000 + 2.8 * 29, 2000])) < 30
    assert np.hypot(*(vehicle.x[2:] - [0, -12])) < 2.0
    assert walker.class_name == "person" and vehicle.class_name == "vehicle"
    assert walker.sensors == ("tower-1",) and walker.model_probs is not None
    # every live track is reported after every step, each exactly once
    for reps in steps:
        ids = [r.track_id for r in reps if r.status != TrackStatus.DELETED]
        assert len(ids) == len(set(ids))
    live = sorted(r.track_id for r in steps[-1] if r.status != TrackStatus.DELETED)
    assert live == sorted(r.track_id for r in trk.reports())
    # the two tracks kept their IDs over the last 20 scans
    first = {r.track_id for r in steps[10] if r.status == TrackStatus.CONFIRMED}
    assert {r.track_id for r in last} <= first


def test_advance_coasts_then_deletes_once_and_ids_are_not_reused() -> None:
    site = make_site()
    cfg = TrackerConfig(coast_after_s=3.0, max_coast_s=20.0)
    trk = SectorTracker("main", site, cfg)
    for k in range(6):
        trk.step(position_scan(T0 + k, [[100.0 + k, 50.0]], 5.0, k, sensor="drone-1", stype=SensorType.DRONE,
                               class_probs=np.array([[0.1, 0.7, 0.1, 0.1]]), count=np.array([3])))
    (rep,) = trk.reports()
    assert rep.status == TrackStatus.CONFIRMED and rep.count == 3 and rep.sensors == ("drone-1",)
    assert rep.class_probs.shape == (len(CLASSES),)
    assert trk.advance(T0 + 6.0) == []  # nothing changed
    coast = trk.advance(T0 + 10.0)
    assert [r.status for r in coast] == [TrackStatus.COASTING] and coast[0].time == T0 + 10.0
    assert trk.advance(T0 + 11.0) == []  # reported once
    gone = trk.advance(T0 + 30.0)
    assert [(r.track_id, r.status) for r in gone] == [(rep.track_id, TrackStatus.DELETED)]
    assert trk.reports() == [] and trk.advance(T0 + 40.0) == []
    reps = trk.step(position_scan(T0 + 41, [[100.0, 50.0]], 5.0, 7, sensor="drone-1", stype=SensorType.DRONE))
    assert reps[0].track_id != rep.track_id


def test_radar_misses_end_a_track_and_deleted_is_reported_once() -> None:
    site = make_site()
    trk = SectorTracker("main", site)
    rng = np.random.default_rng(5)
    for k in range(8):
        trk.step(polar_scan(site, T0 + 2 * k, np.array([[500.0, 500.0]]), rng, k))
    (tid,) = [r.track_id for r in trk.reports()]
    deleted = []
    for k in range(8, 20):
        reps = trk.step(polar_scan(site, T0 + 2 * k, np.zeros((0, 2)), rng, k))
        deleted += [r for r in reps if r.status == TrackStatus.DELETED]
    assert [r.track_id for r in deleted] == [tid]
    assert trk.reports() == []


def test_snapshot_is_json_and_restore_continues_identically() -> None:
    site = make_site()
    rng_a = np.random.default_rng(9)
    a = SectorTracker("main", site)
    _walk(a, site, rng_a, 15, pd=0.9)
    snap = json.loads(json.dumps(a.snapshot()))
    b = SectorTracker.restore("main", site, TrackerConfig(), snap)
    # both continue on the same scans
    scans_rng = np.random.default_rng(11)
    for k in range(15, 25):
        truth = np.array([[1000.0 + 2.8 * k, 2000.0]])
        s = polar_scan(site, T0 + 2.0 * k, truth, scans_rng, k, n_clutter=2)
        ra, rb = a.step(s), b.step(s)
        assert [(r.track_id, r.status) for r in ra] == [(r.track_id, r.status) for r in rb]
        for x, y in zip(ra, rb):
            np.testing.assert_allclose(x.x, y.x, rtol=1e-12, atol=1e-9)
    assert a.snapshot()["next_id"] == b.snapshot()["next_id"]
