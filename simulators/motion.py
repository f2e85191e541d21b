"""Target motion: every target becomes piecewise-linear knots (time, east, north) in site ENU.

Knots make evaluation cheap and exact for any set of times (``np.interp`` per entity),
so sensors can sample at their own scan times and the truth at 1 Hz from one source.

An *object* is what the truth scores (a walker, a group as one object at its centroid,
one vehicle, one animal); an *entity* is one body a sensor can see (each member of a
group). Group members are the centroid plus a slowly varying offset within the group's
spread, so a radar resolution cell usually merges them and a drone counts them.
Times are seconds after the scenario start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from fusion.site import Site
from simulators.scenario import PortTraffic, RouteTarget, Scenario, Waypoint, WildlifeTarget

FloatArray = NDArray[np.float64]

DEFAULT_SPEED_MPS = {"walker": 1.3, "loiterer": 1.3, "group": 1.1, "vehicle": 12.0}
CLASS_OF_KIND = {
    "walker": "person",
    "group": "person",
    "loiterer": "person",
    "vehicle": "vehicle",
    "port_traffic": "vehicle",
    "wildlife": "animal",
}
WANDER_STEP_S = 15.0  # a dwelling target picks a new spot within wander_m this often
MEMBER_STEP_S = 10.0  # a group member's offset from the centroid changes this often


@dataclass(frozen=True)
class Knots:
    """A piecewise-linear path: strictly increasing ``t`` (s) with positions ``en`` (k, 2) m."""

    t: FloatArray
    en: FloatArray

    def at(self, times: FloatArray) -> FloatArray:
        """Positions (len(times), 2); NaN outside [t[0], t[-1]]."""
        out = np.column_stack([np.interp(times, self.t, self.en[:, 0]), np.interp(times, self.t, self.en[:, 1])])
        out[(times < self.t[0]) | (times > self.t[-1])] = np.nan
        return out


@dataclass(frozen=True)
class TargetObject:
    """One scored object of the truth."""

    id: str
    kind: str
    cls: str  # person | vehicle | animal
    count: int
    narcotics: bool
    legal: bool  # legal port-of-entry traffic
    path: Knots


@dataclass(frozen=True)
class Entity:
    """One sensed body: its object's path plus an offset path (group members)."""

    object_index: int
    offset: Knots | None


@dataclass(frozen=True)
class Motion:
    objects: list[TargetObject]
    entities: list[Entity]

    def object_positions(self, times: FloatArray) -> FloatArray:
        """(S, N_objects, 2) ENU metres, NaN where an object is not in the scene."""
        times = np.asarray(times, dtype=float)
        out = np.full((times.size, len(self.objects), 2), np.nan)
        for j, obj in enumerate(self.objects):
            out[:, j] = obj.path.at(times)
        return out

    def entity_positions(self, times: FloatArray, object_xy: FloatArray | None = None) -> FloatArray:
        """(S, N_entities, 2) ENU metres, NaN where inactive."""
        times = np.asarray(times, dtype=float)
        obj = self.object_positions(times) if object_xy is None else object_xy
        idx = np.array([e.object_index for e in self.entities], dtype=np.int64)
        out = obj[:, idx].copy() if idx.size else np.zeros((times.size, 0, 2))
        for k, e in enumerate(self.entities):
            if e.offset is not None:
                out[:, k] += e.offset.at(np.clip(times, e.offset.t[0], e.offset.t[-1]))
        return out

    def entity_velocities(self, times: FloatArray) -> FloatArray:
        """(S, N_entities, 2) m/s by central difference over one second."""
        times = np.asarray(times, dtype=float)
        ahead = self.entity_positions(times + 0.5)
        behind = self.entity_positions(times - 0.5)
        v = ahead - behind
        now = self.entity_positions(times)
        # At the ends of a path one side is NaN: use the one-sided difference.
        v = np.where(np.isnan(v), 2.0 * (ahead - now), v)
        v = np.where(np.isnan(v), 2.0 * (now - behind), v)
        return v

    @property
    def entity_class(self) -> list[str]:
        return [self.objects[e.object_index].cls for e in self.entities]


def _disk(rng: np.random.Generator, n: int, radius: float) -> FloatArray:
    """n points uniform in a disk of ``radius`` metres about 0."""
    r = radius * np.sqrt(rng.random(n))
    a = rng.random(n) * 2.0 * np.pi
    return np.column_stack([r * np.sin(a), r * np.cos(a)])


def route_knots(
    site: Site, route: list[Waypoint], start_s: float, speed: float, jitter: float, rng: np.random.Generator
) -> Knots:
    """Knots along a route: each leg at ``speed`` times a random factor, dwell with wander."""
    lat = np.array([w.lat for w in route])
    lon = np.array([w.lon for w in route])
    pts = site.frame.to_enu(lat, lon)[:, :2]
    t = [start_s]
    en = [pts[0]]
    for i, w in enumerate(route):
        if w.dwell_s > 0:
            n_steps = max(1, int(np.ceil(w.dwell_s / WANDER_STEP_S)))
            step = w.dwell_s / n_steps
            spots = pts[i] + _disk(rng, n_steps - 1, w.wander_m)
            for k in range(n_steps - 1):
                t.append(t[-1] + step)
                en.append(spots[k])
            t.append(t[-1] + step)
            en.append(pts[i])
        if i + 1 < len(route):
            leg = float(np.hypot(*(pts[i + 1] - pts[i])))
            v = speed * max(0.3, 1.0 + jitter * rng.standard_normal())
            t.append(t[-1] + max(leg / v, 1e-3))
            en.append(pts[i + 1])
    return Knots(np.array(t), np.array(en))


@dataclass
class BoothQueue:
    """Vehicles on one port lane, in order: when each left the booth, and when the last one
    reached each waypoint (or its queue spot), so followers neither overtake nor overlap."""

    spacing_m: float
    departures: list[float] = field(default_factory=list)
    last_at: dict[int, float] = field(default_factory=dict)


def queued_route_knots(site: Site, route: list[Waypoint], start_s: float, speed: float, queue: BoothQueue) -> Knots:
    """Knots of one vehicle along ``route`` at ``speed`` that queues at the first dwell waypoint (the booth).

    No overtaking: the vehicle reaches each waypoint at least ``spacing_m / speed`` after the
    one in front (it slows down on that leg). At the booth, a vehicle that finds n vehicles
    not yet gone stops n * spacing_m short of it and moves up one spacing each time one of
    them leaves; at the booth it is served for ``dwell_s`` and drives on.
    """
    pts = site.frame.to_enu(np.array([w.lat for w in route]), np.array([w.lon for w in route]))[:, :2]
    booth = next((i for i, w in enumerate(route) if w.dwell_s > 0 and i > 0), None)
    gap = queue.spacing_m / speed
    t, en = [start_s], [pts[0]]
    for i in range(1, len(pts)):
        leg = pts[i] - pts[i - 1]
        length = float(np.hypot(*leg))
        arrive = max(t[-1] + max(length / speed, 1e-3), queue.last_at.get(i, -np.inf) + gap)
        if i == booth:
            # Queue: n vehicles not yet gone at the moment this one reaches the tail (n * spacing
            # short of the booth); it moves up one spacing each time one of them leaves.
            unit = leg / max(length, 1e-9)
            n = 0
            while True:
                back = min(n * queue.spacing_m, 0.9 * length)
                t_tail = max(t[-1] + max((length - back) / speed, 1e-3), queue.last_at.get(i, -np.inf) + gap)
                still = sorted(d for d in queue.departures if d > t_tail)
                if len(still) <= n:
                    break
                n = len(still)
            queue.last_at[i] = t_tail
            t.append(t_tail)
            en.append(pts[i] - unit * back)
            for k, d in enumerate(still):
                ahead_after = len(still) - k - 1
                here = pts[i] - unit * min(ahead_after * queue.spacing_m, 0.9 * length)
                t.append(max(d, t[-1] + 1e-3))
                en.append(en[-1])
                t.append(t[-1] + max(queue.spacing_m / speed, 1e-3))
                en.append(here)
            served = t[-1]
            if np.hypot(*(en[-1] - pts[i])) > 1e-6:  # not at the booth yet (no queue): drive up
                served = t[-1] + max(float(np.hypot(*(en[-1] - pts[i]))) / speed, 1e-3)
                t.append(served)
                en.append(pts[i])
            t.append(served + route[i].dwell_s)
            en.append(pts[i])
            queue.departures.append(t[-1])
            continue
        queue.last_at[i] = arrive
        t.append(arrive)
        en.append(pts[i])
        if route[i].dwell_s > 0:
            t.append(arrive + route[i].dwell_s)
            en.append(pts[i])
    return Knots(np.array(t), np.array(en))


def _member_offsets(rng: np.random.Generator, t0: float, t1: float, spread_m: float, size: int) -> list[Knots]:
    times = np.arange(t0, t1 + MEMBER_STEP_S, MEMBER_STEP_S)
    return [Knots(times, _disk(rng, times.size, spread_m / 2.0)) for _ in range(size)]


def _wildlife_knots(site: Site, target: WildlifeTarget, duration_s: float, rng: np.random.Generator) -> Knots:
    centre = site.frame.to_enu(target.area.lat, target.area.lon)[:2]
    pos = centre + _disk(rng, 1, target.area.radius_m)[0]
    t, en = [target.start_s], [pos]
    while t[-1] < duration_s:
        pause = rng.exponential(target.pause_s) if target.pause_s > 0 else 0.0
        if pause > 0:
            t.append(t[-1] + pause)
            en.append(en[-1])
        nxt = centre + _disk(rng, 1, target.area.radius_m)[0]
        v = target.speed_mps * (0.5 + rng.random())
        t.append(t[-1] + max(float(np.hypot(*(nxt - en[-1]))) / v, 1e-3))
        en.append(nxt)
    return Knots(np.array(t), np.array(en))


def build_motion(scenario: Scenario, site: Site, rng_for: Callable[[str], np.random.Generator]) -> Motion:
    """All objects and entities of a scenario; ``rng_for(name)`` gives each target its own stream."""
    objects: list[TargetObject] = []
    entities: list[Entity] = []
    for target in scenario.targets:
        rng = rng_for(f"target:{target.id}")
        if isinstance(target, RouteTarget):
            speed = target.speed_mps or DEFAULT_SPEED_MPS[target.kind]
            path = route_knots(site, target.route, target.start_s, speed, target.speed_jitter, rng)
            objects.append(
                TargetObject(target.id, target.kind, CLASS_OF_KIND[target.kind], target.size, target.narcotics, False, path)
            )
            if target.kind == "group":
                for off in _member_offsets(rng, path.t[0], path.t[-1], target.spread_m, target.size):
                    entities.append(Entity(len(objects) - 1, off))
            else:
                entities.append(Entity(len(objects) - 1, None))
        elif isinstance(target, WildlifeTarget):
            for k in range(target.count):
                path = _wildlife_knots(site, target, scenario.duration_s, rng)
                objects.append(TargetObject(f"{target.id}-{k + 1:02d}", "wildlife", "animal", 1, False, False, path))
                entities.append(Entity(len(objects) - 1, None))
        elif isinstance(target, PortTraffic):
            end = scenario.duration_s if target.end_s is None else min(target.end_s, scenario.duration_s)
            n = rng.poisson(target.rate_per_hour * max(0.0, end - target.start_s) / 3600.0)
            arrivals = np.sort(target.start_s + rng.random(n) * (end - target.start_s))
            queue = BoothQueue(target.queue_spacing_m)
            for k, t0 in enumerate(arrivals):
                speed = target.speed_mps * max(0.3, 1.0 + target.speed_jitter * rng.standard_normal())
                path = queued_route_knots(site, target.route, float(t0), speed, queue)
                objects.append(TargetObject(f"{target.id}-{k + 1:03d}", "port_traffic", "vehicle", 1, False, True, path))
                entities.append(Entity(len(objects) - 1, None))
    return Motion(objects, entities)


def patrol_knots(
    site: Site, route: list[Waypoint], loop: bool, speed: float, start_s: float, end_s: float
) -> Knots:
    """A sensor platform's path from ``start_s`` to ``end_s``: along the route (round and round
    when ``loop``, back to the first point), holding at the last point otherwise."""
    lat = np.array([w.lat for w in route])
    lon = np.array([w.lon for w in route])
    pts = site.frame.to_enu(lat, lon)[:, :2]
    dwell = np.array([w.dwell_s for w in route])
    if loop and len(pts) > 1:
        pts = np.vstack([pts, pts[:1]])
        dwell = np.append(dwell, 0.0)
    t, en = [start_s], [pts[0]]
    while t[-1] < end_s:
        for i in range(len(pts)):
            if dwell[i] > 0:
                t.append(t[-1] + dwell[i])
                en.append(pts[i])
            if i + 1 < len(pts):
                t.append(t[-1] + max(float(np.hypot(*(pts[i + 1] - pts[i]))) / speed, 1e-3))
                en.append(pts[i + 1])
        if not loop or len(pts) == 1:
            break
    if t[-1] < end_s:
        t.append(end_s)
        en.append(en[-1])
    return Knots(np.array(t), np.array(en))
