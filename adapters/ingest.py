"""Inbound validation: one received MQTT message -> one core ``Inbound`` or a ``DeadLetter``.

Pure (no I/O, no clock: ``recv_time`` is passed in) and total: for any topic and any
bytes, ``parse_inbound`` returns, it never raises. Checks run cheapest first:

1. ``oversize`` (> 256 KiB), ``unknown_topic``, ``not_utf8``;
2. ``too_deep``: nesting deeper than 32, found by a bracket-depth scan over the text
   with string literals removed, *before* ``json.loads`` can exhaust the stack;
3. ``invalid_json`` (also NaN/Infinity literals and duplicate keys, which are legal
   for Python's parser but not JSON as the contract means it), ``not_object``;
4. per topic kind: ``unknown_sensor`` / ``unknown_team``, ``sensor_mismatch``,
   ``schema`` (pydantic, first error, with its field path), ``missing_platform``,
   ``time_out_of_range``, ``out_of_area`` (a position more than 100 km from the
   site origin: valid WGS84, but nothing this site can see or track).

Stateful checks (duplicate ``seq``) belong to the pipeline, not here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, compress

import numpy as np
import orjson
from pydantic import BaseModel, ValidationError

from adapters.schemas import (
    DETECTION_MODELS,
    AckMessage,
    DispatchReplyMessage,
    DroneDetections,
    K9Detections,
    RadarDetections,
    SensorStatusMessage,
    TeamPositionMessage,
)
from adapters.site_file import MAX_SITE_RADIUS_M
from adapters.topics import SENSOR_TYPES, Topics
from fusion.geodesy import LocalFrame, polar_to_enu
from fusion.site import Site
from fusion.types import (
    CLASSES,
    AlertAck,
    DispatchReply,
    Inbound,
    Scan,
    SensorStatus,
    SensorType,
    TeamPosition,
)

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_DEPTH = 32
_DEPTH_PREFIX_BYTES = 16 * 1024  # nesting is checked on this prefix first
EXCERPT_CHARS = 200

#: A message time may be at most this far after its receipt (sensor clock ahead) ...
MAX_FUTURE_S = 60.0
#: ... and at most this far before it (a sensor replaying a day-old buffer is refused).
MAX_AGE_S = 24 * 3600.0
#: A K-9 ``observed_time`` may precede the message ``time`` by at most this (CONTRACT: 10 min).
MAX_K9_DELAY_S = 600.0

#: Probability a drone's label is right when the drone sends no ``confidence``. A
#: typical person/vehicle detector is right roughly 70% of the time at patrol
#: altitude; the rest is spread evenly over the other three classes.
DEFAULT_DRONE_CONFIDENCE = 0.7

#: Dead-letter code of a message that made validation itself fail (a bug: the fuzz
#: tests assert it never happens); the service survives it either way.
INTERNAL_CODE = "internal"

DEADLETTER_CODES: tuple[str, ...] = (
    "oversize",
    "unknown_topic",
    "not_utf8",
    "too_deep",
    "invalid_json",
    "not_object",
    "schema",
    "unknown_sensor",
    "unknown_team",
    "sensor_mismatch",
    "missing_platform",
    "time_out_of_range",
    "out_of_area",
)


@dataclass(frozen=True)
class DeadLetter:
    """A rejected message: receipt time, topic, ``"<code>: <detail>"`` and the payload's start."""

    time: float
    topic: str
    reason: str
    payload_excerpt: str

    @property
    def code(self) -> str:
        return self.reason.split(":", 1)[0]


class _Reject(Exception):
    """Internal: carries a dead-letter code and detail out of the per-kind parsers."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


_BRACKET_STEP = np.zeros(256, dtype=np.int8)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


def nesting_depth(payload: bytes) -> int:
    """Maximum bracket nesting of JSON text, ignoring brackets inside string literals.

    Linear time, vectorised, no recursion and no regex backtracking: a quote is
    escaped when an odd run of backslashes precedes it; the running parity of
    unescaped quotes marks what is inside a string; the depth is the running sum of
    +1 for ``[{`` and -1 for ``]}`` outside strings.
    """
    b = np.frombuffer(payload, dtype=np.uint8)
    steps = _BRACKET_STEP[b]
    at = np.flatnonzero(steps)
    if at.size == 0:
        return 0
    quote = b == ord('"')
    if b"\\" in payload:  # rare in sensor JSON: only then look for escaped quotes
        pos = np.arange(b.size)
        last_plain = np.maximum.accumulate(np.where(b == ord("\\"), -1, pos))  # last non-backslash at or before i
        run_before = np.zeros(b.size, dtype=np.int64)
        run_before[1:] = pos[:-1] - last_plain[:-1]  # backslashes immediately before i
        quote &= run_before % 2 == 0
    outside = (np.cumsum(quote, dtype=np.int64)[at] & 1) == 0
    return int(np.cumsum(steps[at][outside], dtype=np.int64).max(initial=0))


#: Any byte before a name separator ``:`` outside strings is a quote or JSON whitespace; mapped to a quote,
#: ``'":'`` counts each member once (and some colons inside strings too: an upper bound).
_KEY_END = bytes.maketrans(b" \t\n\r", b'""""')
#: Digits -> ``0``, anything else -> ``.``: a run of 19 zeros is an integer orjson may turn into a float.
_DIGITS = bytes(ord("0") if c in b"0123456789" else ord(".") for c in range(256))
_LONG_DIGITS = b"0" * 19  # 2**63 has 19 digits: every shorter integer fits 64 bits
_CONTAINERS = frozenset((dict, list))


def _loads_plain(payload: bytes) -> object | None:
    """The payload parsed by orjson when that is provably what the checked ``json.loads`` path gives, else None.

    None (the caller then takes the general path, with its dead-letter reasons) when
    orjson refuses the text (its errors differ from ``json``'s), when an integer of 19+
    digits may have become a float (``json`` keeps it exact), when the structure nests
    deeper than ``MAX_DEPTH`` or when the object members parsed are fewer than the
    ``":`` name separators in the text (a duplicate key, or just a colon inside a
    string). About a sixth of the cost of the hooked ``json.loads`` plus depth scan.
    """
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if _LONG_DIGITS in payload.translate(_DIGITS):
        return None
    members = _members_within_depth(obj)
    if members is None or members != payload.translate(_KEY_END).count(b'":'):
        return None
    return obj


def _members_within_depth(obj: object) -> int | None:
    """Members of every JSON object in ``obj``, or None when it nests deeper than ``MAX_DEPTH``.

    Level by level with C-level iteration (no Python step per value): a 50-detection
    message is three levels.
    """
    members = 0
    level = [obj]
    for _ in range(MAX_DEPTH):
        dicts = [c for c in level if type(c) is dict]
        members += sum(map(len, dicts))
        values = list(chain(chain.from_iterable(map(dict.values, dicts)), *[c for c in level if type(c) is list]))
        level = list(compress(values, map(_CONTAINERS.__contains__, map(type, values))))
        if not level:
            return members
    return None


def _object_pairs(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate key {dup!r}")
    return obj


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _schema_detail(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    path = ".".join(str(p) for p in err["loc"]) or "(message)"
    return f"{path}: {err['msg']}"


def _validate(model: type[BaseModel], obj: dict) -> BaseModel:
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise _Reject("schema", _schema_detail(exc)) from None


def _check_time(t: float, recv_time: float, what: str = "time") -> None:
    if t > recv_time + MAX_FUTURE_S:
        raise _Reject("time_out_of_range", f"{what} is {t - recv_time:.1f} s after receipt (limit {MAX_FUTURE_S:.0f} s)")
    if t < recv_time - MAX_AGE_S:
        raise _Reject("time_out_of_range", f"{what} is {recv_time - t:.0f} s before receipt (limit {MAX_AGE_S:.0f} s)")


def parse_inbound(topic: str, payload: bytes, recv_time: float, site: Site, topics: Topics) -> Inbound | DeadLetter:
    """Validate one received message; the result is exactly one core input or one dead letter."""
    excerpt = payload[:EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS]
    try:
        return _parse(topic, payload, recv_time, site, topics)
    except _Reject as rej:
        return DeadLetter(recv_time, topic, f"{rej.code}: {rej.detail}", excerpt)
    except Exception as exc:  # noqa: BLE001 - a bug here must cost one message, not the service
        return DeadLetter(recv_time, topic, f"{INTERNAL_CODE}: {type(exc).__name__}: {exc}"[:300], excerpt)


def _parse(topic: str, payload: bytes, recv_time: float, site: Site, topics: Topics) -> Inbound:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise _Reject("oversize", f"{len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}")
    kind = topics.classify(topic)
    if kind is None:
        raise _Reject("unknown_topic", "not an inbound topic of the contract")
    name, params = kind
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Reject("not_utf8", f"invalid UTF-8 at byte {exc.start}") from None
    obj = _loads_plain(payload)
    if obj is None:
        obj = _loads_checked(text, payload)
    if not isinstance(obj, dict):
        raise _Reject("not_object", f"payload is a JSON {type(obj).__name__}, expected an object")
    if name == "detections":
        return _detections(params["sensor_type"], params["sensor_id"], obj, recv_time, site)
    if name == "status":
        return _status(params["sensor_type"], params["sensor_id"], obj, recv_time, site)
    if name == "team_position":
        return _team_position(params["team_id"], obj, recv_time, site)
    if name == "ack":
        msg = _validate(AckMessage, obj)
        _check_time(msg.time, recv_time)
        return AlertAck(msg.time, params["alert_id"], msg.operator, msg.action, msg.comment)
    if name == "dispatch_reply":
        _known_team(params["team_id"], site)
        msg = _validate(DispatchReplyMessage, obj)
        _check_time(msg.time, recv_time)
        return DispatchReply(msg.time, params["team_id"], msg.dispatch_id, msg.reply, msg.comment)
    raise _Reject("unknown_topic", f"no parser for topic kind {name!r}")


def _loads_checked(text: str, payload: bytes) -> object:
    """The general parse: nesting depth first (``too_deep``), then ``json.loads`` refusing duplicate keys and NaN."""
    # Fewer opening brackets than the limit cannot nest deeper than it (a C-speed count).
    # A prefix's depth is a lower bound of the whole's, so a flood of '[[[[...' is
    # refused after scanning 16 KiB, not 256 KiB (and a 50-detection message, ~5 KiB, is scanned once).
    opened = payload.count(b"[") + payload.count(b"{")
    depth = 0
    if opened > MAX_DEPTH:
        depth = nesting_depth(payload[:_DEPTH_PREFIX_BYTES])
        if depth <= MAX_DEPTH and len(payload) > _DEPTH_PREFIX_BYTES:
            depth = nesting_depth(payload)
    if depth > MAX_DEPTH:
        raise _Reject("too_deep", f"nesting depth {depth} exceeds {MAX_DEPTH}")
    try:
        return json.loads(text, object_pairs_hook=_object_pairs, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise _Reject("invalid_json", str(exc)[:200]) from None


def _known_sensor(sensor_type: str, sensor_id: str, site: Site) -> SensorType:
    if sensor_type not in SENSOR_TYPES:
        raise _Reject("unknown_topic", f"sensor type {sensor_type!r} is not one of {', '.join(SENSOR_TYPES)}")
    spec = site.sensor_by_id.get(sensor_id)
    if spec is None:
        raise _Reject("unknown_sensor", f"sensor {sensor_id!r} is not in the site file")
    if spec.type.value != sensor_type:
        raise _Reject("sensor_mismatch", f"topic says {sensor_type}, site file says {sensor_id!r} is {spec.type.value}")
    return spec.type


def _known_team(team_id: str, site: Site) -> None:
    if not any(t.id == team_id for t in site.teams):
        raise _Reject("unknown_team", f"team {team_id!r} is not in the site file")


def _status(sensor_type: str, sensor_id: str, obj: dict, recv_time: float, site: Site) -> SensorStatus:
    stype = _known_sensor(sensor_type, sensor_id, site)
    msg = _validate(SensorStatusMessage, obj)
    if msg.sensor_id is not None and msg.sensor_id != sensor_id:
        raise _Reject("sensor_mismatch", f"payload sensor_id {msg.sensor_id!r} != topic sensor {sensor_id!r}")
    if msg.time is not None:
        _check_time(msg.time, recv_time)
    return SensorStatus(recv_time if msg.time is None else msg.time, sensor_id, stype, msg.state)


def _team_position(team_id: str, obj: dict, recv_time: float, site: Site) -> TeamPosition:
    _known_team(team_id, site)
    msg = _validate(TeamPositionMessage, obj)
    _check_time(msg.time, recv_time)
    enu = site.frame.to_enu(msg.lat, msg.lon)[:2]
    _check_area(enu[None, :], "position")
    return TeamPosition(msg.time, team_id, enu, msg.available)


def _detections(sensor_type: str, sensor_id: str, obj: dict, recv_time: float, site: Site) -> Scan:
    stype = _known_sensor(sensor_type, sensor_id, site)
    msg = _validate(DETECTION_MODELS[sensor_type], obj)
    if msg.sensor_id != sensor_id:
        raise _Reject("sensor_mismatch", f"payload sensor_id {msg.sensor_id!r} != topic sensor {sensor_id!r}")
    _check_time(msg.time, recv_time)
    if stype != SensorType.RADAR and msg.platform is None:
        raise _Reject("missing_platform", f"a {sensor_type} message needs platform (lat, lon) at its time")
    if stype == SensorType.RADAR:
        scan = _radar_scan(msg, stype, recv_time, site)  # type: ignore[arg-type]
    elif stype == SensorType.DRONE:
        scan = _drone_scan(msg, stype, recv_time, site)  # type: ignore[arg-type]
    else:
        scan = _k9_scan(msg, stype, recv_time, site)  # type: ignore[arg-type]
    if msg.platform is not None:
        _check_area(scan.sensor_enu[None, :2], "platform")
    _check_area(scan.z, "detections")
    return scan


def _check_area(en: np.ndarray, what: str) -> None:
    """Refuse positions beyond the site radius: valid WGS84, but not anything this site can track."""
    dist = np.hypot(en[:, 0], en[:, 1])
    if dist.size and dist.max() > MAX_SITE_RADIUS_M:
        i = int(np.argmax(dist))
        where = f"{what}.{i}" if what == "detections" else what
        raise _Reject(
            "out_of_area", f"{where} is {dist[i] / 1000:.0f} km from the site origin (limit {MAX_SITE_RADIUS_M / 1000:.0f} km)"
        )


def _common(msg: RadarDetections | DroneDetections | K9Detections, stype: SensorType, recv_time: float) -> dict:
    m = len(msg.detections)
    return {
        "time": msg.time,
        "sensor_id": msg.sensor_id,
        "sensor_type": stype,
        "seq": msg.seq,
        "recv_time": recv_time,
        "det_time": np.full(m, msg.time),
    }


def _radar_scan(msg: RadarDetections, stype: SensorType, recv_time: float, site: Site) -> Scan:
    """Polar detections -> site ENU, all detections in one ``polar_to_enu`` call."""
    if msg.platform is not None:
        lat, lon, alt = msg.platform.lat, msg.platform.lon, msg.platform.alt_m
    else:
        spec = site.sensor_by_id[msg.sensor_id]
        lat, lon, alt = spec.lat, spec.lon, spec.alt_m
    m = len(msg.detections)
    cols = np.array(
        [(d.range_m, d.bearing_deg, d.sigma_range_m, d.sigma_bearing_deg,
          np.nan if d.radial_speed_mps is None else d.radial_speed_mps,
          np.nan if d.snr_db is None else d.snr_db) for d in msg.detections],
        dtype=float,
    ).reshape(m, 6)
    z, R = polar_to_enu(site.frame, lat, lon, cols[:, 0], cols[:, 1], cols[:, 2], cols[:, 3])
    return Scan(
        **_common(msg, stype, recv_time),
        sensor_enu=_fixed_enu(site.frame, lat, lon, alt),
        z=z.reshape(m, 2),
        R=R.reshape(m, 2, 2),
        class_probs=np.full((m, len(CLASSES)), 1.0 / len(CLASSES)),
        count=np.ones(m, dtype=np.int64),
        polar=np.column_stack([cols[:, 0], np.radians(cols[:, 1])]),
        polar_sigma=np.column_stack([cols[:, 2], np.radians(cols[:, 3])]),
        radial_speed_mps=cols[:, 4].copy(),
        snr_db=cols[:, 5].copy(),
    )


@lru_cache(maxsize=256)
def _fixed_enu(frame: LocalFrame, lat: float, lon: float, alt_m: float) -> np.ndarray:
    """A tower's ENU position (cached: towers do not move); read-only, shared between scans."""
    enu = frame.to_enu(lat, lon, alt_m)
    enu.setflags(write=False)
    return enu


def _geo_detections(msg: DroneDetections | K9Detections, site: Site) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lat/lon/sigma detections -> ENU ``z`` (m, 2), ``R`` = sigma^2 I (m, 2, 2), counts."""
    m = len(msg.detections)
    cols = np.array([(d.lat, d.lon, d.sigma_m) for d in msg.detections], dtype=float).reshape(m, 3)
    z = site.frame.to_enu(cols[:, 0], cols[:, 1])[:, :2].reshape(m, 2)
    R = cols[:, 2, None, None] ** 2 * np.eye(2)
    count = np.array([d.count for d in msg.detections], dtype=np.int64)
    return z, R.reshape(m, 2, 2), count


def drone_class_probs(labels: list[str], confidences: list[float | None]) -> np.ndarray:
    """(m, 4) class probabilities: ``confidence`` on the label, the rest spread evenly.

    ``unknown`` (or an absent label) carries no class information: uniform. A missing
    confidence is ``DEFAULT_DRONE_CONFIDENCE``.
    """
    m, k = len(labels), len(CLASSES)
    idx = np.array([CLASSES.index(lbl) for lbl in labels], dtype=np.int64)
    conf = np.array([DEFAULT_DRONE_CONFIDENCE if c is None else c for c in confidences], dtype=float)
    probs = np.repeat(((1.0 - conf) / (k - 1))[:, None], k, axis=1)
    probs[np.arange(m), idx] = conf
    unknown = idx == CLASSES.index("unknown")
    probs[unknown] = 1.0 / k
    return probs.reshape(m, k)


def _platform_enu(msg: DroneDetections | K9Detections, site: Site) -> np.ndarray:
    p = msg.platform
    assert p is not None  # checked by the caller (missing_platform)
    return site.frame.to_enu(p.lat, p.lon, p.alt_m)


def _drone_scan(msg: DroneDetections, stype: SensorType, recv_time: float, site: Site) -> Scan:
    z, R, count = _geo_detections(msg, site)
    probs = drone_class_probs([d.class_ for d in msg.detections], [d.confidence for d in msg.detections])
    return Scan(
        **_common(msg, stype, recv_time),
        sensor_enu=_platform_enu(msg, site),
        z=z,
        R=R,
        class_probs=probs,
        count=count,
    )


def _k9_scan(msg: K9Detections, stype: SensorType, recv_time: float, site: Site) -> Scan:
    """K-9 reports: the observation time is ``observed_time`` (up to 10 min before ``time``)."""
    m = len(msg.detections)
    obs = np.array([msg.time if d.observed_time is None else d.observed_time for d in msg.detections], dtype=float)
    late = msg.time - obs
    if m and (late.max() > MAX_K9_DELAY_S or late.min() < 0.0):
        i = int(np.argmax((late > MAX_K9_DELAY_S) | (late < 0.0)))
        where = "before" if late[i] > 0 else "after"
        raise _Reject(
            "time_out_of_range",
            f"detections.{i}.observed_time is {abs(late[i]):.1f} s {where} the message time "
            f"(allowed: 0 to {MAX_K9_DELAY_S:.0f} s before)",
        )
    z, R, count = _geo_detections(msg, site)
    common = _common(msg, stype, recv_time)
    common["det_time"] = obs
    return Scan(
        **common,
        sensor_enu=_platform_enu(msg, site),
        z=z,
        R=R,
        class_probs=np.full((m, len(CLASSES)), 1.0 / len(CLASSES)),
        count=count,
        narcotics=np.array([d.narcotics for d in msg.detections], dtype=bool),
        heading_rad=np.radians(
            np.array([np.nan if d.heading_deg is None else d.heading_deg for d in msg.detections], dtype=float)
        ),
        notes=tuple(d.note for d in msg.detections),
    )
