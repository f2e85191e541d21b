"""Out-of-sequence K-9 reports: a late report gives the result of the in-order run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_tracker_support import T0, make_site, polar_scan, position_scan

from fusion.tracking import SectorTracker, TrackerConfig
from fusion.types import Scan, SensorType, TrackStatus


def _scenario(seed: int) -> tuple[list[Scan], list[Scan]]:
    """Radar scans of two walkers (one out of radar range) and K-9 reports on the far one."""
    site = make_site(max_range_m=4000.0)
    rng = np.random.default_rng(seed)
    scans, k9 = [], []
    for k in range(120):
        t = 2.0 * k
        truth = np.array([[1000.0 + 1.2 * t, 1500.0], [6000.0 - 0.8 * t, -300.0 + 0.6 * t]])
        scans.append(polar_scan(site, T0 + t, truth[:1], rng, k, pd=0.9, n_clutter=4))
        if k % 10 == 5:  # a drone passes over the far walker now and then
            z = truth[1:] + rng.normal(0, 12.0, (1, 2))
            scans.append(position_scan(T0 + t, z, 12.0, 1000 + k, sensor="drone-1", stype=SensorType.DRONE,
                                       class_probs=np.array([[0.7, 0.1, 0.1, 0.1]]), count=np.array([2])))
        if k in (20, 47, 80):  # the handler sees fresh sign; it is radioed in 30 to 300 s later
            z = truth[1:] + rng.normal(0, 60.0, (1, 2))
            k9.append(position_scan(T0 + t, z, 60.0, 5000 + k, sensor="k9-1", stype=SensorType.K9,
                                    count=np.array([3])))
    return scans, k9


def _late(report: Scan, delay: float) -> Scan:
    """The same K-9 report as it arrives: message time ``delay`` after the observation."""
    from dataclasses import replace
    return replace(report, time=report.time + delay)


def _feed(trk: SectorTracker, msgs: list[Scan]) -> list:
    out = []
    for s in msgs:
        out.append(trk.step(s))
    return out


@pytest.mark.parametrize("association", ["gnn", "jpda"])
def test_late_k9_reports_match_in_order_run(association: str) -> None:
    site = make_site(max_range_m=4000.0)
    cfg = TrackerConfig(association=association)
    scans, k9 = _scenario(3)
    in_order = sorted(scans + k9, key=lambda s: s.time)
    a = SectorTracker("main", site, cfg)
    _feed(a, in_order)
    # late: each report arrives 30, 120 and 300 s after it was observed
    delays = [30.0, 120.0, 300.0]
    late = [_late(r, d) for r, d in zip(k9, delays)]
    arrivals = sorted(scans + late, key=lambda s: s.time)
    b = SectorTracker("main", site, cfg)
    last = arrivals.index(late[-1])
    steps_b = _feed(b, arrivals[:last])
    before_last = {r.track_id: r for r in b.reports() if r.status != TrackStatus.TENTATIVE}
    steps_b += _feed(b, arrivals[last:])
    assert b.counters["oosm_rerun"] == 3 and b.counters["oosm_dropped"] == 0
    # same tracks, same states (IDs of short-lived clutter tracks may be numbered differently:
    # an ID once reported deleted is never given again)
    key = lambda r: (round(r.x[0], 3), round(r.x[1], 3))  # noqa: E731
    ra, rb = sorted(a.reports(), key=key), sorted(b.reports(), key=key)
    assert len(ra) == len(rb)
    for x, y in zip(ra, rb):
        np.testing.assert_allclose(x.x, y.x, atol=1e-6)
        np.testing.assert_allclose(x.P, y.P, atol=1e-6)
        assert x.sensors == y.sensors and x.count == y.count and x.status == y.status
    # confirmed tracks keep their IDs through the re-run
    after = {r.track_id: r for r in rb}
    moved = [i for i, r in before_last.items() if i in after and np.hypot(*(after[i].x[:2] - r.x[:2])) > 50]
    assert not moved and sum(i in after for i in before_last) >= 2, (list(before_last), sorted(after))
    # the far walker's track carries the K-9 (and drone) contributions
    far = [r for r in rb if r.x[0] > 3000 and r.status != TrackStatus.TENTATIVE]
    assert far and {"k9-1", "drone-1"} <= set(far[0].sensors) and far[0].count == 2  # the latest (drone) count
    # a DELETED is never followed by the same ID coming back
    deleted_b = {r.track_id for reps in steps_b for r in reps if r.status == TrackStatus.DELETED}
    assert not deleted_b & set(after)


def test_oosm_history_survives_snapshot_and_old_reports_are_dropped() -> None:
    site = make_site(max_range_m=4000.0)
    scans, k9 = _scenario(4)
    in_order = sorted(scans + k9, key=lambda s: s.time)
    a = SectorTracker("main", site)
    _feed(a, in_order)
    arrivals = sorted(scans + [_late(k9[1], 200.0)] + [k9[0], k9[2]], key=lambda s: s.time)
    cut = next(i for i, s in enumerate(arrivals) if s.sensor_id == "k9-1" and s.time > s.det_time[0])
    b = SectorTracker("main", site)
    _feed(b, arrivals[:cut])
    b = SectorTracker.restore("main", site, TrackerConfig(), json.loads(json.dumps(b.snapshot())))
    _feed(b, arrivals[cut:])
    key = lambda r: (round(r.x[0], 3), round(r.x[1], 3))  # noqa: E731
    ra, rb = sorted(a.reports(), key=key), sorted(b.reports(), key=key)
    assert len(ra) == len(rb) > 0
    for x, y in zip(ra, rb):
        np.testing.assert_allclose(x.x, y.x, atol=1e-6)
    # beyond the window: counted and ignored, nothing changes
    c = SectorTracker("main", site, TrackerConfig(oosm_window_s=60.0))
    _feed(c, scans)
    before = [(r.track_id, r.x.copy()) for r in c.reports()]
    c.step(_late(k9[0], 240.0 - 40.0 + 300.0))
    assert c.counters["oosm_dropped"] == 1
    assert [(r.track_id, r.x.tolist()) for r in c.reports()] == [(i, x.tolist()) for i, x in before]


def test_k9_report_older_than_all_history_and_k9_only_tracks() -> None:
    """History reaches back to the tracker's start; K-9-only tracks wait minutes for the next report."""
    site = make_site(max_range_m=4000.0)
    trk = SectorTracker("main", site)
    far = np.array([[9000.0, 0.0]])  # outside radar range: only the K-9 team sees it
    rng = np.random.default_rng(1)
    for k in range(10):
        trk.step(polar_scan(site, T0 + 2.0 * k, np.zeros((0, 2)), rng, k, n_clutter=1))
    late = position_scan(T0 + 60.0, far, 80.0, 1, sensor="k9-1", stype=SensorType.K9,
                         det_time=np.array([T0 - 30.0]), count=np.array([4]))
    trk.step(late)
    assert trk.counters["oosm_rerun"] == 1 and trk.counters["oosm_dropped"] == 0
    (tent,) = [r for r in trk.reports() if r.sensors == ("k9-1",)]
    assert tent.status == TrackStatus.TENTATIVE and tent.count == 4
    trk.step(position_scan(T0 + 90.0, far + [[0.0, -40.0]], 80.0, 2, sensor="k9-1", stype=SensorType.K9))
    (conf,) = [r for r in trk.reports() if r.sensors == ("k9-1",)]
    assert conf.track_id == tent.track_id and conf.status == TrackStatus.CONFIRMED


def test_a_scan_a_moment_late_reruns_only_the_last_second_and_old_checkpoints_are_thinned() -> None:
    """Checkpoints every second over the last 10 s: a scan that arrives after the next one re-runs
    those two steps, not the 20 s since a coarse checkpoint (seconds of work at thousands of
    detections/s)."""
    site = make_site(max_range_m=4000.0)
    scans, _ = _scenario(5)  # radar every 2 s; drone now and then: 240 s
    in_order = sorted(scans, key=lambda s: s.time)
    late = in_order[-8]
    arrivals = [s for s in in_order if s is not late]
    cut = arrivals.index(next(s for s in arrivals if s.time > late.time)) + 1  # the late scan arrives after this
    a, b = SectorTracker("main", site), SectorTracker("main", site)
    _feed(a, in_order)
    _feed(b, arrivals[:cut])
    applied = []
    apply = b._apply
    b._apply = lambda ev: applied.append(ev) or apply(ev)  # type: ignore[method-assign]
    b.step(late)
    b._apply = apply  # type: ignore[method-assign]
    _feed(b, arrivals[cut:])
    assert b.counters["oosm_rerun"] == 1 and len(applied) <= 3  # from the checkpoint a second or two before it
    assert [(r.track_id, r.x.tolist()) for r in a.reports()] == [(r.track_id, r.x.tolist()) for r in b.reports()]
    times = np.array([c.time for c in b._checkpoints]) - b.t
    recent, old = times[times >= -10.0], times[times < -20.0]  # thinning runs every 10 s of track time
    assert np.diff(recent).max() <= 2.0 + 1e-9  # every scan (2 s apart) there
    assert len(old) >= 2 and np.diff(old).min() >= 20.0 - 1e-9  # thinned to the coarse interval
