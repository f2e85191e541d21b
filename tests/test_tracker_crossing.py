"""Two targets that cross keep their IDs (GNN and JPDA), on radar scans with misses and clutter."""

from __future__ import annotations

import numpy as np
import pytest
from test_tracker_support import T0, make_site, polar_scan

from fusion.metrics import IdTracker, gospa
from fusion.tracking import SectorTracker, TrackerConfig
from fusion.types import TrackStatus


@pytest.mark.parametrize("association", ["gnn", "jpda"])
@pytest.mark.parametrize(("speed", "angle_deg"), [(1.5, 90.0), (14.0, 30.0)], ids=["walkers", "vehicles"])
def test_crossing_targets_keep_their_ids(association: str, speed: float, angle_deg: float) -> None:
    site = make_site(clutter=2e-8)
    rng = np.random.default_rng(4)
    trk = SectorTracker("main", site, TrackerConfig(association=association))
    half = np.radians(angle_deg / 2)
    vel = speed * np.array([[np.cos(half), np.sin(half)], [np.cos(half), -np.sin(half)]])
    cross_at = 120.0  # seconds after start
    centre = np.array([2000.0, 3000.0])
    ids = IdTracker()
    errors = []
    for k in range(121):
        t = 2.0 * k
        truth = centre + vel * (t - cross_at)
        reps = trk.step(polar_scan(site, T0 + t, truth, rng, k, sigma_r=8.0, sigma_b_deg=0.2, pd=0.9,
                                   n_clutter=5))
        conf = [r for r in reps if r.status in (TrackStatus.CONFIRMED, TrackStatus.COASTING)]
        if k < 10:
            continue
        est = np.array([r.x[:2] for r in conf]).reshape(-1, 2)
        g = gospa(truth, est, c=50.0)
        ids.update_positions(["a", "b"], truth, [r.track_id for r in conf], est, gate=50.0)
        errors.append(g.total)
    assert ids.switches == 0
    assert ids.fragmentations == 0
    assert np.mean(errors) < 25.0
