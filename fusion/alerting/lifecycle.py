"""One alert's life: ``new`` -> ``update``* -> ``end``, and when a change is worth sending.

An ``Alert`` holds the latest facts of a situation plus the timers that give each
kind its hysteresis (how long a condition must hold before the alert ends). Updates
are sent only on a notable change (kind, severity, direction, tracks, zone, an ack,
a move of ``update_move_m`` or an eta change of ``update_eta_frac``), so a console
sees a situation evolve without a message per radar scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fusion.types import AlertAck, AlertReport

#: Kinds that belong to one crossing situation (an alert moves from the first to the second).
CROSSING_FAMILY = ("predicted_crossing", "crossing")


@dataclass
class Alert:
    id: str
    kind: str
    opened: float
    track_ids: tuple[str, ...]
    severity: str = "medium"
    time: float = 0.0
    enu: tuple[float, float] | None = None
    direction: str | None = None
    eta_s: float | None = None
    crossing_enu: tuple[float, float] | None = None
    zone_id: str | None = None
    sensor_id: str | None = None
    summary: str = ""
    info: dict[str, object] = field(default_factory=dict)  # optional wire fields: count, class, probability, ...
    acks: list[dict[str, object]] = field(default_factory=list)
    escalated: bool = False
    timer: float | None = None  # start of the condition that ends this alert when it holds long enough
    expires: float | None = None  # absolute end time (narcotics with no track)
    sent: dict[str, object] = field(default_factory=dict)  # what the last emitted report said

    def report(self, state: str, extra: dict[str, object] | None = None) -> AlertReport:
        ex: dict[str, object] = dict(self.info)
        if self.escalated:
            ex["escalated"] = True
        if extra:
            ex.update(extra)
        return AlertReport(
            alert_id=self.id,
            state=state,
            kind=self.kind,
            severity=self.severity,
            time=self.time,
            track_ids=self.track_ids,
            enu=None if self.enu is None else np.asarray(self.enu, dtype=float),
            direction=self.direction,
            eta_s=self.eta_s,
            crossing_enu=None if self.crossing_enu is None else np.asarray(self.crossing_enu, dtype=float),
            zone_id=self.zone_id,
            sensor_id=self.sensor_id,
            summary=self.summary,
            extra=ex,
        )

    def mark_sent(self) -> None:
        self.sent = {
            "kind": self.kind, "severity": self.severity, "direction": self.direction, "tracks": self.track_ids,
            "zone": self.zone_id, "enu": self.enu, "eta": self.eta_s,
        }

    def notable_change(self, move_m: float, eta_frac: float, eta_min_s: float) -> bool:
        s = self.sent
        if (s.get("kind"), s.get("severity"), s.get("direction"), s.get("tracks"), s.get("zone")) != (
            self.kind, self.severity, self.direction, self.track_ids, self.zone_id
        ):
            return True
        old, new = s.get("enu"), self.enu
        if (old is None) != (new is None):
            return True
        if old is not None and new is not None and float(np.hypot(new[0] - old[0], new[1] - old[1])) >= move_m:
            return True
        e0, e1 = s.get("eta"), self.eta_s
        if (e0 is None) != (e1 is None):
            return True
        if e0 is not None and e1 is not None and abs(float(e1) - float(e0)) >= max(eta_min_s, eta_frac * float(e0)):
            return True
        return False

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "kind": self.kind, "opened": self.opened, "track_ids": list(self.track_ids),
            "severity": self.severity, "time": self.time, "enu": _l(self.enu), "direction": self.direction,
            "eta_s": self.eta_s, "crossing_enu": _l(self.crossing_enu), "zone_id": self.zone_id,
            "sensor_id": self.sensor_id, "summary": self.summary, "info": dict(self.info), "acks": list(self.acks),
            "escalated": self.escalated, "timer": self.timer, "expires": self.expires,
            "sent": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.sent.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Alert":
        sent = dict(d.get("sent", {}))
        for k in ("tracks", "enu"):
            if isinstance(sent.get(k), list):
                sent[k] = tuple(sent[k])
        return cls(
            id=d["id"], kind=d["kind"], opened=d["opened"], track_ids=tuple(d["track_ids"]), severity=d["severity"],
            time=d["time"], enu=_t(d["enu"]), direction=d["direction"], eta_s=d["eta_s"],
            crossing_enu=_t(d["crossing_enu"]), zone_id=d["zone_id"], sensor_id=d["sensor_id"], summary=d["summary"],
            info=dict(d["info"]), acks=list(d["acks"]), escalated=d["escalated"], timer=d["timer"],
            expires=d["expires"], sent=sent,
        )


def _l(p: tuple[float, float] | None) -> list[float] | None:
    return None if p is None else [float(p[0]), float(p[1])]


def _t(p: list[float] | None) -> tuple[float, float] | None:
    return None if p is None else (float(p[0]), float(p[1]))


def ack_record(operator: str, action: str, comment: str) -> dict[str, object]:
    """An operator action as recorded on the alert and echoed (the echo's ``time`` is the ack time)."""
    return {"operator": operator, "action": action, "comment": comment}


def record_ack(alert: Alert, ack: AlertAck) -> dict[str, object]:
    """Note an operator action on ``alert`` (the alert's time becomes the ack's); returns the record."""
    rec = ack_record(ack.operator, ack.action, ack.comment)
    alert.acks.append(rec)
    alert.time = ack.time
    alert.info["acks"] = len(alert.acks)
    return rec
