"""Alerting memory as columns (``fusion.alerting.memory``) against the per-track rules it replaced.

``Reference`` is the per-track object the columns replaced (side hysteresis, dwell,
recent path, motion), kept here as the specification: random update sequences,
tracks updated more than once per batch included, must give the same memory, flips,
snapshot dicts and motion figures, bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.alerting import memory

STEP_S = memory.PATH_STEP_S


@dataclass
class Reference:
    side: int = 0
    pending: int = 0
    crossed_at: float | None = None
    crossed_xy: tuple[float, float] | None = None
    near_since: float | None = None
    path: list[tuple[float, float, float]] = field(default_factory=list)
    via_port: bool = False
    farthest_m: float = 0.0
    deepest_out_m: float = float("inf")
    loitered: bool = False
    moving: tuple[float, float] | None = None
    spread_m: float = float("inf")

    def observe_side(self, d: float, margin: float, confirm: int) -> str | None:
        sample = 1 if d > margin else (-1 if d < -margin else 0)
        if sample == 0:
            return None
        if self.side == 0:
            self.side = sample
            return None
        if sample == self.side:
            self.pending = 0
            return None
        self.pending += 1
        if self.pending < confirm:
            return None
        self.side, self.pending = sample, 0
        return "into" if sample > 0 else "out"

    def observe_dwell(self, t: float, d: float, near_m: float, exit_m: float) -> None:
        abs_d = abs(d)
        self.farthest_m = max(self.farthest_m, abs_d)
        self.deepest_out_m = min(self.deepest_out_m, d)
        if abs_d <= near_m:
            if self.near_since is None:
                self.near_since = t
        elif abs_d > near_m + exit_m:
            self.near_since = None

    def extend_path(self, t: float, xy: tuple[float, float], keep_s: float) -> bool:
        if self.path and t - self.path[-1][0] < STEP_S:
            return False
        self.path.append((float(t), float(xy[0]), float(xy[1])))
        while self.path and self.path[0][0] < t - keep_s:
            self.path.pop(0)
        return True

    def recent(self, window_s: float) -> np.ndarray:
        p = np.array(self.path)
        return p[p[:, 0] >= p[-1, 0] - window_s]

    def motion(self, window_s: float, min_span_s: float) -> tuple[float, float] | None:
        p = self.recent(window_s)
        if len(p) < 3 or p[-1, 0] - p[0, 0] < min_span_s:
            return None
        net = float(np.hypot(*(p[-1, 1:] - p[0, 1:])))
        length = float(np.sum(np.linalg.norm(np.diff(p[:, 1:], axis=0), axis=1)))
        return (net / length if length > 1e-6 else 0.0), net / float(p[-1, 0] - p[0, 0])

    def spread(self, window_s: float) -> float:
        p = self.recent(window_s)[:, 1:]
        return float(np.max(np.linalg.norm(p - p.mean(axis=0), axis=1)))

    def to_dict(self) -> dict[str, object]:
        return {
            "side": self.side, "pending": self.pending, "crossed_at": self.crossed_at,
            "crossed_xy": None if self.crossed_xy is None else list(self.crossed_xy),
            "near_since": self.near_since, "path": [list(p) for p in self.path], "via_port": self.via_port,
            "loitered": self.loitered, "farthest_m": self.farthest_m,
            "deepest_out_m": None if np.isinf(self.deepest_out_m) else self.deepest_out_m,
            "moving": None if self.moving is None else list(self.moving),
            "spread_m": None if not np.isfinite(self.spread_m) else self.spread_m,
        }


CONFIRM, NEAR_M, EXIT_M, KEEP_S, WINDOW_S, SPAN_S = 2, 100.0, 50.0, 300.0, 60.0, 30.0

# One batch: (track, dt since the track's last update, signed distance, margin, in port); a few tracks, so
# some come more than once in a batch, distances around the margins and the dwell band's edges.
update = st.tuples(st.integers(0, 5), st.sampled_from([0.0, 1.0, 2.0, 2.5, 5.0, 7.5]),
                   st.one_of(st.sampled_from([-150.0, -100.0, -5.0, 0.0, 5.0, 100.0, 150.0]), st.floats(-400, 400)),
                   st.sampled_from([5.0, 12.5]), st.booleans())


def run(batches: list[list[tuple[int, float, float, float, bool]]], restore_at: int | None = None):
    """Feed the batches to the reference objects and to columns; yield both after each batch."""
    refs: dict[int, Reference] = {}
    mem = memory.new_columns(6)
    clock = dict.fromkeys(range(6), 1.8e9)
    for b, batch in enumerate(batches):
        if b == restore_at:  # snapshot and restore the columns half way
            dicts = [json.loads(json.dumps(memory.to_dict(mem, s))) for s in range(6)]
            mem = memory.new_columns(6)
            for s, d in enumerate(dicts):
                for name, value in memory.from_dict(d).items():
                    mem[name][s] = value
        slots, t, d, margin, port = [], [], [], [], []
        for tr, dt, d_i, m_i, p_i in batch:
            clock[tr] += dt
            slots.append(tr), t.append(clock[tr]), d.append(d_i), margin.append(m_i), port.append(p_i)
        xy = np.array([[t_i * 1e-6 + 3.0 * s, d_i] for s, t_i, d_i in zip(slots, t, d)]).reshape(-1, 2)
        on_line = xy * [1.0, 0.0]
        flips_ref, grown_ref = {}, []
        for k, s in enumerate(slots):
            m = refs.setdefault(s, Reference())
            flip = m.observe_side(d[k], margin[k], CONFIRM)
            if flip is not None:
                if flip == "into":
                    m.crossed_at, m.crossed_xy = t[k], (float(on_line[k, 0]), float(on_line[k, 1]))
                flips_ref[k] = flip
            m.observe_dwell(t[k], d[k], NEAR_M, EXIT_M)
            if m.extend_path(t[k], xy[k], KEEP_S):
                grown_ref.append(s)
            m.via_port |= port[k]
        for s in grown_ref:
            refs[s].moving, refs[s].spread_m = refs[s].motion(WINDOW_S, SPAN_S), refs[s].spread(KEEP_S)
        flip, grown = memory.observe(mem, np.array(slots, dtype=np.int64), np.array(t), np.array(d), np.array(margin),
                                     xy, np.array(port, dtype=bool), on_line, CONFIRM, NEAR_M, EXIT_M, KEEP_S)
        memory.refresh_motion(mem, grown, WINDOW_S, SPAN_S, KEEP_S)
        assert {k: ("into" if f > 0 else "out") for k, f in enumerate(flip.tolist()) if f} == flips_ref
        assert grown.tolist() == sorted(set(grown_ref))
        yield refs, mem


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(update, min_size=0, max_size=8), min_size=1, max_size=40), st.data())
def test_property_memory_columns_equal_the_per_track_rules(batches, data) -> None:
    restore_at = data.draw(st.one_of(st.none(), st.integers(0, len(batches) - 1)))
    for refs, mem in run(batches, restore_at):
        for s in range(6):
            want = refs[s].to_dict() if s in refs else Reference().to_dict()
            assert memory.to_dict(mem, s) == want


def test_long_walk_keeps_a_trimmed_path_and_its_motion() -> None:
    """Hundreds of updates, two per batch now and then: the path trims to KEEP_S, motion and spread follow."""
    rng = np.random.default_rng(5)
    batches = [[(0, 2.0, float(d), 5.0, False)] * int(rng.integers(1, 3)) for d in np.linspace(-900, 300, 400)]
    *_, (refs, mem) = run(batches)
    assert memory.to_dict(mem, 0) == refs[0].to_dict()
    assert refs[0].moving is not None and len(refs[0].path) > 3 and refs[0].side == 1


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(0, 2**31 - 1))
def test_property_batched_motion_equals_per_track_motion(n: int, seed: int) -> None:
    """refresh_motion (paths stacked over tracks) gives exactly what motion()/spread() give track by track."""
    rng = np.random.default_rng(seed)
    refs, mem = [], memory.new_columns(n)
    for s in range(n):
        m, t = Reference(), 1.8e9
        for _ in range(int(rng.integers(1, 80))):
            t += float(rng.choice([1.0, 2.0, 5.0, 7.5]))
            m.extend_path(t, rng.uniform(-5000, 5000, 2), 300.0)
        refs.append(m)
        mem["path"][s] = list(m.path)
    memory.refresh_motion(mem, np.arange(n)[::-1].copy(), 60.0, 30.0, 300.0)
    for s, m in enumerate(refs):
        moving = m.motion(60.0, 30.0)
        assert (None if np.isnan(mem["straightness"][s]) else (mem["straightness"][s], mem["net_speed"][s])) == moving
        assert mem["spread_m"][s] == m.spread(300.0)
