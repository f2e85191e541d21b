"""Run a scenario: motion -> sensors -> faults -> one receipt-ordered list of contract messages.

Deterministic for a seed: every component draws from its own stream,
``default_rng([seed, crc32(name)])``, so the same scenario gives the same bytes and
adding a sensor does not change what the others report.

Besides detections the run carries each sensor's retained status (``online`` at its
first report, the last will ``{"state":"offline"}`` when an offline fault starts,
``online`` again when it ends) and every team's position at its report period.
Faults then act on receipt: extra delay, duplicates (same ``seq``), and messages held
back so later ones overtake them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from adapters.recording import RecordedMessage, canonical_json
from adapters.timefmt import to_iso
from adapters.topics import Topics
from fusion.site import Site
from simulators.drone import simulate_drone
from simulators.k9 import simulate_k9
from simulators.motion import Motion, build_motion
from simulators.outgoing import Outgoing, recv_times
from simulators.radar import simulate_radar
from simulators.scenario import (
    ClutterBurstFault,
    DelayFault,
    DroneModel,
    DuplicateFault,
    K9Model,
    OfflineFault,
    RadarModel,
    ReorderFault,
    Scenario,
    check_against_site,
)
from simulators.truth import Truth, build_truth


@dataclass(frozen=True)
class SimulationResult:
    """Messages in order of receipt (compact JSON payloads), the truth, and the motion sampled."""

    messages: list[RecordedMessage]
    truth: Truth
    motion: Motion


def rng_stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per named component."""
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def sensor_models(scenario: Scenario, site: Site) -> list[RadarModel | DroneModel | K9Model]:
    """The scenario's sensors plus a default model for every site radar it does not list."""
    listed = {s.id for s in scenario.sensors}
    extra = [RadarModel(id=s.id, type="radar") for s in site.sensors if s.type.value == "radar" and s.id not in listed]
    return list(scenario.sensors) + extra


def _windows(scenario: Scenario, kind: type, sensor: str) -> list:
    return [f for f in scenario.faults if isinstance(f, kind) and f.sensor == sensor]


def _end(scenario: Scenario, fault: object) -> float:
    return scenario.duration_s if fault.end_s is None else min(fault.end_s, scenario.duration_s)


def _status_messages(scenario: Scenario, sensor_id: str, sensor_type: str, topics: Topics, rng: np.random.Generator) -> list[Outgoing]:
    """Retained status: online at start (unless dead from the start), will on failure, online on recovery."""
    t0 = scenario.start_time
    topic = topics.sensor_status(sensor_type, sensor_id)
    events: list[tuple[float, dict]] = []
    faults = sorted(_windows(scenario, OfflineFault, sensor_id), key=lambda f: f.start_s)
    if not faults or faults[0].start_s > 0:
        events.append((0.0, {"state": "online", "time": to_iso(t0), "sensor_id": sensor_id}))
    for f in faults:
        events.append((f.start_s + f.will_delay_s, {"state": "offline"}))
        end = _end(scenario, f)
        if end < scenario.duration_s:
            events.append((end, {"state": "online", "time": to_iso(t0 + end), "sensor_id": sensor_id}))
    obs = np.array([t0 + t for t, _ in events])
    recv = recv_times(obs, 0.05, rng)
    return [Outgoing(float(r), float(o), topic, p, sensor_id) for r, o, (_, p) in zip(recv, obs, events) if o - t0 <= scenario.duration_s]


def _team_messages(scenario: Scenario, site: Site, topics: Topics, rng: np.random.Generator) -> list[Outgoing]:
    t0 = scenario.start_time
    times = np.arange(0.0, scenario.duration_s, scenario.teams.report_period_s)
    out = []
    for team in site.teams:
        if team.lat is None or team.lon is None:
            continue
        recv = recv_times(t0 + times, scenario.teams.latency_s, rng)
        for r, t in zip(recv, times):
            payload = {"time": to_iso(t0 + t), "lat": team.lat, "lon": team.lon, "available": team.id not in scenario.teams.unavailable}
            out.append(Outgoing(float(r), float(t0 + t), topics.team_position(team.id), payload, team.id))
    return out


def apply_faults(scenario: Scenario, msgs: list[Outgoing], sensor_id: str, rng: np.random.Generator) -> list[Outgoing]:
    """Delay, duplicate and reorder one sensor's detection messages (by observation time)."""
    t0 = scenario.start_time
    out = list(msgs)
    for f in _windows(scenario, DelayFault, sensor_id):
        lo, hi = t0 + f.start_s, t0 + _end(scenario, f)
        out = [Outgoing(round(m.recv_time + f.extra_latency_s, 3), m.obs_time, m.topic, m.payload, m.sender) if lo <= m.obs_time < hi else m for m in out]
    for f in _windows(scenario, ReorderFault, sensor_id):
        lo, hi = t0 + f.start_s, t0 + _end(scenario, f)
        hold = rng.random(len(out)) < f.probability
        out = [
            Outgoing(round(m.recv_time + f.hold_s, 3), m.obs_time, m.topic, m.payload, m.sender) if h and lo <= m.obs_time < hi else m
            for m, h in zip(out, hold)
        ]
    for f in _windows(scenario, DuplicateFault, sensor_id):
        lo, hi = t0 + f.start_s, t0 + _end(scenario, f)
        dup = rng.random(len(out)) < f.probability
        out += [
            Outgoing(round(m.recv_time + f.gap_s, 3), m.obs_time, m.topic, m.payload, m.sender)
            for m, d in zip(out, dup)
            if d and lo <= m.obs_time < hi
        ]
    return out


def simulate(scenario: Scenario, site: Site) -> SimulationResult:
    """Run the scenario against the site; deterministic for ``scenario.seed``."""
    problems = check_against_site(scenario, site)
    if problems:
        raise ValueError(f"scenario {scenario.name!r} does not fit site {site.site.name!r}:\n  " + "\n  ".join(problems))
    topics = Topics()
    t0 = scenario.start_time
    motion = build_motion(scenario, site, lambda name: rng_stream(scenario.seed, name))
    outgoing: list[Outgoing] = []
    for model in sensor_models(scenario, site):
        rng = rng_stream(scenario.seed, f"sensor:{model.id}")
        offline = [(f.start_s, _end(scenario, f)) for f in _windows(scenario, OfflineFault, model.id)]
        if isinstance(model, RadarModel):
            bursts = [(f.start_s, _end(scenario, f), f.factor) for f in _windows(scenario, ClutterBurstFault, model.id)]
            msgs = simulate_radar(model, site, motion, t0, scenario.duration_s, offline, bursts, rng, topics)
        elif isinstance(model, DroneModel):
            msgs = simulate_drone(model, site, motion, t0, scenario.duration_s, offline, rng, topics)
        else:
            msgs = simulate_k9(model, site, motion, t0, scenario.duration_s, offline, rng, topics)
        outgoing += apply_faults(scenario, msgs, model.id, rng_stream(scenario.seed, f"faults:{model.id}"))
        outgoing += _status_messages(scenario, model.id, model.type, topics, rng_stream(scenario.seed, f"status:{model.id}"))
    outgoing += _team_messages(scenario, site, topics, rng_stream(scenario.seed, "teams"))
    # Receipt order; ties broken by observation time, topic and seq so the order is total.
    outgoing.sort(key=lambda m: (m.recv_time, m.obs_time, m.topic, m.payload.get("seq", -1)))
    messages = [RecordedMessage(m.recv_time, m.topic, canonical_json(m.payload)) for m in outgoing]
    return SimulationResult(messages, build_truth(scenario, site, motion), motion)
