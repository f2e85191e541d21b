"""Initiation: per-mode velocity priors give a new walker a better velocity, and cost a vehicle little."""

from __future__ import annotations

import numpy as np
from test_tracker_support import T0, make_site, polar_scan

from fusion.tracking import SectorTracker, TrackerConfig
from fusion.types import TrackStatus

ONE_PRIOR = TrackerConfig(init_speed_sigma_mps=(7.0, 7.0, 7.0))


def _velocity_errors(cfg: TrackerConfig, speed: float, seeds: range, scans: int = 6) -> np.ndarray:
    """|v_est - v_true| (m/s) of the track at scans 1..scans-1 (2 s radar), one row per seed."""
    site = make_site(clutter=1e-7)
    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        head = rng.uniform(0.0, 2.0 * np.pi)
        v = speed * np.array([np.sin(head), np.cos(head)])
        p0 = rng.uniform(2000.0, 6000.0, 2)
        trk = SectorTracker("main", site, cfg)
        err = []
        for k in range(scans):
            p = p0 + 2.0 * k * v
            reps = [r for r in trk.step(polar_scan(site, T0 + 2.0 * k, p[None], rng, k, sigma_r=10.0, sigma_b_deg=0.3))
                    if r.status != TrackStatus.DELETED]
            assert len(reps) == 1
            if k:
                err.append(np.hypot(*(reps[0].x[2:] - v)))
        out.append(err)
    return np.array(out)


def test_walker_velocity_settles_sooner_with_a_walker_mode_prior() -> None:
    per_mode = _velocity_errors(TrackerConfig(), 1.4, range(30))
    one = _velocity_errors(ONE_PRIOR, 1.4, range(30))
    # a 1.4 m/s walker at 2-6 km (cross-range sigma ~25 m): 2.5 against 3.2 m/s in the first 10 s
    assert per_mode.mean() < 0.85 * one.mean(), (per_mode.mean(axis=0), one.mean(axis=0))


def test_vehicle_velocity_no_worse_with_per_mode_priors() -> None:
    per_mode = _velocity_errors(TrackerConfig(), 15.0, range(30))
    one = _velocity_errors(ONE_PRIOR, 15.0, range(30))
    assert per_mode.mean() < 1.1 * one.mean(), (per_mode.mean(axis=0), one.mean(axis=0))


def test_config_needs_one_velocity_prior_per_mode() -> None:
    try:
        SectorTracker("main", make_site(), TrackerConfig(init_speed_sigma_mps=(7.0,)))
    except ValueError:
        return
    raise AssertionError("a 3-mode config with one velocity prior was accepted")
