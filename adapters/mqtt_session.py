"""A durable MQTT session over aiomqtt 2.x, which does not reconnect by itself.

What it adds to ``aiomqtt.Client``:

- **Persistent session.** MQTT 5 with ``clean_start`` off and a session expiry
  interval, so the broker keeps our subscriptions and queues QoS 1 messages while
  we are away (broker restart with persistence, or our own restart). A broker that
  refuses MQTT 5 (amqtt 0.12 answers reason code 132 / 3.1.1 return code 1) gets
  MQTT 3.1.1 with ``clean_session`` off instead; the choice is kept for reconnects.
- **Reconnect** with capped exponential backoff and full jitter
  (``delay = U(0, min(cap, base * 2**attempt))``, attempt reset after a connection
  that held), then resubscribe (harmless when the broker still has the session).
- **Acknowledge after handling.** Inbound QoS 1 PUBLISHes are PUBACKed only once
  ``on_message`` has returned (paho manual ack), so a message the service had not
  made durable when it died is redelivered by the broker. The broker's in-flight
  window (MQTT 5 Receive Maximum, ``receive_maximum``; mosquitto's
  ``max_inflight_messages`` for 3.1.1) bounds what is buffered here: backpressure
  instead of an unbounded queue.
- **Publish that survives a disconnect.** ``publish`` waits while disconnected and
  retries on the next connection until the broker acknowledged (QoS 1), so a
  caller that awaited it knows the broker has the message (at-least-once: a
  retried message may arrive twice; consumers dedupe by id).
- **QoS 0 without a wait per message.** aiomqtt's ``publish`` waits for paho's
  ``on_publish`` even at QoS 0: an ``asyncio.Event``, a ``wait_for`` and a wake-up
  of the event loop per message. paho's own ``publish`` still builds a message-info
  object (with a lock), a packet and a socket write per message. At thousands of
  track messages a second that is a large share of a core, so ``publish_nowait``
  encodes a whole chunk of QoS 0 messages as MQTT PUBLISH packets itself
  (``publish_packets``, byte for byte what paho builds) and hands them to paho's
  outgoing queue as one write; ``write_pending`` tells the caller when the socket
  has not taken them yet (backpressure). ``benchmarks/publish_qos0.py`` measures
  the three ways side by side.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)
#: aiomqtt/paho's own logger. aiomqtt warns whenever more than 10 publishes are in flight,
#: which is normal operation here (a window of them is the point), so only errors pass.
_client_log = logging.getLogger(__name__ + ".client")
_client_log.setLevel(logging.ERROR)

OnMessage = Callable[[str, bytes, float], Awaitable[None]]


@dataclass
class Sent:
    """A publish ``MqttSession.send_now`` handed to one connection: ``acked`` is set on its PUBACK."""

    client: aiomqtt.Client
    lost: asyncio.Future[None]  # done when that connection ended
    mid: int
    acked: asyncio.Event


#: CONNACK codes that mean "this broker does not speak the protocol version you asked for".
_UNSUPPORTED_VERSION = {132, 1}


@dataclass(frozen=True)
class TlsSettings:
    """TLS to the broker: CA bundle, optional client certificate and key (PEM paths)."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_hostname_check: bool = False


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://host[:port]`` (default 1883) or ``mqtts://host[:port]`` (TLS, default 8883)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} has no host")
    tls = parts.scheme in ("mqtts", "ssl")
    return BrokerAddress(parts.hostname, parts.port or (8883 if tls else 1883), tls)


@dataclass
class SessionStats:
    """Counters of one session's life, for metrics and tests."""

    connects: int = 0
    disconnects: int = 0
    messages_in: int = 0
    publishes_acked: int = 0
    publishes_nowait: int = 0  # QoS 0 messages handed to the connection without a wait
    publish_retries: int = 0
    inbound_dropped: int = 0  # QoS 0 messages dropped because the receive queue was full
    protocol: str = ""


class MqttSession:
    """One persistent MQTT session, reconnected for as long as ``run`` runs."""

    def __init__(
        self,
        url: str,
        client_id: str,
        subscriptions: list[str],
        *,
        tls: TlsSettings | None = None,
        username: str | None = None,
        password: str | None = None,
        session_expiry_s: int = 3600,
        keepalive_s: int = 15,
        receive_maximum: int = 200,
        inbound_queue_max: int = 10_000,
        backoff_base_s: float = 0.1,
        backoff_cap_s: float = 5.0,
        connect_timeout_s: float = 5.0,
        v5_probe_timeout_s: float = 1.5,
        sub_qos: int = 1,
        force_protocol: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.address = parse_broker_url(url)
        self.client_id = client_id
        self.subscriptions = list(subscriptions)
        self.tls = tls if tls is not None else (TlsSettings() if self.address.tls else None)
        self.username = username
        self.password = password
        self.session_expiry_s = session_expiry_s
        self.keepalive_s = keepalive_s
        self.receive_maximum = receive_maximum
        self.inbound_queue_max = inbound_queue_max
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.connect_timeout_s = connect_timeout_s
        self.v5_probe_timeout_s = v5_probe_timeout_s
        self.sub_qos = sub_qos
        self._protocol = force_protocol  # paho.MQTTv5 / MQTTv311, or None = try 5 first
        self._rng = rng or random.Random()
        self.connected = asyncio.Event()
        self.stats = SessionStats()
        self._client: aiomqtt.Client | None = None
        self._lost: asyncio.Future[None] | None = None  # resolves when the current connection ends
        self._ready = asyncio.Event()  # connected *and* subscribed: publishes may go

    @property
    def ready(self) -> asyncio.Event:
        """Set once connected and subscribed: from then on the broker holds our messages."""
        return self._ready

    # ---- connection -------------------------------------------------------

    def backoff_delay(self, attempt: int) -> float:
        """Full-jitter backoff: uniform in [0, min(cap, base * 2**attempt)] seconds."""
        return self._rng.uniform(0.0, min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** min(attempt, 30)))

    def _make_client(self, protocol: int) -> aiomqtt.Client:
        kwargs: dict = {}
        if protocol == paho.MQTTv5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry_s
            props.ReceiveMaximum = self.receive_maximum
            kwargs.update(protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=props)
        else:
            kwargs.update(protocol=aiomqtt.ProtocolVersion.V311, clean_session=False)
        tls_params = None
        if self.tls is not None:
            tls_params = aiomqtt.TLSParameters(
                ca_certs=self.tls.ca_file,
                certfile=self.tls.cert_file,
                keyfile=self.tls.key_file,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client = aiomqtt.Client(
            self.address.host,
            self.address.port,
            identifier=self.client_id,
            username=self.username,
            password=self.password,
            keepalive=self.keepalive_s,
            timeout=self.connect_timeout_s,
            logger=_client_log,
            tls_params=tls_params,
            tls_insecure=True if (self.tls and self.tls.insecure_skip_hostname_check) else None,
            max_inflight_messages=self.receive_maximum,
            max_queued_incoming_messages=self.inbound_queue_max,
            queue_type=self._counting_queue,  # type: ignore[arg-type]
            **kwargs,
        )
        client._client.manual_ack_set(True)  # PUBACK only after on_message returned
        return client

    def _counting_queue(self, maxsize: int = 0) -> asyncio.Queue:
        """aiomqtt's receive queue, counting what it drops when full (only QoS 0 can fill it:
        QoS 1 is limited by the in-flight window, far below ``inbound_queue_max``)."""
        stats = self.stats

        class _Counting(asyncio.Queue):  # type: ignore[type-arg]
            def put_nowait(self, item: object) -> None:
                try:
                    super().put_nowait(item)
                except asyncio.QueueFull:
                    stats.inbound_dropped += 1
                    raise

        return _Counting(maxsize=maxsize)

    def inbox_depth(self) -> int:
        """Messages received and not yet handed to ``on_message``."""
        return self._client._queue.qsize() if self._client is not None else 0

    async def _connect(self) -> aiomqtt.Client:
        """One connection attempt, trying MQTT 5 first unless a version is already known.

        A 3.1.1-only broker either refuses MQTT 5 in its CONNACK or (amqtt 0.12, when
        the CONNECT carries properties) misreads the packet and never answers; both
        send us to 3.1.1 at once, but only when the TCP connection itself was made.
        """
        if self._protocol is not None:
            return await self._enter(self._make_client(self._protocol), self._protocol, self.connect_timeout_s)
        client = self._make_client(paho.MQTTv5)
        try:
            return await self._enter(client, paho.MQTTv5, self.v5_probe_timeout_s)
        except MqttConnectError as exc:
            if _reason_value(exc) not in _UNSUPPORTED_VERSION:
                raise
            log.info("broker refused MQTT 5 (%s); falling back to MQTT 3.1.1", exc)
        except aiomqtt.MqttError as exc:
            if client._client.socket() is None:  # no TCP connection: broker down, not a version problem
                raise
            log.info("no CONNACK to MQTT 5 CONNECT (%s); falling back to MQTT 3.1.1", exc)
            await _close_quietly(client)
        return await self._enter(self._make_client(paho.MQTTv311), paho.MQTTv311, self.connect_timeout_s)

    async def _enter(self, client: aiomqtt.Client, protocol: int, timeout_s: float) -> aiomqtt.Client:
        client.timeout = timeout_s
        await client.__aenter__()
        client.timeout = self.connect_timeout_s
        self._protocol = protocol
        self.stats.protocol = "5" if protocol == paho.MQTTv5 else "3.1.1"
        return client

    async def run(self, on_message: OnMessage) -> None:
        """Stay connected until cancelled, handing every inbound message to ``on_message``.

        ``on_message(topic, payload, recv_time)`` is awaited one message at a time, in
        order of arrival; the message is acknowledged to the broker once it returns.
        If it raises, the exception propagates (the message stays unacknowledged and
        the broker redelivers it to the next session).
        """
        attempt = 0
        while True:
            try:
                client = await self._connect()
            except (aiomqtt.MqttError, OSError) as exc:
                delay = self.backoff_delay(attempt)
                attempt += 1
                log.warning("mqtt connect to %s:%s failed (%s); retry in %.2f s", self.address.host, self.address.port, exc, delay)
                await asyncio.sleep(delay)
                continue
            connected_at = time.monotonic()
            try:
                await self._serve(client, on_message)
            except aiomqtt.MqttError as exc:
                log.warning("mqtt connection lost: %s", exc)
            finally:
                self._mark_lost()
                await _close_quietly(client)
            if time.monotonic() - connected_at > 2 * self.backoff_cap_s:
                attempt = 0
            delay = self.backoff_delay(attempt)
            attempt += 1
            await asyncio.sleep(delay)

    async def _serve(self, client: aiomqtt.Client, on_message: OnMessage) -> None:
        self._client = client
        self._lost = asyncio.get_running_loop().create_future()
        self.stats.connects += 1
        self.connected.set()
        log.info("mqtt connected to %s:%s as %s (MQTT %s)", self.address.host, self.address.port, self.client_id, self.stats.protocol)
        if self.subscriptions:
            await client.subscribe([(t, self.sub_qos) for t in self.subscriptions])
        self._ready.set()
        paho_client = client._client
        inbox = client._queue

        async def deliver(message: aiomqtt.Message) -> None:
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload or "").encode()
            self.stats.messages_in += 1
            await on_message(message.topic.value, bytes(payload), time.time())
            if message.qos > 0 and self._client is client:
                paho_client.ack(message.mid, message.qos)

        async for message in client.messages:  # waits for a message or raises on disconnect
            await deliver(message)
            # then take what is already queued directly: aiomqtt's iterator costs a task and a
            # wait per message, the largest part of the per-message overhead at a high rate.
            # One turn of the event loop between messages: a handler that does not suspend
            # would otherwise hold the loop for the whole backlog, and the publishers, the
            # socket writes (keepalive included: the broker dropped us) and /metrics starve.
            while not inbox.empty():
                await deliver(inbox.get_nowait())
                await asyncio.sleep(0)

    def _mark_lost(self) -> None:
        if self.connected.is_set():
            self.stats.disconnects += 1
        self.connected.clear()
        self._ready.clear()
        self._client = None
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    # ---- publishing -------------------------------------------------------

    def send_now(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> Sent | None:
        """Hand a QoS 1 PUBLISH to the connection and write it to the socket before returning;
        ``publish(..., sent=...)`` then awaits its PUBACK. None (nothing sent) when there is
        no connection.

        Why: ``publish`` sends only once its task runs, and aiomqtt registers the socket
        write for a later turn of the event loop. Under load each turn waits behind a
        message's tracker step, so an alert left the service tens of milliseconds after
        it was journalled. Called synchronously right after the journal commit, the
        alert is on the wire then.
        """
        client, lost = self._client, self._lost
        if client is None or lost is None or lost.done() or not self._ready.is_set():
            return None
        paho_client = client._client  # aiomqtt's paho client: see the module doc
        if paho_client.socket() is None:
            return None
        # paho's publish would ask aiomqtt for a socket writer, which aiomqtt adds a turn
        # later (call_soon_threadsafe). Written here and unregistered by loop_write before
        # that add, the writer would stay registered with paho believing it gone: an event
        # loop that never sleeps, and a stale selector entry that made the next connection's
        # add_reader fail (a 5 s connect timeout after a broker restart). So the publish
        # asks for no writer, the packets go out here (paho's private _packet_write, pinned
        # with paho-mqtt), and whatever is left, or a broken socket, goes to aiomqtt's
        # writer as usual. A writer already registered stays so and finds nothing to do.
        registered = paho_client._registered_write
        paho_client._registered_write = True
        try:
            info = paho_client.publish(topic, payload, qos, retain)
        finally:
            paho_client._registered_write = registered
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return None
        acked = asyncio.Event()
        if qos == 0 or info.is_published():
            acked.set()
        else:
            client._pending_publishes[info.mid] = acked  # aiomqtt's on_publish sets it on the PUBACK
        if paho_client._packet_write() != paho.MQTT_ERR_SUCCESS or paho_client.want_write():
            paho_client._call_socket_register_write()
        return Sent(client, lost, info.mid, acked)

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, sent: Sent | None = None) -> None:
        """Publish and return once the broker has it (PUBACK for QoS 1; sent for QoS 0).

        Waits while disconnected; a publish cut off by a disconnect is sent again on
        the next connection. (aiomqtt would wait for a PUBACK on a dead connection
        forever, so the connection's end cancels the wait; no extra task per message.)
        ``sent``: this message was already handed to a connection by ``send_now``;
        its PUBACK is awaited first.
        """
        me = asyncio.current_task()
        assert me is not None
        while True:
            if sent is not None:
                lost, attempt = sent.lost, sent.acked.wait()
                pending, sent = sent, None
            else:
                await self._ready.wait()
                client, lost = self._client, self._lost
                if client is None or lost is None or lost.done():
                    await asyncio.sleep(0)
                    continue
                attempt, pending = client.publish(topic, payload, qos=qos, retain=retain, timeout=math.inf), None
            cut_off = False
            active = True

            def on_lost(_: object) -> None:
                nonlocal cut_off
                if active:  # future callbacks run a turn later: this attempt may be over by then
                    cut_off = True
                    me.cancel()

            lost.add_done_callback(on_lost)
            refused = False
            try:
                await attempt
                self.stats.publishes_acked += 1
                return
            except asyncio.CancelledError:
                if not cut_off:
                    raise
                me.uncancel()
            except aiomqtt.MqttError:
                refused = not lost.done()  # refused while connected (paho not connected yet)
            finally:
                active = False
                lost.remove_done_callback(on_lost)
                if pending is not None:  # what aiomqtt's publish does on its way out
                    pending.client._pending_publishes.pop(pending.mid, None)
            if refused:
                # Paused only now, outside the attempt: a connection lost during the pause must
                # not cancel this task (that CancelledError escaped and stopped the service).
                await asyncio.sleep(0.05)
            self.stats.publish_retries += 1


    def publish_nowait(self, messages: Sequence[tuple[str, bytes, bool]]) -> bool:
        """Hand QoS 0 messages ``(topic, payload, retain)`` to the connection as one write, in
        order; False (nothing sent) when there is no connection.

        Nothing waits for the write: paho sends it when the socket is writable (aiomqtt
        registers the socket with the event loop). For latest-state messages, whose
        loss in a disconnect costs nothing the next state does not bring.
        """
        client, lost = self._client, self._lost
        if client is None or lost is None or lost.done() or not self._ready.is_set() or not messages:
            return False
        paho_client = client._client  # aiomqtt's paho client: see the module doc
        if paho_client.socket() is None:
            return False
        packet = publish_packets(messages, self._protocol == paho.MQTTv5)
        # paho's own queue (private, pinned with paho-mqtt in pyproject.toml): the packets go out
        # in order with everything else paho sends; mid 0 is never a QoS 1 mid, so the one
        # on_publish this write causes completes nothing of aiomqtt's.
        if paho_client._packet_queue(paho.PUBLISH, packet, 0, 0, paho.MQTTMessageInfo(0)) != paho.MQTT_ERR_SUCCESS:
            return False
        self.stats.publishes_nowait += len(messages)
        return True

    def write_pending(self) -> bool:
        """Whether messages handed over are still waiting for the socket."""
        client = self._client
        return client is not None and client._client.want_write()


def publish_packets(messages: Sequence[tuple[str, bytes, bool]], v5: bool) -> bytearray:
    """MQTT PUBLISH packets at QoS 0, concatenated: per message the fixed header (type 3,
    retain flag), the remaining length as a variable byte integer, the topic as a
    length-prefixed UTF-8 string, an empty property list (MQTT 5 only) and the payload.

    Raises ValueError where paho would refuse the message: an empty topic, a wildcard
    in it, a topic over 65,535 bytes or a packet over the protocol's 268,435,455 bytes.
    """
    out = bytearray()
    props = b"\x00" if v5 else b""
    for topic, payload, retain in messages:
        t = topic.encode()
        if not t or len(t) > 65535 or b"+" in t or b"#" in t:
            raise ValueError(f"invalid topic for publishing: {topic!r}")
        remaining = 2 + len(t) + len(props) + len(payload)
        if remaining > 268_435_455:
            raise ValueError("packet too large")
        out.append(0x30 | bool(retain))
        while remaining > 0x7F:
            out.append((remaining & 0x7F) | 0x80)
            remaining >>= 7
        out.append(remaining)
        out += len(t).to_bytes(2, "big")
        out += t
        out += props
        out += payload
    return out


def _reason_value(exc: MqttConnectError) -> int:
    rc = getattr(exc, "rc", None)
    try:
        return int(rc.value if hasattr(rc, "value") else rc)  # type: ignore[union-attr, arg-type]
    except (TypeError, ValueError):
        return -1


async def _close_quietly(client: aiomqtt.Client) -> None:
    """Drop the connection without the graceful DISCONNECT wait hanging on a dead socket."""
    try:
        await asyncio.wait_for(client.__aexit__(None, None, None), timeout=1.0)
    except (aiomqtt.MqttError, asyncio.TimeoutError, OSError, RuntimeError):
        pass
    sock = client._client.socket()
    if sock is not None:
        try:
            client._client._sock_close()
        except Exception:  # noqa: BLE001 - best effort on an already-broken socket
            pass
