"""Property tests: the pre-gate loses no pair, GNN is a valid optimal assignment, JPDA marginals are sane."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from fusion.tracking.association import gnn, jpda, jpda_lbp
from fusion.tracking.gating import candidate_pairs, chi2_gate, gate_threshold, inv2
from fusion.tracking.measurement import polar_model, position_model


def _spd(rng: np.random.Generator, n: int, d: int, scale: float) -> np.ndarray:
    A = rng.normal(0, 1, (n, d, d))
    return scale**2 * (A @ np.swapaxes(A, 1, 2) / d + 0.05 * np.eye(d))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 25), st.integers(0, 25), st.booleans())
def test_pregate_keeps_every_pair_inside_the_chi2_gate(seed: int, n: int, m: int, polar: bool) -> None:
    rng = np.random.default_rng(seed)
    x = np.c_[rng.uniform(-500, 500, (n, 2)), rng.normal(0, 2, (n, 2))]
    P = _spd(rng, n, 4, rng.uniform(3, 60))
    z = rng.uniform(-500, 500, (m, 2))
    R = _spd(rng, m, 2, rng.uniform(3, 40))
    if polar:
        tower = np.array([-3000.0, -2000.0])
        d = z - tower
        pol = np.c_[np.hypot(d[:, 0], d[:, 1]), np.arctan2(d[:, 0], d[:, 1])]
        model = polar_model(pol, np.tile([10.0, np.radians(0.4)], (m, 1)), np.r_[tower, 0.0], 0.0, z,
                            np.repeat(np.diag([60.0**2, 60.0**2])[None], m, axis=0))
    else:
        model = position_model(z, R)
    gamma = gate_threshold(0.999)
    ti, dj = candidate_pairs(x[:, :2], P[:, :2, :2], model.cart, model.cart_R_lmax, gamma)
    g = chi2_gate(x, P, model, ti, dj, gamma)
    # brute force over all pairs
    hz, H = model.predict(x)
    ii, jj = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    nu = model.residual(model.z[jj], hz[ii])
    S = H[ii] @ P[ii] @ np.swapaxes(H[ii], 1, 2) + model.R[jj]
    d2 = np.einsum("ki,kij,kj->k", nu, inv2(S)[0], nu) if ii.size else np.zeros(0)
    brute = {(int(a), int(b)) for a, b, d in zip(ii, jj, d2) if d < gamma}
    if polar:  # the ENU pre-gate uses the converted covariance: it must be generous, not exact
        assert set(zip(g.ti.tolist(), g.dj.tolist())) <= brute
    else:
        assert set(zip(g.ti.tolist(), g.dj.tolist())) == brute
    assert np.all(g.d2 < gamma)


def _dense_optimum(n: int, m: int, ti: np.ndarray, dj: np.ndarray, cost: np.ndarray) -> float:
    C = np.full((n, m + n), np.inf)
    C[ti, dj] = cost
    C[np.arange(n), m + np.arange(n)] = 0.0
    r, c = linear_sum_assignment(C)
    return float(C[r, c].sum())


gated = st.integers(0, 2**32 - 1).flatmap(
    lambda seed: st.tuples(st.just(seed), st.integers(1, 12), st.integers(1, 12), st.floats(0.05, 0.9))
)


@settings(max_examples=150, deadline=None)
@given(gated)
def test_gnn_is_one_to_one_inside_gates_and_optimal(params: tuple) -> None:
    seed, n, m, density = params
    rng = np.random.default_rng(seed)
    mask = rng.random((n, m)) < density
    ti, dj = np.nonzero(mask)
    cost = rng.normal(-1.0, 3.0, ti.size)
    sel = gnn(n, m, ti.astype(np.int64), dj.astype(np.int64), cost)
    # each track and each detection used at most once, only gated pairs, only beneficial ones
    assert len(set(ti[sel])) == sel.size and len(set(dj[sel])) == sel.size
    assert np.all(cost[sel] < 0)
    assert np.isclose(cost[sel].sum(), _dense_optimum(n, m, ti, dj, cost))


def _exact_marginals(n: int, m: int, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact JPDA marginals by enumerating every joint assignment (tiny problems)."""
    p = np.zeros((n, m))
    p0 = np.zeros(n)
    total = 0.0
    for a in itertools.product(range(-1, m), repeat=n):
        used = [j for j in a if j >= 0]
        if len(used) != len(set(used)) or any(psi[i, j] == 0 for i, j in enumerate(a) if j >= 0):
            continue
        w = np.prod([psi[i, j] for i, j in enumerate(a) if j >= 0])
        total += w
        for i, j in enumerate(a):
            if j >= 0:
                p[i, j] += w
            else:
                p0[i] += w
    return p / total, p0 / total


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.integers(1, 4))
def test_jpda_marginals_sum_to_one_and_match_exact_jpda(seed: int, n: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    psi = np.where(rng.random((n, m)) < 0.6, rng.lognormal(1.0, 1.5, (n, m)), 0.0)
    ti, dj = np.nonzero(psi)
    p, p0 = jpda_lbp(n, m, ti.astype(np.int64), dj.astype(np.int64), psi[ti, dj], iterations=200)
    assert np.all(p >= 0) and np.all(p0 > 0)
    np.testing.assert_allclose(p0 + np.bincount(ti, weights=p, minlength=n), 1.0, atol=1e-9)
    exact, exact0 = _exact_marginals(n, m, psi)
    # belief propagation is exact on trees (no cycle: pairs = tracks + detections - components)
    nodes = np.unique(ti).size + np.unique(dj).size
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    comps = connected_components(coo_matrix((np.ones(ti.size), (ti, n + dj)), shape=(n + m, n + m)),
                                 directed=False)[0] - (n + m - nodes)
    if ti.size == nodes - comps:
        np.testing.assert_allclose(p, exact[ti, dj], atol=1e-6)
        np.testing.assert_allclose(p0, exact0, atol=1e-6)
    # the tracker's JPDA: exact on every cluster this small
    q, q0 = jpda(n, m, ti.astype(np.int64), dj.astype(np.int64), psi[ti, dj])
    np.testing.assert_allclose(q, exact[ti, dj], atol=1e-9)
    np.testing.assert_allclose(q0, exact0, atol=1e-9)
    assert np.all(np.bincount(dj, weights=q, minlength=m) <= 1 + 1e-9)
