"""A replay output directory as one GeoJSON FeatureCollection (RFC 7946: [lon, lat], WGS84).

Reads ``tracks.jsonl`` and ``alerts.jsonl`` (lines ``{"topic": ..., "payload": {...}}``,
CONTRACT.md "Offline replay") and, when a site is given, draws its border and zones.
Every feature has a ``feature_type`` property so a map can style or filter them:

- ``track_trail``: LineString of a track's published positions in time order,
  with first/last time, last status and class, point count;
- ``track_last``: Point at the track's last published position, with that message's fields;
- ``alert``: Point at the alert's last known position, with the last event's fields,
  when it opened and (if it did) ended, and the states it went through;
- ``alert_crossing_point``: Point of the (last) predicted or observed crossing point;
- ``border`` (LineString) and ``zone`` (Polygon; buffer zones drawn from ENU).

Output is deterministic: features sorted by id, coordinates rounded to 1e-7 degrees.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import shapely

from fusion.geofence import Geofence
from fusion.site import Site

DIGITS = 7  # 1e-7 degrees ~ 1 cm


def read_outputs(path: Path) -> Iterator[dict]:
    """Payloads of a replay output file (an empty iterator when the file does not exist)."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                payload = json.loads(line).get("payload")
                if isinstance(payload, dict):
                    yield payload


def _pt(lon: float, lat: float) -> list[float]:
    return [round(float(lon), DIGITS), round(float(lat), DIGITS)]


def _feature(geometry: dict, props: dict) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def track_features(payloads: Iterable[dict]) -> list[dict]:
    by_track: dict[str, list[dict]] = {}
    for p in payloads:
        if "track_id" in p and p.get("lat") is not None and p.get("lon") is not None:
            by_track.setdefault(str(p["track_id"]), []).append(p)
    out = []
    for tid in sorted(by_track):
        msgs = sorted(by_track[tid], key=lambda p: p.get("time", ""))
        coords = [_pt(p["lon"], p["lat"]) for p in msgs]
        last = msgs[-1]
        if len(coords) >= 2:
            out.append(_feature({"type": "LineString", "coordinates": coords}, {
                "feature_type": "track_trail", "track_id": tid, "first_time": msgs[0].get("time"),
                "last_time": last.get("time"), "status": last.get("status"), "class": last.get("class"),
                "sector": last.get("sector"), "points": len(coords),
            }))
        out.append(_feature({"type": "Point", "coordinates": coords[-1]}, {"feature_type": "track_last", **last}))
    return out


def alert_features(payloads: Iterable[dict]) -> list[dict]:
    by_alert: dict[str, list[dict]] = {}
    for p in payloads:
        if "alert_id" in p:
            by_alert.setdefault(str(p["alert_id"]), []).append(p)
    out = []
    for aid in sorted(by_alert):
        events = by_alert[aid]  # in publication order
        last = events[-1]
        placed = [e for e in events if e.get("lat") is not None and e.get("lon") is not None]
        props = {
            "feature_type": "alert", **last, "opened": events[0].get("time"),
            "ended": last.get("time") if last.get("state") == "end" else None,
            "states": [e.get("state") for e in events], "first_kind": events[0].get("kind"),
        }
        geom = {"type": "Point", "coordinates": _pt(placed[-1]["lon"], placed[-1]["lat"])} if placed else None
        out.append(_feature(geom, props))
        crossing = [e["crossing_point"] for e in events if isinstance(e.get("crossing_point"), dict)]
        if crossing:
            cp = crossing[-1]
            out.append(_feature({"type": "Point", "coordinates": _pt(cp["lon"], cp["lat"])}, {
                "feature_type": "alert_crossing_point", "alert_id": aid, "kind": last.get("kind"),
                "direction": last.get("direction"),
            }))
    return out


def site_features(site: Site) -> list[dict]:
    fence = Geofence(site)
    out = [_feature({"type": "LineString", "coordinates": [_pt(lon, lat) for lon, lat in site.border.line.coordinates]},
                    {"feature_type": "border", "protected_side": site.border.protected_side, "name": site.site.name})]
    for z in fence.zones:
        rings = []
        poly = z.polygon if isinstance(z.polygon, shapely.Polygon) else max(z.polygon.geoms, key=lambda g: g.area)
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)
            lat, lon = site.frame.to_geodetic_2d(xy[:, 0], xy[:, 1])
            rings.append([_pt(a, b) for a, b in zip(lon, lat)])
        out.append(_feature({"type": "Polygon", "coordinates": rings}, {"feature_type": "zone", "zone_id": z.id, "kind": z.kind}))
    return out


def run_to_geojson(run_dir: Path, site: Site | None = None) -> dict:
    """The FeatureCollection of a replay output directory (and the site's geometry when given)."""
    features = site_features(site) if site is not None else []
    features += track_features(read_outputs(run_dir / "tracks.jsonl"))
    features += alert_features(read_outputs(run_dir / "alerts.jsonl"))
    return {"type": "FeatureCollection", "features": features}
