"""TrackTable.drop: removing rows in the table's own buffers gives exactly the rows a plain
copy keeps, in order, whatever happened to the columns before (births into the room,
in-place writes, replaced columns, a table without room)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_tracking_table import _equal, _plain, _table


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.lists(st.tuples(st.integers(0, 4), st.integers(1, 30)), max_size=14))
def test_drop_equals_plain_copies(seed: int, n: int, ops: list[tuple[int, int]]) -> None:
    rng = np.random.default_rng(seed)
    tab = _table(rng, n, 1)
    ref = _plain(tab)
    next_id = n + 1
    for op, k in ops:
        if op == 0:  # a birth (into the room when there is one)
            born = _table(rng, k, next_id)
            next_id += k
            ref = {name: np.concatenate([col, getattr(born, name)]) for name, col in ref.items()}
            tab = tab.concat(born)
        elif op == 1 and tab.n:  # a removal, in place when the table has room
            gone = rng.random(tab.n) < rng.choice([0.05, 0.3, 1.0])
            gone[rng.integers(0, tab.n)] = True
            keep = np.flatnonzero(~gone)
            ref = {name: col[keep] for name, col in ref.items()}
            tab = tab.drop(gone, room=k)
        elif op == 2 and tab.n:  # an in-place write
            rows = rng.integers(0, tab.n, 3)
            tab.r[rows] = ref["r"][rows] = rng.random(3)
        elif op == 3 and tab.n:  # a replaced column
            tab.r = ref["r"] = np.minimum(tab.r, 0.5)
        elif op == 4 and tab.n:  # a copy: no room
            tab = tab.copy()
        _equal(ref, tab)
