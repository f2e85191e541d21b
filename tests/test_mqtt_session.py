"""MqttSession against real brokers: mosquitto (MQTT 5, stopped and restarted by the test)
and amqtt 0.12 in-process (MQTT 3.1.1 only, so the session must fall back)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import selectors
import socket
import types

import aiomqtt
import paho.mqtt.client as paho
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.mqtt_session import MqttSession, parse_broker_url, publish_packets

pytestmark = pytest.mark.broker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []
        self.changed = asyncio.Event()

    async def __call__(self, topic: str, payload: bytes, recv_time: float) -> None:
        self.items.append((topic, payload))
        self.changed.set()

    def distinct(self) -> list[bytes]:
        """Payloads in order of first arrival (QoS 1 is at least once: a redelivery may repeat one)."""
        return list(dict.fromkeys(p for _, p in self.items))

    async def wait_for(self, n: int, timeout: float = 10.0) -> None:
        """Until ``n`` distinct payloads have arrived."""

        async def _wait() -> None:
            while len(self.distinct()) < n:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(_wait(), timeout)


async def _publish_raw(url: str, topic: str, payloads: list[bytes], protocol=aiomqtt.ProtocolVersion.V5) -> None:
    addr = parse_broker_url(url)
    async with aiomqtt.Client(addr.host, addr.port, protocol=protocol) as c:
        for p in payloads:
            await c.publish(topic, p, qos=1)


def test_parse_broker_url() -> None:
    assert parse_broker_url("mqtt://h:1234") == parse_broker_url("tcp://h:1234")
    a = parse_broker_url("mqtts://broker.example")
    assert (a.host, a.port, a.tls) == ("broker.example", 8883, True)
    assert parse_broker_url("mqtt://10.0.0.1").port == 1883
    with pytest.raises(ValueError):
        parse_broker_url("http://h:1")


def test_backoff_is_capped_and_jittered() -> None:
    s = MqttSession("mqtt://127.0.0.1:1", "x", [], backoff_base_s=0.1, backoff_cap_s=2.0, rng=random.Random(1))
    delays = [s.backoff_delay(a) for a in range(40) for _ in range(5)]
    assert max(delays) <= 2.0
    assert min(delays) >= 0.0
    late = [s.backoff_delay(20) for _ in range(200)]
    assert len({round(d, 6) for d in late}) > 150  # jittered, not a constant
    assert sum(late) / len(late) > 0.7  # about cap / 2 once capped


def test_session_survives_broker_restart_and_gets_queued_messages(mosquitto) -> None:
    """Reconnect after a broker restart; messages queued for the session while the service was
    away survive a broker restart too and arrive when it comes back."""

    async def main() -> None:
        got = Collector()
        session = MqttSession(mosquitto.url, "svc-restart", ["bw/v1/sensors/+/+/detections"], backoff_cap_s=0.5)
        task = asyncio.create_task(session.run(got))
        await asyncio.wait_for(session._ready.wait(), 5)
        assert session.stats.protocol == "5"
        topic = "bw/v1/sensors/radar/t1/detections"
        await _publish_raw(mosquitto.url, topic, [b"a1", b"a2"])
        await got.wait_for(2)

        # broker restart: persistence keeps our session and subscriptions
        mosquitto.stop()
        await asyncio.sleep(0.3)
        assert not session.connected.is_set()
        mosquitto.start()
        await asyncio.wait_for(session._ready.wait(), 10)
        await _publish_raw(mosquitto.url, topic, [b"b1"])
        await got.wait_for(3)

        # service away (task cancelled), messages published meanwhile are held by the broker
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await _publish_raw(mosquitto.url, topic, [b"c1", b"c2", b"c3"])
        mosquitto.stop()  # and the broker restarts while they wait for us: persistence keeps them
        mosquitto.start()
        session2 = MqttSession(mosquitto.url, "svc-restart", ["bw/v1/sensors/+/+/detections"])
        task2 = asyncio.create_task(session2.run(got))
        await got.wait_for(6)
        task2.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task2
        assert got.distinct() == [b"a1", b"a2", b"b1", b"c1", b"c2", b"c3"]
        assert session.stats.connects == 2 and session.stats.disconnects == 2

    asyncio.run(main())


def test_unacked_message_is_redelivered_when_handler_fails(mosquitto) -> None:
    """A message whose handler did not finish is not PUBACKed: the next session gets it again."""

    async def main() -> None:
        topic = "bw/v1/teams/u1/position"

        async def explode(topic: str, payload: bytes, recv_time: float) -> None:
            raise RuntimeError("crash before the message was made durable")

        s1 = MqttSession(mosquitto.url, "svc-redeliver", ["bw/v1/teams/+/position"])
        t1 = asyncio.create_task(s1.run(explode))
        await asyncio.wait_for(s1._ready.wait(), 5)
        await _publish_raw(mosquitto.url, topic, [b"p1"])
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(t1, 5)

        got = Collector()
        s2 = MqttSession(mosquitto.url, "svc-redeliver", ["bw/v1/teams/+/position"])
        t2 = asyncio.create_task(s2.run(got))
        await got.wait_for(1)
        t2.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await t2
        assert got.items == [(topic, b"p1")]

    asyncio.run(main())


def test_publish_waits_through_outage(mosquitto) -> None:
    """publish() called while the broker is down returns only after the restarted broker acked it."""

    async def main() -> None:
        got = Collector()
        watcher = MqttSession(mosquitto.url, "watcher", ["bw/v1/alerts"], backoff_cap_s=0.3)
        pub = MqttSession(mosquitto.url, "publisher", [], backoff_cap_s=0.3)
        tw = asyncio.create_task(watcher.run(got))
        tp = asyncio.create_task(pub.run(Collector()))
        await asyncio.wait_for(asyncio.gather(watcher._ready.wait(), pub._ready.wait()), 5)
        await pub.publish("bw/v1/alerts", b"x1")
        mosquitto.stop()
        await asyncio.sleep(0.2)
        pending = asyncio.create_task(pub.publish("bw/v1/alerts", b"x2"))
        await asyncio.sleep(0.5)
        assert not pending.done()
        mosquitto.start()
        await asyncio.wait_for(pending, 10)
        while b"x2" not in [p for _, p in got.items]:
            got.changed.clear()
            await asyncio.wait_for(got.changed.wait(), 10)
        for t in (tw, tp):
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
        # at least once: x1 may come twice if its PUBACK was in flight when the broker stopped
        assert {p for _, p in got.items} == {b"x1", b"x2"} and [p for _, p in got.items][-1] == b"x2"

    asyncio.run(main())


def _paho_watcher(url: str, topic: str) -> tuple[paho.Client, list[bytes]]:
    """A subscriber on paho's own network thread: it receives while the test's event loop is blocked."""
    addr = parse_broker_url(url)
    got: list[bytes] = []
    subscribed = __import__("threading").Event()
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"thread-watcher-{_free_port()}")
    c.on_message = lambda _c, _u, m: got.append(m.payload)
    c.on_subscribe = lambda *_a: subscribed.set()
    c.on_connect = lambda cl, *_a: cl.subscribe(topic, qos=1)
    c.connect(addr.host, addr.port)
    c.loop_start()
    assert subscribed.wait(5)
    return c, got


def test_send_now_is_on_the_wire_before_the_event_loop_turns(mosquitto) -> None:
    """``send_now`` writes the PUBLISH before it returns: a subscriber on another thread has it
    while this event loop is still blocked (``publish`` alone sends only once its task runs).
    ``publish(sent=...)`` then returns on the PUBACK; without a connection nothing is sent."""
    import time as _time

    async def main() -> None:
        watcher, got = _paho_watcher(mosquitto.url, "bw/v1/alerts")
        pub = MqttSession(mosquitto.url, "publisher-now", [], backoff_cap_s=0.3)
        assert pub.send_now("bw/v1/alerts", b"early") is None  # not connected yet
        task = asyncio.create_task(pub.run(Collector()))
        await asyncio.wait_for(pub.ready.wait(), 5)
        queued = asyncio.create_task(pub.publish("bw/v1/alerts", b"queued"))  # its task has not run yet
        sent = pub.send_now("bw/v1/alerts", b"now")
        assert sent is not None
        deadline = _time.monotonic() + 3.0
        while b"now" not in got and _time.monotonic() < deadline:
            _time.sleep(0.01)  # blocks the event loop: nothing of asyncio runs meanwhile
        assert got == [b"now"]  # on the wire; the queued publish is not
        await asyncio.wait_for(pub.publish("bw/v1/alerts", b"now", sent=sent), 5)
        await asyncio.wait_for(queued, 5)
        assert pub.stats.publishes_acked == 2 and pub.stats.publish_retries == 0
        for k in range(50):  # many sends, with and without a turn of the loop between them
            sent = pub.send_now("bw/v1/alerts", b"more-%d" % k)
            assert sent is not None
            if k % 3 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(0.2)
        # nothing left to write: no socket writer may stay registered (one did, with paho thinking
        # it gone: the loop spun without sleeping and the stale entry broke the next connection)
        paho_client = pub._client._client
        loop = asyncio.get_running_loop()
        key = loop._selector.get_map().get(paho_client.socket().fileno())  # type: ignore[attr-defined]
        assert key is not None and not key.events & selectors.EVENT_WRITE
        assert not paho_client.want_write() and not paho_client._registered_write
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        watcher.loop_stop()

    asyncio.run(main())


def test_send_now_cut_off_by_a_broker_restart_is_sent_again(mosquitto) -> None:
    """A message sent by ``send_now`` whose PUBACK never came (the broker died) is published
    again on the next connection by ``publish(sent=...)``."""

    async def main() -> None:
        pub = MqttSession(mosquitto.url, "publisher-cut", [], backoff_cap_s=0.3)
        task = asyncio.create_task(pub.run(Collector()))
        await asyncio.wait_for(pub.ready.wait(), 5)
        mosquitto.stop()  # the socket may still look open to paho: send_now may hand it over
        sent = pub.send_now("bw/v1/alerts", b"cut")
        if sent is None:  # the loss was already seen: nothing was sent, publish sends it
            pytest.skip("the connection's end was seen before send_now")
        waiting = asyncio.create_task(pub.publish("bw/v1/alerts", b"cut", sent=sent))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        mosquitto.start()
        await asyncio.wait_for(waiting, 10)
        assert pub.stats.publish_retries >= 1 and pub.stats.publishes_acked == 1
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_publish_nowait_hands_qos0_over_and_refuses_without_a_connection(mosquitto) -> None:
    """QoS 0 in chunks, one write each: all 2,000 arrive in order, retain kept; with the broker down nothing is taken."""

    async def main() -> None:
        got = Collector()
        watcher = MqttSession(mosquitto.url, "watcher-nowait", ["bw/v1/tracks/#"], sub_qos=0, backoff_cap_s=0.3)
        pub = MqttSession(mosquitto.url, "publisher-nowait", [], backoff_cap_s=0.3)
        assert not pub.publish_nowait([("bw/v1/tracks/s01", b"early", False)])  # not connected yet
        tasks = [asyncio.create_task(watcher.run(got)), asyncio.create_task(pub.run(Collector()))]
        await asyncio.wait_for(asyncio.gather(watcher.ready.wait(), pub.ready.wait()), 5)
        sent = [(f"bw/v1/tracks/s0{i % 3}", f"t{i}".encode() * (1 + i % 70), False) for i in range(2000)]
        for k in range(0, len(sent), 100):
            assert pub.publish_nowait(sent[k:k + 100])
            await asyncio.sleep(0)
            while pub.write_pending():
                await asyncio.sleep(0.002)
        await got.wait_for(len(sent))
        assert got.items == [(t, p) for t, p, _ in sent] and pub.stats.publishes_nowait == len(sent)
        # retain survives the hand-made packet: a late subscriber gets the retained state
        assert pub.publish_nowait([("bw/v1/alerts/state/A-1", b"kept", True)])
        late = Collector()
        tasks.append(asyncio.create_task(MqttSession(mosquitto.url, "late-nowait", ["bw/v1/alerts/state/#"]).run(late)))
        await late.wait_for(1)
        assert late.items == [("bw/v1/alerts/state/A-1", b"kept")]
        mosquitto.stop()
        for _ in range(100):
            if not pub.ready.is_set():
                break
            await asyncio.sleep(0.05)
        assert not pub.publish_nowait([("bw/v1/tracks/s01", b"late", False)])
        for t in tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t

    asyncio.run(main())


class _Capture(paho.Client):
    """paho's own packet encoder with the socket replaced by a list (the oracle for ``publish_packets``)."""

    def __init__(self, protocol: int) -> None:
        super().__init__(paho.CallbackAPIVersion.VERSION2, protocol=protocol)
        self._sock = types.SimpleNamespace(close=lambda: None)  # _send_publish only checks that there is one
        self.packets: list[bytes] = []

    def _packet_queue(self, command, packet, mid, qos, info=None):  # type: ignore[no-untyped-def, override]
        self.packets.append(bytes(packet))
        return paho.MQTT_ERR_SUCCESS


_topic_level = st.text(st.characters(blacklist_characters="+#/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(messages=st.lists(st.tuples(st.lists(_topic_level, min_size=1, max_size=4).map("/".join),
                                   st.binary(max_size=300), st.booleans()), min_size=1, max_size=6),
       big=st.sampled_from([0, 127, 128, 16_383, 16_384, 2_097_152]),
       v5=st.booleans())
def test_publish_packets_are_what_paho_builds(messages, big, v5) -> None:
    """Byte for byte paho's QoS 0 PUBLISH packets, across the remaining-length byte boundaries."""
    messages = [*messages, ("bw/v1/tracks/s01", b"x" * big, False)]
    oracle = _Capture(paho.MQTTv5 if v5 else paho.MQTTv311)
    for topic, payload, retain in messages:
        oracle.publish(topic, payload, 0, retain)
    assert bytes(publish_packets(messages, v5)) == b"".join(oracle.packets)


@pytest.mark.parametrize("topic", ["", "bw/+/x", "bw/#", "x" * 65_536])
def test_publish_packets_refuse_what_paho_refuses(topic: str) -> None:
    with pytest.raises(ValueError):
        publish_packets([(topic, b"{}", False)], True)


def test_amqtt_falls_back_to_mqtt311() -> None:
    """amqtt 0.12 refuses MQTT 5: the session falls back to 3.1.1 with a persistent session."""
    from amqtt.broker import Broker

    async def main() -> None:
        port = _free_port()
        broker = Broker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
            }
        )
        await broker.start()
        try:
            url = f"mqtt://127.0.0.1:{port}"
            got = Collector()
            s = MqttSession(url, "svc-amqtt", ["bw/v1/sensors/+/+/detections"])
            t = asyncio.create_task(s.run(got))
            await asyncio.wait_for(s._ready.wait(), 5)
            assert s.stats.protocol == "3.1.1"
            topic = "bw/v1/sensors/drone/d1/detections"
            await _publish_raw(url, topic, [b"%d" % i for i in range(50)], protocol=aiomqtt.ProtocolVersion.V311)
            await got.wait_for(50)
            await s.publish("bw/v1/alerts", b"ok")
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
            assert got.distinct() == [b"%d" % i for i in range(50)]
        finally:
            await broker.shutdown()

    asyncio.run(main())


def test_a_publisher_keeps_publishing_through_broker_restarts(mosquitto) -> None:
    """A task that publishes back to back survives connections lost mid-stream.

    Regression: the connection-lost callback that cancels a waiting publish is scheduled
    (call_soon) when the connection ends; a publish that completed in the same turn of the
    loop had already moved on, and the late callback cancelled the *next* publish's wait
    outside its retry handling. The publisher task died with CancelledError, and the service
    with it (seen at 5,000 detections/s in benchmarks/load.py).
    """

    async def main() -> None:
        pub = MqttSession(mosquitto.url, "publisher-stream", [], backoff_cap_s=0.2)
        tp = asyncio.create_task(pub.run(Collector()))
        await asyncio.wait_for(pub._ready.wait(), 5)
        sent = 0

        async def stream() -> None:
            nonlocal sent
            while True:
                await pub.publish("bw/v1/tracks/x", b"t", qos=sent % 2)
                sent += 1

        ts = asyncio.create_task(stream())
        for _ in range(6):
            await asyncio.sleep(0.3)
            mosquitto.stop()
            await asyncio.sleep(0.1)
            mosquitto.start()
        before = sent
        await asyncio.sleep(1.5)
        assert not ts.done(), ts.exception() if ts.done() and not ts.cancelled() else "cancelled"
        assert sent > before  # still publishing after the last restart
        for t in (ts, tp):
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t

    asyncio.run(main())
