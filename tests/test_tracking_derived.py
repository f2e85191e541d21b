"""The table's derived columns stay equal to what they are derived from, and GNN/JPDA
clusters come out as scipy's connected components (same partition, labels in the same order)."""

from __future__ import annotations

import json

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from test_tracker_support import T0, make_site, position_scan

from fusion.tracking import SectorTracker, TrackerConfig
from fusion.tracking.association import clusters
from fusion.tracking.motion import combined_mean, position_moments
from fusion.tracking.table import TrackTable
from fusion.types import SensorType


def _assert_derived(tab: TrackTable) -> None:
    np.testing.assert_array_equal(tab.xc, combined_mean(tab.xm, tab.mu))
    np.testing.assert_array_equal(tab.moments, position_moments(tab.xm, tab.Pm, tab.mu, combined_mean(tab.xm, tab.mu)))


def test_derived_columns_follow_updates_merges_late_data_and_restore() -> None:
    site = make_site()
    trk = SectorTracker("main", site, TrackerConfig())
    rng = np.random.default_rng(5)
    crowd = rng.uniform([2000.0, 1000.0], [3500.0, 2000.0], (120, 2))
    vel = rng.normal(0.0, 1.2, crowd.shape)
    for k in range(12):
        t = T0 + k
        part = rng.random(len(crowd)) < 0.6
        z = crowd[part] + vel[part] * k + rng.normal(0.0, 5.0, (part.sum(), 2))
        z = np.r_[z, z[:3] + [4.0, 3.0]]  # duplicates: tracks to merge
        trk.step(position_scan(t, z, 5.0, k, sensor="drone-1", stype=SensorType.DRONE))
        _assert_derived(trk.tab)
        if k % 4 == 3:  # a late report: the re-run from a checkpoint
            trk.step(position_scan(t - 2.5, crowd[:5] + vel[:5] * (k - 2.5), 20.0, 1000 + k, sensor="k9-1",
                                   stype=SensorType.K9))
            _assert_derived(trk.tab)
    trk.advance(T0 + 40.0)
    _assert_derived(trk.tab)
    assert trk.counters["merged"] > 0 and trk.counters["oosm_rerun"] > 0
    back = SectorTracker.restore("main", site, TrackerConfig(), json.loads(json.dumps(trk.snapshot())))
    _assert_derived(back.tab)
    np.testing.assert_array_equal(back.tab.xc, trk.tab.xc)


def test_clusters_are_scipys_connected_components() -> None:
    rng = np.random.default_rng(6)
    for _ in range(500):
        n, m = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        k = int(rng.integers(2, 3 * max(n, m)))
        ti, dj = rng.integers(0, n, k), rng.integers(0, m, k)
        order = np.lexsort((dj, ti))  # as the gate hands them over: by track, then detection
        ti, dj = ti[order], dj[order]
        if np.bincount(ti).max() == 1 and np.bincount(dj).max() == 1:
            continue
        _, ref = connected_components(coo_matrix((np.ones(k), (ti, n + dj)), shape=(n + m, n + m)), directed=False)
        got = clusters(n, m, ti, dj)
        np.testing.assert_array_equal(np.unique(got, return_inverse=True)[1], np.unique(ref[ti], return_inverse=True)[1])
