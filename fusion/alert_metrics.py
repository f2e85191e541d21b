"""Alert metrics against ground truth: were crossings warned of in time, and how many alerts were false.

Pure numpy; the caller (``borderwatch.score``) turns files into these inputs.

Definitions (issue 5 item 7):

- **Threat crossings**: truth crossings into the protected side by people or vehicles
  that are not legal port-of-entry traffic.
- An alert *event* (``new`` or ``update``) at time t at position a **covers** a truth
  object if the object is present at t and within ``gate_m`` of a. Matching by
  position at the event's own time works for alerts minutes ahead of a crossing
  (the track, hence the alert position, is where the object is then).
- A threat crossing at time tc is **alerted** if an event of a crossing kind
  (``predicted_crossing``, ``crossing``) covers its object at some t <= tc +
  ``late_s`` (30 s). Its **lead time** is tc minus the first such t (negative when
  the alert came after the crossing). The fraction, median and 10th percentile of
  lead times are reported; ``alerted_any_kind`` also counts ``incursion`` alerts.
- A **false alert** is an alert (one ``alert_id``) of a target kind (crossing kinds,
  ``incursion``, ``loitering``) none of whose events ever covers a person or vehicle
  that is not legal traffic: clutter, wildlife or port traffic. Reported per hour of
  the run.
- **Dispatch intercept ETA**: ``intercept.eta_s`` of each dispatch order when first
  sent (median and maximum), and how many threat crossings got a team sent for an
  alert that covered them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

CROSSING_KINDS = ("predicted_crossing", "crossing")
TARGET_KINDS = ("predicted_crossing", "crossing", "incursion", "loitering")


@dataclass(frozen=True)
class TruthTable:
    """Truth object positions on a regular grid: ``xy`` (T, N, 2) metres, NaN when absent."""

    start: float  # epoch seconds of row 0
    dt: float  # seconds between rows
    ids: list[str]
    cls: list[str]  # person | vehicle | animal
    legal: NDArray[np.bool_]  # (N,) legal port traffic
    xy: FloatArray

    def at(self, times: FloatArray) -> FloatArray:
        """Positions (len(times), N, 2) at the nearest grid row; NaN outside the grid."""
        idx = np.round((np.asarray(times, dtype=float) - self.start) / self.dt).astype(np.int64)
        ok = (idx >= 0) & (idx < self.xy.shape[0])
        out = np.full((idx.size, self.xy.shape[1], 2), np.nan)
        out[ok] = self.xy[idx[ok]]
        return out


@dataclass(frozen=True)
class ThreatCrossing:
    object_id: str
    time: float
    cls: str


@dataclass(frozen=True)
class AlertEvent:
    alert_id: str
    state: str  # new | update | end
    kind: str
    time: float
    xy: tuple[float, float] | None  # ENU metres of the alert position


@dataclass(frozen=True)
class DispatchEvent:
    dispatch_id: str
    alert_id: str
    state: str  # new | update | cancel
    time: float
    eta_s: float | None


@dataclass(frozen=True)
class CrossingResult:
    object_id: str
    time: float
    cls: str
    alerted: bool
    lead_s: float | None
    alert_id: str | None
    alerted_any_kind: bool
    dispatched: bool


@dataclass(frozen=True)
class AlertMetrics:
    crossings: list[CrossingResult]
    n_crossings: int
    n_alerted: int
    alerted_fraction: float | None
    alerted_any_kind_fraction: float | None
    lead_median_s: float | None
    lead_p10_s: float | None
    n_alerts_by_kind: dict[str, int]
    false_alert_ids: list[str]
    false_alerts_per_hour: float
    duration_h: float
    dispatch_etas_s: list[float] = field(default_factory=list)
    dispatch_eta_median_s: float | None = None
    dispatch_eta_max_s: float | None = None
    n_dispatched_crossings: int = 0


def threat_crossings(
    crossings: Sequence[tuple[str, float, str, bool, bool]],
) -> list[ThreatCrossing]:
    """From (object_id, time, class, into_protected, legal): the ones alerts must catch."""
    return [
        ThreatCrossing(o, t, c) for o, t, c, into, legal in crossings if into and not legal and c in ("person", "vehicle")
    ]


def _covers(truth: TruthTable, events: list[AlertEvent], gate_m: float) -> NDArray[np.bool_]:
    """(E, N): event e covers truth object n."""
    if not events or not truth.ids:
        return np.zeros((len(events), len(truth.ids)), dtype=bool)
    xy = np.array([e.xy if e.xy is not None else (np.nan, np.nan) for e in events], dtype=float)
    pos = truth.at(np.array([e.time for e in events]))
    d = np.linalg.norm(pos - xy[:, None, :], axis=2)
    return np.nan_to_num(d, nan=np.inf) <= gate_m


def _quantile(values: list[float], q: float) -> float | None:
    return float(np.quantile(values, q)) if values else None


def alert_metrics(
    truth: TruthTable,
    crossings: Sequence[ThreatCrossing],
    alerts: Sequence[AlertEvent],
    dispatches: Sequence[DispatchEvent],
    duration_s: float,
    gate_m: float = 300.0,
    late_s: float = 30.0,
) -> AlertMetrics:
    """All alert figures of one run (definitions in the module docstring)."""
    events = [a for a in alerts if a.state != "end" and a.xy is not None]
    cover = _covers(truth, events, gate_m)  # (E, N)
    col = {oid: j for j, oid in enumerate(truth.ids)}
    kinds = np.array([e.kind for e in events], dtype=object)
    times = np.array([e.time for e in events], dtype=float)
    is_crossing_kind = np.isin(kinds, CROSSING_KINDS) if events else np.zeros(0, bool)
    is_alertable = np.isin(kinds, CROSSING_KINDS + ("incursion",)) if events else np.zeros(0, bool)
    dispatched_alerts = {d.alert_id for d in dispatches if d.state != "cancel"}

    results = []
    for c in crossings:
        j = col.get(c.object_id)
        hit = cover[:, j] if j is not None and events else np.zeros(len(events), bool)
        in_time = times <= c.time + late_s
        on_time = hit & in_time & is_crossing_kind
        any_kind = bool(np.any(hit & in_time & is_alertable))
        if np.any(on_time):
            first = int(np.flatnonzero(on_time)[np.argmin(times[on_time])])
            lead, aid = float(c.time - times[first]), events[first].alert_id
        else:
            lead, aid = None, None
        covering_ids = {events[k].alert_id for k in np.flatnonzero(hit)}
        results.append(CrossingResult(c.object_id, c.time, c.cls, lead is not None, lead, aid, any_kind, bool(covering_ids & dispatched_alerts)))

    threat_obj = np.array([(cl in ("person", "vehicle")) and not lg for cl, lg in zip(truth.cls, truth.legal)], dtype=bool)
    true_ids = {events[k].alert_id for k in np.flatnonzero((cover & threat_obj[None, :]).any(axis=1))} if events else set()
    by_kind: dict[str, set[str]] = {}
    for a in alerts:
        by_kind.setdefault(a.kind, set()).add(a.alert_id)
    target_ids = sorted({a.alert_id for a in alerts if a.kind in TARGET_KINDS})
    false_ids = [a for a in target_ids if a not in true_ids]
    hours = duration_s / 3600.0

    first_eta: dict[str, float] = {}
    for d in sorted(dispatches, key=lambda d: d.time):
        if d.dispatch_id not in first_eta and d.state != "cancel" and d.eta_s is not None:
            first_eta[d.dispatch_id] = float(d.eta_s)
    etas = list(first_eta.values())
    leads = [r.lead_s for r in results if r.lead_s is not None]
    n = len(results)
    return AlertMetrics(
        crossings=results,
        n_crossings=n,
        n_alerted=len(leads),
        alerted_fraction=len(leads) / n if n else None,
        alerted_any_kind_fraction=sum(r.alerted_any_kind for r in results) / n if n else None,
        lead_median_s=_quantile(leads, 0.5),
        lead_p10_s=_quantile(leads, 0.1),
        n_alerts_by_kind={k: len(v) for k, v in sorted(by_kind.items())},
        false_alert_ids=false_ids,
        false_alerts_per_hour=len(false_ids) / hours if hours > 0 else 0.0,
        duration_h=hours,
        dispatch_etas_s=etas,
        dispatch_eta_median_s=_quantile(etas, 0.5),
        dispatch_eta_max_s=max(etas) if etas else None,
        n_dispatched_crossings=sum(r.dispatched for r in results),
    )
