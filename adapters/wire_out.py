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
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import orjson

from adapters.ingest import DeadLetter
from adapters.recording import canonical_json
from adapters.timefmt import to_iso
from fusion.site import Site
from fusion.types import CLASSES, AlertReport, DispatchReport, TrackReport, TrackStatus


def _r(x: float, nd: int) -> float:
    """Round to ``nd`` decimals, with -0.0 normalised to 0.0 (stable bytes)."""
    return round(float(x), nd) + 0.0


def _eta(eta_s: float | None) -> float | None:
    """Seconds to an event, 0.1 s, never negative; null when unknown or unreachable (inf/NaN)."""
    if eta_s is None or not math.isfinite(eta_s):
        return None
    return _r(max(float(eta_s), 0.0), 1)


def _latlon(site: Site, enu: np.ndarray) -> dict[str, float]:
    return _latlons(site, [enu])[0]  # type: ignore[return-value]


def _latlons(site: Site, points: Sequence[np.ndarray | None]) -> list[dict[str, float] | None]:
    """{"lat", "lon"} (7 decimals) of each east/north point (m), None for None: one geodetic conversion for all."""
    have = [k for k, p in enumerate(points) if p is not None]
    out: list[dict[str, float] | None] = [None] * len(points)
    if have:
        en = np.array([np.asarray(points[k], dtype=float)[:2] for k in have]).reshape(len(have), 2)
        lat, lon = site.frame.to_geodetic_2d(en[:, 0], en[:, 1])
        for k, la, lo in zip(have, _round(lat, 7), _round(lon, 7)):
            out[k] = {"lat": la, "lon": lo}
    return out


def _rounded(a: np.ndarray, nd: int) -> np.ndarray:
    """Array rounded to ``nd`` decimals, -0.0 normalised to 0.0 (as the wire spells it)."""
    return np.round(a, nd) + 0.0


def _round(a: np.ndarray, nd: int) -> list:
    """``_rounded`` as plain Python floats."""
    return _rounded(a, nd).tolist()


class _TrackColumns(NamedTuple):
    """The numbers of a batch of track messages, rounded as on the wire (float arrays)."""

    lat: np.ndarray
    lon: np.ndarray
    vel_east: np.ndarray
    vel_north: np.ndarray
    cov: np.ndarray  # (n, 2, 2) m^2, rounded to 0.01
    existence: np.ndarray
    speed: np.ndarray
    heading: np.ndarray
    classes: list[str]


def _track_columns(reports: Sequence[TrackReport], site: Site) -> _TrackColumns:
    """One geodetic conversion and one rotation for a non-empty batch of reports.

    Velocity and covariance are rotated from the site axes to true east/north at each
    track: ``v' = Q v``, ``C' = Q C Q^T`` with ``Q`` the rotation by the meridian
    convergence ``gamma`` at the track.
    """
    n = len(reports)
    x = _stacked([r.x for r in reports], (slice(0, 4),)).reshape(n, 4)
    P = _stacked([r.P for r in reports], (slice(0, 2), slice(0, 2))).reshape(n, 2, 2)
    lat, lon = site.frame.to_geodetic_2d(x[:, 0], x[:, 1])
    lat, lon = _rounded(lat, 7), _rounded(lon, 7)
    gamma = np.atleast_1d(site.frame.grid_rotation_rad(lat, lon))
    c, s = np.cos(gamma), np.sin(gamma)
    Q = np.stack([np.stack([c, -s], axis=-1), np.stack([s, c], axis=-1)], axis=-2)  # (n, 2, 2)
    vel = np.einsum("nij,nj->ni", Q, x[:, 2:4])
    cov = Q @ P @ np.swapaxes(Q, 1, 2)
    speed = np.hypot(vel[:, 0], vel[:, 1])
    heading = np.round(np.degrees(np.arctan2(vel[:, 0], vel[:, 1])) % 360.0, 1) % 360.0
    classes = [CLASSES[k] for k in np.argmax(np.array([r.class_probs for r in reports], dtype=float), axis=1).tolist()]
    return _TrackColumns(
        lat, lon, _rounded(vel[:, 0], 3), _rounded(vel[:, 1], 3), _rounded(cov, 2),
        _rounded(np.array([r.existence for r in reports], dtype=float), 3), _rounded(speed, 3),
        heading + 0.0, classes,
    )


def track_payloads(reports: Sequence[TrackReport], site: Site) -> list[dict]:
    """Track messages for many tracks at once: one geodetic conversion and one rotation for all.

    The same as ``[track_payload(r, site) for r in reports]`` byte for byte, at a
    fraction of the cost (the geodesy is numpy over arrays; per track only the dict
    is built in Python). To publish, ``track_bodies`` gives the encoded messages faster.
    """
    if not reports:
        return []
    c = _track_columns(reports, site)
    times: dict[float, str] = {}  # the reports of a batch share a few times
    out: list[dict] = []
    for r, la, lo, ve, vn, cv, ex, sp, hd, cl, mp in zip(
        reports, c.lat.tolist(), c.lon.tolist(), c.vel_east.tolist(), c.vel_north.tolist(), c.cov.tolist(),
        c.existence.tolist(), c.speed.tolist(), c.heading.tolist(), c.classes, _model_probs(reports),
    ):
        iso = times.get(r.time)
        if iso is None:
            iso = times[r.time] = to_iso(r.time)
        msg: dict[str, object] = {
            "track_id": r.track_id,
            "time": iso,
            "status": _STATUS_TEXT.get(r.status) or str(r.status),
            "lat": la,
            "lon": lo,
            "vel_east_mps": ve,
            "vel_north_mps": vn,
            "cov_en_m2": cv,
            "existence": ex,
            "class": cl,
            "sensors": list(r.sensors),
            "sector": r.sector,
            "count": int(r.count),
            "speed_mps": sp,
            "heading_deg": hd,
        }
        if mp is not None:
            msg["model_probs"] = mp
        out.append(msg)
    return out


def track_bodies(reports: Sequence[TrackReport], site: Site) -> list[bytes]:
    """``canonical_json`` of each ``track_payloads`` message, byte for byte, without building the dicts.

    The dicts (six containers a track, with their lists) made the cyclic garbage
    collector run three times as often under load. Here each value is spelled by orjson
    as in the dict (numbers: one ``dumps`` per column of the batch, cut at the commas,
    which no number holds; IDs one ``dumps`` each; recurring values such as times,
    statuses and sensor sets from a cache) and put into the message template. What
    orjson refuses (a count beyond 64 bits) or cannot key (an unhashable field) takes
    the dict path.
    """
    if not reports:
        return []
    c = _track_columns(reports, site)
    try:
        columns = [
            list(map(orjson.dumps, [r.track_id for r in reports])),
            list(map(_time_spelled, [r.time for r in reports])),
            list(map(_status_spelled, [r.status for r in reports])),
            *map(_spelled, (c.lat, c.lon, c.vel_east, c.vel_north)),
            *(_spelled(c.cov[:, i, j]) for i, j in ((0, 0), (0, 1), (1, 0), (1, 1))),
            _spelled(c.existence),
            list(map(_repeated_spelled, c.classes)),
            list(map(_repeated_spelled, [r.sensors for r in reports])),  # a tuple is spelled as the list it becomes
            list(map(_repeated_spelled, [r.sector for r in reports])),
            _spelled([int(r.count) for r in reports]),
            _spelled(c.speed),
            _spelled(c.heading),
        ]
    except (orjson.JSONEncodeError, TypeError):  # TypeError: an unhashable field (a list of sensors)
        return [canonical_json(p) for p in track_payloads(reports, site)]
    mode_probs = [r.model_probs for r in reports]
    have = [mp for mp in mode_probs if mp is not None]
    if not have:
        return [_TRACK_FMT % row for row in zip(*columns)]
    probs = _spelled_rows(have)
    if probs is None:
        return [canonical_json(p) for p in track_payloads(reports, site)]
    if len(have) == len(reports):
        return [_TRACK_FMT_PROBS % row for row in zip(*columns, probs)]
    it = iter(probs)
    return [
        _TRACK_FMT % row if mp is None else _TRACK_FMT_PROBS % (*row, next(it))
        for row, mp in zip(zip(*columns), mode_probs)
    ]


#: A track message with each value's spelling in place of its ``%s`` (key order as in ``track_payloads``).
_TRACK_FMT_HEAD = (
    b'{"track_id":%s,"time":%s,"status":%s,"lat":%s,"lon":%s,"vel_east_mps":%s,"vel_north_mps":%s,'
    b'"cov_en_m2":[[%s,%s],[%s,%s]],"existence":%s,"class":%s,"sensors":%s,"sector":%s,"count":%s,'
    b'"speed_mps":%s,"heading_deg":%s'
)
_TRACK_FMT = _TRACK_FMT_HEAD + b"}"
_TRACK_FMT_PROBS = _TRACK_FMT_HEAD + b',"model_probs":[%s]}'


def _spelled(numbers: list | np.ndarray) -> list[bytes]:
    """orjson's spelling of each number of a non-empty list or 1-d array (one ``dumps``; numbers hold no comma).

    orjson spells a float64 array element as the Python float it would become
    (tests/test_wire_bodies.py), without making the floats.
    """
    if isinstance(numbers, np.ndarray):
        return orjson.dumps(np.ascontiguousarray(numbers), option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")
    return orjson.dumps(numbers)[1:-1].split(b",")


def _spelled_rows(probs: list) -> list[bytes] | None:
    """orjson's spelling of each row of mode probabilities as ``_model_probs`` rounds them, without the brackets.

    One array and one ``dumps``, cut at ``],[`` (which only separates rows of numbers);
    None when the rows do not make one 2-d array (mode counts differ).
    """
    try:
        rows = _rounded(np.array(probs, dtype=float), 3)
    except ValueError:  # ragged
        return None
    if rows.ndim != 2:
        return None
    return orjson.dumps(rows, option=orjson.OPT_SERIALIZE_NUMPY)[2:-2].split(b"],[")


#: orjson's spelling of values that recur from batch to batch (classes, sensor sets, sectors, times, statuses),
#: kept by type too (``1`` and ``1.0`` are equal but spelled differently).
_repeated_spelled = lru_cache(maxsize=4096, typed=True)(orjson.dumps)


@lru_cache(maxsize=4096, typed=True)
def _time_spelled(t: float) -> bytes:
    return orjson.dumps(to_iso(t))


@lru_cache(maxsize=64, typed=True)
def _status_spelled(status: object) -> bytes:
    return orjson.dumps(_STATUS_TEXT.get(status) or str(status))


#: Wire text of each track status (StrEnum members hash as their text, so plain strings find theirs too).
_STATUS_TEXT: dict[object, str] = {st: st.value for st in TrackStatus}


def _stacked(rows: list, head: tuple[slice, ...]) -> np.ndarray:
    """Float rows of one shape stacked in one call and cut to ``head`` (rows of mixed shapes one by one)."""
    try:
        return np.array(rows, dtype=float)[(slice(None), *head)]
    except ValueError:  # ragged: states or covariances of different sizes
        return np.array([np.asarray(row, dtype=float)[head] for row in rows])


def _model_probs(reports: Sequence[TrackReport]) -> list[list[float] | None]:
    """Each report's IMM mode probabilities rounded to 3 decimals (None where it has none), one rounding for all."""
    probs = [r.model_probs for r in reports]
    have = [p for p in probs if p is not None]
    try:
        rows = _round(np.array(have, dtype=float), 3)
    except ValueError:  # mode counts differ: one rounding each
        return [None if p is None else _round(np.asarray(p, dtype=float), 3) for p in probs]
    if len(have) == len(probs):
        return rows
    it = iter(rows)
    return [None if p is None else next(it) for p in probs]


def track_payload(r: TrackReport, site: Site) -> dict:
    """A track message; extras beyond the contract: ``count``, ``speed_mps``, ``heading_deg``, ``model_probs``.

    For many tracks at once prefer ``track_payloads`` (same output, vectorised).
    """
    return track_payloads([r], site)[0]


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

    Extras never overwrite a contract field. For many alerts prefer ``alert_payloads``.
    """
    return alert_payloads([a], site)[0]


def alert_payloads(alerts: Sequence[AlertReport], site: Site) -> list[dict]:
    """``alert_payload`` of each alert, with one geodetic conversion for all their points."""
    points = _latlons(site, [p for a in alerts for p in (a.enu, a.crossing_enu)])
    out = []
    for a, pos, crossing in zip(alerts, points[0::2], points[1::2]):
        msg: dict[str, object] = {
            "alert_id": a.alert_id,
            "state": a.state,
            "kind": a.kind,
            "severity": a.severity,
            "time": to_iso(a.time),
            "track_ids": list(a.track_ids),
            **(pos or {"lat": None, "lon": None}),
            "direction": a.direction,
            "eta_s": _eta(a.eta_s),
            "crossing_point": crossing,
            "zone_id": a.zone_id,
            "sensor_id": a.sensor_id,
            "summary": a.summary,
        }
        for key, value in a.extra.items():
            if key not in msg:
                msg[key] = _jsonable(value)
        out.append(msg)
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
