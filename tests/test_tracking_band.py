"""Property tests: the east-band searches (``rows_near``, ``near_pairs``) return exactly what a
KD-tree over every row returns, including points at exactly the distance (integer lattices)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from fusion.tracking.gating import east_band, rows_near
from fusion.tracking.management import near_pairs


def _points(rng: np.random.Generator, k: int, lattice: bool, span: float) -> np.ndarray:
    """Random points; on a lattice many pairs lie at exactly a distance tested against (3-4-5 triangles)."""
    if lattice:
        return np.round(rng.uniform(-span, span, (k, 2)) / 5.0) * 5.0
    return rng.uniform(-span, span, (k, 2)) + rng.uniform(-1e4, 1e4, 2)


def _rows_near_kdtree(track_en: np.ndarray, radius: np.ndarray, det_en: np.ndarray) -> np.ndarray:
    """Reference: every row asks a KD-tree over the detections for its nearest one."""
    if track_en.shape[0] == 0 or det_en.shape[0] == 0:
        return np.zeros(0, np.int64)
    d, _ = cKDTree(det_en).query(track_en, distance_upper_bound=float(radius.max()) * (1.0 + 1e-9) + 1.0)
    return np.flatnonzero(d <= radius)


def _near_pairs_kdtree(pos: np.ndarray, distance: float, anchor: np.ndarray) -> np.ndarray:
    """Reference: every pair of rows within ``distance`` by a KD-tree, those with an anchor, as sorted (lo, hi)."""
    pairs = cKDTree(pos).query_pairs(distance, output_type="ndarray").reshape(-1, 2)
    is_anchor = np.zeros(pos.shape[0], bool)
    is_anchor[anchor] = True
    pairs = np.sort(pairs[is_anchor[pairs[:, 0]] | is_anchor[pairs[:, 1]]], axis=1)
    return np.unique(pairs, axis=0).reshape(-1, 2)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 300), st.integers(0, 60), st.booleans(), st.sampled_from([50.0, 400.0, 3000.0]))
def test_rows_near_equals_kdtree(seed: int, n: int, m: int, lattice: bool, span: float) -> None:
    rng = np.random.default_rng(seed)
    tracks = _points(rng, n, lattice, span)
    if lattice and n:  # detections at lattice offsets from tracks: many at exactly a radius
        dets = tracks[rng.integers(0, n, m)] + np.round(rng.uniform(-40, 40, (m, 2)) / 5.0) * 5.0
    else:
        dets = _points(rng, m, lattice, span)
    radius = rng.choice([5.0, 25.0, 50.0], n) if lattice else rng.uniform(1.0, 200.0, n)
    np.testing.assert_array_equal(rows_near(tracks, radius, dets), _rows_near_kdtree(tracks, radius, dets))


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.booleans(), st.sampled_from([50.0, 400.0, 3000.0]),
       st.sampled_from([25.0, 10.0, 7.3]))
def test_near_pairs_equals_kdtree(seed: int, n: int, lattice: bool, span: float, distance: float) -> None:
    rng = np.random.default_rng(seed)
    pos = _points(rng, n, lattice, span)
    if lattice and n > 1:  # duplicates and exact-distance neighbours
        pos[rng.integers(0, n, n // 3)] = pos[rng.integers(0, n, n // 3)] + rng.choice([0.0, 15.0, 20.0, 25.0], (n // 3, 2))
    anchor = np.sort(rng.choice(n, rng.integers(0, n + 1), replace=False)).astype(np.int64)
    got = near_pairs(pos, distance, anchor)
    assert got.dtype == np.int64 and got.shape[1] == 2
    np.testing.assert_array_equal(got, _near_pairs_kdtree(pos, distance, anchor))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e5, 1e5), max_size=40), st.lists(st.tuples(st.floats(-1e5, 1e5), st.floats(0.0, 1e4)), max_size=20))
def test_east_band_holds_every_value_in_reach(values: list[float], queries: list[tuple[float, float]]) -> None:
    e = np.sort(np.asarray(values, float))
    c = np.asarray([q[0] for q in queries], float)
    h = np.asarray([q[1] for q in queries], float)
    q, k = east_band(e, c, h)
    got = set(zip(q.tolist(), k.tolist()))
    want = {(i, j) for i in range(c.size) for j in range(e.size) if abs(e[j] - c[i]) <= h[i]}
    assert want <= got
    assert all(abs(e[j] - c[i]) <= h[i] * (1 + 1e-6) + 1e-6 * abs(c[i]) + 1e-9 for i, j in got)
