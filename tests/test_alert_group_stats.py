"""The rules' per-group figures reduced for all groups at once (``rules._GroupStats``) equal the
per-group computations they replaced, bit for bit, on random groups."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.alerting.rules import _GroupStats, _mean_rows
from fusion.types import CLASSES


def group_class(class_idx: np.ndarray) -> str:
    names = {CLASSES[i] for i in class_idx}
    for cls in ("person", "vehicle", "unknown", "animal"):
        if cls in names:
            return cls
    return "unknown"


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 60), st.integers(0, 2**31 - 1), st.lists(st.sampled_from(["watch", "restricted", "port_of_entry"]), max_size=3))
def test_property_group_stats_equal_per_group_figures(n: int, seed: int, kinds: list[str]) -> None:
    rng = np.random.default_rng(seed)
    xy, v = rng.normal(0, 3000, (n, 2)), rng.normal(0, 1.5, (n, 2))
    xy[rng.random((n, 2)) < 0.2] = -0.0  # signed zeros: a stopped track's velocity, a track on an axis
    v[rng.random((n, 2)) < 0.3] = -0.0
    v[rng.random((n, 2)) < 0.1] = 0.0
    table = SimpleNamespace(xy=xy, v=v, count=rng.integers(1, 5, n),
                            existence=rng.random(n), confirmed=rng.random(n) < 0.5, class_idx=rng.integers(0, 4, n))
    zones = [SimpleNamespace(kind=k, id=f"z{j}") for j, k in enumerate(kinds)]
    ctx = SimpleNamespace(table=table, inside=rng.random((n, len(zones))) < 0.3)
    eng = SimpleNamespace(fence=SimpleNamespace(zones=zones))
    labels = rng.integers(0, max(1, n // 3), n)
    groups = [np.flatnonzero(labels == g) for g in np.unique(labels)]
    rng.shuffle(groups)
    stats = _GroupStats(eng, ctx, groups)
    flags = rng.random(n) < 0.5
    for g, rows in enumerate(groups):
        for got, a in ((stats.xy[g], table.xy[rows]), (stats.v[g], table.v[rows])):
            want = _mean_rows(a)
            assert got == want.tolist() and np.array_equal(np.signbit(got), np.signbit(want))
        assert stats.count[g] == int(table.count[rows].sum())
        assert stats.confidence[g] == float(table.existence[rows].max())
        assert stats.confirmed[g] == bool(table.confirmed[rows].any())
        assert stats.cls[g] == group_class(table.class_idx[rows])
        zone = next((z.id for j, z in enumerate(zones) if z.kind != "port_of_entry" and ctx.inside[rows, j].any()), None)
        assert stats.zone[g] == zone
        assert stats.any(flags)[g] == flags[rows].any() and stats.all(flags)[g] == flags[rows].all()
