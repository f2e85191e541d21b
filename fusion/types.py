"""The core's vocabulary: validated inputs and the events the core reports.

Adapters turn wire messages (JSON on MQTT) into these types at the edge; nothing in
``fusion/`` sees JSON, topics or the clock. Positions are local ENU metres about the
site origin (see ``fusion.geodesy.LocalFrame``); times are UTC epoch seconds;
angles are radians unless a name says ``_deg``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: Object classes, in the column order of every ``class_probs`` array.
CLASSES: tuple[str, ...] = ("person", "vehicle", "animal", "unknown")


class SensorType(StrEnum):
    RADAR = "radar"
    DRONE = "drone"
    K9 = "k9"


@dataclass(frozen=True, eq=False)
class Scan:
    """All detections of one sensor message, validated and in site ENU metres.

    One scan is what the tracker consumes in one step. ``m`` detections (``m`` may
    be 0: a radar scan that saw nothing is information). Arrays are row-aligned.

    - ``z`` (m, 2): east, north metres; ``R`` (m, 2, 2): its covariance, m^2.
    - ``det_time`` (m,): observation time per detection (a K-9 ``observed_time``
      can be minutes before ``time``); equal to ``time`` for radar and drone.
    - ``class_probs`` (m, 4) over ``CLASSES``: a drone label with its confidence
      spread over the rest; uniform when the sensor gives no class.
    - radar only: ``polar`` (m, 2) ground range metres and bearing radians from
      true north at the tower, ``polar_sigma`` (m, 2) their standard deviations,
      ``radial_speed_mps`` (m,) NaN where absent, for filters that update in polar
      coordinates; ``sensor_enu`` is the tower (or the drone / handler) position.
    - K-9 only: ``narcotics`` (m,) bool, ``heading_rad`` (m,) NaN where absent,
      ``notes``.
    """

    time: float
    sensor_id: str
    sensor_type: SensorType
    seq: int
    sensor_enu: FloatArray  # (3,) metres
    z: FloatArray  # (m, 2)
    R: FloatArray  # (m, 2, 2)
    det_time: FloatArray  # (m,)
    class_probs: FloatArray  # (m, 4)
    count: NDArray[np.int64]  # (m,) head count, 1 when not given
    polar: FloatArray | None = None  # (m, 2) radar range_m, bearing_rad
    polar_sigma: FloatArray | None = None  # (m, 2)
    radial_speed_mps: FloatArray | None = None  # (m,)
    snr_db: FloatArray | None = None  # (m,)
    narcotics: NDArray[np.bool_] | None = None  # (m,)
    heading_rad: FloatArray | None = None  # (m,)
    notes: tuple[str, ...] = ()
    recv_time: float | None = None  # when the service received it (edge clock)

    @property
    def size(self) -> int:
        return int(self.z.shape[0])


@dataclass(frozen=True)
class SensorStatus:
    """A sensor's own state report (retained status topic, or its last will)."""

    time: float
    sensor_id: str
    sensor_type: SensorType
    state: str  # online | offline | degraded


@dataclass(frozen=True)
class TeamPosition:
    time: float
    team_id: str
    enu: FloatArray  # (2,) east, north metres
    available: bool


@dataclass(frozen=True)
class AlertAck:
    time: float
    alert_id: str
    operator: str
    action: str  # ack | dismiss | escalate
    comment: str = ""


@dataclass(frozen=True)
class DispatchReply:
    time: float
    team_id: str
    dispatch_id: str
    reply: str  # accept | decline | on_scene | clear
    comment: str = ""


#: Everything that can come in after validation.
Inbound = Scan | SensorStatus | TeamPosition | AlertAck | DispatchReply


class TrackStatus(StrEnum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    COASTING = "coasting"
    DELETED = "deleted"


@dataclass(frozen=True)
class TrackReport:
    """One track as the tracker reports it after a step (a copy, safe to keep).

    ``x`` = [east, north, v_east, v_north] (metres, m/s); ``P`` its 4x4 covariance.
    """

    track_id: str
    time: float
    status: TrackStatus
    x: FloatArray
    P: FloatArray
    existence: float
    class_probs: FloatArray  # (4,) over CLASSES
    sensors: tuple[str, ...]
    sector: str
    count: int = 1
    model_probs: FloatArray | None = None  # IMM mode probabilities, when the filter has them
    updated: bool = True  # False when the report is a coast (no detection this step)

    @property
    def class_name(self) -> str:
        return CLASSES[int(np.argmax(self.class_probs))]


def track_reports(
    track_id: Sequence[str],
    time: float,
    status: Sequence[TrackStatus],
    x: Iterable[FloatArray],
    P: Iterable[FloatArray],
    existence: Sequence[float],
    class_probs: Iterable[FloatArray],
    sensors: Sequence[tuple[str, ...]],
    sector: str,
    count: Sequence[int],
    model_probs: Iterable[FloatArray],
    updated: Sequence[bool],
) -> list[TrackReport]:
    """TrackReports from per-track columns (``time`` and ``sector`` shared): the same
    objects as ``TrackReport(...)`` (fields, equality, repr, frozen to callers), built
    by filling each instance's ``__dict__`` in one go: the frozen dataclass ``__init__``
    sets its twelve fields one ``object.__setattr__`` at a time, about half the cost of
    a report when a tracker step reports dozens of tracks."""
    new, setattr_ = object.__new__, object.__setattr__
    out = []
    for tid, st, x_, P_, r, cp, sen, n, mu, up in zip(
        track_id, status, x, P, existence, class_probs, sensors, count, model_probs, updated
    ):
        rep = new(TrackReport)
        setattr_(rep, "__dict__", {
            "track_id": tid, "time": time, "status": st, "x": x_, "P": P_, "existence": r,
            "class_probs": cp, "sensors": sen, "sector": sector, "count": n, "model_probs": mu, "updated": up,
        })
        out.append(rep)
    return out


@dataclass(frozen=True)
class AlertReport:
    """An alert's state change, as alerting reports it (wire fields, ENU inside)."""

    alert_id: str
    state: str  # new | update | end
    kind: str
    severity: str  # low | medium | high | critical
    time: float
    track_ids: tuple[str, ...]
    enu: FloatArray | None  # (2,) where it is
    direction: str | None = None  # southbound | northbound
    eta_s: float | None = None
    crossing_enu: FloatArray | None = None  # (2,)
    zone_id: str | None = None
    sensor_id: str | None = None
    summary: str = ""
    extra: dict[str, object] = field(default_factory=dict)  # optional wire fields (acks, count, ...)


@dataclass(frozen=True)
class DispatchReport:
    """A dispatch order's state change (new | update | cancel)."""

    dispatch_id: str
    alert_id: str
    team_id: str
    time: float
    state: str
    target_enu: FloatArray  # (2,)
    intercept_enu: FloatArray  # (2,)
    intercept_eta_s: float
    summary: str = ""
