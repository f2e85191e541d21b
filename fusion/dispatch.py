"""Dispatch: send the field team that can intercept soonest, follow its replies.

For an alert at or above ``min_severity`` (of a kind that has a place to go), every
available, idle team that has not declined this alert is considered at once; the
intercept time t of a team at q with speed s on a target at p moving at v solves

    |p + v t - q| = s t   <=>   (v.v - s^2) t^2 + 2 v.(p - q) t + |p - q|^2 = 0,

the smallest positive root (straight-line travel: teams are not routed on roads).
When no root exists (the target outruns the team) the team is sent to the alert's
crossing point, or to where the target is, with eta = distance / speed. The team
with the smallest t gets the order; the intercept point is p + v t.

Lifecycle per order: ``new`` -> ``update`` (the intercept point moved more than
``update_distance_m``) -> ``cancel`` (the alert ended). Replies: ``decline`` frees
the team and sends the next best one; ``accept`` and ``on_scene`` are recorded;
``clear`` frees the team and completes the alert's dispatch. One team per alert,
two once an operator escalated it; never a second team for a target another active
order already covers (alerts that share a track).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from fusion.alerting.severity import LEVELS, duration_words
from fusion.site import Site
from fusion.types import AlertReport, DispatchReply, DispatchReport, TeamPosition, TrackReport


@dataclass(frozen=True)
class DispatchConfig:
    min_severity: str = "medium"  # alerts at or above this get a team
    kinds: tuple[str, ...] = ("predicted_crossing", "crossing", "incursion", "loitering", "narcotics")
    update_distance_m: float = 100.0  # re-send the order when the intercept point moves this far...
    update_fraction: float = 0.1  # ...or, for a distant intercept, this fraction of the team's way there
    max_intercept_s: float = 3600.0  # intercepts further away than this are not intercepts


@dataclass
class _Team:
    id: str
    speed_mps: float
    enu: tuple[float, float] | None
    available: bool = True
    dispatch_id: str | None = None  # the order it is working on


@dataclass
class _Order:
    id: str
    alert_id: str
    team_id: str
    state: str = "new"  # new (sent) | accepted | on_scene
    target: tuple[float, float] = (0.0, 0.0)
    intercept: tuple[float, float] = (0.0, 0.0)
    eta_s: float = 0.0
    sent_intercept: tuple[float, float] = (0.0, 0.0)
    time: float = 0.0  # when it was last sent


@dataclass
class _Task:
    """What dispatch knows about one alert."""

    alert_id: str
    kind: str
    severity: str
    track_ids: tuple[str, ...]
    target: tuple[float, float]
    velocity: tuple[float, float] = (0.0, 0.0)
    crossing: tuple[float, float] | None = None
    summary: str = ""
    escalated: bool = False
    declined: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)  # active order ids
    cleared: bool = False


class Dispatcher:
    """All field teams of a site and the orders they work on (ids ``D-{n:06d}``)."""

    def __init__(self, site: Site, config: DispatchConfig = DispatchConfig()) -> None:
        self.site = site
        self.config = config
        self.teams: dict[str, _Team] = {}
        for spec in site.teams:
            enu = None
            if spec.lat is not None and spec.lon is not None:
                e = site.frame.to_enu(spec.lat, spec.lon)
                enu = (float(e[0]), float(e[1]))
            self.teams[spec.id] = _Team(spec.id, float(spec.speed_mps), enu)
        self.tasks: dict[str, _Task] = {}
        self.orders: dict[str, _Order] = {}
        self._n = 0

    # --- inputs ---------------------------------------------------------------------

    def on_team_position(self, pos: TeamPosition) -> None:
        team = self.teams.get(pos.team_id)
        if team is None:
            return
        team.enu = (float(pos.enu[0]), float(pos.enu[1]))
        team.available = bool(pos.available)

    def on_alerts(self, now: float, alerts: list[AlertReport], tracks: dict[str, TrackReport]) -> list[DispatchReport]:
        """Orders for new qualifying alerts, updates when targets move, cancels when alerts end."""
        out: list[DispatchReport] = []
        for a in alerts:
            if a.state == "end":
                out += self._cancel_all(now, a.alert_id)
                continue
            self._task_from(a, now, tracks)
        out += self._follow(now, tracks)
        # Every alert still waiting for a team (new ones, and ones no team was free for before);
        # none can get one while no team is free (with hundreds of alerts open, a scan of them all).
        if not any(t.available and t.dispatch_id is None and t.enu is not None for t in self.teams.values()):
            return out
        for aid in sorted(self.tasks):
            task = self.tasks[aid]
            while self._wants_team(task):
                orders = self._assign(now, task)
                if not orders:
                    break
                out += orders
        return out

    def on_reply(self, reply: DispatchReply) -> list[DispatchReport]:
        """A team's reply: decline -> next team; accept / on_scene recorded; clear -> done."""
        order = self.orders.get(reply.dispatch_id)
        if order is None or order.team_id != reply.team_id:
            return []
        task = self.tasks.get(order.alert_id)
        if reply.reply in ("accept", "on_scene"):
            order.state = "accepted" if reply.reply == "accept" else "on_scene"
            return []
        self._close(order)
        if task is None:
            return []
        if reply.reply == "clear":
            task.cleared = True
            return []
        task.declined.append(order.team_id)  # decline
        return self._assign(reply.time, task)

    # --- state ------------------------------------------------------------------------

    def active_orders(self) -> list[DispatchReport]:
        """Every order still in force, as last sent (``state`` new | accepted | on_scene)."""
        return [self._report(o, o.state, o.eta_s, o.time, self.tasks.get(o.alert_id))
                for o in (self.orders[k] for k in sorted(self.orders))]

    def snapshot(self) -> dict:
        return {
            "config": {**asdict(self.config), "kinds": list(self.config.kinds)},
            "n": self._n,
            "teams": [asdict(self.teams[k]) for k in sorted(self.teams)],
            "tasks": [asdict(self.tasks[k]) for k in sorted(self.tasks)],
            "orders": [asdict(self.orders[k]) for k in sorted(self.orders)],
        }

    @classmethod
    def restore(cls, site: Site, config: DispatchConfig, snap: dict) -> "Dispatcher":
        d = cls(site, config)
        d._n = int(snap["n"])

        def tup(v: object) -> object:
            return tuple(v) if isinstance(v, list) and v and not isinstance(v[0], str) else v

        for t in snap["teams"]:
            d.teams[t["id"]] = _Team(**{k: tup(v) for k, v in t.items()})
        d.tasks = {t["alert_id"]: _Task(**{k: tup(v) if k not in ("declined", "orders") else list(v) for k, v in t.items()})
                   for t in snap["tasks"]}
        for t in d.tasks.values():
            t.track_ids = tuple(t.track_ids)
        d.orders = {o["id"]: _Order(**{k: tup(v) for k, v in o.items()}) for o in snap["orders"]}
        return d

    # --- internals ------------------------------------------------------------------

    def _task_from(self, a: AlertReport, now: float, tracks: dict[str, TrackReport]) -> _Task | None:
        """Create or refresh the task of an alert of a dispatchable kind (None for other kinds)."""
        if a.kind not in self.config.kinds or a.enu is None:
            return self.tasks.get(a.alert_id)
        task = self.tasks.get(a.alert_id)
        if task is None:
            task = _Task(a.alert_id, a.kind, a.severity, tuple(a.track_ids), (float(a.enu[0]), float(a.enu[1])))
            self.tasks[a.alert_id] = task
        task.kind, task.severity, task.track_ids, task.summary = a.kind, a.severity, tuple(a.track_ids), a.summary
        task.crossing = None if a.crossing_enu is None else (float(a.crossing_enu[0]), float(a.crossing_enu[1]))
        ack = a.extra.get("ack")
        if a.extra.get("escalated") or (isinstance(ack, dict) and ack.get("action") == "escalate"):
            task.escalated = True
        self._aim(task, now, tracks, fallback=(float(a.enu[0]), float(a.enu[1])))
        return task

    def _aim(self, task: _Task, now: float, tracks: dict[str, TrackReport], fallback: tuple[float, float] | None = None) -> None:
        """Target position and velocity at ``now``: the mean of the alert's live tracks, else the alert's place."""
        live = [tracks[t] for t in task.track_ids if t in tracks]
        if live:
            x = np.array([np.asarray(r.x, dtype=float)[:4] for r in live])
            dt = now - np.array([r.time for r in live])
            pos = (x[:, :2] + x[:, 2:4] * dt[:, None]).mean(axis=0)
            vel = x[:, 2:4].mean(axis=0)
            task.target, task.velocity = (float(pos[0]), float(pos[1])), (float(vel[0]), float(vel[1]))
        elif fallback is not None:
            task.target, task.velocity = fallback, (0.0, 0.0)

    def _wants_team(self, task: _Task) -> bool:
        if task.cleared or LEVELS.index(task.severity) < LEVELS.index(self.config.min_severity):
            return False
        if len(task.orders) >= (2 if task.escalated else 1):
            return False
        # Another active order already covers one of these tracks: same people, one team (unless escalated).
        if not task.escalated and any(
            o.alert_id != task.alert_id and set(self.tasks[o.alert_id].track_ids) & set(task.track_ids)
            for o in self.orders.values() if o.alert_id in self.tasks
        ):
            return False
        return True

    def _assign(self, now: float, task: _Task) -> list[DispatchReport]:
        busy = {self.orders[o].team_id for o in task.orders}
        cands = [t for k, t in sorted(self.teams.items())
                 if t.available and t.dispatch_id is None and t.enu is not None and k not in task.declined and k not in busy]
        if not cands:
            return []
        times, points = self._intercepts(task, cands)
        best = int(np.argmin(times))
        if not np.isfinite(times[best]):
            return []
        team = cands[best]
        self._n += 1
        order = _Order(f"D-{self._n:06d}", task.alert_id, team.id, target=task.target,
                       intercept=(float(points[best, 0]), float(points[best, 1])), eta_s=float(times[best]))
        order.sent_intercept, order.time = order.intercept, now
        self.orders[order.id] = order
        team.dispatch_id = order.id
        task.orders.append(order.id)
        return [self._report(order, "new", order.eta_s, now, task)]

    def _intercepts(self, task: _Task, teams: list[_Team]) -> tuple[np.ndarray, np.ndarray]:
        """Intercept time (s) and point (n, 2) for each team (see module doc), as arrays."""
        q = np.array([t.enu for t in teams], dtype=float)
        s = np.array([t.speed_mps for t in teams], dtype=float)
        p = np.asarray(task.target, dtype=float)
        v = np.asarray(task.velocity, dtype=float)
        rel = p[None, :] - q
        a = float(v @ v) - s**2
        b = 2.0 * rel @ v
        c = np.einsum("nd,nd->n", rel, rel)
        disc = b * b - 4.0 * a * c
        with np.errstate(divide="ignore", invalid="ignore"):
            sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
            r1, r2 = (-b - sq) / (2 * a), (-b + sq) / (2 * a)
            lin = np.where(b < 0, -c / b, np.nan)  # a == 0: target exactly as fast as the team
        roots = np.stack([r1, r2], axis=1)
        roots = np.where(roots >= 0, roots, np.inf)
        t = np.where(np.abs(a) < 1e-9, np.where(np.isfinite(lin) & (lin >= 0), lin, np.inf), np.nanmin(roots, axis=1))
        t = np.where(np.isnan(t), np.inf, t)
        point = p[None, :] + v[None, :] * np.where(np.isfinite(t), t, 0.0)[:, None]
        # Outrun (or too far): go to the crossing point, else to where the target is now.
        fallback = np.asarray(task.crossing if task.crossing is not None else task.target, dtype=float)
        far = ~np.isfinite(t) | (t > self.config.max_intercept_s)
        t_fb = np.linalg.norm(fallback[None, :] - q, axis=1) / s
        t = np.where(far, t_fb, t)
        point = np.where(far[:, None], fallback[None, :], point)
        t = np.where(t > self.config.max_intercept_s, np.inf, t)
        return t, point

    def _follow(self, now: float, tracks: dict[str, TrackReport]) -> list[DispatchReport]:
        """Re-aim active orders at their moving targets; send an update on a notable move."""
        out = []
        for oid in sorted(self.orders):
            order = self.orders[oid]
            task = self.tasks.get(order.alert_id)
            team = self.teams.get(order.team_id)
            if task is None or team is None or team.enu is None or order.state == "on_scene":
                continue
            self._aim(task, now, tracks)
            times, points = self._intercepts(task, [team])
            if not np.isfinite(times[0]):
                continue
            order.target = task.target
            order.intercept = (float(points[0, 0]), float(points[0, 1]))
            order.eta_s = float(times[0])
            moved = np.hypot(order.intercept[0] - order.sent_intercept[0], order.intercept[1] - order.sent_intercept[1])
            # A team 3 km out is not re-aimed for every 100 m the estimate wanders (velocity noise
            # times a long lead time); close in, 100 m matters.
            way = np.hypot(order.intercept[0] - team.enu[0], order.intercept[1] - team.enu[1])
            if moved >= max(self.config.update_distance_m, self.config.update_fraction * way):
                order.sent_intercept, order.time = order.intercept, now
                out.append(self._report(order, "update", order.eta_s, now, task))
        return out

    def _cancel_all(self, now: float, alert_id: str) -> list[DispatchReport]:
        task = self.tasks.pop(alert_id, None)
        if task is None:
            return []
        out = []
        for oid in list(task.orders):
            order = self.orders[oid]
            out.append(self._report(order, "cancel", order.eta_s, now, task))
            self._close(order)
        return out

    def _close(self, order: _Order) -> None:
        self.orders.pop(order.id, None)
        team = self.teams.get(order.team_id)
        if team is not None and team.dispatch_id == order.id:
            team.dispatch_id = None
        task = self.tasks.get(order.alert_id)
        if task is not None and order.id in task.orders:
            task.orders.remove(order.id)

    def _report(self, order: _Order, state: str, eta_s: float, now: float, task: _Task | None = None) -> DispatchReport:
        words = ""
        if task is not None:
            what = task.summary or task.kind.replace("_", " ")
            words = f"{what}; intercept in about {duration_words(eta_s)}" if state != "cancel" else f"stand down: {task.alert_id} ended"
        return DispatchReport(
            dispatch_id=order.id, alert_id=order.alert_id, team_id=order.team_id, time=now, state=state,
            target_enu=np.asarray(order.target, dtype=float), intercept_enu=np.asarray(order.intercept, dtype=float),
            intercept_eta_s=float(eta_s), summary=words,
        )
