"""Garbage changes nothing but the counters: malformed messages mixed into traffic (one of them
before any valid message) leave the pipeline's clock, tracks and alerts as the clean traffic does."""

from __future__ import annotations

from adapters.recording import RecordedMessage
from benchmarks.load_gen import messages, site_dict
from borderwatch.pipeline import Outbound, Pipeline, PipelineConfig
from fusion.site import Site

SITE = Site.model_validate(site_dict(10, 2))
CLEAN = messages(SITE, 1.8e9, 12.0, 5)


def _run(stream: list[RecordedMessage]) -> tuple[list[Outbound], list[float]]:
    """Replay-style drive: ticks at every deadline before each message; what came out, and when it ticked."""
    p = Pipeline(SITE, PipelineConfig(reorder_latency_s=0.1))
    out: list[Outbound] = []
    ticks: list[float] = []
    for m in stream:
        while (t := p.next_deadline()) is not None and t <= m.recv_time:
            ticks.append(t)
            out += p.tick(t)
        out += p.handle(m.topic, m.payload, m.recv_time)
    return out + p.flush(), ticks


def test_malformed_messages_change_nothing_but_dead_letters() -> None:
    topic = CLEAN[0].topic
    junk = [RecordedMessage(CLEAN[0].recv_time - 0.7, topic, b"{not json")]  # before any valid message
    junk += [RecordedMessage(m.recv_time + 0.003, topic, b'{"sensor_id": 7}') for m in CLEAN[::3]]
    dirty = sorted(CLEAN + junk, key=lambda m: m.recv_time)
    clean_out, clean_ticks = _run(CLEAN)
    dirty_out, dirty_ticks = _run(dirty)
    assert dirty_ticks == clean_ticks  # the housekeeping clock starts at the first valid message
    kept = [(o.topic, o.payload) for o in dirty_out if o.kind != "deadletter"]
    assert kept == [(o.topic, o.payload) for o in clean_out] and len(kept) > 100
    assert sum(o.kind == "deadletter" for o in dirty_out) == len(junk)
