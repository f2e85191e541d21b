"""Filter consistency on simulated data: NEES and NIS inside chi-squared bounds.

Monte Carlo over independent runs of one target that moves exactly as the CV
model says (white-noise acceleration of density q, initial velocity drawn from the
tracker's velocity prior), so a consistent filter has E[NEES] = 4 and E[NIS] = 2;
the mean over R runs at each time must fall in the two-sided 95% chi-squared
interval at (nearly) every time step.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_tracker_support import T0, make_site, polar_scan, position_scan

from fusion.metrics import chi2_interval, nees
from fusion.tracking import SectorTracker, TrackerConfig
from fusion.tracking.motion import cv_matrices

Q_DENSITY = 0.3
RUNS, STEPS, DT = 40, 30, 1.0


def _truth(rng: np.random.Generator, cfg: TrackerConfig, start: np.ndarray) -> np.ndarray:
    """A CV path drawn from the tracker's own model without switching: a steady mode m
    (not the short manoeuvre mode) with probability proportional to ``mode_init``,
    initial velocity N(0, s_m^2 I) from ``init_speed_sigma_mps``, noise q_m."""
    steady = np.flatnonzero(np.asarray(cfg.mode_sojourn_s) > 30.0)
    p = np.asarray(cfg.mode_init, dtype=float)[steady]
    m = steady[rng.choice(steady.size, p=p / p.sum())]
    F, Q = cv_matrices(DT, np.array([cfg.mode_q[m]]))
    x = np.r_[start, rng.normal(0.0, cfg.init_speed_sigma_mps[m], 2)]
    out = [x]
    for _ in range(STEPS - 1):
        x = F @ x + rng.multivariate_normal(np.zeros(4), Q[0])
        out.append(x)
    return np.array(out)


def _run(polar: bool, cfg: TrackerConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    site = make_site(clutter=1e-7)
    rng = np.random.default_rng(seed)
    F, Q = cv_matrices(DT, np.array([Q_DENSITY]))
    nees_t = np.zeros((RUNS, STEPS))
    nis_t = np.full((RUNS, STEPS), np.nan)
    for run in range(RUNS):
        truth = _truth(rng, cfg, np.array([3000.0, 4000.0]))
        trk = SectorTracker("main", site, cfg)
        prev = None
        for k in range(STEPS):
            t = T0 + k * DT
            if polar:
                scan = polar_scan(site, t, truth[k, :2], rng, k, sigma_r=10.0, sigma_b_deg=0.3)
            else:
                z = truth[k, :2] + rng.normal(0.0, 10.0, 2)
                scan = position_scan(t, z[None], 10.0, k)
            if prev is not None:
                xp, Pp = F @ prev.x, F @ prev.P @ F.T + Q[0]
                S = Pp[:2, :2] + scan.R[0]
                nis_t[run, k] = nees(scan.z[0] - xp[:2], S)[0]
            # the first track (a measurement far outside the gate may start a second one)
            rep = min((r for r in trk.step(scan) if r.status != "deleted"), key=lambda r: r.track_id)
            nees_t[run, k] = nees(rep.x - truth[k], rep.P)[0]
            prev = rep
    return nees_t, nis_t


@pytest.mark.parametrize("polar", [False, True], ids=["position", "radar-polar-ekf"])
def test_single_model_nees_and_nis_inside_chi2_bounds(polar: bool) -> None:
    cfg = TrackerConfig(mode_q=(Q_DENSITY,), mode_sojourn_s=(1e9,), mode_init=(1.0,), init_speed_sigma_mps=(7.0,))
    nees_t, nis_t = _run(polar, cfg, seed=21 if polar else 20)
    lo4, hi4 = chi2_interval(4, RUNS, 0.95)
    lo2, hi2 = chi2_interval(2, RUNS, 0.95)
    mean_nees = nees_t.mean(axis=0)
    mean_nis = nis_t[:, 1:].mean(axis=0)
    assert np.mean((mean_nees > lo4) & (mean_nees < hi4)) >= 0.85, mean_nees
    assert np.mean((mean_nis > lo2) & (mean_nis < hi2)) >= 0.85, mean_nis
    assert 3.5 < nees_t.mean() < 4.5 and 1.75 < nis_t[:, 1:].mean() < 2.25


def test_imm_is_not_overconfident_on_a_steady_target() -> None:
    """With a manoeuvre mode the IMM is a little conservative on a CV target, never overconfident."""
    nees_t, _ = _run(False, TrackerConfig(), seed=22)
    _, hi4 = chi2_interval(4, RUNS, 0.95)
    assert np.mean(nees_t.mean(axis=0) < hi4) >= 0.9
    assert 2.0 < nees_t[:, 5:].mean() < 4.5
