"""Which side of the border a point is on, and where a path crosses it (site ENU metres).

The border is a polyline. The signed distance of a point is its distance to the
nearest segment, positive on the segment's left (for a line drawn west to east:
north). Beyond the ends the nearest end segment's line decides the side.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from shapely import contains_xy
from shapely.geometry import Polygon

from fusion.site import Site

FloatArray = NDArray[np.float64]

_COMPASS = {"north": (0.0, 1.0), "south": (0.0, -1.0), "east": (1.0, 0.0), "west": (-1.0, 0.0)}
_OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}


def signed_distance(line: FloatArray, points: FloatArray) -> FloatArray:
    """Signed distance (m) of points (..., 2) to a polyline (k, 2): + left of it, - right."""
    pts = np.asarray(points, dtype=float)
    flat = pts.reshape(-1, 2)
    a, b = line[:-1], line[1:]  # (s, 2)
    ab = b - a
    ap = flat[:, None, :] - a[None, :, :]  # (n, s, 2)
    u = np.clip(np.einsum("nsk,sk->ns", ap, ab) / np.einsum("sk,sk->s", ab, ab), 0.0, 1.0)
    nearest = a[None] + u[..., None] * ab[None]
    dist = np.hypot(*(flat[:, None, :] - nearest).transpose(2, 0, 1))
    seg = np.argmin(np.where(np.isnan(dist), np.inf, dist), axis=1)
    cross = ab[seg, 0] * ap[np.arange(len(flat)), seg, 1] - ab[seg, 1] * ap[np.arange(len(flat)), seg, 0]
    # On the line's extension beyond an end the cross product is 0 but the distance is not:
    # neither side is right there, so count it left rather than lose the distance.
    d = np.where(cross >= 0.0, 1.0, -1.0) * dist[np.arange(len(flat)), seg]
    return d.reshape(pts.shape[:-1])


def protected_sign(site: Site) -> float:
    """+1 if the protected side is left of the line (positive signed distance), else -1."""
    line = site.border_enu
    mid = len(line) // 2
    centre = (line[mid - 1] + line[mid]) / 2.0
    probe = centre + 1000.0 * np.asarray(_COMPASS[site.border.protected_side])
    return float(np.sign(signed_distance(line, probe[None])[0]))


def direction_name(site: Site, into_protected: bool) -> str:
    """``southbound``/``northbound`` (or east/west) for a crossing into/out of the protected side."""
    side = site.border.protected_side if into_protected else _OPPOSITE[site.border.protected_side]
    return f"{side}bound"


def port_polygons_enu(site: Site) -> list[Polygon]:
    """Port-of-entry zones (legal crossings) as shapely polygons in site ENU."""
    out = []
    for z in site.zones:
        if z.kind == "port_of_entry" and z.polygon is not None:
            rings = []
            for ring in z.polygon.coordinates:
                c = np.asarray(ring, dtype=float)
                rings.append(site.frame.to_enu(c[:, 1], c[:, 0])[:, :2])
            out.append(Polygon(rings[0], rings[1:]))
    return out


def in_any(polygons: list[Polygon], points: FloatArray) -> NDArray[np.bool_]:
    """Whether each point (n, 2) lies in any of the polygons."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    inside = np.zeros(len(pts), dtype=bool)
    for poly in polygons:
        inside |= contains_xy(poly, pts[:, 0], pts[:, 1])
    return inside
