"""IMM: a walker who stops, turns back and runs keeps one track, and the manoeuvre mode shows it."""

from __future__ import annotations

import numpy as np
from test_tracker_support import T0, make_site, polar_scan

from fusion.tracking import SectorTracker, TrackerConfig
from fusion.types import TrackStatus


def _path() -> np.ndarray:
    """Positions every 2 s: north at 1.5 m/s for 60 s, stop 20 s, south at 4 m/s for 60 s."""
    v = np.r_[np.tile([0.0, 1.5], (30, 1)), np.zeros((10, 2)), np.tile([0.0, -4.0], (30, 1))]
    return np.array([1500.0, 2500.0]) + np.cumsum(np.r_[np.zeros((1, 2)), 2.0 * v], axis=0)


def _track(cfg: TrackerConfig, seed: int) -> tuple[set[str], np.ndarray, np.ndarray]:
    site = make_site(clutter=2e-8)
    rng = np.random.default_rng(seed)
    trk = SectorTracker("main", site, cfg)
    ids, err, manoeuvre = set(), [], []
    for k, p in enumerate(_path()):
        reps = trk.step(polar_scan(site, T0 + 2.0 * k, p[None], rng, k, sigma_r=8.0, sigma_b_deg=0.2, pd=0.9,
                                   n_clutter=3))
        conf = [r for r in reps if r.status in (TrackStatus.CONFIRMED, TrackStatus.COASTING)
                and np.hypot(*(r.x[:2] - p)) < 100]
        if k >= 3:
            assert len(conf) == 1, (k, conf)
            ids.add(conf[0].track_id)
            err.append(np.hypot(*(conf[0].x[:2] - p)))
            manoeuvre.append(conf[0].model_probs[-1])
    return ids, np.array(err), np.array(manoeuvre)


def test_stop_turn_back_and_run_keep_one_track() -> None:
    imm_err, cv_err = [], []
    for seed in range(3):
        ids, err, manoeuvre = _track(TrackerConfig(), seed)
        assert len(ids) == 1
        imm_err.append(err)
        # the manoeuvre mode rises after the turn (steps 40..45) above its steady walking level
        assert manoeuvre[37:45].max() > 2 * np.median(manoeuvre[5:25])
        _, err_cv, _ = _track(TrackerConfig(mode_q=(0.02,), mode_sojourn_s=(1e9,), mode_init=(1.0,),
                                                 init_speed_sigma_mps=(2.0,)), seed)
        cv_err.append(err_cv)
    # after the turn a walker-only CV filter lags; the IMM follows
    imm_after = np.concatenate([e[37:50] for e in imm_err])
    cv_after = np.concatenate([e[37:50] for e in cv_err])
    assert np.sqrt(np.mean(imm_after**2)) < 0.8 * np.sqrt(np.mean(cv_after**2))
    assert np.sqrt(np.mean(np.concatenate(imm_err) ** 2)) < 15.0
