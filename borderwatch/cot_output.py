"""Live Cursor-on-Target output: dispatch orders and hostile tracks to TAK devices.

Hooks onto the service's outbound stream (``run_service(on_outbound=...)``): each
published alert, track and dispatch message goes through ``adapters.cot.CotStream``
and the CoT events it yields are sent by a background thread, so a slow TAK server
never stalls the service. The queue is bounded; when it is full the oldest event is
dropped and counted (a CoT track is superseded seconds later anyway).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from urllib.parse import urlsplit

from adapters.cot import CotSender, CotStream
from borderwatch.pipeline import Outbound

log = logging.getLogger(__name__)


def parse_cot_url(url: str) -> tuple[str, str, int]:
    """``udp://HOST:PORT`` (multicast or unicast) or ``tcp://HOST:PORT`` (a TAK server)."""
    parts = urlsplit(url)
    if parts.scheme not in ("udp", "tcp") or not parts.hostname or not parts.port:
        raise ValueError(f"CoT destination {url!r}: expected udp://HOST:PORT or tcp://HOST:PORT")
    return parts.scheme, parts.hostname, parts.port


class CotForwarder:
    """Callable for ``on_outbound``: turns published messages into CoT and sends them."""

    def __init__(self, url: str, max_queue: int = 1000) -> None:
        self.protocol, self.host, self.port = parse_cot_url(url)
        self.stream = CotStream()
        self.queue: queue.Queue[bytes | None] = queue.Queue(max_queue)
        self.sent = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._send_loop, name="cot-sender", daemon=True)
        self._thread.start()

    def __call__(self, o: Outbound) -> None:
        if o.kind not in ("alert", "track", "dispatch"):
            return
        for event in self.stream.feed(o.kind, json.loads(o.payload)):
            while True:
                try:
                    self.queue.put_nowait(event)
                    break
                except queue.Full:
                    try:
                        self.queue.get_nowait()
                        self.dropped += 1
                    except queue.Empty:
                        pass

    def close(self) -> None:
        self.queue.put(None)
        self._thread.join(timeout=5)

    def _send_loop(self) -> None:
        sender: CotSender | None = None
        while (event := self.queue.get()) is not None:
            try:
                sender = sender or CotSender(self.host, self.port, self.protocol)
                self.sent += sender.send([event])
            except OSError as exc:  # TAK server away: drop this event, reconnect on the next
                log.warning("CoT send failed", extra={"error": str(exc), "destination": f"{self.host}:{self.port}"})
                if sender is not None:
                    sender.close()
                sender = None
        if sender is not None:
            sender.close()
