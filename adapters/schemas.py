"""Pydantic v2 models of every wire message in CONTRACT.md, and their JSON Schema export.

These models are the contract in code. Inbound models (detections, status, team
position, ack, dispatch reply) are what ``adapters.ingest`` validates against;
outbound models (track, alert, dispatch, dead letter) document what the service
publishes and let tests check ``adapters.wire_out`` against the contract.

Rules that hold for every message (CONTRACT.md "Conventions"):
- unknown fields are ignored (``extra="ignore"``), so senders can add fields;
- numbers must be JSON numbers (strict: ``"12"`` or ``true`` is not a number) and
  finite (NaN/Infinity refused, also ``1e400`` which JSON parsers turn into inf);
- times are ISO 8601 strings with ``Z`` or an explicit offset; inside the model they
  are UTC epoch seconds (float), and they serialise back to ``...Z``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    WithJsonSchema,
)

from adapters.timefmt import from_iso, to_iso
from fusion.site import Site


#: Extended ISO 8601 date-time with seconds and an explicit offset: the one form the
#: model and the exported JSON Schema both accept (``fromisoformat`` alone would also
#: take ``20261125T140000Z`` or a space for ``T``).
TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|z|[+-]\d{2}:\d{2})$"
_TIME_RE = re.compile(TIME_PATTERN)


def _parse_time(value: object) -> float:
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        raise ValueError("time must be an ISO 8601 string with seconds and Z or an offset, e.g. 2026-11-25T14:00:00.000Z")
    try:
        return from_iso(value)
    except (ValueError, OverflowError, OSError) as exc:
        raise ValueError(f"not an ISO 8601 time with Z or a UTC offset: {exc}") from None


WireTime = Annotated[
    float,
    BeforeValidator(_parse_time),
    PlainSerializer(to_iso, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": TIME_PATTERN,
            "description": "ISO 8601 with Z or a UTC offset, e.g. 2026-11-25T14:00:00.250Z",
        }
    ),
]


def _num(**constraints: float) -> object:
    """A strict, finite JSON number with range constraints (ge/gt/le/lt)."""
    return Annotated[float, Strict(), Field(allow_inf_nan=False, **constraints)]


Lat = _num(ge=-90.0, le=90.0)
Lon = _num(ge=-180.0, le=180.0)
Altitude = _num(ge=-1_000.0, le=100_000.0)  # metres above the ellipsoid
Bearing = _num(ge=0.0, lt=360.0)  # degrees clockwise from true north
Sigma = _num(gt=0.0, le=100_000.0)  # a standard deviation: positive, and below 100 km
AngleSigma = _num(gt=0.0, le=180.0)
RangeM = _num(ge=0.0, le=1_000_000.0)  # radar ground range, metres
Speed = _num(ge=-1_000.0, le=1_000.0)  # m/s
SnrDb = _num(ge=-100.0, le=200.0)
Finite = _num()
NonNegative = _num(ge=0.0)
Probability = _num(ge=0.0, le=1.0)
Count = Annotated[int, Strict(), Field(ge=1, le=100_000)]
Seq = Annotated[int, Strict(), Field(ge=0, le=2**63 - 1)]
Id = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=10_000)]
ObjectClass = Literal["person", "vehicle", "animal", "unknown"]


class WireModel(BaseModel):
    """Base of every wire message: unknown fields ignored, wire names (aliases) kept."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, allow_inf_nan=False)


class LatLon(WireModel):
    lat: Lat
    lon: Lon


class Platform(WireModel):
    """Where the sensor was at the message time (required for drone and K-9)."""

    lat: Lat
    lon: Lon
    alt_m: Altitude = 0.0


# --- sensor -> service ---------------------------------------------------------------


class RadarDetection(WireModel):
    """Polar detection relative to the tower; positive radial speed is moving away."""

    range_m: RangeM
    bearing_deg: Bearing
    sigma_range_m: Sigma
    sigma_bearing_deg: AngleSigma
    radial_speed_mps: Speed | None = None
    snr_db: SnrDb | None = None


class DroneDetection(WireModel):
    """A camera detection geo-located by the drone."""

    lat: Lat
    lon: Lon
    sigma_m: Sigma
    class_: ObjectClass = Field(default="unknown", alias="class")
    confidence: Probability | None = None
    count: Count = 1


class K9Detection(WireModel):
    """A K-9 team report; ``observed_time`` is when the sign was fresh (default: message time)."""

    lat: Lat
    lon: Lon
    sigma_m: Sigma
    observed_time: WireTime | None = None
    count: Count = 1
    heading_deg: Bearing | None = None
    narcotics: Annotated[bool, Strict()] = False
    note: Text = ""


class _DetectionMessage(WireModel):
    sensor_id: Id
    seq: Seq
    time: WireTime
    platform: Platform | None = None


class RadarDetections(_DetectionMessage):
    """One radar scan (an empty ``detections`` list is a scan that saw nothing)."""

    detections: list[RadarDetection] = Field(max_length=10_000)


class DroneDetections(_DetectionMessage):
    detections: list[DroneDetection] = Field(max_length=10_000)


class K9Detections(_DetectionMessage):
    detections: list[K9Detection] = Field(max_length=10_000)


DETECTION_MODELS: dict[str, type[_DetectionMessage]] = {
    "radar": RadarDetections,
    "drone": DroneDetections,
    "k9": K9Detections,
}


class SensorStatusMessage(WireModel):
    """Retained status; the last will is just ``{"state": "offline"}`` (no time: receipt time is used)."""

    state: Literal["online", "offline", "degraded"]
    time: WireTime | None = None
    sensor_id: Id | None = None


class TeamPositionMessage(WireModel):
    time: WireTime
    lat: Lat
    lon: Lon
    available: Annotated[bool, Strict()] = True


class AckMessage(WireModel):
    time: WireTime
    operator: Id
    action: Literal["ack", "dismiss", "escalate"]
    comment: Text = ""


class DispatchReplyMessage(WireModel):
    dispatch_id: Id
    time: WireTime
    reply: Literal["accept", "decline", "on_scene", "clear"]
    comment: Text = ""


# --- service -> out --------------------------------------------------------------------


class TrackMessage(WireModel):
    """A track; ``model_probs``, ``count``, ``speed_mps``, ``heading_deg`` are optional extensions."""

    track_id: Id
    time: WireTime
    status: Literal["tentative", "confirmed", "coasting", "deleted"]
    lat: Lat
    lon: Lon
    vel_east_mps: Finite
    vel_north_mps: Finite
    cov_en_m2: list[list[Finite]] = Field(min_length=2, max_length=2)
    existence: Probability
    class_: ObjectClass = Field(alias="class")
    sensors: list[Id]
    sector: Id
    model_probs: list[Probability] | None = None
    count: Count | None = None
    speed_mps: NonNegative | None = None
    heading_deg: Bearing | None = None


class AlertMessage(WireModel):
    alert_id: Id
    state: Literal["new", "update", "end"]
    kind: Id  # at least incursion, predicted_crossing, crossing, loitering, narcotics, sensor_offline
    severity: Literal["low", "medium", "high", "critical"]
    time: WireTime
    track_ids: list[Id]
    lat: Lat | None
    lon: Lon | None
    direction: Literal["southbound", "northbound"] | None = None
    eta_s: NonNegative | None = None
    crossing_point: LatLon | None = None
    zone_id: Id | None = None
    sensor_id: Id | None = None
    summary: Text = ""


class Intercept(WireModel):
    """Where and when the team can meet the target; ``eta_s`` null when it cannot."""

    lat: Lat
    lon: Lon
    eta_s: NonNegative | None


class DispatchMessage(WireModel):
    dispatch_id: Id
    alert_id: Id
    team_id: Id
    time: WireTime
    state: Literal["new", "update", "cancel"] = "new"
    target: LatLon
    intercept: Intercept
    summary: Text = ""


class DeadLetterMessage(WireModel):
    """A rejected inbound message; ``reason`` is ``"<code>: <detail>"``, ``code`` an extension."""

    time: WireTime
    topic: str
    reason: str
    payload_excerpt: str
    code: str | None = None


#: Every wire message by schema file name (``<name>.schema.json``).
WIRE_MODELS: dict[str, type[BaseModel]] = {
    "radar_detections": RadarDetections,
    "drone_detections": DroneDetections,
    "k9_detections": K9Detections,
    "sensor_status": SensorStatusMessage,
    "team_position": TeamPositionMessage,
    "track": TrackMessage,
    "alert": AlertMessage,
    "ack": AckMessage,
    "dispatch": DispatchMessage,
    "dispatch_reply": DispatchReplyMessage,
    "deadletter": DeadLetterMessage,
}


def json_schema(model: type[BaseModel]) -> dict:
    """The model's JSON Schema as the wire sees it (aliases, i.e. ``class`` not ``class_``)."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def write_schemas(out_dir: Path) -> list[Path]:
    """Write ``<name>.schema.json`` for every wire message and ``site.schema.json``; return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, model in [*WIRE_MODELS.items(), ("site", Site)]:
        path = out_dir / f"{name}.schema.json"
        path.write_text(json.dumps(json_schema(model), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
