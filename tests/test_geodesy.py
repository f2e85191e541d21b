"""Geodesy: exact WGS84 <-> ECEF <-> ENU, and radar polar -> ENU with its covariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.geodesy import WGS84_A, WGS84_B, LocalFrame, ecef_to_geodetic, geodetic_to_ecef, polar_to_enu

origins = st.tuples(st.floats(-85.0, 85.0), st.floats(-180.0, 180.0), st.floats(-100.0, 3000.0))
# Offsets within 50 km of the origin, from 500 m below to 5 km above its tangent plane.
offsets = st.tuples(st.floats(0.0, 50_000.0), st.floats(0.0, 2 * math.pi), st.floats(-500.0, 5000.0))


def _enu(offset: tuple[float, float, float]) -> np.ndarray:
    d, az, up = offset
    return np.array([d * math.sin(az), d * math.cos(az), up])


@settings(max_examples=400, deadline=None)
@given(origins, offsets)
def test_enu_round_trip_under_a_millimetre_within_50_km(origin: tuple[float, float, float], offset: tuple[float, float, float]) -> None:
    frame = LocalFrame(*origin)
    enu = _enu(offset)
    lat, lon, alt = frame.to_geodetic(enu)
    back = frame.to_enu(lat, lon, alt)
    assert np.linalg.norm(back - enu) < 1e-3


@settings(max_examples=300, deadline=None)
@given(origins, st.floats(-0.4, 0.4), st.floats(-0.6, 0.6), st.floats(-200.0, 4000.0))
def test_geodetic_round_trip_under_a_millimetre(origin: tuple[float, float, float], dlat: float, dlon: float, alt: float) -> None:
    frame = LocalFrame(*origin)
    lat0, lon0 = origin[0] + dlat, ((origin[1] + dlon + 180.0) % 360.0) - 180.0
    lat, lon, h = frame.to_geodetic(frame.to_enu(lat0, lon0, alt))
    # Compare in metres: ECEF distance between the two geodetic points.
    err = np.linalg.norm(geodetic_to_ecef(lat, lon, h) - geodetic_to_ecef(lat0, lon0, alt))
    assert err < 1e-3


@settings(max_examples=200, deadline=None)
@given(origins)
def test_origin_is_zero_and_axes_point_east_north_up(origin: tuple[float, float, float]) -> None:
    frame = LocalFrame(*origin)
    np.testing.assert_allclose(frame.to_enu(*origin), 0.0, atol=1e-6)
    lat, lon, alt = origin
    # A point a hair north has positive north, ~zero east; a hair east has positive east.
    north = frame.to_enu(lat + 1e-4, lon, alt)
    east = frame.to_enu(lat, lon + 1e-4, alt)
    up = frame.to_enu(lat, lon, alt + 10.0)
    assert north[1] > 10.0 and abs(north[0]) < 1e-3
    assert east[0] > 0.5 and abs(east[1]) < 1e-2
    np.testing.assert_allclose(up, [0.0, 0.0, 10.0], atol=1e-6)


def test_known_ecef_points() -> None:
    np.testing.assert_allclose(geodetic_to_ecef(0.0, 0.0, 0.0), [WGS84_A, 0.0, 0.0])
    np.testing.assert_allclose(geodetic_to_ecef(90.0, 0.0, 0.0), [0.0, 0.0, WGS84_B], atol=1e-6)
    lat, lon, alt = ecef_to_geodetic([0.0, WGS84_A + 100.0, 0.0])
    assert (float(lat), float(lon), float(alt)) == pytest.approx((0.0, 90.0, 100.0), abs=1e-6)
    # One degree of latitude at 49 N is 111.2 km (meridian arc), one of longitude 73.2 km.
    frame = LocalFrame(49.0, -122.75)
    assert frame.to_enu(49.5, -122.75)[1] - frame.to_enu(48.5, -122.75)[1] == pytest.approx(111_213, abs=20)
    assert frame.to_enu(49.0, -122.25)[0] - frame.to_enu(49.0, -123.25)[0] == pytest.approx(73_172, abs=20)


def test_vectorised_shapes() -> None:
    frame = LocalFrame(49.0, -122.75)
    lat = np.linspace(48.9, 49.1, 12).reshape(3, 4)
    enu = frame.to_enu(lat, -122.7)
    assert enu.shape == (3, 4, 3)
    back = frame.to_geodetic(enu)
    assert all(a.shape == (3, 4) for a in back)


@settings(max_examples=200, deadline=None)
@given(st.floats(-40_000.0, 40_000.0), st.floats(-40_000.0, 40_000.0))
def test_ground_plane_to_geodetic_lands_on_the_ellipsoid(e: float, n: float) -> None:
    frame = LocalFrame(49.0, -122.75)
    lat, lon = frame.to_geodetic_2d(e, n)
    enu = frame.to_enu(lat, lon, 0.0)
    np.testing.assert_allclose(enu[:2], [e, n], atol=1e-6)  # a micrometre: one fixed-point step is enough


def test_grid_convergence_at_49_north() -> None:
    """True north 20 km east of the origin is ~dlon sin(lat) = 0.21 degrees west of grid north."""
    frame = LocalFrame(49.0, -122.75)
    lat, lon = frame.to_geodetic_2d(20_000.0, 0.0)
    gamma = math.degrees(float(frame.grid_rotation_rad(lat, lon)))
    expected = -(float(lon) - (-122.75)) * math.sin(math.radians(49.0))
    assert gamma == pytest.approx(expected, abs=0.002)
    assert abs(gamma) == pytest.approx(0.206, abs=0.005)
    assert float(frame.grid_rotation_rad(49.0, -122.75)) == pytest.approx(0.0, abs=1e-12)


towers = st.tuples(st.floats(48.8, 49.2), st.floats(-123.0, -122.5))


@settings(max_examples=200, deadline=None)
@given(towers, st.lists(st.tuples(st.floats(1.0, 20_000.0), st.floats(0.0, 360.0, exclude_max=True)), min_size=1, max_size=10))
def test_polar_to_enu_recovers_range_and_bearing(tower: tuple[float, float], polar: list[tuple[float, float]]) -> None:
    frame = LocalFrame(49.0, -122.75)
    rng, brg = np.array(polar).T
    z, R = polar_to_enu(frame, tower[0], tower[1], rng, brg, 10.0, 0.5)
    assert z.shape == (len(polar), 2) and R.shape == (len(polar), 2, 2)
    lat, lon = frame.to_geodetic_2d(z[:, 0], z[:, 1])
    local = LocalFrame(tower[0], tower[1]).to_enu(lat, lon)
    np.testing.assert_allclose(np.hypot(local[:, 0], local[:, 1]), rng, atol=0.01)
    got = np.degrees(np.arctan2(local[:, 0], local[:, 1]))
    np.testing.assert_allclose((got - brg + 180.0) % 360.0 - 180.0, 0.0, atol=1e-4)
    np.testing.assert_allclose(R, np.swapaxes(R, 1, 2))
    assert (np.linalg.eigvalsh(R) > 0).all()


@pytest.mark.parametrize(
    ("tower", "rng", "brg", "sr", "sb"),
    [
        ((48.997, -122.75), 1500.0, 187.0, 10.0, 0.5),
        ((48.997, -122.64), 6000.0, 300.0, 15.0, 0.3),  # 8 km east: grid convergence in play
        ((48.997, -122.86), 800.0, 45.0, 5.0, 2.0),
        ((49.1, -122.5), 3000.0, 95.0, 25.0, 1.0),
    ],
)
def test_polar_covariance_matches_monte_carlo(tower: tuple[float, float], rng: float, brg: float, sr: float, sb: float) -> None:
    """R from first-order propagation vs the sample covariance of 40,000 exact conversions."""
    frame = LocalFrame(49.0, -122.75)
    z, R = polar_to_enu(frame, *tower, rng, brg, sr, sb)
    gen = np.random.default_rng(20261125)
    n = 40_000
    samples, _ = polar_to_enu(frame, *tower, rng + sr * gen.standard_normal(n), brg + sb * gen.standard_normal(n), sr, sb)
    cov = np.cov(samples.T)
    # Compare as ellipses: relative error in each principal variance and in the orientation.
    w_r, v_r = np.linalg.eigh(R[0])
    w_s, v_s = np.linalg.eigh(cov)
    np.testing.assert_allclose(w_s, w_r, rtol=0.04)
    assert abs(abs(float(v_r[:, 1] @ v_s[:, 1])) - 1.0) < 1e-3
    np.testing.assert_allclose(samples.mean(axis=0), z[0], atol=3 * math.sqrt(w_r[1] / n) + rng * (math.radians(sb) ** 2) / 2)


def test_polar_covariance_stays_positive_definite_at_the_tower() -> None:
    frame = LocalFrame(49.0, -122.75)
    _, R = polar_to_enu(frame, 48.997, -122.75, [0.0, 0.5, 3.0], [0.0, 90.0, 200.0], 10.0, 0.5)
    assert (np.linalg.eigvalsh(R) > 0).all()
