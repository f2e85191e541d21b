"""Geofences: sides, signed distances, normals and zones, checked against geodesy and by properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.geofence import DENSIFY_STEP_DEG, Geofence, densify_lonlat
from fusion.site import Site


def site(coords: list[list[float]], side: str, zones: list[dict] | None = None) -> Site:
    return Site.model_validate({
        "site": {"name": "t", "origin": {"lat": 49.0, "lon": -122.75}},
        "border": {"line": {"type": "LineString", "coordinates": coords}, "protected_side": side},
        "zones": zones or [],
        "sensors": [{"id": "d", "type": "drone"}],
    })


PARALLEL = site([[-122.90, 49.0], [-122.60, 49.0]], "south", [{"id": "buf", "buffer_m": 500}])
FENCE = Geofence(PARALLEL)
M_PER_DEG_LAT = 111_213.0  # meridian arc per degree at 49 N (WGS84), metres


@settings(max_examples=200, deadline=None)
@given(st.floats(-10_000, 10_000), st.floats(-4_000, 4_000))
def test_property_side_and_distance_follow_the_49th_parallel(east: float, north: float) -> None:
    lat, _ = PARALLEL.frame.to_geodetic_2d(east, north)
    off_m = (float(lat) - 49.0) * M_PER_DEG_LAT  # metres north of the parallel
    if abs(off_m) < 0.5:
        return
    xy = np.array([[east, north]])
    assert bool(FENCE.on_protected_side(xy)[0]) == (off_m < 0)
    d = float(FENCE.signed_distance(xy)[0])
    assert d == pytest.approx(-off_m, abs=0.05 + 2e-3 * abs(off_m))
    assert bool(FENCE.zone_contains(xy)[0, 0]) == (abs(off_m) < 500.0 - 0.5) or abs(abs(off_m) - 500) < 1


def test_border_follows_the_parallel_not_the_chord() -> None:
    # 10 km east of the origin the 49th parallel lies ~8 m north of the origin's tangent-plane east axis
    lat, _ = PARALLEL.frame.to_geodetic_2d(10_000.0, 0.0)
    sag_m = (49.0 - float(lat)) * M_PER_DEG_LAT
    assert sag_m > 7.0
    assert float(FENCE.signed_distance(np.array([[10_000.0, 0.0]]))[0]) == pytest.approx(sag_m, abs=0.05)
    dense = densify_lonlat(np.array([[-122.9, 49.0], [-122.6, 49.0]]))
    assert np.abs(np.diff(dense, axis=0)).max() <= DENSIFY_STEP_DEG + 1e-12 and len(dense) >= 0.3 / DENSIFY_STEP_DEG + 1
    np.testing.assert_array_equal(dense[[0, -1]], [[-122.9, 49.0], [-122.6, 49.0]])


def test_normal_points_into_the_protected_side_for_every_orientation() -> None:
    cases = {
        "south": ([[-122.9, 49.0], [-122.6, 49.0]], (0.0, -1.0)),
        "north": ([[-122.6, 49.0], [-122.9, 49.0]], (0.0, 1.0)),  # vertex order does not matter
        "east": ([[-122.75, 48.9], [-122.75, 49.1]], (1.0, 0.0)),
        "west": ([[-122.75, 49.1], [-122.75, 48.9]], (-1.0, 0.0)),
    }
    for side, (coords, want) in cases.items():
        f = Geofence(site(coords, side))
        pts = np.array([[0.0, 0.0], [300.0, 200.0], [-500.0, -400.0]])
        np.testing.assert_allclose(f.normal_at(pts), np.tile(want, (3, 1)), atol=1e-3)
        inside = pts + 50.0 * np.asarray(want)
        assert f.on_protected_side(inside[:1]).all() and not f.on_protected_side(pts[:1] - 50.0 * np.asarray(want)).any()
        assert f.into_direction == {"south": "southbound", "north": "northbound", "east": "eastbound", "west": "westbound"}[side]


def test_bent_border_sides_and_nearest_segment_normal() -> None:
    # A V: down to a point 0.02 deg south of the origin and back up; protected south
    f = Geofence(site([[-122.8, 49.0], [-122.75, 48.98], [-122.7, 49.0]], "south"))
    tip = PARALLEL.frame.to_enu(48.98, -122.75)[:2]
    assert f.on_protected_side(np.array([tip - [0, 100]])).all()
    assert not f.on_protected_side(np.array([tip + [0, 100]])).any()
    n = f.normal_at(np.array([tip + [-1500, 300], tip + [1500, 300]]))
    # outside the V is protected: the west arm's normal points south-west, the east arm's south-east
    assert n[0, 0] < -0.3 and n[1, 0] > 0.3 and (n[:, 1] < -0.5).all()
    foot = f.nearest_on_line(np.array([tip + [0, -50]]))
    np.testing.assert_allclose(foot[0], tip, atol=1.0)


def test_polygon_zones_and_ports() -> None:
    ring = [[-122.76, 48.99], [-122.74, 48.99], [-122.74, 49.01], [-122.76, 49.01], [-122.76, 48.99]]
    f = Geofence(site([[-122.9, 49.0], [-122.6, 49.0]], "south", [
        {"id": "poe", "kind": "port_of_entry", "polygon": {"type": "Polygon", "coordinates": [ring]}},
        {"id": "buf", "buffer_m": 200},
    ]))
    e_in = PARALLEL.frame.to_enu(48.995, -122.75)[:2]
    e_out = PARALLEL.frame.to_enu(48.995, -122.70)[:2]
    pts = np.array([e_in, e_out])
    assert f.in_port(pts).tolist() == [True, False]
    assert f.zone_contains(pts).tolist() == [[True, False], [False, False]]
    dist = f.zone_distance(pts)
    assert dist[0, 0] == 0.0 and dist[1, 0] == pytest.approx(e_out[0] - PARALLEL.frame.to_enu(48.995, -122.74)[0], abs=1.0)
    assert dist[1, 1] == pytest.approx(556.0 - 200.0, abs=2.0)  # 0.005 deg south of the line, buffer 200 m


BENT = Geofence(site([[-122.8, 49.0], [-122.78, 49.01], [-122.75, 48.98], [-122.74, 48.98], [-122.7, 49.0]], "south"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-8_000, 8_000), st.floats(-4_000, 4_000)), min_size=1, max_size=40))
def test_property_numpy_nearest_point_equals_geos(points: list[tuple[float, float]]) -> None:
    """The numpy projection onto every segment finds GEOS's nearest point and distance (to
    1e-6 m), and a segment that holds it (where two segments share the nearest vertex, either)."""
    xy = np.array(points)
    for fence in (FENCE, BENT):
        d, on_line, seg = fence._nearest(xy)
        d_g, on_g, _ = fence._nearest_geos(xy)
        np.testing.assert_allclose(d, d_g, atol=1e-6)
        np.testing.assert_allclose(on_line, on_g, atol=1e-6)
        a, ab = fence.border_xy[seg], fence.border_xy[seg + 1] - fence.border_xy[seg]
        cross = ab[:, 0] * (on_line[:, 1] - a[:, 1]) - ab[:, 1] * (on_line[:, 0] - a[:, 0])
        np.testing.assert_allclose(cross / np.hypot(ab[:, 0], ab[:, 1]), 0.0, atol=1e-6)  # on its segment's line


def test_a_long_border_goes_through_geos_with_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond NUMPY_SEGMENTS the same queries are GEOS's (the threshold moved below this border's size)."""
    import fusion.geofence as gf

    pts = np.array([[-2_000.0, 300.0], [150.0, -700.0], [2_500.0, 40.0]])
    fast = BENT.measure(pts)
    monkeypatch.setattr(gf, "NUMPY_SEGMENTS", 1)
    slow = BENT.measure(pts)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, atol=1e-6)
