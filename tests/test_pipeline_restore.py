"""A pipeline snapshotted and restored (through JSON, as crash recovery does) at any moment goes
on exactly as if it had never stopped: every later message byte for byte. Scans step their
trackers as soon as their wait is over but are published only at the batch boundary, so a
snapshot often falls between a step and its publication; this is the case it must get right."""

from __future__ import annotations

import json

from benchmarks.load_gen import messages, site_dict
from borderwatch.pipeline import Outbound, Pipeline, PipelineConfig
from fusion.site import Site

SITE = Site.model_validate(site_dict(20, 2))
MESSAGES = messages(SITE, 1.8e9, 12.0, 10)
CONFIG = PipelineConfig(batch_period_s=0.25, reorder_latency_s=0.1)


def _drive(p: Pipeline, upto: int, start: int = 0) -> list[Outbound]:
    """Replay-style: every deadline before a message, then the message."""
    out: list[Outbound] = []
    for m in MESSAGES[start:upto]:
        while (t := p.next_deadline()) is not None and t <= m.recv_time:
            out += p.tick(t)
        out += p.handle(m.topic, m.payload, m.recv_time)
    return out


def test_restored_pipeline_continues_byte_for_byte() -> None:
    whole = Pipeline(SITE, CONFIG)
    expected = _drive(whole, len(MESSAGES)) + whole.flush()
    cuts = list(range(37, len(MESSAGES), 11))
    p, got, done, pending_at_cut, open_at_cut = Pipeline(SITE, CONFIG), [], 0, 0, []
    for cut in cuts + [len(MESSAGES)]:
        got += _drive(p, cut, done)
        done = cut
        if cut < len(MESSAGES):
            pending_at_cut += bool(p._stepped.steps)
            open_at_cut.append(p.open_alert_count())
            assert open_at_cut[-1] == len(p.open_alerts())  # the gauges' count, without the reports
            p = Pipeline.restore(SITE, CONFIG, json.loads(json.dumps(p.snapshot())))
    got += p.flush()
    assert pending_at_cut >= 3  # the cuts did fall between steps and their publication
    assert max(open_at_cut) > 0
    assert [(o.topic, o.payload) for o in got] == [(o.topic, o.payload) for o in expected]
