"""The site file as GeoJSON for the console map: border, protected side, zones, sensors, coverage, teams.

Shapes that the site file gives as distances (zone buffers, radar coverage) are
built in the site's ENU plane (metres) with shapely and turned back into WGS84, so
a 500 m buffer is 500 m on the ground, not 500 m of degrees.
"""

from __future__ import annotations

import math

import numpy as np
from shapely.geometry import LineString, Point, Polygon

from fusion.site import Site

#: Vertices of a coverage circle; 1/128 of a turn gives < 0.03 % radius error on the chords.
CIRCLE_VERTICES = 128
#: How far the protected-side band reaches from the line, as a share of the border length (min 1 km).
PROTECTED_BAND_SHARE = 0.08


def _to_lonlat(site: Site, enu_xy: np.ndarray) -> list[list[float]]:
    """(k, 2) east/north metres -> [[lon, lat], ...] rounded to 1e-7 degrees (~1 cm)."""
    lat, lon = site.frame.to_geodetic_2d(enu_xy[:, 0], enu_xy[:, 1])
    return [[round(float(x), 7), round(float(y), 7)] for x, y in zip(np.atleast_1d(lon), np.atleast_1d(lat))]


def _polygon_lonlat(site: Site, poly: Polygon) -> dict:
    rings = [np.asarray(poly.exterior.coords)] + [np.asarray(r.coords) for r in poly.interiors]
    return {"type": "Polygon", "coordinates": [_to_lonlat(site, ring[:, :2]) for ring in rings]}


def _feature(geometry: dict, **props: object) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def coverage_circle(site: Site, lat: float, lon: float, radius_m: float) -> dict:
    """A GeoJSON Polygon of the ground circle of ``radius_m`` metres about (lat, lon)."""
    centre = site.frame.to_enu(lat, lon)[:2]
    ang = np.linspace(0.0, 2.0 * math.pi, CIRCLE_VERTICES, endpoint=False)
    ring = centre + radius_m * np.stack([np.sin(ang), np.cos(ang)], axis=-1)
    ring = np.vstack([ring, ring[:1]])
    return {"type": "Polygon", "coordinates": [_to_lonlat(site, ring)]}


def protected_band(site: Site, width_m: float) -> Polygon:
    """ENU polygon of the strip of ``width_m`` metres on the protected side of the border line."""
    line = LineString(site.border_enu)
    side_vec = {"north": (0.0, 1.0), "south": (0.0, -1.0), "east": (1.0, 0.0), "west": (-1.0, 0.0)}[
        site.border.protected_side
    ]
    left = line.buffer(width_m, single_sided=True)
    right = line.buffer(-width_m, single_sided=True)
    mid = np.asarray(line.interpolate(0.5, normalized=True).coords[0])
    probe = Point(mid + 0.5 * width_m * np.asarray(side_vec))
    return left if left.distance(probe) <= right.distance(probe) else right


def site_geojson(site: Site) -> dict:
    """All static map layers as one FeatureCollection; ``properties.layer`` names the layer.

    Layers: ``border``, ``protected_side``, ``zone``, ``coverage``, ``sensor`` (fixed
    sensors only; drones and K-9 teams appear when they report), ``team`` (start of
    shift). ``bbox`` covers all but the coverage circles: the initial view.
    """
    features: list[dict] = []
    border_ll = [[float(x), float(y)] for x, y in site.border.line.coordinates]
    line_enu = LineString(site.border_enu)
    band_m = max(1000.0, PROTECTED_BAND_SHARE * line_enu.length)
    features.append(
        _feature(
            _polygon_lonlat(site, protected_band(site, band_m)),
            layer="protected_side",
            side=site.border.protected_side,
            width_m=round(band_m, 1),
        )
    )
    for zone in site.zones:
        if zone.polygon is not None:
            geom = zone.polygon.model_dump()
            geom["coordinates"] = [[list(p) for p in ring] for ring in geom["coordinates"]]
        else:
            geom = _polygon_lonlat(site, line_enu.buffer(float(zone.buffer_m), quad_segs=16))
        features.append(_feature(geom, layer="zone", id=zone.id, kind=zone.kind, buffer_m=zone.buffer_m))
    for s in site.sensors:
        if s.lat is not None and s.lon is not None and s.max_range_m is not None:
            features.append(
                _feature(coverage_circle(site, s.lat, s.lon, s.max_range_m), layer="coverage", id=s.id, max_range_m=s.max_range_m)
            )
    features.append(_feature({"type": "LineString", "coordinates": border_ll}, layer="border", protected_side=site.border.protected_side))
    for s in site.sensors:
        if s.lat is not None and s.lon is not None:
            features.append(
                _feature(
                    {"type": "Point", "coordinates": [s.lon, s.lat]},
                    layer="sensor",
                    id=s.id,
                    type=str(s.type.value),
                    max_range_m=s.max_range_m,
                    alt_m=s.alt_m,
                )
            )
    for t in site.teams:
        if t.lat is not None and t.lon is not None:
            features.append(_feature({"type": "Point", "coordinates": [t.lon, t.lat]}, layer="team", id=t.id, kind=t.kind))
    framed = [f for f in features if f["properties"]["layer"] != "coverage"]
    return {"type": "FeatureCollection", "features": features, "bbox": _bbox(framed)}


def _bbox(features: list[dict]) -> list[float]:
    """[west, south, east, north] over every coordinate of every feature."""
    pts: list[tuple[float, float]] = []

    def walk(c: object) -> None:
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            pts.append((float(c[0]), float(c[1])))
        elif isinstance(c, (list, tuple)):
            for x in c:
                walk(x)

    for f in features:
        walk(f["geometry"]["coordinates"])
    arr = np.asarray(pts)
    return [float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 0].max()), float(arr[:, 1].max())]


def site_summary(site: Site) -> dict:
    """What the page needs besides shapes: names and the sensor and team rosters."""
    return {
        "name": site.site.name,
        "origin": {"lat": site.site.origin.lat, "lon": site.site.origin.lon},
        "protected_side": site.border.protected_side,
        "sensors": [{"id": s.id, "type": str(s.type.value), "lat": s.lat, "lon": s.lon} for s in site.sensors],
        "teams": [{"id": t.id, "kind": t.kind, "lat": t.lat, "lon": t.lon, "speed_mps": t.speed_mps} for t in site.teams],
        "sectors": site.sector_ids(),
    }

