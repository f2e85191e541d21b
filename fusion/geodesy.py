"""WGS84 geodesy: geodetic <-> ECEF <-> local East-North-Up, exact and vectorised.

Inside Borderwatch every position is in a local ENU frame (metres) tangent to the
ellipsoid at the site origin. The conversions here are exact (no flat-earth
shortcut): geodetic -> ECEF is closed form, ECEF -> geodetic uses Zhu's closed-form
solution (J. Zhu, IEEE TAES 30(3), 1994), accurate to well below a millimetre.

Angles on the wire are degrees; arguments named ``*_deg`` take degrees and
everything else in radians. All functions accept scalars or numpy arrays and
broadcast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

WGS84_A = 6_378_137.0  # semi-major axis, metres
WGS84_F = 1.0 / 298.257_223_563  # flattening
WGS84_B = WGS84_A * (1.0 - WGS84_F)  # semi-minor axis, metres
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)  # first eccentricity squared

FloatArray = NDArray[np.float64]


def geodetic_to_ecef(lat_deg: ArrayLike, lon_deg: ArrayLike, alt_m: ArrayLike = 0.0) -> FloatArray:
    """Geodetic (degrees, metres above the ellipsoid) -> ECEF metres, shape (..., 3)."""
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    h = np.asarray(alt_m, dtype=float)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_lat**2)  # prime-vertical radius of curvature
    x = (n + h) * cos_lat * np.cos(lon)
    y = (n + h) * cos_lat * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + h) * sin_lat
    return _stack3(x, y, z)


def _stack3(x: FloatArray, y: FloatArray, z: FloatArray) -> FloatArray:
    """(..., 3) from three coordinate arrays, broadcast only when their shapes differ (a copy either way)."""
    if x.shape == y.shape == z.shape:
        return np.stack((x, y, z), axis=-1)
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(ecef: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ECEF metres (..., 3) -> (lat_deg, lon_deg, alt_m), Zhu's closed form."""
    x, y, z, r, z2, d2, v = _zhu(ecef)
    lat, lon = _zhu_lat_lon(x, y, z, r, v)
    return lat, lon, _zhu_alt(z2, d2, v)


def _zhu(ecef: ArrayLike) -> tuple[FloatArray, ...]:
    """The terms of Zhu's solution that latitude, longitude and altitude share (each computed once)."""
    xyz = np.asarray(ecef, dtype=float)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    a, b, e2 = WGS84_A, WGS84_B, WGS84_E2
    r2 = x**2 + y**2
    r = np.sqrt(r2)
    z2 = z**2
    big_e2 = a**2 - b**2
    f = 54.0 * b**2 * z2
    g = r2 + (1.0 - e2) * z2 - e2 * big_e2
    c = e2**2 * f * r2 / g**3
    s = np.cbrt(1.0 + c + np.sqrt(c**2 + 2.0 * c))
    p = f / (3.0 * (s + 1.0 / s + 1.0) ** 2 * g**2)
    q = np.sqrt(1.0 + 2.0 * e2**2 * p)
    r0 = -(p * e2 * r) / (1.0 + q) + np.sqrt(
        0.5 * a**2 * (1.0 + 1.0 / q) - p * (1.0 - e2) * z2 / (q * (1.0 + q)) - 0.5 * p * r2
    )
    d2 = (r - e2 * r0) ** 2
    v = np.sqrt(d2 + (1.0 - e2) * z2)
    return x, y, z, r, z2, d2, v


def _zhu_lat_lon(
    x: FloatArray, y: FloatArray, z: FloatArray, r: FloatArray, v: FloatArray
) -> tuple[FloatArray, FloatArray]:
    a, b = WGS84_A, WGS84_B
    ep2 = (a**2 - b**2) / b**2  # second eccentricity squared
    z0 = b**2 * z / (a * v)
    lat = np.arctan((z + ep2 * z0) / r)
    lon = np.arctan2(y, x)
    return np.degrees(lat), np.degrees(lon)


def _zhu_alt(z2: FloatArray, d2: FloatArray, v: FloatArray) -> FloatArray:
    u = np.sqrt(d2 + z2)
    return u * (1.0 - WGS84_B**2 / (WGS84_A * v))


def _enu_rotation(lat_rad: ArrayLike, lon_rad: ArrayLike) -> FloatArray:
    """Rotation matrix (..., 3, 3) taking ECEF offsets to local (east, north, up)."""
    lat = np.asarray(lat_rad, dtype=float)
    lon = np.asarray(lon_rad, dtype=float)
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(sl * so)
    rows = [
        [-so + zero, co + zero, zero],
        [-sl * co, -sl * so, cl + zero],
        [cl * co, cl * so, sl + zero],
    ]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


@dataclass(frozen=True)
class LocalFrame:
    """A local East-North-Up frame (metres) tangent to WGS84 at an origin.

    ``to_enu`` and ``to_geodetic`` are exact inverses (round trip well under 1 mm
    within 50 km of the origin; see tests/test_geodesy.py).
    """

    origin_lat_deg: float
    origin_lon_deg: float
    origin_alt_m: float = 0.0
    _origin_ecef: FloatArray = field(init=False, repr=False, compare=False)
    _rot: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_origin_ecef", geodetic_to_ecef(self.origin_lat_deg, self.origin_lon_deg, self.origin_alt_m)
        )
        object.__setattr__(
            self, "_rot", _enu_rotation(np.radians(self.origin_lat_deg), np.radians(self.origin_lon_deg))
        )

    def ecef_to_enu(self, ecef: ArrayLike) -> FloatArray:
        """ECEF metres (..., 3) -> ENU metres (..., 3)."""
        d = np.asarray(ecef, dtype=float) - self._origin_ecef
        return d @ self._rot.T

    def enu_to_ecef(self, enu: ArrayLike) -> FloatArray:
        """ENU metres (..., 3) -> ECEF metres (..., 3)."""
        return np.asarray(enu, dtype=float) @ self._rot + self._origin_ecef

    def to_enu(self, lat_deg: ArrayLike, lon_deg: ArrayLike, alt_m: ArrayLike = 0.0) -> FloatArray:
        """Geodetic degrees/metres -> ENU metres, shape (..., 3)."""
        return self.ecef_to_enu(geodetic_to_ecef(lat_deg, lon_deg, alt_m))

    def to_geodetic(self, enu: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """ENU metres (..., 3) -> (lat_deg, lon_deg, alt_m)."""
        return ecef_to_geodetic(self.enu_to_ecef(enu))

    def to_geodetic_2d(self, east_m: ArrayLike, north_m: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Ground-plane ENU -> (lat_deg, lon_deg), placing the point on the ellipsoid.

        The tracker works in the east/north plane; a point at (e, n) is taken to lie
        on the ellipsoid surface, i.e. the up coordinate that puts it at alt 0 is
        found by fixed-point steps from the earth's curvature drop, e^2+n^2 over 2R.
        One step suffices: within 40 km of the origin it leaves the point 5 um off
        the surface and moves lat/lon by under 5e-13 degree (50 nm), a thousandth of
        the 7 decimals on the wire (tests/test_geodesy.py); a second step cost a
        third of every track message's geodesy.
        """
        e = np.asarray(east_m, dtype=float)
        n = np.asarray(north_m, dtype=float)
        up = -self.origin_alt_m - (e**2 + n**2) / (2.0 * WGS84_A)
        _, _, _, _, z2, d2, v = _zhu(self.enu_to_ecef(_stack3(e, n, up)))
        x, y, z, r, _, _, v = _zhu(self.enu_to_ecef(_stack3(e, n, up - _zhu_alt(z2, d2, v))))
        return _zhu_lat_lon(x, y, z, r, v)

    def grid_rotation_rad(self, lat_deg: ArrayLike, lon_deg: ArrayLike) -> FloatArray:
        """Angle (radians) from this frame's north axis to true north at a point.

        A bearing measured from true north at the point equals the bearing in this
        frame minus this angle (meridian convergence, ~ dlon * sin(lat); 0.21 deg at
        20 km east of the origin at 49 N, which matters for a 0.5 deg radar).
        """
        lat = np.radians(np.asarray(lat_deg, dtype=float))
        lon = np.radians(np.asarray(lon_deg, dtype=float))
        sl, cl = np.sin(lat), np.cos(lat)
        so, co = np.sin(lon), np.cos(lon)
        # True north at the point (the north row of ``_enu_rotation``, alone), expressed in this frame.
        north = np.stack([-sl * co, -sl * so, cl + np.zeros_like(sl * so)], axis=-1)
        north_here = north @ self._rot.T
        return np.arctan2(north_here[..., 0], north_here[..., 1])


def polar_to_enu(
    frame: LocalFrame,
    tower_lat_deg: float,
    tower_lon_deg: float,
    range_m: ArrayLike,
    bearing_deg: ArrayLike,
    sigma_range_m: ArrayLike,
    sigma_bearing_deg: ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Radar (ground range, bearing from true north at the tower) -> site ENU with covariance.

    Returns ``z`` (m, 2) east/north metres and ``R`` (m, 2, 2) square metres. The
    point is placed exactly: offset in the tower's own ENU frame -> ECEF -> site ENU.
    The covariance is the first-order propagation J diag(sr^2, sb^2) J^T with
    J = d(e, n)/d(r, b) = [[sin b, r' cos b], [cos b, -r' sin b]] in the tower frame,
    then rotated by the grid convergence angle into the site frame. (First order is
    what a converted-measurement filter uses; the tracker's EKF may use the raw
    polar values instead.) ``r' = sqrt(r^2 + sr^2)`` rather than ``r``: the exact
    cross-range variance of r sin(b - b0) is E[r^2] E[sin^2] ~= (r^2 + sr^2) sb^2, so
    this keeps the leading term that pure first order drops; it matters only within
    a few sigma_range of the tower, where first order would give a singular R.
    """
    r = np.atleast_1d(np.asarray(range_m, dtype=float))
    b = np.radians(np.atleast_1d(np.asarray(bearing_deg, dtype=float)))
    sr = np.atleast_1d(np.asarray(sigma_range_m, dtype=float)) * np.ones_like(r)
    sb = np.radians(np.atleast_1d(np.asarray(sigma_bearing_deg, dtype=float))) * np.ones_like(r)
    tower, rot = _tower_geometry(frame, float(tower_lat_deg), float(tower_lon_deg))
    sin_b, cos_b = np.sin(b), np.cos(b)
    e_t, n_t = r * sin_b, r * cos_b
    up_t = -(r**2) / (2.0 * WGS84_A)  # keep the point near the ellipsoid, not on the tangent plane
    enu_site = frame.ecef_to_enu(tower.enu_to_ecef(np.stack([e_t, n_t, up_t], axis=-1)))
    z = enu_site[:, :2]
    jac = np.empty((r.size, 2, 2))
    r_eff = np.sqrt(r**2 + sr**2)
    jac[:, 0, 0], jac[:, 0, 1] = sin_b, r_eff * cos_b
    jac[:, 1, 0], jac[:, 1, 1] = cos_b, -r_eff * sin_b
    cov_tower = jac * np.stack([sr**2, sb**2], axis=-1)[:, None, :] @ np.swapaxes(jac, 1, 2)
    return z, rot @ cov_tower @ rot.T


@lru_cache(maxsize=256)
def _tower_geometry(frame: LocalFrame, tower_lat_deg: float, tower_lon_deg: float) -> tuple[LocalFrame, FloatArray]:
    """A tower's own ENU frame and the 2x2 rotation from its true-north axes to the site axes.

    Cached (towers do not move; a frame hashes by its origin): building both costs
    more than converting a whole scan.
    """
    gamma = float(frame.grid_rotation_rad(tower_lat_deg, tower_lon_deg))
    c, s = np.cos(gamma), np.sin(gamma)
    rot = np.array([[c, s], [-s, c]])  # tower (true-north) axes -> site axes
    rot.setflags(write=False)
    return LocalFrame(tower_lat_deg, tower_lon_deg, 0.0), rot
