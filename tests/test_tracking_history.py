"""The tracker snapshot's packed scan history: a round trip gives back every field."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.tracking.history import pack_scans, unpack_scans
from fusion.types import Scan, SensorType


@st.composite
def scans(draw: st.DrawFn) -> Scan:
    m = draw(st.integers(0, 5))
    kind = draw(st.sampled_from(list(SensorType)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    opt = {}
    for name, shape in (("polar", (m, 2)), ("polar_sigma", (m, 2)), ("radial_speed_mps", (m,)), ("snr_db", (m,)),
                        ("heading_rad", (m,))):
        if draw(st.booleans()):
            a = rng.normal(size=shape)
            if a.size and draw(st.booleans()):
                a.flat[0] = np.nan  # absent per detection
            opt[name] = a
    if draw(st.booleans()):
        opt["narcotics"] = rng.random(m) > 0.5
    return Scan(time=draw(st.floats(1.7e9, 1.9e9)), sensor_id=draw(st.sampled_from(["tower-1", "drone-1", "k9-a"])),
                sensor_type=kind, seq=draw(st.integers(0, 2**40)), sensor_enu=rng.normal(size=3),
                z=rng.normal(size=(m, 2)), R=rng.normal(size=(m, 2, 2)), det_time=rng.normal(size=m),
                class_probs=rng.random((m, 4)), count=rng.integers(1, 9, m),
                notes=tuple(draw(st.text(max_size=8)) for _ in range(m)) if draw(st.booleans()) else (),
                recv_time=draw(st.none() | st.floats(1.7e9, 1.9e9)), **opt)


@settings(max_examples=80, deadline=None)
@given(st.lists(scans(), max_size=6))
def test_packed_scans_round_trip(batch: list[Scan]) -> None:
    back = unpack_scans(pack_scans(batch))
    assert len(back) == len(batch)
    for a, b in zip(batch, back):
        for name in ("time", "sensor_id", "sensor_type", "seq", "notes", "recv_time"):
            assert getattr(a, name) == getattr(b, name)
        for name in ("sensor_enu", "z", "R", "det_time", "class_probs", "count", "polar", "polar_sigma",
                     "radial_speed_mps", "snr_db", "narcotics", "heading_rad"):
            x, y = getattr(a, name), getattr(b, name)
            assert (x is None) == (y is None), name
            if x is not None:
                assert np.array_equal(np.asarray(x), y, equal_nan=x.dtype.kind == "f") and y.shape == np.asarray(x).shape, name
