"""Core events -> contract payload dicts (CONTRACT.md track, alert, dispatch, dead letter).

Deterministic: the same event gives the same dict, key order included, so replay
output is byte-identical. Numbers are rounded to what they mean on the wire:
lat/lon 7 decimals (~1 cm), positions and speeds to 0.001 m(/s), covariances to
0.01 m^2, ETAs to 0.1 s, probabilities to 3 decimals; ``-0.0`` is written as ``0.0``.

Directions on the wire are local: ``vel_east_mps``/``vel_north_mps``, ``cov_en_m2``
and ``heading_deg`` are about true north *at the track*, not the site frame's north.
The two differ by the meridian convergence (0.15 degree 15 km from the origin at
49 N), so the site-frame vectors are rotated by that angle here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from adapters.ingest import DeadLetter
from adapters.timefmt import to_iso
from fusion.site import Site
from fusion.types import AlertReport, DispatchReport, TrackReport


def _r(x: float, nd: int) -> float:
    """Round to ``nd`` decimals, with -0.0 normalised to 0.0 (stable bytes)."""
    return round(float(x), nd) + 0.0


def _eta(eta_s: float | None) -> float | None:
    """Seconds to an event, 0.1 s, never negative; null when unknown or unreachable (inf/NaN)."""
    if eta_s is None or not math.isfinite(eta_s):
        return None
    return _r(max(float(eta_s), 0.0), 1)


def _latlon(site: Site, enu: np.ndarray) -> dict[str, float]:
    lat, lon = site.frame.to_geodetic_2d(float(enu[0]), float(enu[1]))
    return {"lat": _r(lat, 7), "lon": _r(lon, 7)}


def _to_local(site: Site, lat: float, lon: float) -> np.ndarray:
    """2x2 rotation from site-frame east/north axes to true east/north at (lat, lon)."""
    gamma = float(site.frame.grid_rotation_rad(lat, lon))
    c, s = math.cos(gamma), math.sin(gamma)
    return np.array([[c, -s], [s, c]])


def track_payload(r: TrackReport, site: Site) -> dict:
    """A track message; extras beyond the contract: ``count``, ``speed_mps``, ``heading_deg``, ``model_probs``."""
    pos = _latlon(site, r.x)
    rot = _to_local(site, pos["lat"], pos["lon"])
    vel = rot @ np.asarray(r.x[2:4], dtype=float)
    cov = rot @ np.asarray(r.P[:2, :2], dtype=float) @ rot.T
    speed = float(np.hypot(vel[0], vel[1]))
    heading = _r(math.degrees(math.atan2(vel[0], vel[1])) % 360.0, 1) % 360.0
    out: dict[str, object] = {
        "track_id": r.track_id,
        "time": to_iso(r.time),
        "status": str(r.status.value if hasattr(r.status, "value") else r.status),
        **pos,
        "vel_east_mps": _r(vel[0], 3),
        "vel_north_mps": _r(vel[1], 3),
        "cov_en_m2": [[_r(cov[0, 0], 2), _r(cov[0, 1], 2)], [_r(cov[1, 0], 2), _r(cov[1, 1], 2)]],
        "existence": _r(r.existence, 3),
        "class": r.class_name,
        "sensors": list(r.sensors),
        "sector": r.sector,
        "count": int(r.count),
        "speed_mps": _r(speed, 3),
        "heading_deg": heading,
    }
    if r.model_probs is not None:
        out["model_probs"] = [_r(p, 3) for p in np.asarray(r.model_probs, dtype=float)]
    return out


def _jsonable(value: object) -> object:
    """Plain JSON values from numpy scalars/arrays and containers; non-finite floats -> null."""
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return _r(value, 6) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def alert_payload(a: AlertReport, site: Site) -> dict:
    """An alert event: every contract field (null when unknown), then ``a.extra`` as optional fields.

    Extras never overwrite a contract field.
    """
    pos = _latlon(site, a.enu) if a.enu is not None else {"lat": None, "lon": None}
    out: dict[str, object] = {
        "alert_id": a.alert_id,
        "state": a.state,
        "kind": a.kind,
        "severity": a.severity,
        "time": to_iso(a.time),
        "track_ids": list(a.track_ids),
        **pos,
        "direction": a.direction,
        "eta_s": _eta(a.eta_s),
        "crossing_point": _latlon(site, a.crossing_enu) if a.crossing_enu is not None else None,
        "zone_id": a.zone_id,
        "sensor_id": a.sensor_id,
        "summary": a.summary,
    }
    for key, value in a.extra.items():
        if key not in out:
            out[key] = _jsonable(value)
    return out


def dispatch_payload(d: DispatchReport, site: Site) -> dict:
    """A dispatch order (``state``: new | update | cancel)."""
    return {
        "dispatch_id": d.dispatch_id,
        "alert_id": d.alert_id,
        "team_id": d.team_id,
        "time": to_iso(d.time),
        "state": d.state,
        "target": _latlon(site, d.target_enu),
        "intercept": {**_latlon(site, d.intercept_enu), "eta_s": _eta(d.intercept_eta_s)},
        "summary": d.summary,
    }


def deadletter_payload(d: DeadLetter) -> dict:
    """A dead letter; ``code`` (the reason's prefix) is an optional extension for filtering."""
    return {
        "time": to_iso(d.time),
        "topic": d.topic,
        "reason": d.reason,
        "payload_excerpt": d.payload_excerpt,
        "code": d.code,
    }
