"""``make demo``: the whole system on one machine with zero configuration.

An embedded broker (amqtt) unless one is given, the live service, the operations
console, a recorder, and a simulated incident published in (warped) real time. Alerts
are printed as the service publishes them. Afterwards the recording is replayed
through the same pipeline (the alerts must match the live run), scored against the
simulator's ground truth, and a report is written.

All parts share one ``WarpClock``: the incident's observation times, the service's
receive clock and the recorder's timestamps all run ``speed`` times wall time, so a
four-minute incident plays in half a minute without any component seeing
inconsistent times.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from adapters.mqtt_session import MqttSession
from adapters.recording import read_jsonl
from adapters.site_file import load_site
from adapters.timefmt import to_iso
from borderwatch.clock import WarpClock
from borderwatch.console import serve_console
from borderwatch.embedded_broker import embedded_broker
from borderwatch.pipeline import Outbound
from borderwatch.recorder import record
from borderwatch.replay import replay_messages
from borderwatch.score import score_run, sensor_context, summary_lines, write_report
from borderwatch.service import ServiceConfig, run_service
from fusion.site import Site
from simulators.engine import SimulationResult, simulate
from simulators.scenario import load_scenario
from simulators.truth import write_truth

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "configs" / "scenarios" / "demo-group-crossing.yaml"

_STYLE = {"new": "\033[1;31m", "update": "\033[33m", "end": "\033[32m"}


@dataclass
class LiveLog:
    """What the live run published, as it happened."""

    clock: WarpClock
    stream: IO[str]
    colour: bool
    alerts: list[dict] = field(default_factory=list)
    tracks: dict[str, dict] = field(default_factory=dict)
    dispatches: list[dict] = field(default_factory=list)

    def __call__(self, o: Outbound) -> None:
        if o.kind == "alert":
            p = json.loads(o.payload)
            self.alerts.append(p)
            self._print_alert(p)
        elif o.kind == "track":
            p = json.loads(o.payload)
            self.tracks.setdefault(p["track_id"], {"first": p["time"], "sensors": set(), "class": p["class"]})
            entry = self.tracks[p["track_id"]]
            entry.update(last=p["time"], status=p["status"], cls=p["class"])
            entry["sensors"].update(p.get("sensors", []))
        elif o.kind == "dispatch":
            p = json.loads(o.payload)
            self.dispatches.append(p)
            self._line(f"DISPATCH {p.get('state', 'new'):6} {p['dispatch_id']} -> {p['team_id']}: {p.get('summary', '')}", "update")

    def _print_alert(self, p: dict) -> None:
        eta = f" eta {p['eta_s']:.0f} s" if p.get("eta_s") is not None else ""
        text = f"ALERT {p['state'].upper():6} {p['alert_id']} {p['kind']} [{p['severity']}]{eta}: {p.get('summary', '')}"
        if p["state"] == "update" and self._same_as_last_update(p):
            return  # an ETA refresh: the console shows it; the terminal keeps to changes
        self._line(text, p["state"])

    def _same_as_last_update(self, p: dict) -> bool:
        earlier = [a for a in self.alerts[:-1] if a["alert_id"] == p["alert_id"]]
        return bool(earlier) and earlier[-1]["kind"] == p["kind"] and earlier[-1]["severity"] == p["severity"] and "ack" not in p

    def _line(self, text: str, state: str) -> None:
        stamp = to_iso(self.clock.now())[11:19]
        if self.colour:
            text = f"{_STYLE.get(state, '')}{text}\033[0m"
        print(f"[{stamp}] {text}", file=self.stream, flush=True)


async def _publish_incident(url: str, sim: SimulationResult, clock: WarpClock, stream: IO[str]) -> None:
    """Publish the simulated messages at their (warped) receipt times."""
    session = MqttSession(url, "borderwatch-demo-sensors", [])
    runner = asyncio.create_task(session.run(_ignore))
    try:
        total = len(sim.messages)
        last_progress = time.monotonic()
        for i, msg in enumerate(sim.messages, 1):
            delay = clock.wall_delay(msg.recv_time)
            if delay > 0:
                await asyncio.sleep(delay)
            await session.publish(msg.topic, msg.payload, qos=1, retain=msg.topic.endswith("/status"))
            if time.monotonic() - last_progress > 5.0:
                last_progress = time.monotonic()
                print(f"  ... incident {100 * i // total}% ({i}/{total} sensor messages)", file=stream, flush=True)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def _ignore(_topic: str, _payload: bytes, _t: float) -> None:
    return None


async def run_demo(
    scenario_path: Path,
    out_dir: Path,
    *,
    broker_url: str | None = None,
    speed: float = 8.0,
    console_port: int | None = 0,
    stream: IO[str] = sys.stdout,
) -> Path:
    """Play the incident through the live service; returns the report path."""
    wall_start = time.monotonic()
    clock = WarpClock(speed)
    scenario = load_scenario(scenario_path)
    scenario = scenario.model_copy(update={"start": to_iso(clock.start + 2.0 * speed)})  # 2 s of wall time to start up
    site = load_site(scenario.site_path)
    sim = simulate(scenario, site)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_truth(sim.truth, out_dir / "truth.json")
    live = LiveLog(clock, stream, colour=stream.isatty())
    print(f"Borderwatch demo: {scenario.name} ({scenario.duration_s:.0f} s of incident at {speed:g}x)", file=stream)

    async def run_with(url: str) -> None:
        stop = asyncio.Event()
        config = ServiceConfig(state_dir=out_dir / "state", clock=clock.now, clock_speed=speed)
        tasks = [
            asyncio.create_task(run_service(site, url, config=config, stop=stop, on_outbound=live)),
            asyncio.create_task(record(url, out_dir / "recording.jsonl", stop=stop, clock=clock.now)),
        ]
        if console_port is not None:
            tasks.append(
                asyncio.create_task(
                    serve_console(
                        site,
                        url,
                        port=console_port,
                        stop=stop,
                        ready=lambda u: print(f"Operations console: {u}", file=stream, flush=True),
                        clock=clock.now,
                        clock_rate=speed,
                    )
                )
            )
        await asyncio.sleep(1.0)  # service and recorder subscribe before the sensors speak
        try:
            await _publish_incident(url, sim, clock, stream)
            # Let the last scans through the reorder buffer (one warped second is ample),
            # and stop well before the radars' silence would raise sensor_offline: the
            # recording, and so the replay, ends here.
            await asyncio.sleep(1.0 / speed)
        finally:
            stop.set()
            done = await asyncio.gather(*tasks, return_exceptions=True)
        for result in done:
            if isinstance(result, Exception):
                raise result

    if broker_url:
        print(f"Broker: {broker_url}", file=stream)
        await run_with(broker_url)
    else:
        async with embedded_broker() as url:
            print(f"Embedded broker: {url}", file=stream)
            await run_with(url)
    live_wall = time.monotonic() - wall_start
    return _report(site, scenario.site_path, scenario.name, out_dir, live, live_wall, speed, stream)


def _alert_key(p: dict) -> tuple[str, str, str]:
    return (p["alert_id"], p["kind"], p["state"])


def _report(site: Site, site_path: Path, name: str, out_dir: Path, live: LiveLog, live_wall: float, speed: float, stream: IO[str]) -> Path:
    """Replay the recording, compare with the live alerts, score, write report.md."""
    t0 = time.monotonic()
    messages = list(read_jsonl(out_dir / "recording.jsonl"))
    replay_messages(messages, site, out_dir / "replay")
    replay_wall = time.monotonic() - t0
    replay_alerts = [json.loads(line)["payload"] for line in open(out_dir / "replay" / "alerts.jsonl", encoding="utf-8")]
    live_keys = sorted({_alert_key(a) for a in live.alerts})
    replay_keys = sorted({_alert_key(a) for a in replay_alerts})
    same = live_keys == replay_keys

    from simulators.truth import load_truth

    truth = load_truth(out_dir / "truth.json")
    score, run, series = score_run(out_dir / "replay", truth)
    written = write_report(score, run, series, truth, out_dir / "score", sensors=sensor_context(messages, site))

    lines = [
        f"# Borderwatch demo report: {name}",
        "",
        f"- Incident: {truth.duration_s:.0f} s simulated, played at {speed:g}x through the live service over MQTT.",
        f"- Wall time: live run {live_wall:.1f} s; replay of the recording ({len(messages)} messages) {replay_wall:.2f} s.",
        f"- Replay of `recording.jsonl` gives the same alerts as the live run: **{'yes' if same else 'NO'}**"
        f" ({len(live_keys)} live alert events, {len(replay_keys)} replayed).",
        "",
        "## Alerts (live)",
        "",
        "| time | alert | state | kind | severity | ETA s | summary |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in live.alerts:
        eta = "" if a.get("eta_s") is None else f"{a['eta_s']:.0f}"
        lines.append(f"| {a['time']} | {a['alert_id']} | {a['state']} | {a['kind']} | {a['severity']} | {eta} | {a.get('summary', '')} |")
    lines += ["", "## Tracks published (live)", "", "| track | class | first | last | last status | sensors |", "|---|---|---|---|---|---|"]
    for tid, t in sorted(live.tracks.items()):
        lines.append(f"| {tid} | {t['cls']} | {t['first']} | {t['last']} | {t['status']} | {', '.join(sorted(t['sensors']))} |")
    if live.dispatches:
        lines += ["", "## Dispatch orders (live)", ""] + [f"- {d['dispatch_id']} {d.get('state', 'new')} -> {d['team_id']}: {d.get('summary', '')}" for d in live.dispatches]
    lines += ["", "## Against ground truth (replay)", ""] + [f"    {s}" for s in summary_lines(score)]
    lines += ["", "![overview](score/overview.png)", "", "Files: " + ", ".join(str(p.relative_to(out_dir)) for p in written), ""]
    if not same:
        only_live = sorted(set(live_keys) - set(replay_keys))
        only_replay = sorted(set(replay_keys) - set(live_keys))
        lines += ["## Live/replay differences", "", f"- only live: {only_live}", f"- only replay: {only_replay}", ""]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    print("", file=stream)
    for s in summary_lines(score):
        print(f"  {s}", file=stream)
    print(f"Replay gives the same alerts as the live run: {'yes' if same else 'NO'}", file=stream)
    print(f"Report: {report}", file=stream)
    print(f"Replay it yourself: borderwatch replay {out_dir / 'recording.jsonl'} --site {site_path} --out {out_dir / 'replay2'}", file=stream)
    return report
