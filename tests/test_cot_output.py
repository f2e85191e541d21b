"""Live CoT output: the demo incident's published messages reach a UDP listener as CoT."""

from __future__ import annotations

import socket
from pathlib import Path

from adapters.cot import check_event
from adapters.site_file import load_site
from borderwatch.cot_output import CotForwarder
from borderwatch.pipeline import Pipeline
from simulators.engine import simulate
from simulators.scenario import load_scenario

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_dispatch_orders_and_hostile_tracks_arrive_as_cot_over_udp() -> None:
    scenario = load_scenario(CONFIGS / "scenarios" / "demo-group-crossing.yaml")
    site = load_site(scenario.site_path)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    forwarder = CotForwarder(f"udp://127.0.0.1:{listener.getsockname()[1]}")
    pipeline = Pipeline(site)
    for msg in simulate(scenario, site).messages:
        for o in pipeline.handle(msg.topic, msg.payload, msg.recv_time):
            forwarder(o)
    forwarder.close()
    events = []
    while len(events) < forwarder.sent:
        events.append(check_event(listener.recv(65536)))
    assert forwarder.sent > 5 and forwarder.dropped == 0
    types = {e.type for e in events}
    assert any(t.startswith("a-h-") for t in types), types  # the crossing group as a hostile track
    assert "borderwatch.D-000001" in {e.uid for e in events}  # the dispatch order
    assert all(48.9 < e.lat < 49.1 and -122.9 < e.lon < -122.6 for e in events)
