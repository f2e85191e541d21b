"""The one data path: a received message in, everything to publish out.

Both the live service and ``borderwatch replay`` drive this class, so a recording
replayed gives what the live run gave. It is deterministic: all time comes from its
arguments (receipt time of a message, or the clock of a ``tick``).

    message ─▶ ingest.parse_inbound ─▶ de-duplicate ─▶ reorder buffer ─▶ sector split
        │ bad                                                            │
        ▼                                                                ▼
    dead letter                 SectorTracker.step ─▶ AlertEngine ─▶ Dispatcher
                                                          │
                                                          ▼
                                        Outbound (topic, payload bytes, qos, retain)

State lives per sector (tracker and alert engine), so a sector can move to its own
process later; sensor health and dispatch are shared because sensors and teams
span sectors.
"""

from __future__ import annotations

import base64
import math
from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from adapters import wire_out
from adapters.ingest import DeadLetter, parse_inbound
from adapters.recording import canonical_json
from adapters.topics import Topics
from fusion.alerting import AlertConfig, AlertEngine
from fusion.alerting.snapshot import report_from_dict, report_to_dict
from fusion.dispatch import DispatchConfig, Dispatcher
from fusion.reorder import ReorderBuffer
from fusion.sensor_health import SensorHealth
from fusion.site import Site
from fusion.tracking import SectorTracker, TrackerConfig
from fusion.tracking.history import pack_scans, unpack_scans
from fusion.types import (
    AlertAck,
    AlertReport,
    DispatchReply,
    DispatchReport,
    Scan,
    SensorStatus,
    SensorType,
    TeamPosition,
    TrackReport,
    TrackStatus,
)


class Outbound(NamedTuple):
    """One message to publish. ``kind``: track | alert | alert_state | dispatch | deadletter.

    A named tuple, not a frozen dataclass: a batch makes one per track message, and a
    frozen dataclass's ``__init__`` sets its five fields one ``object.__setattr__`` at a time.
    """

    topic: str
    payload: bytes
    qos: int
    retain: bool
    kind: str


@dataclass(frozen=True)
class PipelineConfig:
    prefix: str = "bw/v1"
    #: How long (receive clock, s) a scan waits for earlier-observed scans before it is
    #: fed to the tracker. Later data takes the tracker's out-of-sequence path.
    reorder_latency_s: float = 0.2
    reorder_max_items: int = 10_000
    #: Publication grid of the receive clock (s). A scan steps its sector's tracker as soon as its
    #: wait is over (at the next message or tick), but what the steps changed is published and
    #: alerted on together at the end of the period in which the scan's wait ended, once per
    #: sector: the per-call costs of publication and alerting (grouping, geometry, one conversion
    #: for all tracks) are paid once a period instead of once a scan, and the tracker's work is
    #: already done when the period ends. Costs up to one period of latency; 0 publishes after
    #: every scan.
    batch_period_s: float = 0.05
    #: Minimum spacing (s of track time) between two publications of one track;
    #: 0 publishes after every update (the contract's "at least after every update").
    track_min_interval_s: float = 0.0
    #: Publish tentative tracks too (consoles usually want only confirmed/coasting).
    publish_tentative: bool = False
    #: QoS of track messages (the contract allows 0 or 1; tracks are superseded every scan).
    track_qos: int = 0
    #: Housekeeping period (s of receive clock): coasting, deletions, silence checks.
    housekeeping_period_s: float = 1.0
    #: While scans keep arriving, housekeeping moves track time no further than the newest
    #: observation seen: a service that has fallen behind (messages queued at the broker,
    #: received seconds after they were observed) coasts, deletes and sweeps tracks by the
    #: data's time, not the clock's, so a backlog does not flip tracks to coasting and back
    #: (twice the track messages) or make every track look stale. Once no scan has arrived
    #: for this long (s of receive clock), the clock alone moves it: sensors went quiet.
    quiet_after_s: float = 2.0
    #: Remembered (seq, time) keys per sensor for duplicate detection.
    dedupe_window: int = 4096
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    dispatch: DispatchConfig = field(default_factory=DispatchConfig)
    silence_periods: float = 5.0
    #: A track that has walked out of its sector keeps detections within this distance (m).
    handover_m: float = 150.0


#: Fraction of a batch period by which a boundary may be reached early: at epoch times (~2e9 s)
#: ``k * period / period`` can round a few 1e-6 below ``k``, which must not cost a whole period.
_GRID_SLACK = 1e-4


@dataclass
class _Held:
    """A validated scan waiting in the reorder buffer, with its raw message for snapshots."""

    scan: Scan
    topic: str
    payload: bytes
    recv_time: float


@dataclass
class _Stepped:
    """What tracker steps changed since the last publication, waiting for the batch boundary."""

    #: (sector, that step's reports), in step order
    steps: list[tuple[str, list[TrackReport]]] = field(default_factory=list)
    #: newest scan time stepped, per sector (the alerting call's ``now``)
    time: dict[str, float] = field(default_factory=dict)
    #: scan parts with K-9 narcotics indications, per sector, in step order
    indications: dict[str, list[Scan]] = field(default_factory=dict)
    #: receive-clock time at which it is all published
    publish_at: float = math.inf


class Pipeline:
    """Deterministic message-in, messages-out core of the service (see module doc)."""

    def __init__(self, site: Site, config: PipelineConfig | None = None) -> None:
        self.site = site
        self.config = config or PipelineConfig()
        self.topics = Topics(self.config.prefix)
        self.sectors = site.sector_ids()
        self.trackers = {s: SectorTracker(s, site, self.config.tracker) for s in self.sectors}
        self.alerting = {s: AlertEngine(site, s, self.config.alerts) for s in self.sectors}
        self.health = SensorHealth(site, self.config.silence_periods)
        self.dispatcher = Dispatcher(site, self.config.dispatch)
        self.reorder: ReorderBuffer[_Held] = ReorderBuffer(self.config.reorder_latency_s, self.config.reorder_max_items)
        self.counters: Counter[str] = Counter()
        self._seen: dict[str, OrderedDict[tuple[int, float], None]] = {}
        self._tracks: dict[str, TrackReport] = {}  # latest report of every live track, all sectors
        self._published: dict[str, tuple[float, str]] = {}  # track id -> (track time, status) last published
        self._next_housekeeping: float | None = None
        self._newest_scan: tuple[float, float] | None = None  # (receive time of the last scan, newest observation time)
        self._coverage: dict[str, frozenset[int]] = {}  # radar id -> sectors its coverage reaches
        self._stepped = _Stepped()

    # ------------------------------------------------------------------ inputs
    def handle(self, topic: str, payload: bytes, recv_time: float) -> list[Outbound]:
        """Process one received message; returns what to publish, in order."""
        parsed = parse_inbound(topic, payload, recv_time, self.site, self.topics)
        if isinstance(parsed, DeadLetter):
            # Garbage changes nothing but the counters: it neither starts the housekeeping clock
            # nor releases held scans, so the same traffic without it gives the same tracks and
            # alerts (the service ticks the clock before every message anyway).
            self.counters["in.deadletter"] += 1
            self.counters[f"deadletter.{parsed.code}"] += 1
            return [self._deadletter(parsed)]
        out: list[Outbound] = []
        if self._next_housekeeping is None:
            self._next_housekeeping = recv_time + self.config.housekeeping_period_s
        if isinstance(parsed, Scan):
            self.counters["in.detections"] += 1
            if self._is_duplicate(parsed):
                self.counters["duplicates"] += 1
                return self._release(recv_time)
            out += self._alerts(self.health.on_message(parsed.sensor_id, recv_time), parsed.time)
            newest = parsed.time if self._newest_scan is None else max(self._newest_scan[1], parsed.time)
            self._newest_scan = (recv_time, newest)
            limit, bound = self._step_limits(recv_time)
            due, late = self.reorder.push(_obs_time(parsed), _Held(parsed, topic, payload, recv_time),
                                          limit, self._gate(recv_time), bound)
            if late:
                self.counters["late_scans"] += 1
            out += self._step(due, publish_by=recv_time if late else math.inf)  # late data is published at once
        elif isinstance(parsed, SensorStatus):
            self.counters["in.status"] += 1
            out += self._alerts(self.health.on_status(parsed), parsed.time)
        elif isinstance(parsed, TeamPosition):
            self.counters["in.team_position"] += 1
            self.dispatcher.on_team_position(parsed)
        elif isinstance(parsed, AlertAck):
            self.counters["in.ack"] += 1
            out += self._alerts(self._route_ack(parsed), parsed.time)
        elif isinstance(parsed, DispatchReply):
            self.counters["in.dispatch_reply"] += 1
            out += self._dispatches(self.dispatcher.on_reply(parsed))
        out += self._release(recv_time)
        return out

    def tick(self, now: float) -> list[Outbound]:
        """Advance the receive clock: release due scans and run due housekeeping."""
        return self._release(now)

    def next_deadline(self) -> float | None:
        """Earliest receive-clock time at which ``tick`` has work (reorder release or housekeeping)."""
        due = self.reorder.next_due()
        times = [t for t in (None if due is None else self._release_time(due), self._next_housekeeping) if t is not None]
        if self._stepped.steps:
            times.append(self._stepped.publish_at)
        return min(times) if times else None

    def flush(self) -> list[Outbound]:
        """Feed everything still held to the tracker and publish it all (end of a replay)."""
        self._stepped.publish_at = -math.inf
        return self._step(self.reorder.drain()) + self._publish()

    def open_alerts(self) -> list[AlertReport]:
        alerts = [a for eng in self.alerting.values() for a in eng.open_alerts()]
        return alerts + self.health.open_alerts()

    def open_alert_count(self) -> int:
        """``len(open_alerts())`` without building a report per alert (4 ms for 400 alerts:
        the service's gauges ask every second)."""
        return sum(len(eng.alerts) for eng in self.alerting.values()) + len(self.health.alerts)

    def all_counters(self) -> Counter[str]:
        """The pipeline's counters plus the trackers' (summed over sectors, ``tracker.``-prefixed):
        out-of-sequence re-runs and drops, a history window shrunk under a flood, merges."""
        out = Counter(self.counters)
        for trk in self.trackers.values():
            for name, value in trk.counters.items():
                out[f"tracker.{name}"] += value
        return out

    def live_tracks(self) -> list[TrackReport]:
        return list(self._tracks.values())

    # --------------------------------------------------------------- internals
    def _is_duplicate(self, scan: Scan) -> bool:
        """QoS 1 redelivery repeats (seq, time); a sensor restart reusing a seq does not."""
        seen = self._seen.setdefault(scan.sensor_id, OrderedDict())
        key = (scan.seq, scan.time)
        if key in seen:
            return True
        seen[key] = None
        if len(seen) > self.config.dedupe_window:
            seen.popitem(last=False)
        return False

    def _horizon(self, now: float) -> float:
        """The receive-clock time up to which scans may leave the buffer at ``now``: the last batch boundary."""
        period = self.config.batch_period_s
        return math.floor(now / period + _GRID_SLACK) * period if period > 0 else now

    def _gate(self, recv_time: float) -> float:
        """A scan received at ``recv_time`` leaves no earlier than the first batch boundary after it.

        A scan that arrives already due (a service behind its input: the broker held it)
        waits for that boundary with the others that arrive meanwhile, instead of leaving
        on its own: under a backlog batches are what keeps the per-call costs shared.
        """
        period = self.config.batch_period_s
        return self._release_time(self._horizon(recv_time) + 0.5 * period) if period > 0 else float("-inf")

    def _release_time(self, due: float) -> float:
        """The first batch boundary whose horizon reaches ``due`` (a receive-clock time)."""
        period = self.config.batch_period_s
        if period <= 0:
            return due
        k = math.ceil(due / period)
        while self._horizon(k * period) < due:  # k * period / period may round below k
            k += 1
        return k * period

    def _publish_time(self, held: _Held) -> float:
        """The batch boundary at which a scan's results are published: the first whose horizon
        reaches the end of its wait, and for a scan that arrived already due, the first after its
        arrival (``_gate``)."""
        return max(self._release_time(_obs_time(held.scan) + self.config.reorder_latency_s), self._gate(held.recv_time))

    def _step_limits(self, now: float) -> tuple[float, float]:
        """(``now``, ``bound``) for the reorder buffer: scans whose wait is over by ``now`` step
        the tracker, but only those published by the next housekeeping (``bound``: its horizon).
        Housekeeping then sees the trackers exactly as if scans stepped at their boundary."""
        hk = self._next_housekeeping
        if hk is None:
            return now, math.inf
        bound = self._horizon(hk)
        return min(now, bound), bound

    def _release(self, now: float) -> list[Outbound]:
        """Step what is due, publish what a passed boundary covers, run due housekeeping."""
        out = self._step(self.reorder.release(*self._step_limits(now)))
        while True:
            if self._stepped.steps and self._stepped.publish_at <= now:
                out += self._publish()
            hk = self._next_housekeeping
            if hk is None or hk > now:
                return out
            out += self._housekeeping(hk)
            self._next_housekeeping = hk + self.config.housekeeping_period_s
            out += self._step(self.reorder.release(*self._step_limits(now)))

    def _housekeeping(self, now: float) -> list[Outbound]:
        """Time passes without data: coast/delete tracks, check sensor silence.

        The tracker is advanced to the batch horizon at ``now`` less the reorder latency,
        so that a scan still in the buffer is not made out-of-sequence by the
        housekeeping itself, and no further than the newest observation while scans
        keep arriving (``quiet_after_s``).
        """
        out: list[Outbound] = []
        track_time = self._horizon(now) - self.config.reorder_latency_s
        if self._newest_scan is not None and now - self._newest_scan[0] <= self.config.quiet_after_s:
            track_time = min(track_time, self._newest_scan[1])  # see ``quiet_after_s``
        for sector in self.sectors:
            reports = self.trackers[sector].advance(track_time)
            self._keep_live(reports)
            out += self._after_tracker(sector, track_time, reports, sweep=True)
        out += self._alerts(self.health.tick(now), now)
        return out

    def _step(self, released: list[_Held], publish_by: float = math.inf) -> list[Outbound]:
        """Split each scan by sector and step the trackers, in order. What the steps report waits
        in ``_stepped`` for its batch boundary (or ``publish_by``, if earlier); with
        ``batch_period_s`` 0 it is published at once."""
        pending = self._stepped
        for held in released:
            scan = held.scan
            before = len(pending.steps)
            sector_idx = self._route(scan)
            for i, sector in enumerate(self.sectors):
                mask = sector_idx == i
                if not mask.any() and i not in self._covered_sectors(scan):
                    continue  # nothing seen there, and no miss information about it either
                part = scan if mask.all() else _subscan(scan, mask)
                pending.steps.append((sector, self.trackers[sector].step(part, changed_only=True)))
                pending.time[sector] = max(pending.time.get(sector, scan.time), scan.time)
                if part.size and part.narcotics is not None and part.narcotics.any():
                    pending.indications.setdefault(sector, []).append(part)
            if len(pending.steps) > before:
                pending.publish_at = min(pending.publish_at, self._publish_time(held), publish_by)
        if pending.steps and self.config.batch_period_s <= 0:
            return self._publish()
        return []

    def _publish(self) -> list[Outbound]:
        """Per sector (in sector order) one publication and alerting call over everything the
        steps since the last publication reported, then their K-9 narcotics indications there,
        and dispatch on the alerts."""
        pending, self._stepped = self._stepped, _Stepped()
        reports: dict[str, list[TrackReport]] = {}
        for sector, step in pending.steps:
            self._keep_live(step)
            reports.setdefault(sector, []).extend(step)
        out: list[Outbound] = []
        for sector in self.sectors:
            if sector in reports:
                out += self._after_tracker(sector, pending.time[sector], reports[sector])
            for part in pending.indications.get(sector, ()):
                live = [r for r in self._tracks.values() if r.sector == sector]
                out += self._alerts(self.alerting[sector].on_scan(part, live), part.time)
        return out

    def _keep_live(self, reports: list[TrackReport]) -> None:
        """The live-track view (dispatch, narcotics linking, consoles) follows every publication, step by step."""
        for r in reports:
            if r.status == TrackStatus.DELETED:
                self._tracks.pop(r.track_id, None)
            else:
                self._tracks[r.track_id] = r

    def _covered_sectors(self, scan: Scan) -> frozenset[int]:
        """Sectors where an empty result is information: those a radar's coverage reaches.

        Drone and K-9 footprints are unknown, so they inform only where they detect.
        """
        if scan.sensor_type != SensorType.RADAR:
            return frozenset()
        cached = self._coverage.get(scan.sensor_id)
        if cached is None:
            spec = self.site.sensor_by_id[scan.sensor_id]
            reach = spec.max_range_m if spec.max_range_m is not None else np.inf
            east = float(scan.sensor_enu[0])
            lo, hi = self.site.sector_of(np.array([east - reach, east + reach]))
            cached = self._coverage[scan.sensor_id] = frozenset(range(int(lo), int(hi) + 1))
        return cached

    def _route(self, scan: Scan) -> np.ndarray:
        """Sector index of each detection: where it is, unless a live track owns it.

        A detection within ``handover_m`` of a confirmed or coasting track (its position
        predicted to the scan time) goes to that track's sector even across the sector
        line, so an object walking from one sector into the next keeps its track and
        ID; new objects belong to the sector they appear in.
        """
        idx = self.site.sector_of(scan.z[:, 0]) if scan.size else np.zeros(0, dtype=np.int64)
        if not scan.size or len(self.sectors) < 2:
            return idx
        owned = [self.trackers[s].positions(scan.time)[1] for s in self.sectors]
        pos = np.concatenate(owned)  # (n, 2) metres
        if not pos.shape[0]:
            return idx
        sector_of_track = np.repeat(np.arange(len(self.sectors)), [p.shape[0] for p in owned])
        bounds = self.site.sector_bounds_east_m
        near_line = np.abs(pos[:, :1] - bounds[None, :]).min(axis=1) < 2.0 * self.config.handover_m
        cand = near_line | (self.site.sector_of(pos[:, 0]) != sector_of_track)  # at the line, or already across it
        if not cand.any():
            return idx
        near = pos[cand]
        dx = scan.z[:, :1] - near[None, :, 0]
        dy = scan.z[:, 1:2] - near[None, :, 1]
        d2 = dx * dx + dy * dy  # (m, k) squared metres; sqrt below only for the nearest (as np.linalg.norm would)
        nearest = np.argmin(d2, axis=1)
        claimed = np.sqrt(d2[np.arange(scan.size), nearest]) <= self.config.handover_m
        idx = idx.copy()
        idx[claimed] = sector_of_track[cand][nearest[claimed]]
        return idx

    def _after_tracker(self, sector: str, now: float, reports: list[TrackReport], sweep: bool = False) -> list[Outbound]:
        """Publish what changed (one batched conversion), run alerting.

        ``reports``: one or more tracker steps' reports, in order (a track may appear
        more than once; each update is published). After tracker steps alerting looks
        only at the groups of the reported tracks; housekeeping (every
        ``housekeeping_period_s``) sweeps, adding what time alone changed (see
        ``AlertEngine``).
        """
        publish: list[TrackReport] = []
        for r in reports:
            if r.status == TrackStatus.DELETED:
                if self._published.pop(r.track_id, None) is not None:
                    publish.append(r)
                continue
            if r.status == TrackStatus.TENTATIVE and not self.config.publish_tentative:
                continue
            last = self._published.get(r.track_id)
            if last is None or last[1] != r.status or (r.updated and r.time - last[0] >= self.config.track_min_interval_s):
                self._published[r.track_id] = (r.time, str(r.status))
                publish.append(r)
        topic, qos = self.topics.tracks(sector), self.config.track_qos  # every report here is this sector tracker's
        out = [Outbound(topic, body, qos, False, "track") for body in wire_out.track_bodies(publish, self.site)]
        gone = {r.track_id for r in reports if r.status == TrackStatus.DELETED}
        if gone:  # a track that ended later in the batch: alerting sees only its end
            reports = [r for r in reports if r.status == TrackStatus.DELETED or r.track_id not in gone]
        out += self._alerts(self.alerting[sector].on_tracks(now, reports, sweep=sweep), now)
        return out

    def _route_ack(self, ack: AlertAck) -> list[AlertReport]:
        for eng in self.alerting.values():
            echoed = eng.on_ack(ack)
            if echoed:
                return echoed
        return self.health.on_ack(ack)

    def _alerts(self, alerts: list[AlertReport], now: float) -> list[Outbound]:
        """Publish alert events (and their retained state), then let dispatch react."""
        if not alerts:
            return []
        out: list[Outbound] = []
        for a, payload in zip(alerts, wire_out.alert_payloads(alerts, self.site)):
            body = canonical_json(payload)
            out.append(Outbound(self.topics.alerts, body, 1, False, "alert"))
            state_body = b"" if a.state == "end" else body
            out.append(Outbound(self.topics.alert_state(a.alert_id), state_body, 1, True, "alert_state"))
            self.counters[f"alerts.{a.kind}.{a.state}"] += 1
        out += self._dispatches(self.dispatcher.on_alerts(now, alerts, self._tracks))
        return out

    def _dispatches(self, orders: list[DispatchReport]) -> list[Outbound]:
        out = []
        for d in orders:
            body = canonical_json(wire_out.dispatch_payload(d, self.site))
            out.append(Outbound(self.topics.dispatch(d.team_id), body, 1, False, "dispatch"))
            self.counters[f"dispatch.{d.state}"] += 1
        return out

    def _deadletter(self, d: DeadLetter) -> Outbound:
        body = canonical_json(wire_out.deadletter_payload(d))
        return Outbound(self.topics.deadletter, body, 1, False, "deadletter")

    # ---------------------------------------------------------------- snapshots
    def snapshot(self) -> dict[str, Any]:
        """Complete JSON-serialisable state, for crash recovery."""
        return {
            "version": 1,
            "trackers": {s: t.snapshot() for s, t in self.trackers.items()},
            "alerting": {s: e.snapshot() for s, e in self.alerting.items()},
            "health": self.health.snapshot(),
            "dispatcher": self.dispatcher.snapshot(),
            "counters": dict(self.counters),
            "seen": {sid: [[k[0], k[1]] for k in seen] for sid, seen in self._seen.items()},
            "published": self._published,
            "next_housekeeping": self._next_housekeeping,
            "newest_scan": self._newest_scan,
            "reorder": {
                "watermark": self.reorder.watermark if np.isfinite(self.reorder.watermark) else None,
                "held": [
                    {"topic": h.topic, "payload_b64": base64.b64encode(h.payload).decode(), "recv_time": h.recv_time}
                    for _, h in self.reorder.items()
                ],
            },
            "stepped": self._stepped_snapshot(),
        }

    def _stepped_snapshot(self) -> dict[str, Any]:
        """Reports of tracker steps not yet published (the trackers' snapshots already include the steps)."""
        pending = self._stepped
        return {
            "publish_at": pending.publish_at if pending.steps else None,
            "steps": [[sector, [report_to_dict(r) for r in step]] for sector, step in pending.steps],
            "time": dict(pending.time),
            "indications": {sector: pack_scans(parts) for sector, parts in pending.indications.items()},
        }

    @classmethod
    def restore(cls, site: Site, config: PipelineConfig | None, snap: dict[str, Any]) -> "Pipeline":
        p = cls(site, config)
        p.trackers = {s: SectorTracker.restore(s, site, p.config.tracker, d) for s, d in snap["trackers"].items()}
        p.alerting = {s: AlertEngine.restore(site, s, p.config.alerts, d) for s, d in snap["alerting"].items()}
        p.health = SensorHealth.restore(site, snap["health"])
        p.dispatcher = Dispatcher.restore(site, p.config.dispatch, snap["dispatcher"])
        p.counters = Counter(snap["counters"])
        for sid, keys in snap["seen"].items():
            p._seen[sid] = OrderedDict(((int(k[0]), float(k[1])), None) for k in keys)
        p._published = {k: (float(v[0]), str(v[1])) for k, v in snap["published"].items()}
        p._next_housekeeping = snap["next_housekeeping"]
        newest = snap.get("newest_scan")  # absent in snapshots written before quiet_after_s
        p._newest_scan = None if newest is None else (float(newest[0]), float(newest[1]))
        for t in p.trackers.values():
            p._tracks.update({r.track_id: r for r in t.reports()})
        reorder = snap["reorder"]
        if reorder["watermark"] is not None:
            p.reorder.watermark = float(reorder["watermark"])
        for h in reorder["held"]:
            payload = base64.b64decode(h["payload_b64"])
            parsed = parse_inbound(h["topic"], payload, h["recv_time"], site, p.topics)
            if isinstance(parsed, Scan):
                p.reorder.push(_obs_time(parsed), _Held(parsed, h["topic"], payload, h["recv_time"]), float("-inf"),
                               p._gate(h["recv_time"]))
        stepped = snap.get("stepped")  # absent in snapshots written before scans stepped ahead of publication
        if stepped and stepped["steps"]:
            p._stepped = _Stepped(
                steps=[(sector, [report_from_dict(d) for d in step]) for sector, step in stepped["steps"]],
                time={k: float(v) for k, v in stepped["time"].items()},
                indications={k: unpack_scans(v) for k, v in stepped["indications"].items()},
                publish_at=float(stepped["publish_at"]),
            )
        return p


def _obs_time(scan: Scan) -> float:
    """The reorder key of a scan: its oldest observation (a K-9 report's ``observed_time``)."""
    return float(min(scan.time, scan.det_time.min())) if scan.size else scan.time


def _subscan(scan: Scan, mask: np.ndarray) -> Scan:
    """The detections of a scan selected by a boolean mask (other fields kept)."""

    def pick(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a[mask]

    return replace(
        scan,
        z=scan.z[mask],
        R=scan.R[mask],
        det_time=scan.det_time[mask],
        class_probs=scan.class_probs[mask],
        count=scan.count[mask],
        polar=pick(scan.polar),
        polar_sigma=pick(scan.polar_sigma),
        radial_speed_mps=pick(scan.radial_speed_mps),
        snr_db=pick(scan.snr_db),
        narcotics=pick(scan.narcotics),
        heading_rad=pick(scan.heading_rad),
        notes=tuple(n for n, keep in zip(scan.notes, mask) if keep) if len(scan.notes) == len(mask) else scan.notes,
    )
