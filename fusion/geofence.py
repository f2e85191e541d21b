"""Geofences of a site in local ENU metres: the border line, its protected side, zones.

Everything here works on arrays of points at once through shapely 2's vectorised
functions (``contains_xy``, ``distance``, ``line_locate_point``), so alerting never
loops over tracks to do geometry. The nearest point of the border line is the one
exception: for a border of up to ``NUMPY_SEGMENTS`` segments it is numpy over every
(point, segment) pair, the projection t = clip((p - a).(b - a) / |b - a|^2, 0, 1) onto
each segment and the closest of them; that is a tenth of the cost of GEOS's three passes
(distance, locate along the line, interpolate: ~6 us a point) for the few dozen segments
of a site's border. A longer border goes through GEOS.

The protected side is represented as a polygon: the border polyline, extended far
beyond both ends along the axis it runs (east-west for a north/south border), closed
around the protected half-plane. A point's *signed distance* to the border is its
distance to the line, positive on the protected side. For a gently curving border
this equals the usual half-plane test; for a polyline that doubles back the polygon
still gives one unambiguous side per point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from fusion.site import Site, Zone

FloatArray = NDArray[np.float64]

#: How far (metres) the border is extended beyond its ends to close the protected side.
_FAR_M = 1.0e6

#: Largest lon/lat step (degrees; ~730 m of a parallel at 49 N, where the chord is 1.2 cm off the parallel) between vertices in ENU.
DENSIFY_STEP_DEG = 1.0e-2

#: Up to this many border segments the nearest point of the line is found by numpy (module doc).
NUMPY_SEGMENTS = 256

#: Points per numpy block, so that a block's (point, segment) arrays stay near 64 k elements.
_PAIRS_PER_BLOCK = 65_536

#: Unit normal pointing into each protected side, east/north.
_SIDE_NORMAL = {"south": (0.0, -1.0), "north": (0.0, 1.0), "east": (1.0, 0.0), "west": (-1.0, 0.0)}

#: Direction words for a crossing into each protected side, and out of it.
_INTO = {"south": "southbound", "north": "northbound", "east": "eastbound", "west": "westbound"}
_OUT_OF = {"south": "northbound", "north": "southbound", "east": "westbound", "west": "eastbound"}


@dataclass(frozen=True)
class ZoneShape:
    """One zone of the site file as an ENU polygon (shapely), with its settings."""

    id: str
    kind: str  # watch | restricted | port_of_entry
    polygon: shapely.Polygon
    min_existence: float | None


class Geofence:
    """The site's border and zones in ENU metres, queried for many points at once."""

    def __init__(self, site: Site) -> None:
        self.protected_side: str = site.border.protected_side
        self.into_direction: str = _INTO[self.protected_side]
        self.out_direction: str = _OUT_OF[self.protected_side]
        ll = np.asarray(site.border.line.coordinates, dtype=float)
        verts = _lonlat_to_enu(site, densify_lonlat(ll))
        self.border_xy: FloatArray = verts
        self.line = shapely.LineString(verts)
        shapely.prepare(self.line)
        self.protected_region = _protected_region(verts, self.protected_side)
        shapely.prepare(self.protected_region)
        seg = np.diff(verts, axis=0)
        self._seg = seg
        self._inv_len2 = 1.0 / np.maximum(np.einsum("si,si->s", seg, seg), 1e-24)  # 1 / |b - a|^2, m^-2
        length = np.linalg.norm(seg, axis=1)
        self._cum_len = np.concatenate([[0.0], np.cumsum(length)])[:-1]  # start of each segment along the line
        normal = np.stack([-seg[:, 1], seg[:, 0]], axis=1) / np.maximum(length, 1e-12)[:, None]
        mid = verts[:-1] + 0.5 * seg
        flip = ~shapely.contains_xy(self.protected_region, mid[:, 0] + normal[:, 0], mid[:, 1] + normal[:, 1])
        self._seg_normal = np.where(flip[:, None], -normal, normal)
        self.zones: list[ZoneShape] = [_zone_shape(site, z, self.line) for z in site.zones]
        for z in self.zones:
            shapely.prepare(z.polygon)
        self._zone_polys = np.array([z.polygon for z in self.zones], dtype=object)  # (z,) for broadcast queries
        ports = [z.polygon for z in self.zones if z.kind == "port_of_entry"]
        self.ports = shapely.union_all(ports) if ports else None
        if self.ports is not None:
            shapely.prepare(self.ports)

    # --- the border line -------------------------------------------------------------

    def on_protected_side(self, xy: FloatArray) -> NDArray[np.bool_]:
        """True for each point (n, 2) on the protected side of the border."""
        xy = np.atleast_2d(np.asarray(xy, dtype=float))
        return shapely.contains_xy(self.protected_region, xy[:, 0], xy[:, 1])

    def signed_distance(self, xy: FloatArray) -> FloatArray:
        """Distance (metres) of each point (n, 2) to the border, positive on the protected side."""
        return self.measure(xy)[0]

    def project(self, xy: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(nearest border point (n, 2), unit normal into the protected side (n, 2)) in one pass."""
        _, on_line, seg = self._nearest(np.atleast_2d(np.asarray(xy, dtype=float)))
        return on_line, self._seg_normal[seg]

    def measure(self, xy: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(signed distance (n,), nearest border point (n, 2), normal (n, 2)) of each point (n, 2).

        The normal is that of the border segment nearest the point, pointing into the
        protected side (segment normals are oriented once, when the fence is built).
        """
        xy = np.atleast_2d(np.asarray(xy, dtype=float))
        d, on_line, seg = self._nearest(xy)
        return np.where(self.on_protected_side(xy), d, -d), on_line, self._seg_normal[seg]

    def normal_at(self, xy: FloatArray) -> FloatArray:
        """Unit normal (n, 2) of the border segment nearest each point, pointing into the protected side."""
        return self.project(xy)[1]

    def nearest_on_line(self, xy: FloatArray) -> FloatArray:
        """The point of the border line (n, 2) nearest each point (n, 2)."""
        return self._nearest(np.atleast_2d(np.asarray(xy, dtype=float)))[1]

    def _nearest(self, xy: FloatArray) -> tuple[FloatArray, FloatArray, NDArray[np.int64]]:
        """(distance (n,) m, nearest point of the line (n, 2), index of its segment (n,)) of points (n, 2)."""
        if len(self._seg) > NUMPY_SEGMENTS:
            return self._nearest_geos(xy)
        a, ab, inv = self.border_xy[:-1], self._seg, self._inv_len2
        step = max(1, _PAIRS_PER_BLOCK // len(ab))
        d = np.empty(xy.shape[0])
        on_line = np.empty((xy.shape[0], 2))
        seg = np.empty(xy.shape[0], dtype=np.int64)
        for lo in range(0, xy.shape[0], step):  # one block for a call's few hundred points
            p = xy[lo:lo + step]
            ape, apn = p[:, None, 0] - a[None, :, 0], p[:, None, 1] - a[None, :, 1]  # (k, s) m
            t = np.minimum(np.maximum((ape * ab[:, 0] + apn * ab[:, 1]) * inv, 0.0), 1.0)
            de, dn = ape - t * ab[:, 0], apn - t * ab[:, 1]  # point minus its foot on each segment
            k = np.argmin(de * de + dn * dn, axis=1)
            rows = np.arange(p.shape[0])
            tk = t[rows, k]
            d[lo:lo + step] = np.hypot(de[rows, k], dn[rows, k])
            on_line[lo:lo + step] = a[k] + tk[:, None] * ab[k]
            seg[lo:lo + step] = k
        return d, on_line, seg

    def _nearest_geos(self, xy: FloatArray) -> tuple[FloatArray, FloatArray, NDArray[np.int64]]:
        """``_nearest`` by GEOS: distance, position along the line, the point there (a long border)."""
        pts = shapely.points(xy)
        along = shapely.line_locate_point(self.line, pts)
        seg = np.clip(np.searchsorted(self._cum_len, along, side="right") - 1, 0, len(self._seg_normal) - 1)
        on_line = shapely.get_coordinates(shapely.line_interpolate_point(self.line, along))
        return shapely.distance(self.line, pts), on_line, seg

    def in_port(self, xy: FloatArray, margin_m: float = 0.0) -> NDArray[np.bool_]:
        """True where a point lies in a port of entry, or within ``margin_m`` of one (crossings there are legal)."""
        xy = np.atleast_2d(np.asarray(xy, dtype=float))
        if self.ports is None:
            return np.zeros(xy.shape[0], dtype=bool)
        if margin_m > 0.0:
            return shapely.dwithin(self.ports, shapely.points(xy), margin_m)
        return shapely.contains_xy(self.ports, xy[:, 0], xy[:, 1])

    # --- zones ----------------------------------------------------------------------

    def zone_distance(self, xy: FloatArray) -> FloatArray:
        """Distance (n, z) metres from each point to each zone; 0 inside."""
        xy = np.atleast_2d(np.asarray(xy, dtype=float))
        pts = shapely.points(xy)
        if not self.zones:
            return np.zeros((xy.shape[0], 0))
        return shapely.distance(self._zone_polys[None, :], pts[:, None])

    def zone_contains(self, xy: FloatArray) -> NDArray[np.bool_]:
        """(n, z) True where point n is inside zone z."""
        xy = np.atleast_2d(np.asarray(xy, dtype=float))
        if not self.zones:
            return np.zeros((xy.shape[0], 0), dtype=bool)
        return shapely.contains_xy(self._zone_polys[None, :], xy[:, 0:1], xy[:, 1:2])


def densify_lonlat(lonlat: FloatArray, max_step_deg: float = DENSIFY_STEP_DEG) -> FloatArray:
    """Insert vertices so no step exceeds ``max_step_deg``, straight in lon/lat.

    GeoJSON (RFC 7946) draws a line between two positions straight in lon/lat, so
    a border given as two points on the 49th parallel follows the parallel; in ENU
    that parallel bends away from the tangent plane's straight chord (about 11 m
    over 11 km at 49 N). Densifying before the ENU conversion keeps the line where
    the site file means it.
    """
    out = [lonlat[:1]]
    for a, b in zip(lonlat[:-1], lonlat[1:]):
        steps = max(1, int(np.ceil(np.max(np.abs(b - a)) / max_step_deg)))
        t = np.linspace(0.0, 1.0, steps + 1)[1:, None]
        out.append(a + t * (b - a))
    return np.vstack(out)


def _lonlat_to_enu(site: Site, lonlat: FloatArray) -> FloatArray:
    return site.frame.to_enu(lonlat[:, 1], lonlat[:, 0])[:, :2]


def _protected_region(verts: FloatArray, side: str) -> shapely.Geometry:
    """Polygon of the protected side: the border extended far along its run, closed beyond."""
    axis = 0 if side in ("north", "south") else 1  # the border runs along east (0) or north (1)
    if verts[-1, axis] < verts[0, axis]:
        verts = verts[::-1]
    run = np.zeros(2)
    run[axis] = 1.0
    out = np.asarray(_SIDE_NORMAL[side])
    start, end = verts[0] - _FAR_M * run, verts[-1] + _FAR_M * run
    ring = np.vstack([start, verts, end, end + _FAR_M * out, start + _FAR_M * out, start])
    poly = shapely.Polygon(ring)
    return poly if poly.is_valid else shapely.make_valid(poly)


def _zone_shape(site: Site, zone: Zone, line: shapely.LineString) -> ZoneShape:
    if zone.buffer_m is not None:
        poly = shapely.buffer(line, zone.buffer_m, quad_segs=16)
    else:
        assert zone.polygon is not None
        rings = []
        for ring in zone.polygon.coordinates:
            rings.append(_lonlat_to_enu(site, densify_lonlat(np.asarray(ring, dtype=float))))
        poly = shapely.Polygon(rings[0], rings[1:])
        if not poly.is_valid:
            poly = shapely.make_valid(poly)
    return ZoneShape(zone.id, zone.kind, poly, zone.min_existence)
