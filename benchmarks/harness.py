"""Shared pieces of the live benchmarks (and the service fault tests): a mosquitto of
our own on a free port, the service as a child process, a sensor player and a console.

Nothing here is mocked: the broker is mosquitto, the service is ``borderwatch run``,
sensors and consoles are MQTT clients over localhost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from adapters.journal import Journal
from adapters.mqtt_session import MqttSession
from adapters.recording import RecordedMessage
from adapters.timefmt import to_iso
from adapters.topics import Topics
from fusion.site import Site

ROOT = Path(__file__).resolve().parents[1]
logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt warns at > 10 publishes in flight: that is the point here


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """mosquitto with persistence on a free port; ``stop()``/``start()`` is a broker restart."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {self.workdir}/\n"
            "max_queued_messages 1000000\nmax_inflight_messages 200\nmax_packet_size 1048576\n"
            + ("user root\n" if os.geteuid() == 0 else "")
        )
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=open(self.workdir / "mosquitto.log", "ab"))
        _wait_port(self.port, self.proc)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _wait_port(port: int, proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"process exited with {proc.returncode}")
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on {port} after {timeout_s} s")


class ServiceProcess:
    """``borderwatch run`` as a child process; ``kill()`` is SIGKILL, ``start()`` starts it again."""

    def __init__(self, site_file: Path, broker_url: str, state_dir: Path, *extra: str, log: Path | None = None,
                 metrics_port: int | None = None) -> None:
        self.site_file, self.broker_url, self.state_dir, self.extra = site_file, broker_url, state_dir, extra
        self.metrics_port = metrics_port or free_port()
        self.log = log or state_dir.parent / "service.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        cmd = [sys.executable, "-m", "borderwatch.commands.run", "--site", str(self.site_file), "--broker", self.broker_url,
               "--state-dir", str(self.state_dir), "--metrics-port", str(self.metrics_port), *self.extra]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"))
        self.starts += 1

    def kill(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        finally:
            self.proc = None

    def wait_healthy(self, timeout_s: float = 30.0) -> None:
        """Block until /healthz says ok; stop the benchmark, naming the log, if it never does."""
        t0 = time.monotonic()
        while not ((h := self.health()) and h["status"] == "ok"):
            if time.monotonic() - t0 > timeout_s:
                raise SystemExit(f"service did not start; see {self.log}")
            time.sleep(0.05)

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/healthz", timeout=1) as r:
                return json.loads(r.read())
        except OSError as exc:
            if hasattr(exc, "read"):
                return json.loads(exc.read())  # 503 carries the document too
            return None

    def metrics(self, patience_s: float = 120.0) -> str:
        """The /metrics text; an overloaded service answers late (its event loop is busy), so retry."""
        deadline = time.monotonic() + patience_s
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as r:
                    return r.read().decode()
            except OSError:
                if time.monotonic() > deadline:
                    raise

    def rss_mb(self) -> float:
        if self.proc is None:
            return float("nan")
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        return float("nan")

    def cpu_s(self) -> float:
        """User + system CPU seconds the service process has used (Linux /proc; a forked snapshot child's not)."""
        if self.proc is None:
            return float("nan")
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric_value(text: str, name: str, labels: str = "") -> float:
    """One sample of a Prometheus text exposition (0 when absent)."""
    key = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def time_shift(messages: Iterable[RecordedMessage], shift_s: float) -> list[RecordedMessage]:
    """Move a simulated run in time: receipt times and every ``time``/``observed_time`` in the payloads."""
    out = []
    for m in messages:
        doc = json.loads(m.payload)
        _shift_doc(doc, shift_s)
        out.append(RecordedMessage(m.recv_time + shift_s, m.topic, json.dumps(doc, separators=(",", ":")).encode()))
    return out


def _shift_doc(doc: object, shift_s: float) -> None:
    from adapters.timefmt import from_iso

    if isinstance(doc, dict):
        for k, v in doc.items():
            if k in ("time", "observed_time") and isinstance(v, str):
                doc[k] = to_iso(from_iso(v) + shift_s)
            else:
                _shift_doc(v, shift_s)
    elif isinstance(doc, list):
        for v in doc:
            _shift_doc(v, shift_s)


def detection_key(m: RecordedMessage) -> tuple[str, int, str] | None:
    """(sensor_id, seq, time) of a detection message, the service's duplicate key."""
    if not m.topic.endswith("/detections"):
        return None
    try:
        doc = json.loads(m.payload)
        return str(doc["sensor_id"]), int(doc["seq"]), str(doc["time"])
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class Player:
    """Publishes messages at their receipt times (wall clock), QoS 1, through broker outages."""

    broker_url: str
    client_id: str = "bench-sensors"
    window: int = 400
    acked: list[tuple[RecordedMessage, float]] = field(default_factory=list)  # message, wall time of PUBACK
    sent_wall: dict[int, float] = field(default_factory=dict)

    async def play(self, messages: list[RecordedMessage], stop: asyncio.Event | None = None) -> None:
        session = MqttSession(self.broker_url, self.client_id, [], backoff_cap_s=0.5, receive_maximum=1000)
        runner = asyncio.create_task(session.run(_ignore))
        sem = asyncio.Semaphore(self.window)
        pending: set[asyncio.Task] = set()

        async def one(m: RecordedMessage) -> None:
            try:
                await session.publish(m.topic, m.payload, 1)
                self.acked.append((m, time.time()))
            finally:
                sem.release()

        try:
            await asyncio.wait_for(session.connected.wait(), 15)
            for m in messages:
                if stop is not None and stop.is_set():
                    break
                delay = m.recv_time - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await sem.acquire()
                t = asyncio.create_task(one(m))
                pending.add(t)
                t.add_done_callback(pending.discard)
            if pending:
                await asyncio.wait(pending, timeout=120)
        finally:
            runner.cancel()
            for t in pending:
                t.cancel()
            await asyncio.gather(runner, *pending, return_exceptions=True)


async def _ignore(topic: str, payload: bytes, recv_time: float) -> None:
    return None


@dataclass
class Console:
    """Subscribes to everything the service publishes; keeps (wall time, topic, payload)."""

    broker_url: str
    client_id: str = "bench-console"
    prefix: str = "bw/v1"
    received: list[tuple[float, str, bytes]] = field(default_factory=list)
    #: Topic filters under ``prefix``; the load benchmark takes alerts only, so that thousands
    #: of track messages a second do not queue in this process and inflate the alert latency.
    topics: tuple[str, ...] = ("tracks/+", "alerts", "dispatch/+", "deadletter")

    async def run(self) -> None:
        p = self.prefix
        session = MqttSession(self.broker_url, self.client_id, [f"{p}/{t}" for t in self.topics],
                              backoff_cap_s=0.5, receive_maximum=1000)

        async def keep(topic: str, payload: bytes, recv_time: float) -> None:
            self.received.append((recv_time, topic, payload))

        await session.run(keep)

    def of_kind(self, suffix: str) -> list[tuple[float, dict]]:
        out = []
        for t, topic, payload in self.received:
            kind = topic.split("/")[2]
            if kind == suffix and payload:
                out.append((t, json.loads(payload)))
        return out


def journal_reference(state_dir: Path, site: Site, pipeline_config: object | None = None) -> dict[str, list[dict]]:
    """What a single uninterrupted pipeline makes of everything the service journalled.

    Needs ``--keep-journal``. The journal holds every message the (restarted,
    killed ...) service committed, with the clock ticks it applied, so a fresh
    Pipeline fed the whole of it is the run without faults.
    """
    from borderwatch.pipeline import Pipeline

    j = Journal(state_dir / "journal.sqlite")
    p = Pipeline(site, pipeline_config)  # type: ignore[arg-type]
    out: dict[str, list[dict]] = defaultdict(list)

    def emit(outs: list) -> None:
        for o in outs:
            if o.kind in ("track", "alert", "dispatch", "deadletter"):
                out[o.kind].append(json.loads(o.payload))

    for rec in j.inbound_after(0):
        for t in rec.pre_ticks:
            emit(p.tick(t))
        if rec.topic is not None:
            emit(p.handle(rec.topic, rec.payload, rec.recv_time))
    j.close()
    return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    k = (len(v) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def topics() -> Topics:
    return Topics()


def machine_reference() -> dict[str, float]:
    """This machine's speed right now: ms for a fixed pure-Python loop and for 20,000
    numpy operations on 50-element arrays (best of five each).

    The pipeline's cost per message is mostly those two kinds of work, and on a shared
    VM their speed moves by a third or more between hours; printed next to a benchmark's
    figures, they say whether two runs ran on the same machine speed.
    """
    import numpy as np

    a = np.ones(50)

    def python_loop() -> None:
        total = 0
        for i in range(500_000):
            total += i & 7

    def numpy_ops() -> None:
        for _ in range(10_000):
            np.add(a, a)
            a.sum()

    def best(fn: object) -> float:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()  # type: ignore[operator]
            times.append(time.perf_counter() - t0)
        return round(min(times) * 1e3, 1)

    return {"machine_python_ms": best(python_loop), "machine_numpy_ms": best(numpy_ops)}
