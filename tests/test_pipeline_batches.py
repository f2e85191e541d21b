"""Batches: scans leave the reorder buffer on a grid of the receive clock and are published and
alerted on together; every scan still reaches its tracker, and nothing a scan says is lost."""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from benchmarks.load_gen import messages, site_dict
from borderwatch.pipeline import Outbound, Pipeline, PipelineConfig
from fusion.site import Site

SITE = Site.model_validate(site_dict(20, 2))
MESSAGES = messages(SITE, 1.8e9, 30.0, 10)


def _run(period_s: float) -> tuple[Pipeline, list[Outbound], list[int]]:
    """Replay-style drive (ticks at every deadline before each message); batch sizes of the trackers' steps."""
    p = Pipeline(SITE, PipelineConfig(batch_period_s=period_s, reorder_latency_s=0.1))
    steps_before = [0]
    sizes: list[int] = []
    out: list[Outbound] = []

    def steps() -> int:
        return sum(t.counters["steps"] for t in p.trackers.values())

    def note(o: list[Outbound]) -> None:
        out.extend(o)
        n = steps()
        if n > steps_before[0]:
            sizes.append(n - steps_before[0])
        steps_before[0] = n

    for m in MESSAGES:
        while (t := p.next_deadline()) is not None and t <= m.recv_time:
            note(p.tick(t))
        note(p.handle(m.topic, m.payload, m.recv_time))
    note(p.flush())
    return p, out, sizes


def test_batches_feed_every_scan_and_publish_every_update() -> None:
    single, out0, sizes0 = _run(0.0)
    batched, out1, sizes1 = _run(0.25)
    # every scan stepped its tracker(s), in both
    assert sum(t.counters["steps"] for t in batched.trackers.values()) == sum(
        t.counters["steps"] for t in single.trackers.values())
    assert max(sizes1) > max(sizes0)  # and the grid really batched them
    kinds0, kinds1 = Counter(o.kind for o in out0), Counter(o.kind for o in out1)
    assert kinds1["track"] == kinds0["track"] > 1000  # one track message per update, batched or not
    # the same situations raised alerts: alerting looks once a batch, at each track's latest state, so a
    # state that lasted one scan (a new track's first velocity) may not raise one; nothing new is raised
    raised = [{tuple(a["track_ids"]) for a in (json.loads(o.payload) for o in out if o.kind == "alert")
               if a["state"] == "new"} for out in (out0, out1)]
    assert raised[1] <= raised[0] and len(raised[1]) >= 0.9 * len(raised[0]) > 5
    # alerting holds exactly the live tracks: none a batch reported and then deleted stays behind
    for sector, engine in batched.alerting.items():
        live = {r.track_id for r in batched.live_tracks() if r.sector == sector}
        assert set(engine.tracks) <= live


@given(due=st.floats(1.0e9, 2.0e9, allow_nan=False), period=st.sampled_from([0.01, 0.05, 0.1, 0.3, 1.0 / 3.0]))
def test_a_scan_leaves_at_the_first_batch_boundary_that_reaches_it(due: float, period: float) -> None:
    p = Pipeline(SITE, PipelineConfig(batch_period_s=period))
    t = p._release_time(due)
    assert p._horizon(t) >= due  # released when its boundary comes ...
    assert t - due <= period + 1e-6  # ... at most one period later (1e-6 s: float rounding at epoch scale)
    assert p._horizon(t - period) < due  # and the boundary before would not have released it


def test_a_backlog_leaves_in_batches_by_the_datas_time_and_silence_coasts_by_the_clock() -> None:
    """A service behind its input receives scans already due, ever later: they still leave in
    batches (as many alerting calls as on time), and housekeeping judges tracks by the data's
    time (no flips to coasting and back); once nothing arrives, the clock coasts them."""

    def run(lag_per_s: float) -> tuple[Pipeline, Counter[str], int]:
        p = Pipeline(SITE, PipelineConfig(reorder_latency_s=0.1, batch_period_s=0.25))
        kinds: Counter[str] = Counter()
        calls = [0]
        after = p._after_tracker

        def counted(*args, **kw):  # type: ignore[no-untyped-def]
            calls[0] += 0 if kw.get("sweep") else 1
            return after(*args, **kw)

        p._after_tracker = counted  # type: ignore[method-assign]
        t0 = MESSAGES[0].recv_time
        for m in MESSAGES:
            recv = m.recv_time + lag_per_s * (m.recv_time - t0)  # 0.5: 15 s behind after 30 s
            while (t := p.next_deadline()) is not None and t <= recv:
                kinds.update(o.kind for o in p.tick(t))
            kinds.update(o.kind for o in p.handle(m.topic, m.payload, recv))
        return p, kinds, calls[0]

    _, on_time, calls_on_time = run(0.0)
    behind, late, calls_behind = run(0.5)
    assert abs(late["track"] - on_time["track"]) <= 0.02 * on_time["track"]  # was ~1.9x: coasting flips
    assert calls_on_time < calls_behind < 0.5 * len(MESSAGES)  # batches, not one scan each (>= 600 calls)
    assert sum(r.status == "confirmed" for r in behind.live_tracks()) > 100
    # the sensors go quiet: after quiet_after_s the clock coasts every track
    quiet = MESSAGES[-1].recv_time + 0.5 * 30.0 + 5.0
    while (t := behind.next_deadline()) is not None and t <= quiet:
        behind.tick(t)
    assert sum(r.status == "confirmed" for r in behind.live_tracks()) == 0


def test_a_scan_steps_its_tracker_when_its_wait_ends_and_is_published_at_the_boundary() -> None:
    """The tracker's work is done by the time the boundary comes: only publication and alerting are left."""
    p = Pipeline(SITE, PipelineConfig(batch_period_s=0.25, reorder_latency_s=0.1, publish_tentative=True))
    steps = lambda: sum(t.counters["steps"] for t in p.trackers.values())  # noqa: E731
    first, later = MESSAGES[0], [m for m in MESSAGES if m.recv_time > MESSAGES[0].recv_time + 0.06]
    assert p.handle(first.topic, first.payload, first.recv_time) == [] and steps() == 0  # waiting out its 0.1 s
    boundary = p.next_deadline()
    assert boundary is not None
    nxt = next(m for m in later if m.recv_time < boundary)  # a message after its wait, before the boundary
    out = p.handle(nxt.topic, nxt.payload, nxt.recv_time)
    assert steps() == 1 and not [o for o in out if o.kind == "track"]  # stepped, nothing published yet
    assert p.next_deadline() == boundary
    assert [o for o in p.tick(boundary) if o.kind == "track"]  # published at the boundary
