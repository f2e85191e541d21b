"""``track_bodies`` (the published track messages, spelled without dicts) equals ``canonical_json`` of each payload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.recording import canonical_json
from adapters.site_file import load_site
from adapters.wire_out import track_bodies, track_payloads
from fusion.types import TrackReport, TrackStatus

SITE = load_site(Path(__file__).resolve().parents[1] / "configs" / "site.yaml")
T0 = 1_795_615_200.0

NAMES = st.text(alphabet=st.sampled_from('aZ0-_ "\\,:[]{}\u00e9\U0001f600\x00\n'), max_size=8)
FINITE = st.floats(-1e6, 1e6)
ROW = st.fixed_dictionaries({
    "track_id": NAMES | st.sampled_from(['","', '"', "\\", "T-000001"]),
    "time": st.sampled_from([T0, T0 + 0.25, T0 + 1.0005]) | st.floats(0.0, 4e9),
    "status": st.sampled_from(list(TrackStatus)),
    "x": st.tuples(st.floats(-40_000, 40_000), st.floats(-40_000, 40_000), FINITE, FINITE)
    | st.sampled_from([(0.0, 0.0, 0.0, 0.0), (1e-9, -1e-9, 1e-5, -1e-5), (np.nan, 0.0, 0.0, 0.0)]),
    "P": st.tuples(st.floats(0.0, 1e7), st.floats(-1e3, 1e3), st.floats(0.0, 1e7)),
    "existence": st.floats(0.0, 1.0),
    "class_probs": st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4),
    "sensors": st.lists(NAMES, max_size=3).map(tuple) | st.sampled_from([("tower-02", "drone-1"), ["tower-02"]]),
    "sector": NAMES | st.sampled_from(["west", "east", 1, 1.0, True]),  # off-type values still spelled as the dict
    "count": st.integers(1, 100_000) | st.sampled_from([2**63, 2**64 + 1]),
    "model_probs": st.none() | st.lists(st.floats(0.0, 1.0), min_size=0, max_size=3),
})


def _report(row: dict) -> TrackReport:
    e, c, n = row["P"]
    P = np.diag([1.0, 1.0, 1.0, 1.0])
    P[:2, :2] = [[e, c], [c, n]]
    mp = row["model_probs"]
    return TrackReport(**{**row, "x": np.array(row["x"]), "P": P, "class_probs": np.array(row["class_probs"]),
                          "model_probs": None if mp is None else np.array(mp)})


@settings(max_examples=400, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=8), st.booleans())
def test_track_bodies_are_the_canonical_json_of_the_payloads(rows: list[dict], same_probs: bool) -> None:
    """Any IDs (quotes, backslashes, '","', controls, non-ASCII), mixed or absent model probabilities, huge
    counts (orjson refuses them), a list of sensors (unhashable)."""
    if same_probs:  # the usual case: every track has the same number of modes
        rows = [{**r, "model_probs": [0.25, 0.75]} for r in rows]
    reports = [_report(r) for r in rows]
    try:
        expected = [canonical_json(p) for p in track_payloads(reports, SITE)]
    except ValueError:  # json.dumps's refusal of NaN, where orjson refused the count first
        with pytest.raises(ValueError):
            track_bodies(reports, SITE)
        return
    assert track_bodies(reports, SITE) == expected


def test_no_reports_no_bodies() -> None:
    assert track_bodies([], SITE) == []


def test_orjson_spells_array_elements_as_the_python_floats_they_become() -> None:
    """``track_bodies`` spells float64 arrays directly; ``canonical_json`` of the payload, their ``tolist()``."""
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**64, 200_000, dtype=np.uint64).view(np.float64)  # every exponent
    rounded = np.round(rng.normal(0.0, 10.0 ** rng.integers(-8, 9, 200_000)), rng.integers(0, 8)) + 0.0
    special = np.array([0.0, -0.0, 5e-324, 1e-7, 1e-5, 1e15, 1e16, 1e21, 1.7976931348623157e308, np.nan, np.inf])
    for a in (bits, rounded, special):
        assert orjson.dumps(a, option=orjson.OPT_SERIALIZE_NUMPY) == orjson.dumps(a.tolist())
