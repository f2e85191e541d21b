"""What an operator watches: Prometheus metrics, a health endpoint, JSON logs.

One HTTP listener (``serve_http``) answers ``GET /metrics`` (Prometheus text format)
and ``GET /healthz`` (JSON; 200 when healthy, 503 when not). It is a few lines of
asyncio rather than a web framework: two fixed routes, no threads, and it stops with
the service's event loop.

Each ``ServiceMetrics`` has its own registry, so several services (tests) can live
in one process. Counters the pipeline keeps itself (dead letters by reason,
duplicates, late scans ...) survive restarts in its snapshot; they are exported by a
collector that reads them at scrape time, not copied.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.35, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
TRACKER_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class _PipelineCounters(Collector):
    """Exports the pipeline's own cumulative counters at scrape time."""

    def __init__(self, read: Callable[[], Mapping[str, int]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        counters = dict(self._read())
        dead = CounterMetricFamily("borderwatch_deadletters", "Inbound messages dead-lettered, by reason code", labels=["reason"])
        events = CounterMetricFamily("borderwatch_pipeline_events", "Pipeline counters (inputs by kind, duplicates, late scans, alert and dispatch events, tracker.*: out-of-sequence re-runs and drops, history window shrunk)", labels=["name"])
        for name, value in sorted(counters.items()):
            if name.startswith("deadletter."):
                dead.add_metric([name.split(".", 1)[1]], value)
            else:
                events.add_metric([name], value)
        yield dead
        yield events


class ServiceMetrics:
    """The service's metrics (names ``borderwatch_*``), on a private registry."""

    def __init__(self, pipeline_counters: Callable[[], Mapping[str, int]] | None = None) -> None:
        r = self.registry = CollectorRegistry()
        self.messages_in = Counter("borderwatch_messages_in", "Messages received, by topic kind", ["kind"], registry=r)
        self.messages_out = Counter("borderwatch_messages_out", "Messages published and acknowledged by the broker, by kind", ["kind"], registry=r)
        self.shed = Counter("borderwatch_shed", "Outbound messages not published because a bounded queue was full, by queue", ["queue"], registry=r)
        self.coalesced = Counter("borderwatch_tracks_coalesced", "Track messages replaced in the queue by a newer one of the same track", registry=r)
        self.inbound_dropped = Counter("borderwatch_inbound_dropped", "Inbound QoS 0 messages dropped by the full receive queue", registry=r)
        self.internal_errors = Counter("borderwatch_internal_errors", "Messages whose processing raised (logged; service kept running)", registry=r)
        self.queue_depth = Gauge("borderwatch_queue_depth", "Items waiting in a bounded queue", ["queue"], registry=r)
        self.live_tracks = Gauge("borderwatch_live_tracks", "Tracks the tracker holds (all statuses)", registry=r)
        self.open_alerts = Gauge("borderwatch_open_alerts", "Alerts not yet ended", registry=r)
        self.journal_unacked = Gauge("borderwatch_journal_unacked", "Journalled alerts/dispatch orders not yet acknowledged by the broker", registry=r)
        self.connected = Gauge("borderwatch_mqtt_connected", "1 while connected to the broker", registry=r)
        self.reconnects = Counter("borderwatch_mqtt_connects", "Successful broker connections (the first included)", registry=r)
        self.snapshot_age = Gauge("borderwatch_snapshot_age_seconds", "Seconds since the last state snapshot was written", registry=r)
        self.tracker_seconds = Histogram("borderwatch_tracker_seconds", "Pipeline time per received message or tick (validation, tracking, alerting)", buckets=TRACKER_BUCKETS_S, registry=r)
        self.alert_latency = Histogram(
            "borderwatch_detection_to_alert_seconds",
            "From the observation time of the detection that opened an alert to the broker's acknowledgement of the new alert",
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        if pipeline_counters is not None:
            r.register(_PipelineCounters(pipeline_counters))

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def serve_http(host: str, port: int, metrics: ServiceMetrics, health: Callable[[], tuple[bool, dict[str, Any]]]) -> asyncio.Server:
    """Start the ``/metrics`` and ``/healthz`` listener; returns the server (``port`` 0: any free port)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers: nothing we need
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
                status, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
            elif path == "/metrics":
                status, ctype, body = "200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics.render()
            elif path in ("/healthz", "/health"):
                ok, doc = health()
                status, ctype, body = ("200 OK" if ok else "503 Service Unavailable"), "application/json", json.dumps(doc).encode()
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"try /metrics or /healthz\n"
            head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode("latin-1") + (body if parts and parts[0] != "HEAD" else b""))
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO UTC), level, logger, msg, and any ``extra`` fields."""

    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                doc[key] = value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else repr(value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=repr)


def setup_json_logging(level: int | str = logging.INFO, stream: Any = None) -> None:
    """Send all logging to ``stream`` (stderr) as JSON lines; quiet the chatty MQTT libraries."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("amqtt", "transitions", "mqtt"):
        logging.getLogger(name).setLevel(logging.WARNING)
