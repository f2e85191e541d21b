"""Lazy prediction: a step predicts only the tracks it can touch, each from its own time.

What must hold: the moment-matched prediction used for reports equals the IMM
prediction's moments; a single model predicted in pieces equals one prediction
(F and Q compose); the Markov chain's Pi composes; a scan somewhere else leaves a
track bit for bit as it was, so a track's estimate does not depend on unrelated
traffic; and the duplicate count moves only on scans that see the pair.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_tracker_support import T0, make_site, position_scan

from fusion.tracking import SectorTracker, TrackerConfig
from fusion.tracking import tracker as tracker_module
from fusion.tracking.motion import combine, cv_matrices, imm_predict, predict_combined, transition_matrices
from fusion.types import SensorType, TrackStatus

Q = np.array([0.02, 0.3, 6.0])
TAU = np.array([120.0, 120.0, 10.0])


def _random_modes(rng: np.random.Generator, n: int, M: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xm = rng.normal(0.0, 50.0, (n, M, 4))
    A = rng.normal(0.0, 3.0, (n, M, 4, 4))
    Pm = A @ np.swapaxes(A, -1, -2) + np.eye(4)
    return xm, Pm, rng.dirichlet(np.ones(M), n)


def test_combined_prediction_is_the_moment_match_of_the_imm_prediction() -> None:
    rng = np.random.default_rng(3)
    xm, Pm, mu = _random_modes(rng, 40, 3)
    dt = rng.uniform(0.05, 60.0, 40)
    x1, P1, mu1 = imm_predict(xm, Pm, mu, dt, Q, TAU)
    xa, Pa = combine(x1, P1, mu1)
    xb, Pb, mub = predict_combined(*combine(xm, Pm, mu), mu, dt, Q, TAU)
    np.testing.assert_allclose(xb, xa, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(Pb, Pa, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(mub, mu1, rtol=1e-12, atol=1e-15)


def test_mode_transitions_compose_over_split_intervals() -> None:
    a, b = np.array([0.3, 2.0, 40.0]), np.array([1.7, 0.5, 100.0])
    Pa, Pb, Pab = (transition_matrices(d, TAU) for d in (a, b, a + b))
    np.testing.assert_allclose(Pa @ Pb, Pab, atol=1e-12)
    np.testing.assert_allclose(Pab.sum(axis=2), 1.0, atol=1e-12)


def test_single_model_prediction_in_pieces_equals_one_prediction() -> None:
    """With one mode there is no mixing: lazy (one step over dt1 + dt2) equals eager (two steps)."""
    rng = np.random.default_rng(4)
    xm, Pm, mu = _random_modes(rng, 10, 1)
    q, tau = np.array([0.3]), np.array([1e9])
    d1, d2 = rng.uniform(0.1, 5.0, 10), rng.uniform(0.1, 5.0, 10)
    two = imm_predict(*imm_predict(xm, Pm, mu, d1, q, tau), d2, q, tau)
    one = imm_predict(xm, Pm, mu, d1 + d2, q, tau)
    for u, v in zip(two, one):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-9)
    # and it is the Kalman prediction F x, F P F^T + Q
    for i in range(10):
        F, Qi = cv_matrices(float(d1[i] + d2[i]), q)
        np.testing.assert_allclose(one[0][i, 0], F @ xm[i, 0], rtol=1e-12)
        np.testing.assert_allclose(one[1][i, 0], F @ Pm[i, 0] @ F.T + Qi[0], rtol=1e-12)


NEAR = np.array([[1000.0, 2000.0], [1060.0, 2000.0]])
FAR = np.array([[7000.0, 2000.0], [7050.0, 2030.0]])


def _drone(t: float, z: np.ndarray, seq: int, rng: np.random.Generator) -> object:
    return position_scan(t, z + rng.normal(0.0, 5.0, z.shape), 5.0, seq, sensor="drone-1", stype=SensorType.DRONE)


def _near_walks_far_stands(trk: SectorTracker, rng: np.random.Generator, seconds: int, east_mps: float) -> None:
    """Each second a scan of NEAR walking east at ``east_mps``, and half a second later one of FAR standing."""
    for k in range(seconds):
        trk.step(_drone(T0 + k, NEAR + [east_mps * k, 0.0], 2 * k, rng))
        trk.step(_drone(T0 + k + 0.5, FAR, 2 * k + 1, rng))


def test_a_scan_elsewhere_leaves_distant_tracks_untouched() -> None:
    trk = SectorTracker("main", make_site())
    rng = np.random.default_rng(7)
    _near_walks_far_stands(trk, rng, 5, 1.2)
    before = trk.tab.copy()
    near = np.hypot(*(before.xm[:, 0, :2] - NEAR[0]).T) < 500.0
    assert near.sum() == 2 and (~near).sum() == 2
    trk.step(_drone(T0 + 5.5, FAR, 99, rng))
    after = trk.tab
    np.testing.assert_array_equal(after.ids, before.ids)
    for name in ("xm", "Pm", "mu", "r", "t", "last_update", "dup_of", "dup_n"):
        np.testing.assert_array_equal(getattr(after, name)[near], getattr(before, name)[near], err_msg=name)
    assert np.all(after.t[~near] == T0 + 5.5) and np.all(before.t[near] == T0 + 4)


def test_unrelated_traffic_does_not_change_a_track() -> None:
    """The same scans of one place, with and without many scans of another place in between:
    the tracks there come out identical (an eager tracker would mix them at every scan)."""
    site = make_site()
    plain, busy = SectorTracker("main", site), SectorTracker("main", site)
    rng, rng_far = np.random.default_rng(8), np.random.default_rng(9)
    for k in range(12):
        s = _drone(T0 + k, NEAR + [1.4 * k, -0.8 * k], k, rng)
        plain.step(s)
        busy.step(s)
        for j in range(1, 6):
            busy.step(_drone(T0 + k + 0.15 * j, FAR, 100 + 10 * k + j, rng_far))
    s = _drone(T0 + 12.0, NEAR + [1.4 * 12, -0.8 * 12], 12, rng)
    ra = {r.track_id: r for r in plain.step(s)}
    rb = {r.track_id: r for r in busy.step(s) if r.track_id in ra}
    assert sorted(rb) == sorted(ra) and len(ra) == 2
    for tid, a in ra.items():
        b = rb[tid]
        assert b.status == a.status == TrackStatus.CONFIRMED
        np.testing.assert_allclose(b.x, a.x, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(b.P, a.P, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(b.model_probs, a.model_probs, rtol=1e-12, atol=1e-12)
        assert b.existence == a.existence
    # routing positions: each track's mean from its own time, the same in both
    ia, pa = plain.positions(T0 + 13.0)
    ib, pb = busy.positions(T0 + 13.0)
    np.testing.assert_allclose(pb[np.isin(ib, ia)], pa, rtol=1e-12, atol=1e-9)


def test_reports_between_scans_predict_each_track_from_its_own_time() -> None:
    trk = SectorTracker("main", make_site())
    rng = np.random.default_rng(10)
    _near_walks_far_stands(trk, rng, 6, 1.5)
    row = int(np.argmin(np.hypot(*(trk.tab.xm[:, 0, :2] - NEAR[0]).T)))
    tab = trk.tab.select(np.array([row]))
    assert tab.t[0] == T0 + 5 and trk.t == T0 + 5.5
    (rep,) = [r for r in trk.reports() if r.track_id == trk.track_id(int(tab.ids[0]))]
    x, P = combine(tab.xm, tab.Pm, tab.mu)
    x1, P1, mu1 = predict_combined(x, P, tab.mu, np.array([0.5]), np.asarray(trk.config.mode_q),
                                   np.asarray(trk.config.mode_sojourn_s))
    assert rep.time == T0 + 5.5
    np.testing.assert_allclose(rep.x, x1[0], rtol=1e-12)
    np.testing.assert_allclose(rep.P, P1[0], rtol=1e-12)
    np.testing.assert_allclose(rep.existence, tab.r[0] * np.exp(-0.5 / trk.config.survival_tau_s), rtol=1e-12)


def test_duplicate_count_moves_only_on_scans_that_see_the_pair() -> None:
    cfg = TrackerConfig()
    trk = SectorTracker("main", make_site(), cfg)
    rng = np.random.default_rng(11)
    obj = np.array([[3000.0, 1500.0]])
    # one object reported twice in the first scan starts two tracks
    trk.step(position_scan(T0, np.r_[obj, obj + [4.0, 3.0]], 5.0, 0, sensor="drone-1", stype=SensorType.DRONE))
    assert trk.tab.n == 2
    seq = 1
    for k in range(1, cfg.merge_steps):
        trk.step(_drone(T0 + k, obj, seq, rng))
        seq += 1
        for j in range(1, 8):  # scans of a place 4 km away in between
            trk.step(_drone(T0 + k + 0.1 * j, FAR, seq, rng))
            seq += 1
    both = np.hypot(*(trk.tab.xm[:, 0, :2] - obj[0]).T) < 100.0
    assert both.sum() == 2 and trk.counters["merged"] == 0
    trk.step(_drone(T0 + cfg.merge_steps, obj, seq, rng))
    assert trk.counters["merged"] == 1
    assert (np.hypot(*(trk.tab.xm[:, 0, :2] - obj[0]).T) < 100.0).sum() == 1


def test_snapshot_keeps_each_tracks_time_and_refuses_an_older_version() -> None:
    site = make_site()
    trk = SectorTracker("main", site)
    rng = np.random.default_rng(12)
    for k in range(4):
        trk.step(_drone(T0 + k, NEAR, 2 * k, rng))
        trk.step(_drone(T0 + k + 0.5, FAR, 2 * k + 1, rng))
    snap = json.loads(json.dumps(trk.snapshot()))
    back = SectorTracker.restore("main", site, TrackerConfig(), snap)
    np.testing.assert_array_equal(back.tab.t, trk.tab.t)
    assert len(set(trk.tab.t.tolist())) == 2
    # an older format (rows without their own time, history as lists) is refused by name, not misread
    snap["version"] = 3
    with pytest.raises(ValueError, match="version 3"):
        SectorTracker.restore("main", site, TrackerConfig(), snap)


def test_reach_test_finds_every_track_that_gates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bounding-box / KD-tree reach test (used above ``_ALL_CANDIDATES`` tracks) gives the
    same step as gating every track: it misses no track a detection could gate."""
    rng = np.random.default_rng(13)
    grid = np.stack(np.meshgrid(np.arange(12) * 70.0, np.arange(10) * 70.0), -1).reshape(-1, 2) + [2000.0, 1000.0]
    vel = rng.normal(0.0, 1.5, grid.shape)
    trk = SectorTracker("main", make_site())
    seq = 0
    for k in range(8):  # drones see random parts of the crowd at random times: tracks of many ages and sizes
        for j in range(3):
            t = T0 + k + 0.3 * j
            part = rng.random(len(grid)) < 0.5
            trk.step(_drone(t, grid[part] + vel[part] * (t - T0), seq, rng))
            seq += 1
    assert trk.tab.n > tracker_module._ALL_CANDIDATES and len(set(trk.tab.t.tolist())) > 3
    snap = trk.snapshot()
    scans = []
    for j in range(6):
        t = T0 + 8.0 + 0.4 * j
        part = rng.random(len(grid)) < 0.3
        z = np.r_[grid[part] + vel[part] * (t - T0), rng.uniform(1900.0, 2900.0, (3, 2))]  # and some clutter
        scans.append(_drone(t, z, seq + j, rng))
    tables = []
    for limit in (0, 10**9):
        monkeypatch.setattr(tracker_module, "_ALL_CANDIDATES", limit)
        b = SectorTracker.restore("main", make_site(), TrackerConfig(), json.loads(json.dumps(snap)))
        for s in scans:
            b.step(s)
        tables.append(b.tab)
    lazy, every = tables
    for name in ("ids", "xm", "Pm", "mu", "r", "t", "last_update", "dup_of", "dup_n"):
        np.testing.assert_array_equal(getattr(lazy, name), getattr(every, name), err_msg=name)
    assert np.sum(lazy.t < T0 + 8.0) > 0  # some tracks were not touched at all


def test_history_is_bounded_under_a_flood_and_older_data_is_counted_not_fused() -> None:
    """``oosm_max_detections``: the out-of-sequence history sheds its oldest checkpoint
    intervals instead of growing with the rate; a measurement older than what is kept is
    counted in ``oosm_dropped`` (the window shrank: ``window_shrunk``)."""
    cfg = TrackerConfig(oosm_max_detections=200, checkpoint_interval_s=5.0)
    trk = SectorTracker("main", make_site(), cfg)
    rng = np.random.default_rng(21)
    crowd = np.column_stack([np.linspace(0.0, 3000.0, 20), np.full(20, 2000.0)])
    for k in range(120):  # 20 detections a second for 2 minutes: 2,400 in all
        trk.step(_drone(T0 + k, crowd, k, rng))
    held = sum(e.scan.size for e in trk._events if e.scan is not None)
    assert held <= 200 + 20 * 10  # the cap, plus what arrives between two prunes (every 5-10 s)
    assert trk.counters["window_shrunk"] > 0 and trk._checkpoints[0].time > T0 + 60.0
    late = position_scan(T0 + 10.0, crowd[:1], 60.0, 9000, sensor="k9-1", stype=SensorType.K9)
    before = trk.counters["oosm_dropped"]
    trk.step(late)
    assert trk.counters["oosm_dropped"] == before + 1
    # recent enough: still fused by the re-run
    recent = position_scan(T0 + 118.5, crowd[:1], 60.0, 9001, sensor="k9-1", stype=SensorType.K9)
    reruns = trk.counters["oosm_rerun"]
    trk.step(recent)
    assert trk.counters["oosm_rerun"] == reruns + 1


def test_routing_positions_follow_every_step_and_advance() -> None:
    """``positions`` keeps the confirmed rows between calls; a step or an advance must not leave it stale."""
    trk = SectorTracker("main", make_site(), TrackerConfig())
    rng = np.random.default_rng(11)
    walkers = rng.uniform([1000.0, 1000.0], [3000.0, 2000.0], (30, 2))
    for k in range(25):
        seen = walkers[: 30 if k < 15 else 15]  # half of them leave after 15 s
        z = seen + [1.2 * k, 0.0] + rng.normal(0.0, 3.0, seen.shape)
        trk.step(position_scan(T0 + k, z, 5.0, k, sensor="drone-1", stype=SensorType.DRONE))
        for when in (T0 + k + 0.3, T0 + k + 0.7):  # two calls: the second from what the first kept
            ids, pos = trk.positions(when)
            fresh = SectorTracker.restore("main", trk.site, trk.config, json.loads(json.dumps(trk.snapshot())))
            ids_f, pos_f = fresh.positions(when)
            np.testing.assert_array_equal(ids, ids_f)
            np.testing.assert_array_equal(pos, pos_f)
    before = ids.size
    trk.advance(T0 + 77.0)  # the tracks not seen for a minute are deleted, the others coast
    ids, _ = trk.positions(T0 + 77.0)
    fresh = SectorTracker.restore("main", trk.site, trk.config, json.loads(json.dumps(trk.snapshot())))
    np.testing.assert_array_equal(ids, fresh.positions(T0 + 77.0)[0])
    assert 0 < ids.size < before
