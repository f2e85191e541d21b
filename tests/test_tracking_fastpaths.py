"""The step's cheaper paths give exactly what the general ones give.

A step that touches some of the rows updates a copy of them built from their
prediction (``TrackTable.select_with``) and writes back only ``SCAN_COLUMNS``: the
table after every step must be what writing the prediction into the table, copying the
rows and writing every column back gives. The position model's update and gate take
blocks of P where the general path multiplies by H = [I 0]: the same bits. The speed
cue's three classes, computed as one array, have the bits of each class's expression.
A GNN step takes each updated track's label likelihood as its detection's: what the
general weighted likelihood gives for one pair of weight 1, bit for bit.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tracker_support import T0, make_site, position_scan
from test_tracking_table import _table

from fusion.tracking import SectorTracker
from fusion.tracking import tracker as tracker_module
from fusion.tracking.classify import label_likelihoods, label_update, speed_likelihood
from fusion.tracking.gating import chi2_gate
from fusion.tracking.measurement import MeasurementModel, position_model
from fusion.tracking.motion import combine
from fusion.tracking.table import SCAN_COLUMNS, TrackTable
from fusion.tracking.update import kalman_pairs
from fusion.types import SensorType

_ALL = tuple(f.name for f in fields(TrackTable))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.sets(st.sampled_from(_ALL)))
def test_select_with_equals_write_then_select(seed: int, n: int, given_cols: set[str]) -> None:
    rng = np.random.default_rng(seed)
    tab, new = _table(rng, n, 1), _table(rng, n, 1000)
    idx = np.sort(rng.choice(n, rng.integers(0, n + 1), replace=False)).astype(np.int64)
    cols = {name: getattr(new, name)[idx] for name in given_cols}
    got = tab.select_with(idx, **cols)
    for name in given_cols:
        getattr(tab, name)[idx] = cols[name]
    want = tab.select(idx)
    for name in _ALL:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


def _crowd_scans(seed: int, k: int) -> list:
    """Drone scans over a crowd of walkers (more than ``_ALL_CANDIDATES``), each scan seeing a
    random part of it, some walkers in pairs a few metres apart (duplicate tests, merges)."""
    rng = np.random.default_rng(seed)
    n = 90
    pos = rng.uniform(-1500.0, 1500.0, (n, 2))
    pos[n // 2:n // 2 + 10] = pos[:10] + rng.normal(0.0, 4.0, (10, 2))
    vel = rng.normal(0.0, 1.2, (n, 2))
    scans = []
    for j in range(k):
        t = T0 + 0.5 * j
        centre = rng.uniform(-1500.0, 1500.0, 2)
        seen = (np.hypot(*(pos - centre).T) < 900.0) & (rng.random(n) < 0.85)
        z = pos[seen] + vel[seen] * 0.5 * j + rng.normal(0.0, 5.0, (int(seen.sum()), 2))
        labels = rng.dirichlet(np.ones(4), z.shape[0])
        scans.append(position_scan(t, z, 5.0, j, sensor="drone-1", stype=SensorType.DRONE, class_probs=labels,
                                   count=rng.integers(1, 4, z.shape[0])))
    return scans


def _tables(scans: list) -> list[dict[str, np.ndarray]]:
    trk = SectorTracker("main", make_site())
    out = []
    for s in scans:
        trk.step(s, changed_only=True)
        out.append({name: getattr(trk.tab, name).copy() for name in _ALL})
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_step_writes_back_every_column_it_changes(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    scans = _crowd_scans(seed, 60)
    fast = _tables(scans)
    with monkeypatch.context() as m:
        m.setattr(tracker_module, "SCAN_COLUMNS", _ALL)
        plain = _tables(scans)
    assert SCAN_COLUMNS != _ALL and max(len(t["ids"]) for t in fast) > 64
    for a, b in zip(fast, plain):
        for name in _ALL:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


class _GeneralPosition(MeasurementModel):
    """The position model (h = [e, n], H = [I 0]) taken through the general path: matrix products with H."""

    @property
    def polar(self) -> bool:
        return True

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        H = np.zeros(x.shape[:-1] + (2, 4))
        H[..., 0, 0] = H[..., 1, 1] = 1.0
        return x[..., :2].copy(), H

    def residual(self, z: np.ndarray, hz: np.ndarray) -> np.ndarray:
        return z - hz


def _spd(rng: np.random.Generator, shape: tuple[int, ...], d: int, scale: float, diagonal: bool) -> np.ndarray:
    """Symmetric positive definite (..., d, d); ``diagonal``: exact zeros off the diagonal (a birth's R)."""
    if diagonal:
        return rng.uniform(0.5, 2.0, shape + (d,))[..., None] * np.eye(d) * scale
    A = rng.normal(0.0, 1.0, shape + (d, d))
    return (A @ np.swapaxes(A, -1, -2) + 0.1 * np.eye(d)) * scale


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(1, 30), st.booleans())
def test_position_updates_and_gates_equal_the_general_path_bit_for_bit(seed: int, n: int, m: int, diag: bool) -> None:
    rng = np.random.default_rng(seed)
    xm = rng.normal(0.0, 300.0, (n, 3, 4))
    Pm = _spd(rng, (n, 3), 4, 50.0, diag)
    z = rng.normal(0.0, 300.0, (m, 2))
    R = _spd(rng, (m,), 2, 25.0, diag)
    fast, general = position_model(z, R), _GeneralPosition(z=z, R=R, cart=z, cart_R=R, density_scale=np.ones(m))
    ti, dj = (a.ravel().astype(np.int64) for a in np.meshgrid(np.arange(n), np.arange(m), indexing="ij"))
    for a, b in zip(kalman_pairs(xm, Pm, fast, ti, dj), kalman_pairs(xm, Pm, general, ti, dj)):
        assert a.tobytes() == b.tobytes()
    x, P = combine(xm, Pm, rng.dirichlet(np.ones(3), n))
    g, h = chi2_gate(x, P, fast, ti, dj, 1e9), chi2_gate(x, P, general, ti, dj, 1e9)
    for name in ("ti", "dj", "d2", "loglik"):
        assert getattr(g, name).tobytes() == getattr(h, name).tobytes(), name


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 60), st.sampled_from([0.3, 3.0, 15.0]))
def test_speed_likelihood_equals_each_class_expression_bit_for_bit(seed: int, n: int, speed: float) -> None:
    rng = np.random.default_rng(seed)
    v = rng.normal(0.0, speed, (n, 2))
    v[: n // 4] = [4.0, 0.0]  # exactly at the person / vehicle threshold
    A = rng.normal(0.0, rng.uniform(0.01, 5.0), (n, 2, 2))
    Pv = A @ np.swapaxes(A, 1, 2)
    s = np.hypot(v[:, 0], v[:, 1])
    w = np.maximum(0.5, np.sqrt(np.maximum(Pv[:, 0, 0] + Pv[:, 1, 1], 0.0) / 2.0))
    sig = lambda u: 0.5 * (1.0 + np.tanh(0.5 * u))  # noqa: E731
    want = [0.02 + 0.98 * sig((4.0 - s) / w), 0.2 + 0.8 * sig((s - 4.0) / w), 0.05 + 0.95 * sig((12.0 - s) / w),
            np.full(n, 0.5)]
    got = speed_likelihood(v, Pv)
    for k in range(4):
        assert got[:, k].tobytes() == want[k].tobytes(), k


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(1, 40))
def test_gnn_label_likelihood_is_the_detections_own_bit_for_bit(seed: int, n: int, m: int) -> None:
    """GNN's pairs are one-to-one with weight 1: the general likelihood's rows are the detections' L_j."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(0, min(n, m) + 1))
    ti, dj = rng.choice(n, k, replace=False).astype(np.int64), rng.choice(m, k, replace=False).astype(np.int64)
    det = rng.dirichlet(np.ones(4), m)
    det[rng.random(m) < 0.3, 1] = 0.0  # a class the label rules out
    lik = label_likelihoods(n, ti, dj, np.ones(k), det)
    assert lik[ti].tobytes() == det[dj].tobytes()
    label = rng.dirichlet(np.ones(4), n)
    assert label_update(label[ti], lik[ti], 0.05).tobytes() == label_update(label[ti], det[dj], 0.05).tobytes()


@pytest.mark.parametrize("sector", ["main", "S{1}", "a}b{", "{}", "%s-{0}"])
def test_track_ids_keep_their_format_for_any_sector_name(sector: str) -> None:
    trk = SectorTracker(sector, make_site())
    for serial in (1, 12, 123456, 1234567):
        assert trk.track_id(serial) == f"T-{sector}-{serial:06d}"
