"""Service parts that need no broker: atomic snapshots, metrics/health HTTP, JSON logs, `run` errors."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from borderwatch.observability import JsonFormatter, ServiceMetrics, serve_http, setup_json_logging
from borderwatch.snapshots import Snapshot, read_snapshot, write_snapshot

ROOT = Path(__file__).resolve().parents[1]


def test_snapshot_round_trip_and_bad_file(tmp_path: Path) -> None:
    assert read_snapshot(tmp_path) is None
    snap = Snapshot(42, {"trackers": {"west": {"next_id": 7}}, "x": [1.5, None]}, 1000.0)
    write_snapshot(tmp_path, snap)
    assert read_snapshot(tmp_path) == snap
    assert [p.name for p in tmp_path.iterdir()] == ["snapshot.json"]  # no temporary left behind
    (tmp_path / "snapshot.json").write_text('{"version": 99}')
    with pytest.raises(ValueError, match="not a usable snapshot"):
        read_snapshot(tmp_path)


def test_snapshot_write_is_atomic_under_sigkill(tmp_path: Path) -> None:
    """A writer killed mid-stream of rewrites leaves a complete snapshot, old or new."""
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from borderwatch.snapshots import Snapshot, write_snapshot
        big = {{"tracks": [[i * 0.5] * 40 for i in range(3000)]}}
        n = 0
        while True:
            n += 1
            write_snapshot(Path({str(tmp_path)!r}), Snapshot(n, big, float(n)))
            sys.stdout.write(f"{{n}}\\n"); sys.stdout.flush()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=ROOT, text=True)
    assert proc.stdout is not None
    last = 0
    for line in proc.stdout:
        last = int(line)
        if last >= 5:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    snap = read_snapshot(tmp_path)
    assert snap is not None and snap.inbound_upto >= last and len(snap.pipeline["tracks"]) == 3000


def test_metrics_and_health_endpoint() -> None:
    counters = {"deadletter.invalid_json": 3, "deadletter.unknown_sensor": 2, "in.detections": 10, "duplicates": 1}
    m = ServiceMetrics(lambda: counters)
    m.messages_in.labels("detections").inc(10)
    m.alert_latency.observe(0.12)
    m.queue_depth.labels("tracks").set(4)
    state = {"ok": True}

    async def main() -> tuple[bytes, bytes, bytes, bytes]:
        server = await serve_http("127.0.0.1", 0, m, lambda: (state["ok"], {"status": "ok" if state["ok"] else "degraded"}))
        port = server.sockets[0].getsockname()[1]

        async def get(path: str) -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            await writer.drain()
            data = await reader.read()
            writer.close()
            return data

        metrics = await get("/metrics")
        health = await get("/healthz")
        state["ok"] = False
        sick = await get("/healthz")
        missing = await get("/nope")
        server.close()
        return metrics, health, sick, missing

    metrics, health, sick, missing = asyncio.run(main())
    text = metrics.decode()
    assert text.startswith("HTTP/1.1 200")
    assert 'borderwatch_deadletters_total{reason="invalid_json"} 3.0' in text
    assert 'borderwatch_deadletters_total{reason="unknown_sensor"} 2.0' in text
    assert 'borderwatch_pipeline_events_total{name="duplicates"} 1.0' in text
    assert 'borderwatch_messages_in_total{kind="detections"} 10.0' in text
    assert 'borderwatch_detection_to_alert_seconds_bucket{le="0.15"} 1.0' in text
    assert 'borderwatch_queue_depth{queue="tracks"} 4.0' in text
    assert health.startswith(b"HTTP/1.1 200") and json.loads(health.split(b"\r\n\r\n", 1)[1]) == {"status": "ok"}
    assert sick.startswith(b"HTTP/1.1 503")
    assert missing.startswith(b"HTTP/1.1 404")


def test_json_log_lines() -> None:
    out = io.StringIO()
    setup_json_logging("INFO", out)
    try:
        logging.getLogger("borderwatch.test").info("recovered %d rows", 5, extra={"replayed": 5, "path": Path("/x")})
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("borderwatch.test").exception("step failed")
    finally:
        logging.getLogger().handlers[:] = []
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["msg"] == "recovered 5 rows" and first["replayed"] == 5 and first["level"] == "info"
    assert first["time"].endswith("Z") and first["path"] == "PosixPath('/x')"
    assert second["level"] == "error" and "RuntimeError: boom" in second["exc"]
    assert isinstance(JsonFormatter().format(logging.LogRecord("a", 20, "f", 1, "m", None, None)), str)


def _run_cli(*args: str, env: dict[str, str] | None = None, full_cli: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "borderwatch.cli", "run"] if full_cli else [sys.executable, "-m", "borderwatch.commands.run"]
    return subprocess.run([*cmd, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)


def test_run_refuses_bad_site_file_naming_file_and_field(tmp_path: Path) -> None:
    site = (ROOT / "configs" / "site.yaml").read_text().replace("max_range_m: 8000", "max_rnage_m: 8000", 1)
    bad = tmp_path / "site.yaml"
    bad.write_text(site)
    r = _run_cli("--site", str(bad), "--broker", "mqtt://127.0.0.1:1", full_cli=True)
    assert r.returncode == 2
    assert str(bad) in r.stderr and "max_rnage_m" in r.stderr


def test_run_refuses_bad_options(tmp_path: Path) -> None:
    site = str(ROOT / "configs" / "site.yaml")
    r = _run_cli("--site", site, "--broker", "http://x:1")
    assert r.returncode == 2 and "mqtt://" in r.stderr
    r = _run_cli("--site", site, "--broker", "mqtts://x:1", "--tls-ca", str(tmp_path / "none.crt"))
    assert r.returncode == 2 and "none.crt" in r.stderr
    r = _run_cli("--site", site, "--broker", "mqtt://x:1", "--tls-ca", site)
    assert r.returncode == 2 and "mqtts://" in r.stderr
    r = _run_cli("--site", site, "--broker", "mqtt://x:1", env=dict(os.environ, BORDERWATCH_MQTT_PASSWORD="s3cret"))
    assert r.returncode == 2 and "--username" in r.stderr and "s3cret" not in r.stderr


def test_snapshot_that_does_not_restore_stops_the_service_instead_of_reissuing_ids(tmp_path: Path) -> None:
    from adapters.site_file import load_site
    from borderwatch.service import RecoveryError, Service, ServiceConfig

    write_snapshot(tmp_path, Snapshot(3, {"version": 1, "trackers": {"west": {"garbled": True}}}, 1.0))
    svc = Service(load_site(ROOT / "configs" / "site.yaml"), "mqtt://127.0.0.1:1", ServiceConfig(state_dir=tmp_path))
    with pytest.raises(RecoveryError, match="snapshot.json does not restore"):
        svc.recover()
