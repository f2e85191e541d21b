"""MQTT topic names of the wire contract (CONTRACT.md "Topics"), built and parsed in one place."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "bw/v1"
SENSOR_TYPES = ("radar", "drone", "k9")


@dataclass(frozen=True)
class Topics:
    """Topic names under one deployment prefix (``bw/v1`` unless configured)."""

    prefix: str = DEFAULT_PREFIX

    # service -> out
    def tracks(self, sector: str) -> str:
        return f"{self.prefix}/tracks/{sector}"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}/alerts"

    def alert_state(self, alert_id: str) -> str:
        """Retained per-alert state, so a console that connects late learns every open alert."""
        return f"{self.prefix}/alerts/state/{alert_id}"

    def dispatch(self, team_id: str) -> str:
        return f"{self.prefix}/dispatch/{team_id}"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}/deadletter"

    # in -> service
    def detections(self, sensor_type: str, sensor_id: str) -> str:
        return f"{self.prefix}/sensors/{sensor_type}/{sensor_id}/detections"

    def sensor_status(self, sensor_type: str, sensor_id: str) -> str:
        return f"{self.prefix}/sensors/{sensor_type}/{sensor_id}/status"

    def team_position(self, team_id: str) -> str:
        return f"{self.prefix}/teams/{team_id}/position"

    def alert_ack(self, alert_id: str) -> str:
        return f"{self.prefix}/alerts/{alert_id}/ack"

    def dispatch_reply(self, team_id: str) -> str:
        return f"{self.prefix}/dispatch/{team_id}/reply"

    def inbound_filters(self) -> list[str]:
        """Subscriptions of the service: everything that flows towards it."""
        p = self.prefix
        return [
            f"{p}/sensors/+/+/detections",
            f"{p}/sensors/+/+/status",
            f"{p}/teams/+/position",
            f"{p}/alerts/+/ack",
            f"{p}/dispatch/+/reply",
        ]

    def classify(self, topic: str) -> tuple[str, dict[str, str]] | None:
        """Name the inbound topic kind and its path parameters, or None if it is not one.

        Kinds: ``detections``, ``status`` (with ``sensor_type``, ``sensor_id``),
        ``team_position`` (``team_id``), ``ack`` (``alert_id``), ``dispatch_reply`` (``team_id``).
        """
        if not topic.startswith(self.prefix + "/"):
            return None
        parts = topic[len(self.prefix) + 1 :].split("/")
        if len(parts) == 4 and parts[0] == "sensors" and parts[3] in ("detections", "status"):
            return parts[3], {"sensor_type": parts[1], "sensor_id": parts[2]}
        if len(parts) == 3 and parts[0] == "teams" and parts[2] == "position":
            return "team_position", {"team_id": parts[1]}
        if len(parts) == 3 and parts[0] == "alerts" and parts[2] == "ack":
            return "ack", {"alert_id": parts[1]}
        if len(parts) == 3 and parts[0] == "dispatch" and parts[2] == "reply":
            return "dispatch_reply", {"team_id": parts[1]}
        return None
