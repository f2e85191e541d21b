"""AlertEngine: one per sector; turns tracker reports into alert events.

Each call runs the same stages at once on the tracks it looks at (see "Incremental
calls" below):

1. remember: feed each reported track's signed border distance to its side
   hysteresis (``memory``: columns per track, updated with array operations), its dwell near the line and its recent path;
2. features: propagate those tracks to ``now`` and measure them against the
   border and zones (``features``, shapely vectorised);
3. eligibility: confirmed/coasting, existence above the threshold (a zone's
   ``min_existence`` inside it), wildlife (class animal, or an unlabelled track
   that meanders or is not clearly likelier a person than an animal) kept out of
   crossing kinds;
4. groups: tracks close together moving alike share one alert (``grouping``);
5. rules per kind (crossing situation, incursion, loitering, narcotics expiry),
   each matching open alerts to groups and applying its hysteresis;
6. emit ``new`` / ``update`` (on a notable change) / ``end``.

(Stages 1 and 2 run after the groups are found: the updated reports' positions and the
context's tracks at ``now`` are measured against the border in one pass.)

Incremental calls. New evidence reaches alerting only through the tracks a tracker
step reported; every other track changes only because time passes. So a call
evaluates only its *focus*: every group (connected component of the grouping graph
over all live tracks) that holds a reported track, plus the tracks of open alerts
that hold one. Groups are exact (the graph is searched over all tracks, from a
position cache kept as arrays); rules decide on those groups as they would over
everything and leave every other alert alone. A *sweep* (``sweep=True``; the
pipeline's housekeeping, once a second) adds what time alone changes: tracks not
reported for ``sweep_after_s`` (a coasting track moves on, its ETA runs down),
alerts whose hold timer or expiry runs, and tracks not reported for
``stale_track_s``, which are dropped. A track reported within ``sweep_after_s`` was
evaluated then, with everything around it. Cost: array work for the grouping plus
the focus, instead of per-track Python work over every live track (at 2,000 tracks
a sector, an evaluation of everything took 50-120 ms).

The crossing situation is one alert that starts as ``predicted_crossing`` and
becomes ``crossing`` (an ``update`` with the new kind) when a track of the group
crosses, so a console and a dispatched team follow one ``alert_id`` from the first
warning to the interception.
"""

from __future__ import annotations

import numpy as np

from fusion.alerting import rules
from fusion.alerting.config import AlertConfig
from fusion.alerting.features import FloatArray, features_at, table_at
from fusion.alerting.grouping import GroupSearch
from fusion.alerting.lifecycle import Alert, record_ack
from fusion.alerting import memory
from fusion.alerting.position_cache import PositionCache
from fusion.alerting.narcotics import link_indications
from fusion.alerting.severity import raise_one, who
from fusion.geofence import Geofence
from fusion.site import Site
from fusion.types import CLASSES, AlertAck, AlertReport, Scan, SensorType, TrackReport, TrackStatus
from fusion.alerting.snapshot import report_from_dict, report_to_dict


#: The cached report columns a call's track table reads, and the memory columns its context reads.
_TABLE_COLUMNS = ("t", "x", "P", "existence", "class_probs", "count", "confirmed", "alive", "looked")
_MEMORY_COLUMNS = ("side", "crossed_at", "crossed_e", "crossed_n", "near_since", "via_port", "farthest_m",
                   "deepest_out_m", "loitered", "straightness", "net_speed", "spread_m")


class AlertEngine:
    """Alerts of one sector (ids ``A-{sector}-{n:06d}``); pure: time comes in with the calls."""

    def __init__(self, site: Site, sector: str, config: AlertConfig = AlertConfig()) -> None:
        self.site = site
        self.sector = sector
        self.config = config
        self.fence = Geofence(site)
        self._n = 0
        self.tracks: dict[str, TrackReport] = {}
        self.alerts: dict[str, Alert] = {}  # open alerts by id
        # Track -> open alerts holding it, kept as alerts open, change tracks (``_hold``) and end: a call looks up
        # the alerts of the tracks it reached (``_focus_slots``) without a pass over the hundreds a sector keeps open.
        self._holders: dict[str, set[str]] = {}
        self.narcotics_tracks: set[str] = set()  # tracks linked to a K-9 narcotics indication
        self.dismissed: set[str] = set()  # tracks an operator dismissed: never raised again
        self.now: float | None = None
        self.opened: list[str] = []  # alerts opened since this on_tracks call began (with the scope: see rules._in_situation)
        # Every cached track's last report as arrays (grouping, the track table); "looked": a drone camera, a sensor
        # that names classes, has seen the track. Its kept columns are the tracks' memory (``memory.COLUMNS``).
        self._positions = PositionCache(frozenset(s.id for s in site.sensors if s.type == SensorType.DRONE),
                                        memory.new_columns)

    # --- interface ------------------------------------------------------------------

    def on_tracks(self, now: float, reports: list[TrackReport], sweep: bool = True) -> list[AlertReport]:
        """What the tracker reported in one step (deleted tracks included) -> alert events.

        Evaluates the groups of the reported tracks; ``sweep`` also what time alone
        changed (see the module doc). The caller sweeps regularly (the pipeline: each second).
        """
        self.now = now
        self.opened = []
        fresh, stacked, deleted = self._store(reports)
        focus = list(stacked["id"])
        timed: list[str] = []
        if sweep:
            stale = self._positions.stale(now, self.config.stale_track_s)
            for tid in stale:
                deleted.add(tid)
                self._forget(tid)
            if stale:  # a report older than that is forgotten with its memory: nothing to remember of it
                gone = set(stale)
                fresh = [k for k in fresh if stacked["id"][k] not in gone]
            focus += self._positions.stale(now, self.config.sweep_after_s)
            timed = [aid for aid, a in self.alerts.items() if a.timer is not None or a.expires is not None]
        ctx, events = self._context(now, focus, timed, fresh, stacked)
        out: list[AlertReport] = []
        out += self._drop_deleted(now, deleted)
        out += rules.crossing_situations(self, ctx, events)
        out += rules.incursions(self, ctx)
        out += rules.loitering(self, ctx)
        out += rules.narcotics_expiry(self, ctx)
        return out

    def on_scan(self, scan: Scan, tracks: list[TrackReport]) -> list[AlertReport]:
        """K-9 narcotics indications in a scan: one alert each, linked to the nearest plausible track."""
        if scan.narcotics is None or not np.any(scan.narcotics):
            return []
        live = [t for t in tracks if t.status != TrackStatus.DELETED]
        idx = np.flatnonzero(scan.narcotics)
        links = link_indications(scan, idx, live, self.config.narcotics_gate_chi2, self.config.narcotics_max_link_m)
        out = []
        for i, track in zip(idx, links):
            count = int(scan.count[i])
            alert = self._open("narcotics", (track.track_id,) if track is not None else (), scan.time)
            alert.sensor_id = scan.sensor_id
            if track is not None:
                self.narcotics_tracks.add(track.track_id)
                dt = scan.time - track.time
                alert.enu = (float(track.x[0] + track.x[2] * dt), float(track.x[1] + track.x[3] * dt))
            else:
                alert.enu = (float(scan.z[i, 0]), float(scan.z[i, 1]))
                alert.expires = scan.time + self.config.narcotics_hold_s
            note = scan.notes[i] if i < len(scan.notes) else ""
            alert.info = {"count": count, "observed_time_offset_s": float(scan.det_time[i] - scan.time)}
            if note:
                alert.info["note"] = note
            link = f", linked to {track.track_id}" if track is not None else ", no track nearby"
            alert.summary = f"K-9 {scan.sensor_id} indicated narcotics ({who('person', count)}){link}"
            alert.severity = rules.severity_of(self, "narcotics", "person", count, 1.0, narcotics=False)
            out.append(self._emit(alert, "new"))
        return out

    def on_ack(self, ack: AlertAck) -> list[AlertReport]:
        """Record an operator action on an open alert and echo it; dismiss ends the alert."""
        alert = self.alerts.get(ack.alert_id)
        if alert is None:
            return []
        rec = record_ack(alert, ack)
        if ack.action == "dismiss":
            if alert.kind != "narcotics":
                self.dismissed.update(alert.track_ids)
            return [self._end(alert, ack.time, "dismissed", {"ack": rec})]
        if ack.action == "escalate" and not alert.escalated:
            alert.escalated = True
            alert.severity = raise_one(alert.severity)
        report = alert.report("update", {"ack": rec})
        alert.mark_sent()
        return [report]

    def open_alerts(self) -> list[AlertReport]:
        """Latest state of every open alert, in id order (for late consoles and snapshots)."""
        return [self.alerts[k].report("update" if self.alerts[k].sent else "new") for k in sorted(self.alerts)]

    def snapshot(self) -> dict:
        return {
            "sector": self.sector,
            "config": self.config.to_dict(),
            "n": self._n,
            "now": self.now,
            "tracks": [report_to_dict(self.tracks[k]) for k in sorted(self.tracks)],
            "memory": self._memory_dicts(),
            "alerts": [self.alerts[k].to_dict() for k in sorted(self.alerts)],
            "narcotics_tracks": sorted(self.narcotics_tracks),
            "dismissed": sorted(self.dismissed),
        }

    @classmethod
    def restore(cls, site: Site, sector: str, config: AlertConfig, snap: dict) -> "AlertEngine":
        eng = cls(site, sector, config)
        eng._n = int(snap["n"])
        eng.now = snap["now"]
        eng.tracks = {d["track_id"]: report_from_dict(d) for d in snap["tracks"]}
        eng._positions.put(list(eng.tracks.values()))
        mem = eng._positions.kept()
        for k, v in snap["memory"].items():
            slot = int(eng._positions.slots([k])[0])
            for name, value in memory.from_dict(v).items():
                mem[name][slot] = value
        eng.alerts = {d["id"]: Alert.from_dict(d) for d in snap["alerts"]}
        for alert in eng.alerts.values():
            eng._index(alert)
        eng.narcotics_tracks = set(snap["narcotics_tracks"])
        eng.dismissed = set(snap["dismissed"])
        return eng

    # --- stages ---------------------------------------------------------------------

    def _store(self, reports: list[TrackReport]) -> tuple[list[int], dict[str, object], set[str]]:
        """Cache the reports (deleted tracks forgotten). Returns the rows of the updated ones among the
        live reports' stacked columns (``PositionCache.put``, plus "id" and "time": ids and report
        objects' times) and the deleted tracks."""
        live = [r for r in reports if r.status != TrackStatus.DELETED]
        deleted = {r.track_id for r in reports if r.status == TrackStatus.DELETED} if len(live) < len(reports) else set()
        for r in reports:
            if r.status == TrackStatus.DELETED:
                self._forget(r.track_id)
        ids = [r.track_id for r in live]
        self.tracks.update(zip(ids, live))
        stacked: dict[str, object] = dict(self._positions.put(live, ids))
        stacked["id"] = ids
        stacked["time"] = [r.time for r in live]
        return [k for k, r in enumerate(live) if r.updated], stacked, deleted

    def _remember(self, fresh: list[int], stacked: dict, d: FloatArray, on_line: FloatArray, n: FloatArray
                  ) -> dict[str, tuple[str, float, tuple[float, float]]]:
        """Feed the updated reports (rows ``fresh`` of ``stacked``, measured against the border at their
        report positions: ``d``, ``on_line``, ``n``) to the memories; return side flips {track: (into|out, time, line point)}."""
        cfg = self.config
        xy = stacked["x"][fresh][:, :2]
        var_d = np.einsum("ni,nij,nj->n", n, stacked["P"][fresh][:, :2, :2], n)
        margin = np.maximum(cfg.crossing_margin_m, cfg.crossing_margin_sigmas * np.sqrt(np.maximum(var_d, 0.0)))
        mem = self._positions.kept()
        ids = [stacked["id"][k] for k in fresh]
        flip, grown = memory.observe(
            mem, self._positions.slots(ids), stacked["t"][fresh], d,
            margin, xy, self.fence.in_port(xy), on_line, cfg.crossing_confirm_updates, cfg.loiter_distance_m,
            cfg.loiter_exit_margin_m, max(cfg.straightness_window_s, cfg.loiter_time_s))
        memory.refresh_motion(mem, grown, cfg.straightness_window_s, cfg.straightness_min_span_s, cfg.loiter_time_s)
        flips: dict[str, tuple[str, float, tuple[float, float]]] = {}
        for k in np.flatnonzero(flip).tolist():
            point = on_line[k].tolist()
            flips[ids[k]] = ("into" if flip[k] > 0 else "out", stacked["time"][fresh[k]], (point[0], point[1]))
        return flips

    def _forget(self, track_id: str) -> None:
        self.tracks.pop(track_id, None)
        self._positions.drop(track_id)
        self.dismissed.discard(track_id)

    def _context(self, now: float, focus: list[str], alerts: list[str], fresh: list[int], stacked: dict
                 ) -> tuple["rules.Context", dict[str, tuple[str, float, tuple[float, float]]]]:
        """Evaluation context over the groups of the ``focus`` tracks and of these open ``alerts``, and the side
        flips of the updated reports (``_remember``; their memory is updated before the context reads it).

        The updated reports' positions and the context's tracks at ``now`` are measured against the
        border in one pass (the fence works point by point: the same values as two passes)."""
        cfg = self.config
        xy, v, alive = self._positions.at(now)
        search = GroupSearch(xy, v, alive, cfg.group_distance_m, cfg.group_speed_diff_mps)
        scope = self._focus_slots(focus, alerts, search)
        slots, group = search.reached, search.labels()
        ids = self._positions.ids(slots)
        reported = self._positions.columns(slots, _TABLE_COLUMNS)
        table = table_at(tuple(ids), reported, now, cfg.animal_prob)
        events: dict[str, tuple[str, float, tuple[float, float]]] = {}
        if fresh or table.size:
            k = len(fresh)
            d, on_line, n = self.fence.measure(np.concatenate([stacked["x"][fresh][:, :2], table.xy]))
            if fresh:
                events = self._remember(fresh, stacked, d[:k], on_line[:k], n[:k])
            feats = features_at(table, d[k:], on_line[k:], n[k:], cfg.horizon_s, cfg.accel_psd_m2ps3, cfg.min_speed_mps)
        else:
            feats = features_at(table, np.zeros(0), np.zeros((0, 2)), np.zeros((0, 2)), cfg.horizon_s,
                                cfg.accel_psd_m2ps3, cfg.min_speed_mps)
        cols = self._positions.columns(slots, _MEMORY_COLUMNS)  # the memory as ``_remember`` left it
        inside = self.fence.zone_contains(table.xy)  # (n, z)
        threshold = np.full(table.size, cfg.min_existence)
        for j, z in enumerate(self.fence.zones):
            if z.min_existence is not None:
                threshold = np.where(inside[:, j], np.maximum(threshold, z.min_existence), threshold)
        eligible = table.alive & (table.existence >= threshold)
        animal = table.class_idx == CLASSES.index("animal")
        # Labelled: a sensor that names classes (a drone camera) has seen it, and the label is confident. The
        # radar's size cue moves the class probabilities too, but it is too weak to stand in for a look.
        labelled = reported["looked"] & (table.class_probs[:, [CLASSES.index("person"), CLASSES.index("vehicle")]].max(axis=1)
                             >= cfg.label_prob)
        # Metres made towards (and into) the protected side since the track was first seen.
        progress = feats.d - cols["deepest_out_m"]
        # NaN motion (too little path) is not purposeful.
        purposeful = ((cols["straightness"] >= cfg.straightness_min) & (cols["net_speed"] >= cfg.purpose_speed_mps)
                      & ~(progress < cfg.approach_min_m))
        via_port = cols["via_port"]
        # An unlabelled track raises crossing kinds on its motion only while its class evidence (prior, speed, echo
        # size) makes a person or vehicle clearly likelier than an animal; a coin flip waits for more scans.
        pc = table.class_probs
        person_or_vehicle = pc[:, CLASSES.index("person")] + pc[:, CLASSES.index("vehicle")]
        plausible = person_or_vehicle >= cfg.threat_odds * pc[:, CLASSES.index("animal")]
        # A crossing threat: not wildlife by label, labelled person/vehicle or moving purposefully, not port traffic.
        loitered = cols["loitered"]
        threat = ~animal & (labelled | ((purposeful | loitered) & plausible)) & ~via_port
        labels = np.where(eligible, group, -1)
        # Settled: near the line for loiter_time_s, the whole dwell within loiter_radius_m of one spot (a grazing
        # animal moves on, a walker passes), after walking up from loiter_approach_m or more (an animal that grazes
        # along the line never left it).
        near_since = cols["near_since"]
        settled = ((now - near_since >= cfg.loiter_time_s) & (cols["spread_m"] <= cfg.loiter_radius_m)
                   & (cols["farthest_m"] >= cfg.loiter_approach_m))
        ctx = rules.Context(now, table, feats, inside, eligible, animal, threat, via_port, labelled, labels, settled,
                            cols["side"], near_since, cols["crossed_at"], np.stack([cols["crossed_e"], cols["crossed_n"]], axis=1),
                            alert_scope=scope)
        return ctx, events

    def _focus_slots(self, focus: list[str], alerts: list[str], search: GroupSearch) -> tuple[str, ...]:
        """Grow ``search`` to the slots of a call; return the open alerts it covers (in id order).

        The groups of the focus tracks and of the given alerts' tracks, closed under open
        alerts: an alert holding a track of those groups brings its other tracks' groups
        in too (its tracks may have drifted apart), until nothing new comes in.
        """
        holders = self._holders
        scope = set(alerts)
        seeds = set(focus) | {t for aid in alerts for t in self.alerts[aid].track_ids if t in self.tracks}
        ids: set[str] = set()  # reached so far
        while True:
            fresh = self._positions.ids(search.grow(self._positions.slots(list(seeds))))  # order is immaterial
            ids.update(fresh)
            new = {aid for t in fresh for aid in holders.get(t, ())} - scope  # the rest were looked up before
            scope |= new
            seeds = {t for aid in new for t in self.alerts[aid].track_ids if t in self.tracks} - ids
            if not seeds:
                return tuple(sorted(scope))

    def _drop_deleted(self, now: float, deleted: set[str]) -> list[AlertReport]:
        """Remove ended tracks from alerts; an alert left with no track ends (narcotics: keeps its place)."""
        if not deleted:
            return []
        out = []
        for aid in sorted({aid for t in deleted for aid in self._holders.get(t, ())}):
            alert = self.alerts[aid]
            remaining = tuple(t for t in alert.track_ids if t not in deleted)
            if remaining:
                self._hold(alert, remaining)
                alert.time = now
            elif alert.kind == "narcotics":
                self._hold(alert, ())
                alert.expires = now + self.config.narcotics_hold_s
            else:
                out.append(self._end(alert, now, "track_deleted"))
        self.narcotics_tracks -= deleted
        return out

    def _memory_dicts(self) -> dict[str, dict[str, object]]:
        """Each cached track's memory in the snapshot format, by track id."""
        mem = self._positions.kept()
        ids = sorted(self.tracks)
        return {k: memory.to_dict(mem, slot) for k, slot in zip(ids, self._positions.slots(ids).tolist())}

    # --- helpers used by the rules ---------------------------------------------------

    def _mark_loitered(self, track_ids: list[str]) -> None:
        """These tracks dwelt confined near the line: a threat from now on."""
        self._positions.kept()["loitered"][self._positions.slots(track_ids)] = True

    def _open(self, kind: str, track_ids: tuple[str, ...], now: float) -> Alert:
        self._n += 1
        alert = Alert(id=f"A-{self.sector}-{self._n:06d}", kind=kind, opened=now, track_ids=track_ids, time=now)
        self.alerts[alert.id] = alert
        self._index(alert)
        self.opened.append(alert.id)
        return alert

    def _hold(self, alert: Alert, track_ids: tuple[str, ...]) -> None:
        """Give an open alert these tracks (the one way its tracks change: it keeps the index current)."""
        if track_ids != alert.track_ids:
            self._unindex(alert)
            alert.track_ids = track_ids
            self._index(alert)

    def _index(self, alert: Alert) -> None:
        for t in alert.track_ids:
            self._holders.setdefault(t, set()).add(alert.id)

    def _unindex(self, alert: Alert) -> None:
        for t in alert.track_ids:
            held = self._holders.get(t)
            if held is not None:
                held.discard(alert.id)
                if not held:
                    del self._holders[t]

    def _emit(self, alert: Alert, state: str) -> AlertReport:
        report = alert.report(state)
        alert.mark_sent()
        return report

    def _end(self, alert: Alert, now: float, reason: str, extra: dict[str, object] | None = None) -> AlertReport:
        alert.time = now
        if self.alerts.pop(alert.id, None) is not None:
            self._unindex(alert)
        return alert.report("end", {"reason": reason, **(extra or {})})


__all__ = ["AlertEngine", "AlertConfig"]
