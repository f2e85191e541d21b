"""Shared fixtures: a real mosquitto on a free port, started and stopped by the test.

The machine's own mosquitto on 127.0.0.1:1883 is never touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if not found:
        pytest.fail("mosquitto is not installed: run `make test`, which installs it from Debian's packages")
    return found


@dataclass
class Mosquitto:
    """A mosquitto process owned by a test: ``stop()``/``start()`` simulate a broker restart."""

    port: int
    workdir: Path
    extra_conf: str = ""
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            f"{'allow_anonymous true' if 'allow_anonymous' not in self.extra_conf else ''}\n"
            "max_queued_messages 100000\n"
            # started as root, mosquitto drops to user mosquitto, who cannot write the
            # persistence file into the test's 0700 tmp dir: a restart would lose sessions
            f"{'user root' if os.geteuid() == 0 else ''}\n"
            f"{self.extra_conf}\n"
        )
        self.proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.workdir / "mosquitto.log", "ab"),
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError((self.workdir / "mosquitto.log").read_text())
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh mosquitto on a free port for one test."""
    broker = Mosquitto(port=free_port(), workdir=tmp_path)
    broker.start()
    yield broker
    broker.stop()
