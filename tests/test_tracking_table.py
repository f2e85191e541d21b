"""TrackTable: ``select`` with room and ``concat`` into it give exactly what copying both tables gives,
whatever happens to the columns in between (in-place writes, replaced columns, older tables)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.tracking.table import TrackTable


def _table(rng: np.random.Generator, n: int, first_id: int) -> TrackTable:
    M = 3
    xm = rng.normal(0.0, 100.0, (n, M, 4))
    A = rng.normal(0.0, 1.0, (n, M, 4, 4))
    mu = rng.random((n, M)) + 0.1
    return TrackTable(
        ids=np.arange(first_id, first_id + n, dtype=np.int64), xm=xm, Pm=A @ np.swapaxes(A, -1, -2) + np.eye(4),
        mu=mu / mu.sum(axis=1, keepdims=True), r=rng.random(n), label=rng.random((n, 4)),
        count=rng.integers(1, 5, n), sensors=rng.integers(0, 8, (n, 2)).astype(np.uint64), born=rng.random(n), last_update=rng.random(n),
        confirmed=rng.random(n) < 0.5, reported=rng.integers(0, 4, n).astype(np.int8),
        dup_of=np.zeros(n, np.int64), dup_n=np.zeros(n, np.int64), t=rng.random(n),
    )


def _plain(tab: TrackTable) -> dict[str, np.ndarray]:
    return {f.name: getattr(tab, f.name).copy() for f in fields(tab)}


def _equal(a: dict[str, np.ndarray], b: TrackTable) -> None:
    for name, col in a.items():
        np.testing.assert_array_equal(getattr(b, name), col, err_msg=name)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.lists(st.tuples(st.integers(0, 3), st.integers(1, 30)), max_size=12))
def test_room_and_concat_equal_plain_copies(seed: int, n: int, ops: list[tuple[int, int]]) -> None:
    rng = np.random.default_rng(seed)
    tab = _table(rng, n, 1)
    ref = _plain(tab)
    next_id = n + 1
    olds = []
    for op, k in ops:
        if op == 0:  # a birth
            born = _table(rng, k, next_id)
            next_id += k
            olds.append((tab, _plain(tab)))
            ref = {name: np.concatenate([col, getattr(born, name)]) for name, col in ref.items()}
            tab = tab.concat(born)
        elif op == 1 and tab.n:  # a removal, leaving room
            keep = np.flatnonzero(rng.random(tab.n) < 0.7)
            ref = {name: col[keep] for name, col in ref.items()}
            tab = tab.select(keep, room=k)
        elif op == 2 and tab.n:  # an in-place write
            rows = rng.integers(0, tab.n, 3)
            tab.r[rows] = ref["r"][rows] = rng.random(3)
        elif op == 3 and tab.n:  # a replaced column
            tab.r = ref["r"] = np.minimum(tab.r, 0.5)
        _equal(ref, tab)
    for old, was in olds:  # appending never changes a table that existed before
        if old.n:
            np.testing.assert_array_equal(old.ids, was["ids"])
