"""GOSPA, ID switches, RMSE and NEES: hand-computed cases, properties, and Stone Soup cross-check."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fusion.metrics import IdTracker, chi2_interval, gospa, id_switches, nees, rmse


def test_gospa_hand_case() -> None:
    truth = np.array([[0.0, 0.0], [100.0, 0.0], [500.0, 500.0]])
    est = np.array([[3.0, 4.0], [100.0, 20.0], [900.0, 900.0], [-50.0, -50.0]])
    g = gospa(truth, est, c=100.0, p=2.0)
    # pairs (0,0) d=5 and (1,1) d=20; truth 2 missed; estimates 2 and 3 false.
    assert g.localisation == pytest.approx(25.0 + 400.0)
    assert (g.n_missed, g.n_false) == (1, 2)
    assert g.missed == pytest.approx(5000.0)
    assert g.false == pytest.approx(10000.0)
    assert g.total == pytest.approx(np.sqrt(425.0 + 15000.0))
    assert sorted(map(tuple, g.assignment.tolist())) == [(0, 0), (1, 1)]


def test_gospa_empty_sets() -> None:
    assert gospa(np.zeros((0, 2)), np.zeros((0, 2))).total == 0.0
    g = gospa(np.zeros((3, 2)), np.zeros((0, 2)), c=10.0)
    assert g.n_missed == 3 and g.total == pytest.approx(np.sqrt(3 * 50.0))
    g = gospa(np.zeros((0, 2)), np.ones((2, 2)), c=10.0, p=1.0)
    assert g.n_false == 2 and g.total == pytest.approx(10.0)


def test_gospa_pair_at_cutoff_counts_as_miss_and_false() -> None:
    g = gospa([[0.0, 0.0]], [[150.0, 0.0]], c=100.0)
    assert (g.n_missed, g.n_false) == (1, 1) and g.assignment.shape == (0, 2)
    assert g.total == pytest.approx(100.0)


points = arrays(np.float64, st.tuples(st.integers(0, 7), st.just(2)), elements=st.floats(-300, 300))


@settings(max_examples=80, deadline=None)
@given(points, points, st.sampled_from([1.0, 2.0, 3.0]))
def test_gospa_properties(truth: np.ndarray, est: np.ndarray, p: float) -> None:
    c = 100.0
    g = gospa(truth, est, c=c, p=p)
    assert g.total**p == pytest.approx(g.localisation + g.missed + g.false, rel=1e-9, abs=1e-9)
    assert g.n_missed + g.assignment.shape[0] == truth.shape[0]
    assert g.n_false + g.assignment.shape[0] == est.shape[0]
    # symmetric in its arguments, zero from a set to itself, bounded by c * (n+m)/2 ** (1/p)
    assert gospa(est, truth, c=c, p=p).total == pytest.approx(g.total, rel=1e-9, abs=1e-9)
    assert gospa(truth, truth, c=c, p=p).total == pytest.approx(0.0, abs=1e-9)
    bound = (c**p / 2 * (truth.shape[0] + est.shape[0])) ** (1 / p)
    assert g.total <= bound + 1e-9


def test_gospa_matches_stone_soup() -> None:
    pytest.importorskip("stonesoup")
    from stonesoup.measures import Euclidean
    from stonesoup.metricgenerator.ospametric import GOSPAMetric
    from stonesoup.types.state import State

    rng = np.random.default_rng(7)
    t0 = dt.datetime(2026, 11, 25, 14, 0, 0)
    for trial in range(25):
        n, m = rng.integers(0, 12, size=2)
        truth = rng.uniform(0, 400, size=(n, 2))
        est = np.concatenate([truth[: min(n, m)] + rng.normal(0, 40, size=(min(n, m), 2)),
                              rng.uniform(0, 400, size=(m - min(n, m), 2))])
        c, p = (50.0, 2.0) if trial % 2 else (100.0, 1.0)
        ours = gospa(truth, est, c=c, p=p)
        ref = GOSPAMetric(c=c, p=p, measure=Euclidean(mapping=(0, 1)))
        if n + m == 0:
            continue
        metric, _ = ref.compute_gospa_metric([State(e.reshape(2, 1), timestamp=t0) for e in est],
                                         [State(t.reshape(2, 1), timestamp=t0) for t in truth])
        ss = metric.value
        assert ours.total == pytest.approx(ss["distance"], rel=1e-9, abs=1e-9)
        assert ours.localisation == pytest.approx(ss["localisation"], rel=1e-9, abs=1e-9)
        assert ours.missed == pytest.approx(ss["missed"], rel=1e-9, abs=1e-9)
        assert ours.false == pytest.approx(ss["false"], rel=1e-9, abs=1e-9)


def test_large_sets_split_by_kdtree_give_the_dense_answer() -> None:
    from fusion.metrics import _assign_within

    rng = np.random.default_rng(5)
    truth = rng.uniform(0, 3000, size=(700, 2))
    est = np.concatenate([truth[:600] + rng.normal(0, 30, (600, 2)), rng.uniform(0, 3000, (150, 2))])
    for p in (1.0, 2.0):
        r1, c1, d1 = _assign_within(truth, est, 100.0, p, dense_limit=10**9)
        r2, c2, d2 = _assign_within(truth, est, 100.0, p, dense_limit=0)
        assert r1.size == r2.size
        assert (d1**p).sum() == pytest.approx((d2**p).sum(), rel=1e-9)
    assert gospa(truth, est).total == pytest.approx(
        np.sqrt((d2**2).sum() + 5000 * (700 - r2.size) + 5000 * (750 - r2.size)), rel=1e-9)


def test_id_switches_and_fragmentation() -> None:
    series = [
        (["a", "b"], ["T1", "T2"]),
        (["a", "b"], ["T2", "T1"]),  # two switches
        (["a", "b"], [None, "T1"]),  # a untracked
        (["a", "b"], ["T2", "T1"]),  # a back on same track: fragmentation, no switch
        (["b"], ["T1"]),  # a absent: nothing
        (["a", "b"], ["T3", "T1"]),  # a on a new track: a switch
    ]
    stats = id_switches(series)
    assert stats.switches == 3
    assert stats.fragmentations == 1


def test_id_tracker_from_gospa() -> None:
    t = IdTracker()
    truth = np.array([[0.0, 0.0], [1000.0, 0.0]])
    t.update_from_gospa(["a", "b"], ["T1", "T2"], gospa(truth, truth + 1.0))
    t.update_from_gospa(["a", "b"], ["T1", "T2"], gospa(truth, truth[::-1] + 1.0))
    assert t.switches == 2


def test_sticky_matching_does_not_count_a_swap_of_two_correct_tracks() -> None:
    t = IdTracker()
    truth = np.array([[0.0, 0.0], [0.0, 10.0]])
    t.update_positions(["a", "b"], truth, ["T1", "T2"], truth + 0.5, gate=20.0)
    # the objects pass within 2 m: the optimal instantaneous pairing swaps, the sticky one does not
    truth = np.array([[0.0, 5.0], [0.0, 6.0]])
    t.update_positions(["a", "b"], truth, ["T1", "T2"], truth[::-1], gate=20.0)
    assert t.switches == 0
    g = IdTracker()
    g.update_from_gospa(["a", "b"], ["T1", "T2"], gospa(np.array([[0.0, 0.0], [0.0, 10.0]]), [[0.5, 0.5], [0.5, 10.5]]))
    g.update_from_gospa(["a", "b"], ["T1", "T2"], gospa(truth, truth[::-1]))
    assert g.switches == 2
    # a track that wanders off beyond the gate is replaced: a real switch
    t.update_positions(["a", "b"], truth, ["T2", "T3"], np.array([[0.0, 6.0], [0.0, 5.0]]) + [[0, 50], [0, 0]], gate=20.0)
    assert t.switches == 1


def test_rmse_and_nees() -> None:
    assert rmse([[0, 0], [0, 0]], [[3, 4], [0, 0]]) == pytest.approx(np.sqrt(12.5))
    e = np.array([[1.0, 2.0], [0.0, 3.0]])
    P = np.array([np.diag([1.0, 4.0]), np.diag([2.0, 9.0])])
    assert nees(e, P) == pytest.approx([2.0, 1.0])


def test_nees_mean_of_gaussian_samples_inside_chi2_interval() -> None:
    rng = np.random.default_rng(3)
    P = np.array([[4.0, 1.0], [1.0, 2.0]])
    e = rng.multivariate_normal([0, 0], P, size=500)
    lo, hi = chi2_interval(2, 500)
    assert lo < nees(e, np.broadcast_to(P, (500, 2, 2))).mean() < hi
    assert not lo < nees(3 * e, np.broadcast_to(P, (500, 2, 2))).mean() < hi
