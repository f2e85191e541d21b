"""Synthetic heavy traffic for the load benchmark: 100 drones along the line, many targets.

Drone ``i`` hovers 300 m south of the border at an even spacing along it and reports,
once per ``period_s``, its own ``per_sensor`` targets (walkers milling east-west
within 1.2 km of it, geo-located with 10 m noise), so the detection rate is
``sensors * per_sensor / period_s``. One target per ``crossers_every`` sensors walks
south across the line instead: those raise the alerts whose latency is measured.
Drones, not radars: a radar scan also reports every track in its coverage that it
did *not* detect, so 100 overlapping radars each seeing only "its own" targets would
be a contradiction, not a load. Deterministic for a seed.
"""

from __future__ import annotations

import json

import numpy as np

from adapters.recording import RecordedMessage
from adapters.timefmt import to_iso
from adapters.topics import Topics
from fusion.site import Site

BORDER_LAT = 49.0
WEST_LON, EAST_LON = -122.90, -122.60


def site_dict(n_sensors: int, n_sectors: int = 2) -> dict:
    """A site file (as a dict) with ``n_sensors`` drones spaced along a 22 km stretch cut into ``n_sectors`` sectors."""
    cuts = np.linspace(WEST_LON, EAST_LON, n_sectors + 1)
    return {
        "site": {"name": "load-bench", "origin": {"lat": 49.0, "lon": -122.75}},
        "border": {"line": {"type": "LineString", "coordinates": [[float(x), BORDER_LAT] for x in np.linspace(WEST_LON, EAST_LON, 7)]},
                   "protected_side": "south"},
        "zones": [{"id": "buffer-500m", "buffer_m": 500}],
        "sensors": [{"id": f"drone-{i:03d}", "type": "drone", "scan_period_s": 1.0} for i in range(n_sensors)],
        "teams": [{"id": "unit-1", "kind": "vehicle", "lat": 48.99, "lon": -122.75, "speed_mps": 12}],
        "sectors": [{"id": f"s{k + 1:02d}", "west_lon": round(float(cuts[k]), 6), "east_lon": round(float(cuts[k + 1]), 6)}
                    for k in range(n_sectors)],
    }


def messages(site: Site, start: float, duration_s: float, per_sensor: int, period_s: float = 1.0,
             crossers_every: int = 5, seed: int = 1) -> list[RecordedMessage]:
    """Scans of every sensor, in time order, received 50 ms after observation."""
    rng = np.random.default_rng(seed)
    topics = Topics()
    sensors = site.sensors
    n = len(sensors)
    lons = np.linspace(WEST_LON + 0.005, EAST_LON - 0.005, n)
    towers = site.frame.to_enu(np.full(n, 48.9973), lons)[:, :2]  # (n, 2) east, north m: where each drone hovers
    # targets: (n, k) start positions about each tower, north of the line, moving east or west
    k = per_sensor
    e0 = towers[:, None, 0] + rng.uniform(-1200, 1200, (n, k))
    n0 = rng.uniform(150, 1500, (n, k))
    ve = rng.choice([-1.0, 1.0], (n, k)) * rng.uniform(0.8, 1.5, (n, k))
    vn = rng.normal(0.0, 0.05, (n, k))
    crossers = np.arange(n) % crossers_every == 0
    ve[crossers, 0], vn[crossers, 0], n0[crossers, 0] = 0.0, -1.4, rng.uniform(150, 400, crossers.sum())
    sigma_m = 10.0
    out: list[RecordedMessage] = []
    steps = int(duration_s / period_s)
    offsets = rng.uniform(0, period_s, n)  # sensors are not in lockstep
    platforms = [{"lat": 48.9973, "lon": round(float(lon), 6), "alt_m": 120.0} for lon in lons]
    for step in range(steps):
        for i in range(n):
            t = start + step * period_s + offsets[i]
            dt = t - start
            east = e0[i] + ve[i] * dt + rng.normal(0, sigma_m, k)
            north = n0[i] + vn[i] * dt + rng.normal(0, sigma_m, k)
            lat, lon = site.frame.to_geodetic_2d(east, north)
            dets = [{"lat": round(float(la), 7), "lon": round(float(lo), 7), "sigma_m": sigma_m, "class": "person", "confidence": 0.8}
                    for la, lo in zip(lat, lon)]
            body = {"sensor_id": sensors[i].id, "seq": step, "time": to_iso(t), "platform": platforms[i], "detections": dets}
            out.append(RecordedMessage(t + 0.05, topics.detections("drone", sensors[i].id), json.dumps(body, separators=(",", ":")).encode()))
    out.sort(key=lambda m: m.recv_time)
    return out
