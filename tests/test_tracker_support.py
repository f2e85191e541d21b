"""Shared helpers for the tracker tests (no tests here): a site and seeded scans."""

from __future__ import annotations

import numpy as np

from fusion.geodesy import polar_to_enu
from fusion.site import Site
from fusion.types import CLASSES, Scan, SensorType

T0 = 1_795_000_000.0


def make_site(clutter: float | None = 1e-7, max_range_m: float = 12000.0) -> Site:
    radar = {"id": "tower-1", "type": "radar", "lat": 49.0, "lon": -122.75, "max_range_m": max_range_m}
    if clutter is not None:
        radar["clutter_density_per_m2"] = clutter
    return Site.model_validate({
        "site": {"name": "test", "origin": {"lat": 49.0, "lon": -122.75}},
        "border": {"line": {"type": "LineString", "coordinates": [[-122.9, 49.0], [-122.6, 49.0]]},
                   "protected_side": "south"},
        "sensors": [radar, {"id": "drone-1", "type": "drone"}, {"id": "k9-1", "type": "k9"},
                    {"id": "tower-2", "type": "radar", "lat": 49.01, "lon": -122.70, "max_range_m": 8000.0}],
    })


def position_scan(t: float, z: np.ndarray, sigma: float, seq: int, sensor: str = "tower-1",
                  stype: SensorType = SensorType.RADAR, det_time: np.ndarray | None = None,
                  class_probs: np.ndarray | None = None, count: np.ndarray | None = None) -> Scan:
    z = np.asarray(z, float).reshape(-1, 2)
    m = z.shape[0]
    return Scan(
        time=t, sensor_id=sensor, sensor_type=stype, seq=seq, sensor_enu=np.zeros(3), z=z,
        R=np.repeat((sigma**2 * np.eye(2))[None], m, axis=0),
        det_time=np.full(m, t) if det_time is None else np.asarray(det_time, float),
        class_probs=np.full((m, len(CLASSES)), 0.25) if class_probs is None else class_probs,
        count=np.ones(m, np.int64) if count is None else count,
    )


def polar_scan(site: Site, t: float, truth_en: np.ndarray, rng: np.random.Generator, seq: int,
               sigma_r: float = 10.0, sigma_b_deg: float = 0.3, pd: float = 1.0, n_clutter: int = 0,
               sensor: str = "tower-1") -> Scan:
    """A radar scan of true ENU positions (range/bearing from true north at the tower, with noise)."""
    spec = site.sensor_by_id[sensor]
    tower = site.frame.to_enu(spec.lat, spec.lon, 0.0)
    gamma = float(site.frame.grid_rotation_rad(spec.lat, spec.lon))
    pts = np.asarray(truth_en, float).reshape(-1, 2)
    pts = pts[rng.random(pts.shape[0]) < pd]
    if n_clutter:
        ang = rng.uniform(0, 2 * np.pi, n_clutter)
        rad = spec.max_range_m * np.sqrt(rng.uniform(0, 1, n_clutter))
        pts = np.concatenate([pts, tower[:2] + np.c_[rad * np.sin(ang), rad * np.cos(ang)]])
    d = pts - tower[:2]
    rng_m = np.hypot(d[:, 0], d[:, 1]) + rng.normal(0, sigma_r, len(d))
    brg = np.degrees(np.arctan2(d[:, 0], d[:, 1]) - gamma) + rng.normal(0, sigma_b_deg, len(d))
    brg %= 360.0
    z, R = polar_to_enu(site.frame, spec.lat, spec.lon, rng_m, brg, np.full(len(d), sigma_r),
                        np.full(len(d), sigma_b_deg))
    m = len(d)
    return Scan(
        time=t, sensor_id=sensor, sensor_type=SensorType.RADAR, seq=seq, sensor_enu=tower,
        z=z.reshape(m, 2), R=R.reshape(m, 2, 2), det_time=np.full(m, t),
        class_probs=np.full((m, 4), 0.25), count=np.ones(m, np.int64),
        polar=np.c_[rng_m, np.radians(brg)].reshape(m, 2),
        polar_sigma=np.c_[np.full(m, sigma_r), np.full(m, np.radians(sigma_b_deg))].reshape(m, 2),
        radial_speed_mps=np.full(m, np.nan), snr_db=np.full(m, np.nan),
    )
