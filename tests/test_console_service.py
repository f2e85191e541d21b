"""The whole chain in a browser: simulated radar scans -> live service -> console page -> ack -> service.

A group of four walks south across the line near tower-02 (the ``make demo`` incident,
configs/scenarios/demo-group-crossing.yaml, its first 3 minutes) played at 10x through a real mosquitto and the live
service on a shared warped clock, as ``make demo`` does. The page must show the
track and an alert; pressing Ack must reach the service, which echoes it on the
alert (its state on the MQTT side changes), and the page shows it confirmed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.site_file import load_site
from adapters.timefmt import to_iso
from borderwatch.clock import WarpClock
from borderwatch.console import serve_console
from borderwatch.service import ServiceConfig, run_service
from conftest import Mosquitto
from simulators.engine import simulate
from simulators.scenario import load_scenario
from test_console_e2e import ConsoleThread, Mqtt, browser, page, shot  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.broker, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
SPEED = 10.0
#: The group crosses at about 157 s; the incident is cut 20 s after that.
DURATION_S = 180.0


def test_simulated_crossing_shows_on_the_page_and_ack_reaches_the_service(
    mosquitto: Mosquitto, page: Any, tmp_path: Path
) -> None:
    scenario = load_scenario(ROOT / "configs" / "scenarios" / "demo-group-crossing.yaml")
    clock = WarpClock(SPEED)
    scenario = scenario.model_copy(update={"start": to_iso(clock.start + 2.0 * SPEED), "duration_s": DURATION_S})
    site = load_site(scenario.site_path)
    sim = simulate(scenario, site)

    async def system(stop: asyncio.Event, ready: Any) -> None:
        config = ServiceConfig(state_dir=tmp_path / "state", clock=clock.now, clock_speed=SPEED, client_id="bw-test-service")
        service = asyncio.create_task(run_service(site, mosquitto.url, config=config, stop=stop))
        await serve_console(site, mosquitto.url, port=0, stop=stop, ready=ready, clock=clock.now, clock_rate=SPEED)
        await service

    running = ConsoleThread(system).start()
    sensors = Mqtt(mosquitto.port)

    def play_incident() -> None:  # at the warped receipt times, as the sensors would
        for msg in sim.messages:
            delay = clock.wall_delay(msg.recv_time)
            if delay > 0:
                time.sleep(delay)
            sensors.pub(msg.topic, json.loads(msg.payload), retain=msg.topic.endswith("/status"))

    player = threading.Thread(target=play_incident, daemon=True)
    try:
        sensors.sub("bw/v1/alerts")
        page.goto(running.url)
        page.wait_for_selector("#link-text:text('Live feed connected')", timeout=10_000)
        player.start()
        # The first alert comes before the crossing (predicted): locate it from the keyboard.
        page.wait_for_selector("li.alert", timeout=30_000)
        page.wait_for_function("() => window.bwConsole.trackLayer.tracks.size >= 1", timeout=10_000)
        page.focus("li.alert")
        page.keyboard.press("Enter")
        page.wait_for_timeout(3_000)  # a trail builds up (a minute of incident)
        shot(page, "console-service-crossing.png")
        player.join(90)
        assert not player.is_alive()
        # The crossing: its alert (predicted, then crossed) is on the page.
        page.wait_for_function(
            "() => [...document.querySelectorAll('li.alert .kind')].some((k) => /crossing/i.test(k.innerText))", timeout=10_000
        )
        card = page.locator("li.alert", has=page.locator(".kind", has_text="rossing")).first
        alert_id = card.get_attribute("data-id")
        tracks = page.evaluate("() => [...window.bwConsole.trackLayer.tracks.values()].map((t) => t.sensors)")
        assert any("tower-02" in s for s in tracks)

        card.locator("button.ack").click()
        # The service took the ack in: it republishes the alert with the action echoed.
        deadline = time.monotonic() + 15
        echoed = None
        while echoed is None and time.monotonic() < deadline:
            event = sensors.expect("bw/v1/alerts", timeout_s=max(0.1, deadline - time.monotonic()))
            if event.get("alert_id") == alert_id and isinstance(event.get("ack"), dict):
                echoed = event
        assert echoed is not None, f"the service did not echo the ack on {alert_id}"
        assert echoed["ack"]["action"] == "ack"
        page.wait_for_selector(f"li.alert[data-id='{alert_id}'].acked", timeout=10_000)
        shot(page, "console-service-acked.png")
    finally:
        player.join(60)
        sensors.close()
        running.stop()
