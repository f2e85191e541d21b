"""The alert kinds as rules over one evaluation context (all live tracks at ``now``).

Each rule takes the groups of tracks that qualify for its kind, pairs them with its
open alerts (``grouping.match_groups``: a group keeps its alert as it moves; merged
groups keep the oldest), opens, updates or ends alerts, and applies its hysteresis:

- crossing situation: opens as ``predicted_crossing`` when P(cross within the
  horizon) >= ``p_open``; ends only after P has stayed below ``p_close`` for
  ``close_hold_s``; becomes ``crossing`` when a member's remembered side flips
  into the protected side (or opens so, with no warning); a crossing ends after
  its tracks have been back across for ``return_hold_s`` or when they are deleted.
- incursion: a confirmed track inside a watch or restricted zone; ends after its
  tracks have been ``zone_exit_margin_m`` outside for ``zone_exit_hold_s``.
- loitering: dwell within ``loiter_distance_m`` of the line for ``loiter_time_s``;
  ends when the group leaves the band plus ``loiter_exit_margin_m``.
- narcotics: opened by ``AlertEngine.on_scan``; ends with its track, or after
  ``narcotics_hold_s`` when it has none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from fusion.alerting.features import BorderFeatures, TrackTable
from fusion.alerting.grouping import match_groups
from fusion.alerting.lifecycle import CROSSING_FAMILY, Alert
from fusion.alerting.severity import direction_word, duration_words, heading_word, severity, who
from fusion.types import CLASSES, AlertReport

if TYPE_CHECKING:
    from fusion.alerting.engine import AlertEngine


@dataclass(frozen=True)
class Context:
    now: float
    table: TrackTable
    feats: BorderFeatures
    inside: NDArray[np.bool_]  # (n, z)
    eligible: NDArray[np.bool_]  # (n,)
    animal: NDArray[np.bool_]  # (n,) wildlife by label
    threat: NDArray[np.bool_]  # (n,) may raise crossing kinds: labelled person/vehicle or purposeful motion, not port traffic
    via_port: NDArray[np.bool_]  # (n,) has been inside a port of entry
    labelled: NDArray[np.bool_]  # (n,) labelled person or vehicle (drone), not just moving like one
    labels: NDArray[np.int64]  # (n,) group label, -1 when not eligible
    settled: NDArray[np.bool_]  # (n,) dwelt near the line for loiter_time_s within loiter_radius_m of one spot: waiting, not crossing
    side: NDArray[np.int64]  # (n,) remembered side of the line: +1 protected, -1 not, 0 unknown
    near_since: NDArray[np.float64]  # (n,) start of the current dwell near the line, NaN when not near
    crossed_at: NDArray[np.float64]  # (n,) time of the last flip into the protected side, NaN: none
    crossed_xy: NDArray[np.float64]  # (n, 2) where (the border point), NaN: none
    #: An incremental call (see ``AlertEngine``) holds only some groups: the rules then look
    #: only at these open alerts (those with a track here), in id order, and leave the rest
    #: as they are. None: every open alert.
    alert_scope: tuple[str, ...] | None = None

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Row of each track id, built once per context (rules look up every open alert's tracks)."""
        return {tid: i for i, tid in enumerate(self.table.ids)}


def severity_of(eng: "AlertEngine", kind: str, cls: str, count: int, confidence: float, *, narcotics: bool,
                restricted: bool = False, escalated: bool = False) -> str:
    return severity(kind, cls, count, confidence, narcotics=narcotics, restricted=restricted, escalated=escalated,
                    low_confidence=eng.config.low_confidence)


def _groups(ctx: Context, allowed: NDArray[np.bool_]) -> list[NDArray[np.int64]]:
    """Row indices of each group among the allowed rows, in order of first row."""
    labels = np.where(allowed, ctx.labels, -1)
    rows = np.flatnonzero(labels >= 0)
    if rows.size == 0:
        return []
    rows = rows[np.argsort(labels[rows], kind="stable")]  # by label, rows ascending within each
    cuts = np.flatnonzero(np.diff(labels[rows])) + 1
    starts, ends = np.concatenate([[0], cuts]), np.concatenate([cuts, [rows.size]])
    order = np.argsort(rows[starts])  # groups by first row (one sort of distinct rows, not a key call per group)
    return [rows[a:b] for a, b in zip(starts[order].tolist(), ends[order].tolist())]


def _group_of(ctx: Context, groups: list[NDArray[np.int64]], alerts: list[tuple[str, frozenset[str]]]) -> dict[str, int]:
    """Group index of each of these alerts' tracks that is in a group: what ``match_groups`` reads,
    looked up per alert track instead of a set of ids per group (hundreds of groups, a dozen alerts)."""
    if not groups or not alerts:
        return {}
    group = np.full(ctx.table.size, -1, dtype=np.int64)
    flat, size, _ = _end_to_end(groups)
    group[flat] = np.repeat(np.arange(len(groups)), size)
    of_row, row_of = group.tolist(), ctx.row_of
    return {tid: g for _, tracks in alerts for tid in tracks if (i := row_of.get(tid)) is not None and (g := of_row[i]) >= 0}


def _end_to_end(groups: list[NDArray[np.int64]]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """The rows of (non-empty) groups end to end, each group's size and its start there (for ``reduceat``)."""
    size = np.fromiter(map(len, groups), np.int64, len(groups))
    return np.concatenate(groups), size, np.cumsum(size) - size


def _rows_of(ctx: Context, track_ids: tuple[str, ...]) -> NDArray[np.int64]:
    index = ctx.row_of
    return np.array([index[t] for t in track_ids if t in index], dtype=np.int64)


def _mean_rows(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mean over the rows of ``a`` (k >= 1), as ``np.mean`` computes it (sum, then divide by the count) minus its wrapper."""
    return a.sum(axis=0) / a.shape[0]


#: The class an alert speaks of: the first of these among its group's members.
_SPOKEN = ("person", "vehicle", "unknown", "animal")
_SPOKEN_IDX = np.array([CLASSES.index(c) for c in _SPOKEN], dtype=np.int64)


class _GroupStats:
    """What the rules read of each group (row arrays, never empty), reduced for all groups at once
    (``reduceat`` over the concatenated rows), not with a dozen small numpy calls per group.

    Means are ``_mean_rows``'s, bit for bit: sums in row order (``np.add.reduceat`` adds in
    another order), then divided by the count. The class an alert speaks of is the first of
    person, vehicle, unknown, animal among the members'.
    """

    def __init__(self, eng: "AlertEngine", ctx: Context, groups: list[NDArray[np.int64]]) -> None:
        t = ctx.table
        if not groups:  # the zone rules' usual case: nothing to reduce
            self.flat, self.starts = np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64)
            return
        flat, size, starts = _end_to_end(groups)
        self.flat, self.starts, self.size = flat, starts, size
        # Members side by side (groups, 1 + largest size), after a +0.0 and padded with -0.0 (x + -0.0 == x, even
        # for x = +-0.0), summed by a running sum: a.sum(axis=0)'s order over each group's (k, 2) rows, from +0.0.
        pos = np.arange(int(size.max()) + 1)
        member = (pos[None, :] >= 1) & (pos[None, :] <= size[:, None])
        pad = np.where(member, starts[:, None] + pos[None, :] - 1, flat.size)
        pad[:, 0] = flat.size + 1

        def mean(a: NDArray[np.float64]) -> list[list[float]]:
            ends = np.array([[-0.0] * a.shape[1], [0.0] * a.shape[1]])
            side_by_side = np.concatenate([a[flat], ends])[pad]
            return (np.cumsum(side_by_side, axis=1)[:, -1] / size[:, None]).tolist()

        self.xy, self.v = mean(t.xy), mean(t.v)
        self.count = np.add.reduceat(t.count[flat], starts).tolist()
        self.confidence = np.maximum.reduceat(t.existence[flat], starts).tolist()
        self.confirmed = self.any(t.confirmed).tolist()
        # Per group and class (in speaking order), any member of it: one reduction for the four classes.
        has = np.logical_or.reduceat(t.class_idx[flat][:, None] == _SPOKEN_IDX[None, :], starts, axis=0)
        first = np.argmax(has, axis=1).tolist()
        self.cls = [_SPOKEN[k] if any_ else "unknown" for k, any_ in zip(first, has.any(axis=1).tolist())]
        # The first site zone (not a port) that holds a member, else None.
        self.zone: list[str | None] = [None] * len(groups)
        if eng.fence.zones:
            inside = np.logical_or.reduceat(ctx.inside[flat], starts, axis=0)  # (groups, zones)
            for j in reversed(range(len(eng.fence.zones))):
                if eng.fence.zones[j].kind != "port_of_entry":
                    for g in np.flatnonzero(inside[:, j]).tolist():
                        self.zone[g] = eng.fence.zones[j].id

    def argmax(self, values: NDArray[np.float64]) -> NDArray[np.int64]:
        """Per group: the row of its first largest value (``np.argmax``'s pick, a NaN first), for all groups at once."""
        if self.flat.size == 0:
            return np.zeros(0, dtype=np.int64)
        v = values[self.flat]
        top = np.repeat(np.maximum.reduceat(v, self.starts), self.size)
        first = np.flatnonzero((v == top) | np.isnan(v))
        return self.flat[first[np.searchsorted(first, self.starts)]]

    def any(self, rows_true: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Per group: any member true (``rows_true`` per row of the context)."""
        return np.logical_or.reduceat(rows_true[self.flat], self.starts)

    def all(self, rows_true: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Per group: every member true."""
        return np.logical_and.reduceat(rows_true[self.flat], self.starts)


def _describe(eng: "AlertEngine", ctx: Context, alert: Alert, rows: NDArray[np.int64], stats: _GroupStats,
              g: int) -> tuple[str, int]:
    """Fill position, tracks and common info from group ``g`` (its ``rows``); return (class, head count)."""
    t = ctx.table
    eng._hold(alert, tuple(sorted(t.ids[i] for i in rows.tolist())))
    alert.enu = (stats.xy[g][0], stats.xy[g][1])
    alert.time = ctx.now
    cls, count = stats.cls[g], stats.count[g]
    alert.info["count"] = count
    alert.info["class"] = cls
    return cls, count


def _severity(eng: "AlertEngine", alert: Alert, conf: float, cls: str, count: int, restricted: bool = False) -> None:
    """Severity of an alert from its group (``conf``: the highest existence among its tracks)."""
    narc = bool(eng.narcotics_tracks.intersection(alert.track_ids))
    alert.severity = severity_of(eng, alert.kind, cls, count, conf, narcotics=narc, restricted=restricted,
                                 escalated=alert.escalated)


def _publish(eng: "AlertEngine", alert: Alert, is_new: bool) -> list[AlertReport]:
    cfg = eng.config
    if is_new:
        return [eng._emit(alert, "new")]
    if alert.notable_change(cfg.update_move_m, cfg.update_eta_frac, cfg.update_eta_min_s):
        return [eng._emit(alert, "update")]
    return []


def _end_merged(eng: "AlertEngine", ctx: Context, merged: dict[str, int], owner: dict[int, str]) -> list[AlertReport]:
    return [eng._end(eng.alerts[aid], ctx.now, "merged", {"merged_into": owner[g]}) for aid, g in sorted(merged.items())]


def _open_alerts(eng: "AlertEngine", ctx: Context, kinds: tuple[str, ...], zone_id: str | None = None) -> list[tuple[str, frozenset[str]]]:
    """Open alerts of these kinds (and zone) in id order, among those the context covers."""
    ids = sorted(eng.alerts) if ctx.alert_scope is None else [a for a in ctx.alert_scope if a in eng.alerts]
    return [
        (aid, frozenset(a.track_ids))
        for aid in ids
        if (a := eng.alerts[aid]).kind in kinds and (zone_id is None or a.zone_id == zone_id)
    ]


def _in_situation(eng: "AlertEngine", ctx: Context) -> NDArray[np.bool_]:
    """Rows of tracks held by an open crossing-family alert (one set, not a scan of the alerts per track).

    An alert holding a track of the context is in its scope (``AlertEngine._focus_slots``) or was
    opened during this call, so only those are read, not every open alert of the sector.
    """
    ids = eng.alerts if ctx.alert_scope is None else (*ctx.alert_scope, *eng.opened)
    held = {tid for aid in ids if (a := eng.alerts.get(aid)) is not None and a.kind in CROSSING_FAMILY
            for tid in a.track_ids}
    row_of, out = ctx.row_of, np.zeros(ctx.table.size, dtype=bool)
    out[[i for tid in held if (i := row_of.get(tid)) is not None]] = True  # a lookup per held track, not per row
    return out


def _dismissed(eng: "AlertEngine", ctx: Context) -> NDArray[np.bool_]:
    """Rows of tracks an operator dismissed: no track-based kind raises them again."""
    if not eng.dismissed:  # the usual case: no lookup per row
        return np.zeros(ctx.table.size, dtype=bool)
    return np.fromiter([tid in eng.dismissed for tid in ctx.table.ids], bool, ctx.table.size)


# --- crossing situation ------------------------------------------------------------------


def crossing_situations(eng: "AlertEngine", ctx: Context, flips: dict[str, tuple[str, float, tuple[float, float]]]) -> list[AlertReport]:
    cfg, t, f = eng.config, ctx.table, ctx.feats
    allowed = ctx.eligible & ctx.threat & ~_dismissed(eng, ctx)
    groups = _groups(ctx, allowed)
    alerts = _open_alerts(eng, ctx, CROSSING_FAMILY)
    owner, merged = match_groups(_group_of(ctx, groups, alerts), alerts)
    out = _end_merged(eng, ctx, merged, owner)
    # A predicted crossing point at a port (or near one) is legal traffic. P is read only for group
    # members and tracks of open crossing alerts, and the test matters only where P > 0.
    # A track that has settled near the line is waiting: its velocity is milling noise, not a prediction
    # (loitering speaks for it until it moves off). One that turned out to be wildlife is predicted nothing.
    p = np.where(ctx.settled | ctx.animal, 0.0, f.p_cross)
    maybe = np.flatnonzero((p > 0.0) & (allowed | _in_situation(eng, ctx)))
    if maybe.size and eng.fence.ports is not None:  # no port: nothing to test
        p[maybe[eng.fence.in_port(f.crossing_xy(eng.fence, maybe), cfg.port_margin_m)]] = 0.0
    margin = np.maximum(cfg.crossing_margin_m, cfg.crossing_margin_sigmas * f.sigma_d)
    side = ctx.side
    # Near the line, heading over, not yet flipped: still a threat, whatever P says.
    at_line = (side <= 0) & (f.d > -margin) & (f.v_n > cfg.min_speed_mps)
    carried: set[str] = set()
    live = _live_groups(eng, ctx, groups, owner, p, side, flips)
    stats = _GroupStats(eng, ctx, [groups[g] for g in live])
    bests = stats.argmax(p)
    # One line projection and one grid of crossing times for all groups, read per group as Python floats.
    best_xy = f.crossing_xy(eng.fence, bests).tolist()
    eta_ranges = f.eta_range(bests, cfg.accel_psd_m2ps3, 2.0 * cfg.horizon_s).tolist()
    crossed = _recent_crossings(eng, ctx, stats.flat)
    near_line = stats.any(at_line).tolist() if live else []
    all_back = stats.all(side < 0).tolist() if live else []
    eta_best, p_best = f.eta_s[bests].tolist(), p[bests].tolist()
    for k, g in enumerate(live):
        rows = groups[g]
        into = [crossed[i] for i in rows.tolist() if i in crossed] if crossed else []
        p_g = p_best[k]
        alert = eng.alerts.get(owner[g]) if g in owner else None
        is_new = alert is None
        if alert is None:
            if not stats.confirmed[k]:
                continue
            if into:
                alert = eng._open("crossing", (), ctx.now)
            elif p_g >= cfg.p_open:
                alert = eng._open("predicted_crossing", (), ctx.now)
            elif cfg.alert_outbound_crossings and any(flips.get(t.ids[i], ("",))[0] == "out" for i in rows.tolist()):
                alert = eng._open("crossing", (), ctx.now)
                alert.direction = eng.fence.out_direction
            else:
                continue
        carried.add(alert.id)
        cls, count = _describe(eng, ctx, alert, rows, stats, k)
        if into and alert.kind == "predicted_crossing":
            alert.kind = "crossing"
            alert.info["warned_s_before"] = round(ctx.now - alert.opened, 1)  # how long the prediction led the crossing
        if alert.kind == "crossing" and alert.direction is None or into:
            alert.direction = eng.fence.into_direction
        if alert.kind == "predicted_crossing":
            alert.direction = eng.fence.into_direction
            alert.eta_s = eta_best[k] if math.isfinite(eta_best[k]) else alert.eta_s
            alert.crossing_enu = (best_xy[k][0], best_xy[k][1])
            alert.info["probability"] = round(p_g, 3)
            lo, hi = eta_ranges[k]
            alert.info["eta_range_s"] = [round(lo, 1) if math.isfinite(lo) else None, round(hi, 1) if math.isfinite(hi) else None]
            calm = p_g < cfg.p_close and not near_line[k]
            if calm:
                alert.timer = alert.timer if alert.timer is not None else ctx.now
            else:
                alert.timer = None
            v = stats.v[k]
            eta_txt = f", crossing in about {duration_words(alert.eta_s)}{_range_words(lo, hi)}" if alert.eta_s is not None else ""
            alert.summary = f"{who(cls, count)} heading {heading_word(v[0], v[1])}{eta_txt}"
        else:
            alert.eta_s = None
            alert.info.pop("probability", None)
            alert.info.pop("eta_range_s", None)
            if into:
                alert.crossing_enu = into[0][2]
                alert.info["crossed_at_offset_s"] = round(float(into[0][1] - ctx.now), 3)
            back = all_back[k] and alert.direction == eng.fence.into_direction
            alert.timer = (alert.timer if alert.timer is not None else ctx.now) if back else None
            alert.summary = f"{who(cls, count)} crossed the border heading {direction_word(alert.direction)}"
        alert.zone_id = stats.zone[k]
        _severity(eng, alert, stats.confidence[k], cls, count)
        if _timer_done(alert, ctx.now, cfg.close_hold_s if alert.kind == "predicted_crossing" else cfg.return_hold_s):
            out.append(eng._end(alert, ctx.now, "no_longer_predicted" if alert.kind == "predicted_crossing" else "returned"))
            continue
        out += _publish(eng, alert, is_new)
    # Alerts whose tracks are alive but not in a qualifying group this round.
    for aid, _ in _open_alerts(eng, ctx, CROSSING_FAMILY):
        if aid in carried:
            continue
        alert = eng.alerts[aid]
        rows = _rows_of(ctx, alert.track_ids)
        if alert.kind == "predicted_crossing":
            still = rows.size and (p[rows].max() >= cfg.p_close or at_line[rows].any())
            alert.timer = None if still else (alert.timer if alert.timer is not None else ctx.now)
            hold = cfg.close_hold_s
        else:
            back = rows.size == 0 or bool(np.all(side[rows] < 0))
            alert.timer = (alert.timer if alert.timer is not None else ctx.now) if back else None
            hold = cfg.return_hold_s
        if _timer_done(alert, ctx.now, hold):
            out.append(eng._end(alert, ctx.now, "no_longer_predicted" if alert.kind == "predicted_crossing" else "returned"))
    return out


def _live_groups(eng: "AlertEngine", ctx: Context, groups: list[NDArray[np.int64]], owner: dict[int, str],
                 p: NDArray[np.float64], side: NDArray[np.int64], flips: dict[str, tuple[str, float, tuple[float, float]]]) -> list[int]:
    """Indices of the groups the crossing rule must look at: those with an alert, and those that
    could open one (a confirmed member, and P >= ``p_open``, a recent crossing or an outbound flip).

    Decided for all groups at once with segment reductions, so the rule's per-group Python
    work is paid for the few groups that matter, not the hundreds that merely walk about.
    """
    if not groups:
        return []
    cfg, t = eng.config, ctx.table
    flat, _, starts = _end_to_end(groups)
    recent = (side[flat] > 0) & (ctx.now - ctx.crossed_at[flat] <= cfg.crossing_recent_s)  # NaN -> False
    could = np.maximum.reduceat(p[flat], starts) >= cfg.p_open
    could |= np.logical_or.reduceat(recent, starts)
    if cfg.alert_outbound_crossings and flips:
        out_rows = np.array([flips.get(k, ("",))[0] == "out" for k in t.ids], dtype=bool)
        could |= np.logical_or.reduceat(out_rows[flat], starts)
    could &= np.logical_or.reduceat(t.confirmed[flat], starts)
    return sorted(set(np.flatnonzero(could).tolist()) | set(owner))


def _range_words(lo: float, hi: float) -> str:
    """" (30 s to 2 min)" when the 10-90 % range of the crossing time is wide, else ""."""
    if not math.isfinite(lo):
        return ""
    if not math.isfinite(hi):
        return f" (not before {duration_words(lo)})"
    if hi - lo < max(20.0, 0.5 * lo):
        return ""
    return f" ({duration_words(lo)} to {duration_words(hi)})"


def _recent_crossings(eng: "AlertEngine", ctx: Context, rows: NDArray[np.int64]) -> dict[int, tuple[str, float, tuple[float, float]]]:
    """Which of these rows crossed into the protected side within ``crossing_recent_s`` (not at a port):
    row -> (id, time, point). For the members of all groups at once: few tracks have.

    Recent rather than this batch only, so a track that crossed while it did not yet
    qualify (too little history to judge its motion) still raises its crossing.
    """
    cfg = eng.config
    rows = rows[(ctx.side[rows] > 0) & (ctx.now - ctx.crossed_at[rows] <= cfg.crossing_recent_s)
                & ~np.isnan(ctx.crossed_xy[rows, 0])]
    if rows.size == 0:
        return {}
    rows = rows[~eng.fence.in_port(ctx.crossed_xy[rows], cfg.port_margin_m)]
    return {i: (ctx.table.ids[i], at, (e, n)) for i, at, (e, n) in
            zip(rows.tolist(), ctx.crossed_at[rows].tolist(), ctx.crossed_xy[rows].tolist())}


def _timer_done(alert: Alert, now: float, hold_s: float) -> bool:
    return alert.timer is not None and now - alert.timer >= hold_s


# --- incursion ------------------------------------------------------------------------------


def incursions(eng: "AlertEngine", ctx: Context) -> list[AlertReport]:
    cfg, f = eng.config, ctx.feats
    out: list[AlertReport] = []
    if not eng.fence.zones:
        return out
    in_situation = _in_situation(eng, ctx)
    dismissed = _dismissed(eng, ctx)
    side = ctx.side
    for j, zone in enumerate(eng.fence.zones):
        if zone.kind == "port_of_entry":
            continue
        is_buffer = eng.site.zones[j].buffer_m is not None
        inside = ctx.inside[:, j].copy()
        protected_half = is_buffer and not cfg.buffer_incursion_unprotected_side
        if protected_half:
            # The protected half only, by the remembered side (hysteresis: not a sample at the line).
            # Heading back out towards the line is leaving, not an incursion.
            inside &= (side > 0) & (f.v_n > -cfg.min_speed_mps)
        allowed = ctx.eligible & inside & ~dismissed & ctx.threat  # person/vehicle by label, purpose or loitering
        if is_buffer:
            allowed &= ~in_situation  # the crossing alert already covers this group
            if cfg.buffer_incursion_needs_label:
                allowed &= ctx.labelled
        ended, held = _carry(eng, ctx, _groups(ctx, allowed), "incursion", zone.id)
        out += ended
        carried = {alert.id for alert, *_ in held}
        for alert, rows, is_new, cls, count, conf, _ in held:
            alert.timer = None
            alert.summary = f"{who(cls, count)} inside {'restricted ' if zone.kind == 'restricted' else ''}zone {zone.id}"
            _severity(eng, alert, conf, cls, count, restricted=zone.kind == "restricted")
            out += _publish(eng, alert, is_new)
        for aid, _ in _open_alerts(eng, ctx, ("incursion",), zone.id):
            if aid in carried:
                continue
            alert = eng.alerts[aid]
            rows = _rows_of(ctx, alert.track_ids)
            gone = rows.size == 0 or bool(np.all(_zone_gap(eng, ctx, rows, j, side, protected_half) > cfg.zone_exit_margin_m))
            alert.timer = (alert.timer if alert.timer is not None else ctx.now) if gone else None
            if _timer_done(alert, ctx.now, cfg.zone_exit_hold_s):
                out.append(eng._end(alert, ctx.now, "left_zone"))
    return out


def _carry(eng: "AlertEngine", ctx: Context, groups: list[NDArray[np.int64]], kind: str, zone_id: str | None = None
           ) -> tuple[list[AlertReport], list[tuple[Alert, NDArray[np.int64], bool, str, int, float, str | None]]]:
    """Pair groups with the open alerts of ``kind`` (in ``zone_id``): end alerts whose groups
    merged into an older alert's, open one for each unowned group with a confirmed member,
    and describe each carried alert from its group. Returns the ``end`` reports and
    (alert, rows, is_new, class, head count, highest existence, first zone) per carried group."""
    alerts = _open_alerts(eng, ctx, (kind,), zone_id)
    owner, merged = match_groups(_group_of(ctx, groups, alerts), alerts)
    ended = _end_merged(eng, ctx, merged, owner)
    held = []
    stats = _GroupStats(eng, ctx, groups)
    for g, rows in enumerate(groups):
        alert = eng.alerts.get(owner[g]) if g in owner else None
        is_new = alert is None
        if alert is None:
            if not stats.confirmed[g]:
                continue
            alert = eng._open(kind, (), ctx.now)
            alert.zone_id = zone_id
        cls, count = _describe(eng, ctx, alert, rows, stats, g)
        held.append((alert, rows, is_new, cls, count, stats.confidence[g], stats.zone[g]))
    return ended, held


def _zone_gap(eng: "AlertEngine", ctx: Context, rows: NDArray[np.int64], j: int, side: NDArray[np.int64],
              protected_half: bool) -> NDArray[np.float64]:
    """Distance (m) of the given rows from zone ``j`` (a buffer zone counted on the protected half only).

    Only the tracks of incursion alerts that lost their group need it, so it is
    measured for those rows, not for every live track.
    """
    dist = eng.fence.zone_distance(ctx.table.xy[rows])[:, j]
    if protected_half:
        dist = np.where(side[rows] > 0, dist, np.maximum(dist, -ctx.feats.d[rows]))
    return dist


# --- loitering ------------------------------------------------------------------------------


def loitering(eng: "AlertEngine", ctx: Context) -> list[AlertReport]:
    t, f = ctx.table, ctx.feats
    near_since = ctx.near_since
    in_situation = _in_situation(eng, ctx)
    allowed = (ctx.eligible & ctx.settled & ~ctx.via_port & ~in_situation & ~ctx.animal
               & ~_dismissed(eng, ctx))
    eng._mark_loitered([t.ids[i] for i in np.flatnonzero(allowed).tolist()])
    out, held = _carry(eng, ctx, _groups(ctx, allowed), "loitering")
    carried = {alert.id for alert, *_ in held}
    for alert, rows, is_new, cls, count, conf, zone in held:
        dwell = float(ctx.now - np.nanmin(near_since[rows]))
        dist = float(np.abs(f.d[rows]).min())
        alert.zone_id = zone
        alert.info["dwell_s"] = round(dwell, 1)
        alert.summary = f"{who(cls, count)} loitering {dist:.0f} m from the border for {duration_words(dwell)}"
        _severity(eng, alert, conf, cls, count)
        out += _publish(eng, alert, is_new)
    for aid, _ in _open_alerts(eng, ctx, ("loitering",)):
        if aid in carried:
            continue
        alert = eng.alerts[aid]
        rows = _rows_of(ctx, alert.track_ids)
        if rows.size == 0 or bool(np.all(np.isnan(near_since[rows]))):
            out.append(eng._end(alert, ctx.now, "left"))
        elif in_situation[rows].any():
            out.append(eng._end(alert, ctx.now, "superseded"))
    return out


# --- narcotics --------------------------------------------------------------------------------


def narcotics_expiry(eng: "AlertEngine", ctx: Context) -> list[AlertReport]:
    """Follow linked tracks (position updates) and end unlinked indications after their hold."""
    out = []
    for aid, _ in _open_alerts(eng, ctx, ("narcotics",)):
        alert = eng.alerts[aid]
        if alert.expires is not None and not alert.track_ids and ctx.now >= alert.expires:
            out.append(eng._end(alert, ctx.now, "expired"))
            continue
        rows = _rows_of(ctx, alert.track_ids)
        if rows.size:
            xy = _mean_rows(ctx.table.xy[rows])
            alert.enu = (float(xy[0]), float(xy[1]))
            alert.time = ctx.now
            out += _publish(eng, alert, False)
    return out
