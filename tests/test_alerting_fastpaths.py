"""Alerting's array shortcuts equal the plain numpy they replaced, bit for bit, on random inputs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.alerting import memory
from fusion.alerting.grouping import GroupSearch
from fusion.alerting.rules import _GroupStats


def _stats(n: int, groups: list[np.ndarray]) -> _GroupStats:
    table = SimpleNamespace(xy=np.zeros((n, 2)), v=np.zeros((n, 2)), count=np.ones(n, dtype=np.int64), existence=np.ones(n),
                            confirmed=np.ones(n, dtype=bool), class_idx=np.zeros(n, dtype=np.int64))
    return _GroupStats(SimpleNamespace(fence=SimpleNamespace(zones=[])), SimpleNamespace(table=table, inside=np.zeros((n, 0), bool)),
                       groups)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 50), st.integers(0, 2**31 - 1))
def test_property_group_argmax_is_each_groups_np_argmax(n: int, seed: int) -> None:
    """Ties (few distinct values), signed zeros and NaN: the first largest, a NaN first, as np.argmax."""
    rng = np.random.default_rng(seed)
    p = rng.choice([0.0, -0.0, 0.25, 0.5, 0.9, 1.0, np.nan], n, p=[0.2, 0.1, 0.2, 0.2, 0.1, 0.1, 0.1])
    labels = rng.integers(0, max(1, n // 3), n)
    groups = [np.flatnonzero(labels == g) for g in np.unique(labels)]
    rng.shuffle(groups)
    got = _stats(n, groups).argmax(p)
    assert got.tolist() == [int(rows[np.argmax(p[rows])]) for rows in groups]


def test_group_argmax_of_no_groups_is_empty() -> None:
    assert _stats(3, []).argmax(np.zeros(3)).size == 0


def _grow_reference(xy: np.ndarray, v: np.ndarray, alive: np.ndarray, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The seeds' components over all alive rows by brute force: reached rows and their component labels
    numbered in order of each component's first row."""
    live = np.flatnonzero(alive)
    d = np.sqrt(np.add.reduce((xy[live, None] - xy[None, live]) ** 2, axis=-1))
    dv = np.sqrt(np.add.reduce((v[live, None] - v[None, live]) ** 2, axis=-1))
    adj = (d < 60.0) & (dv < 0.8)
    comp = np.arange(live.size)
    while True:  # smallest reachable index, by relaxation
        nxt = np.minimum(comp, np.where(adj, comp[None, :], live.size).min(axis=1))
        nxt = nxt[nxt]
        if np.array_equal(nxt, comp):
            break
        comp = nxt
    pos = np.searchsorted(live, seeds)
    keep = np.isin(comp, comp[pos])
    reached = live[keep]
    _, labels = np.unique(comp[keep], return_inverse=True)
    return reached, labels


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 120), st.integers(0, 2**31 - 1))
def test_property_group_search_equals_brute_force_components(n: int, seed: int) -> None:
    """Tracks on a few cells (neighbouring cell columns and rows, negative coordinates): the grown groups
    and their numbering are the brute-force components'."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-200.0, 200.0, (n, 2))
    v = rng.choice([-1.0, 1.0], (n, 1)) * np.array([[1.0, 0.3]]) + rng.normal(0.0, 0.3, (n, 2))
    alive = rng.random(n) > 0.15
    live = np.flatnonzero(alive)
    if live.size == 0:
        return
    seeds = rng.choice(live, min(live.size, 3), replace=False)
    search = GroupSearch(xy, v, alive, 60.0, 0.8)
    search.grow(seeds[:1])
    search.grow(seeds[1:])
    reached, labels = _grow_reference(xy, v, alive, seeds)
    assert np.array_equal(search.reached, reached)
    assert np.array_equal(search.labels(), labels)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_property_spread_is_from_np_mean(k: int, seed: int) -> None:
    """``refresh_motion``'s spread: the largest distance of the dwell window's points from their np.mean."""
    rng = np.random.default_rng(seed)
    mem = memory.new_columns(3)
    path = [(float(i) * memory.PATH_STEP_S, float(e), float(n)) for i, (e, n) in enumerate(rng.normal(0.0, 500.0, (k, 2)))]
    mem["path"][1] = path
    memory.refresh_motion(mem, np.array([1]), 60.0, 30.0, 300.0)
    xy = np.array(path)[:, 1:]
    want = np.max(np.linalg.norm(xy - xy.mean(axis=0), axis=1))
    assert mem["spread_m"][1] == want
