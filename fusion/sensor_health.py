"""Sensor health: ``sensor_offline`` alerts from status reports and from silence.

A sensor is offline when it says so (status ``offline``, also its MQTT last will) or
when nothing has been heard from it for more than ``silence_periods`` of its report
period (``SensorSpec.scan_period_s``; 2 s for a radar, 30 s for a drone when the site
file does not say). K-9 teams report when they have something to say, so their
silence is never an alert. Silence is measured from the sensor's last message, or
for a sensor never heard from, from the first ``tick`` (so a service that starts
while a tower is down raises the alert after N periods rather than never).

One alert per outage: ``new`` when it starts, ``end`` when the sensor is back (an
``online`` status or any message from it). Ids are ``A-sensors-{n:06d}``: one
``SensorHealth`` serves the whole service, not a sector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.alerting.lifecycle import Alert, record_ack
from fusion.alerting.severity import duration_words, raise_one
from fusion.site import Site
from fusion.types import AlertAck, AlertReport, SensorStatus, SensorType

#: Report period assumed when the site file gives none, seconds.
DEFAULT_PERIOD_S: dict[str, float] = {SensorType.RADAR: 2.0, SensorType.DRONE: 30.0}

#: A radar gap blinds a stretch of border; a drone is one of several eyes.
_SEVERITY = {SensorType.RADAR: "high", SensorType.DRONE: "medium", SensorType.K9: "low"}


@dataclass
class _SensorState:
    last_heard: float | None = None
    reported: str = "unknown"  # last status: online | offline | degraded | unknown
    alert_id: str | None = None


class SensorHealth:
    """Offline and silent sensors of one site, as ``sensor_offline`` alerts."""

    def __init__(self, site: Site, silence_periods: float = 5.0) -> None:
        self.site = site
        self.silence_periods = float(silence_periods)
        self.state: dict[str, _SensorState] = {s.id: _SensorState() for s in site.sensors}
        self.alerts: dict[str, Alert] = {}
        self.started: float | None = None
        self._n = 0

    def period_s(self, sensor_id: str) -> float | None:
        """Expected report period of a sensor, or None when silence is never alerted (K-9)."""
        spec = self.site.sensor_by_id[sensor_id]
        if spec.type == SensorType.K9:
            return None
        return float(spec.scan_period_s or DEFAULT_PERIOD_S[spec.type])

    def on_status(self, st: SensorStatus) -> list[AlertReport]:
        s = self.state.get(st.sensor_id)
        if s is None:
            return []
        s.reported = st.state
        if st.state == "offline":
            return self._raise(st.sensor_id, st.time, "status", "reported offline")
        s.last_heard = st.time if s.last_heard is None else max(s.last_heard, st.time)
        if st.state == "online":
            return self._clear(st.sensor_id, st.time, "online")
        return []

    def on_message(self, sensor_id: str, recv_time: float) -> list[AlertReport]:
        """Any message from a sensor: it is alive (ends a silence or offline alert)."""
        s = self.state.get(sensor_id)
        if s is None:
            return []
        s.last_heard = recv_time if s.last_heard is None or np.isinf(s.last_heard) else max(s.last_heard, recv_time)
        if s.reported == "offline":
            s.reported = "online"
        return self._clear(sensor_id, recv_time, "heard_again")

    def tick(self, now: float) -> list[AlertReport]:
        """Raise silence alerts for sensors quiet longer than their allowance (vectorised over sensors)."""
        if self.started is None:
            self.started = now
        ids = [k for k in sorted(self.state) if self.period_s(k) is not None and self.state[k].alert_id is None]
        if not ids:
            return []
        last = np.array([_or(self.state[k].last_heard, self.started) for k in ids])
        allowance = self.silence_periods * np.array([self.period_s(k) for k in ids])
        silent = now - last > allowance
        out: list[AlertReport] = []
        for k, quiet in zip(np.array(ids)[silent], (now - last)[silent]):
            out += self._raise(str(k), now, "silence", f"silent for {duration_words(float(quiet))}")
        return out

    def on_ack(self, ack: AlertAck) -> list[AlertReport]:
        alert = self.alerts.get(ack.alert_id)
        if alert is None:
            return []
        rec = record_ack(alert, ack)
        if ack.action == "dismiss":
            self.alerts.pop(alert.id)
            assert alert.sensor_id is not None
            self.state[alert.sensor_id].alert_id = None
            # Dismissed: the outage is known; silence alerts again only after the sensor is heard and lost again.
            self.state[alert.sensor_id].last_heard = float("inf")
            return [alert.report("end", {"reason": "dismissed", "ack": rec})]
        if ack.action == "escalate" and not alert.escalated:
            alert.escalated = True
            alert.severity = raise_one(alert.severity)
        return [alert.report("update", {"ack": rec})]

    def open_alerts(self) -> list[AlertReport]:
        return [self.alerts[k].report("new") for k in sorted(self.alerts)]

    def snapshot(self) -> dict:
        return {
            "silence_periods": self.silence_periods,
            "started": self.started,
            "n": self._n,
            "state": {k: {"last_heard": _json_time(v.last_heard), "reported": v.reported, "alert_id": v.alert_id}
                      for k, v in sorted(self.state.items())},
            "alerts": [self.alerts[k].to_dict() for k in sorted(self.alerts)],
        }

    @classmethod
    def restore(cls, site: Site, snap: dict) -> "SensorHealth":
        h = cls(site, snap["silence_periods"])
        h.started = snap["started"]
        h._n = int(snap["n"])
        for k, v in snap["state"].items():
            if k in h.state:
                last = v["last_heard"]
                h.state[k] = _SensorState(float("inf") if last == "never_again" else last, v["reported"], v["alert_id"])
        h.alerts = {d["id"]: Alert.from_dict(d) for d in snap["alerts"]}
        return h

    # --- internals ------------------------------------------------------------------

    def _raise(self, sensor_id: str, now: float, cause: str, words: str) -> list[AlertReport]:
        s = self.state[sensor_id]
        if s.alert_id is not None:
            return []
        spec = self.site.sensor_by_id[sensor_id]
        self._n += 1
        enu = self.site.sensor_enu(sensor_id)
        alert = Alert(
            id=f"A-sensors-{self._n:06d}", kind="sensor_offline", opened=now, track_ids=(), time=now,
            severity=_SEVERITY[spec.type], enu=None if enu is None else (float(enu[0]), float(enu[1])),
            sensor_id=sensor_id, summary=f"{spec.type.value} {sensor_id} {words}", info={"cause": cause},
        )
        self.alerts[alert.id] = alert
        s.alert_id = alert.id
        return [alert.report("new")]

    def _clear(self, sensor_id: str, now: float, reason: str) -> list[AlertReport]:
        s = self.state[sensor_id]
        if s.alert_id is None:
            return []
        alert = self.alerts.pop(s.alert_id)
        s.alert_id = None
        alert.time = now
        alert.summary = f"{self.site.sensor_by_id[sensor_id].type.value} {sensor_id} back online"
        return [alert.report("end", {"reason": reason})]


def _or(x: float | None, default: float) -> float:
    return default if x is None else x


def _json_time(x: float | None) -> float | str | None:
    """Infinity is not JSON: a dismissed outage's "never" is stored as a word."""
    return "never_again" if x is not None and np.isinf(x) else x
