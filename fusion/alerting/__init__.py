"""Alerting: tracks in, alert events out (CONTRACT.md "Alert event"); pure, time passed in.

``AlertEngine`` (one per sector) is the facade; the kinds are rules in ``rules``,
their lifecycle in ``lifecycle``, hysteresis memory in ``memory``, severity and
wording in ``severity``. ``docs/alerting.md`` explains the choices and their costs.
"""

from fusion.alerting.config import AlertConfig
from fusion.alerting.engine import AlertEngine

__all__ = ["AlertConfig", "AlertEngine"]
