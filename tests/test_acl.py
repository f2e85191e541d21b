"""The shipped mosquitto configuration, run for real: TLS, passwords from secret files, ACL.

The test generates the ACL for ``configs/site.yaml`` with ``make_acl.py``, a password
file with ``make_passwd.sh`` from a secrets directory in tmp, and a throwaway CA and
server certificate with openssl; the shipped ``mosquitto.conf`` is used with only its
paths and port rewritten. It then shows what each role can and cannot do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import aiomqtt
import pytest
from aiomqtt.exceptions import MqttCodeError

from adapters.mqtt_session import MqttSession, TlsSettings
from adapters.topics import Topics
from tests.conftest import free_port, mosquitto_binary

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "configs" / "mosquitto"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_tls(d: Path) -> None:
    d.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bw-test-ca",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
             "-extfile", "ext.cnf", "-out", "server.crt", cwd=d)


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory):
    """mosquitto with the shipped conf, ACL and passwords; yields (port, ca_file, passwords)."""
    tmp = tmp_path_factory.mktemp("secure")
    etc = tmp / "etc"
    etc.mkdir()
    _make_tls(etc / "tls")
    subprocess.run(
        [sys.executable, str(CONF_DIR / "make_acl.py"), "--site", str(ROOT / "configs" / "site.yaml"), "--console", "ops-1",
         "--out", str(etc / "acl")], check=True,
    )
    users = [line.split()[1] for line in (etc / "acl").read_text().splitlines() if line.startswith("user ")]
    secrets_dir = tmp / "secrets"
    secrets_dir.mkdir()
    passwords = {u: secrets.token_urlsafe(16) for u in users}
    for u, pw in passwords.items():
        (secrets_dir / u).write_text(pw + "\n")
    env = dict(os.environ, BW_SECRETS_DIR=str(secrets_dir), PATH=os.environ["PATH"] + ":/usr/bin:/usr/sbin")
    subprocess.run(["sh", str(CONF_DIR / "make_passwd.sh"), str(etc / "acl"), str(etc / "passwd")], check=True, env=env, capture_output=True)
    assert all(pw not in (etc / "passwd").read_text() for pw in passwords.values())  # hashed, not plain

    port = free_port()
    conf = (CONF_DIR / "mosquitto.conf").read_text()
    conf = conf.replace("/etc/mosquitto/borderwatch", str(etc)).replace("/var/lib/mosquitto/", f"{tmp}/")
    conf = conf.replace("listener 8883", f"listener {port} 127.0.0.1").replace("log_dest stderr", f"log_dest file {tmp}/mosquitto.log")
    if os.geteuid() == 0:  # started as root mosquitto drops to user mosquitto, who cannot read our 0600 tmp files
        conf += "\nuser root\n"
    (tmp / "mosquitto.conf").write_text(conf)
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(tmp / "mosquitto.conf")], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "mosquitto did not start")
            time.sleep(0.05)
    yield port, str(etc / "tls" / "ca.crt"), passwords
    proc.terminate()
    proc.wait(5)


def _client(port: int, ca: str, user: str | None, password: str | None) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1", port, username=user, password=password, protocol=aiomqtt.ProtocolVersion.V5,
        tls_params=aiomqtt.TLSParameters(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED),
    )


async def _publish_as(port: int, ca: str, passwords: dict[str, str], user: str, topic: str, payload: bytes) -> None:
    async with _client(port, ca, user, passwords[user]) as c:
        await c.publish(topic, payload, qos=1)


def test_roles_under_the_shipped_acl(secure_broker) -> None:
    port, ca, pw = secure_broker
    t = Topics()

    async def main() -> None:
        got: list[tuple[str, bytes]] = []
        sentinel = asyncio.Event()

        async def on_message(topic: str, payload: bytes, recv_time: float) -> None:
            got.append((topic, payload))
            if payload == b"sentinel":
                sentinel.set()

        service = MqttSession(f"mqtts://127.0.0.1:{port}", "bw-service-acl", t.inbound_filters(),
                              tls=TlsSettings(ca_file=ca), username="borderwatch", password=pw["borderwatch"])
        task = asyncio.create_task(service.run(on_message))
        await asyncio.wait_for(service._ready.wait(), 10)
        assert service.stats.protocol == "5"

        # console listens to everything it may read, to show it cannot read detections
        console_got: list[str] = []
        async with _client(port, ca, "ops-1", pw["ops-1"]) as console:
            await console.subscribe("bw/v1/#", qos=1)

            async def listen() -> None:
                async for m in console.messages:
                    console_got.append(m.topic.value)

            listener = asyncio.create_task(listen())

            # denied: a sensor posing as another sensor, a console publishing detections,
            # a team reporting another team's position, a sensor writing an alert ack
            await _publish_as(port, ca, pw, "tower-02", t.detections("radar", "tower-03"), b"spoofed-by-tower-02")
            await _publish_as(port, ca, pw, "tower-02", t.detections("drone", "tower-02"), b"wrong-type")
            await _publish_as(port, ca, pw, "ops-1", t.detections("radar", "tower-03"), b"console-detections")
            await _publish_as(port, ca, pw, "ops-1", t.detections("radar", "ops-1"), b"console-own-name")
            await _publish_as(port, ca, pw, "unit-7", t.team_position("foot-3"), b"other-team")
            await _publish_as(port, ca, pw, "tower-03", t.alert_ack("A-000001"), b"sensor-ack")
            await _publish_as(port, ca, pw, "ops-1", t.alerts, b"console-fake-alert")
            # allowed
            await _publish_as(port, ca, pw, "ops-1", t.alert_ack("A-000001"), b"console-ack")
            await _publish_as(port, ca, pw, "unit-7", t.team_position("unit-7"), b"own-position")
            await _publish_as(port, ca, pw, "borderwatch", t.alerts, b"real-alert")
            await _publish_as(port, ca, pw, "tower-03", t.detections("radar", "tower-03"), b"sentinel")
            await asyncio.wait_for(sentinel.wait(), 10)
            await asyncio.sleep(0.3)
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

        assert [p for _, p in got] == [b"console-ack", b"own-position", b"sentinel"]
        assert console_got == [t.alerts]  # the real alert; not detections, not acks, not positions

    asyncio.run(main())


def test_wrong_or_missing_credentials_are_refused(secure_broker) -> None:
    port, ca, pw = secure_broker

    async def attempt(user: str | None, password: str | None) -> None:
        async with _client(port, ca, user, password):
            pass

    async def main() -> None:
        for user, password in ((None, None), ("tower-03", "guess"), ("nobody", pw["tower-03"])):
            with pytest.raises(MqttCodeError):
                await attempt(user, password)
        await attempt("tower-03", pw["tower-03"])  # control: the right password works

    asyncio.run(main())


def test_plain_tcp_is_not_offered(secure_broker) -> None:
    """Without TLS the listener does not speak MQTT (the handshake fails)."""
    port, _, pw = secure_broker

    async def main() -> None:
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", port, username="tower-03", password=pw["tower-03"], timeout=2):
                pass

    asyncio.run(main())


def test_make_passwd_refuses_missing_secret(tmp_path: Path) -> None:
    (tmp_path / "acl").write_text("user alpha\ntopic read x\nuser beta-2\ntopic read y\n")
    env = {"PATH": os.environ["PATH"], "BW_MQTT_PASSWORD_ALPHA": "a-secret"}
    r = subprocess.run(["sh", str(CONF_DIR / "make_passwd.sh"), str(tmp_path / "acl"), str(tmp_path / "passwd")], env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "beta-2" in r.stderr and "BW_MQTT_PASSWORD_" in r.stderr
    assert not (tmp_path / "passwd").exists()
    env["BW_MQTT_PASSWORD_BETA_2"] = "b-secret"
    r = subprocess.run(["sh", str(CONF_DIR / "make_passwd.sh"), str(tmp_path / "acl"), str(tmp_path / "passwd")], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = (tmp_path / "passwd").read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["alpha", "beta-2"] and "a-secret" not in lines[0]
    assert (tmp_path / "passwd").stat().st_mode & 0o077 == 0
