"""The console against the demo's embedded amqtt broker (MQTT 3.1.1 only), over plain HTTP.

No browser: the page's own endpoints are enough to show that the console subscribes,
learns retained state, streams it, and publishes an operator's ack through amqtt.
"""

from __future__ import annotations

import asyncio
import json

import urllib.error
import urllib.request

import aiomqtt
import pytest

from borderwatch.console import serve_console
from borderwatch.console.feed import parse_broker_url
from borderwatch.embedded_broker import embedded_broker
from test_console_picture import alert, small_site, track

pytestmark = pytest.mark.timeout(60)


def http(base: str, path: str, body: bytes | None = None, content_type: str = "application/json") -> tuple[int, dict]:
    """One blocking request (run in a thread): status and JSON body."""
    req = urllib.request.Request(base + path.lstrip("/"), data=body, headers={"Content-Type": content_type} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def first_sse_data(base: str) -> dict:
    """The first event of the page's stream (the snapshot)."""
    with urllib.request.urlopen(base + "api/stream", timeout=5) as r:
        for raw in r:
            line = raw.decode()
            if line.startswith("data: "):
                return json.loads(line[6:])
    raise AssertionError("stream ended without data")


async def call(base: str, path: str, payload: dict | None = None, form: bool = False) -> tuple[int, dict]:
    if payload is None:
        return await asyncio.to_thread(http, base, path)
    if form:
        return await asyncio.to_thread(http, base, path, "&".join(f"{k}={v}" for k, v in payload.items()).encode(),
                                       "application/x-www-form-urlencoded")
    return await asyncio.to_thread(http, base, path, json.dumps(payload).encode())


async def _scenario() -> None:
    async with embedded_broker() as url:
        b = parse_broker_url(url)
        async with aiomqtt.Client(b.host, b.port, protocol=aiomqtt.ProtocolVersion.V311, identifier="test-amqtt") as mq:
            await mq.subscribe("bw/v1/alerts/+/ack", qos=1)
            await mq.publish("bw/v1/alerts/state/A-1", json.dumps(alert("A-1", 1_795_000_000.0)), qos=1, retain=True)
            stop = asyncio.Event()
            ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            console = asyncio.create_task(serve_console(small_site(), url, port=0, stop=stop, ready=ready.set_result))
            base = await asyncio.wait_for(ready, 10)
            try:
                for _ in range(100):  # subscribed (the page says "Live feed connected")
                    if (await call(base, "/api/health"))[1]["mqtt"]:
                        break
                    await asyncio.sleep(0.05)
                await mq.publish("bw/v1/tracks/main", json.dumps(track("T-1", 1_795_000_000.0)), qos=1)
                health: dict = {}
                for _ in range(100):
                    health = (await call(base, "/api/health"))[1]
                    if health["mqtt"] and health["alerts"] == 1 and health["tracks"] == 1:
                        break
                    await asyncio.sleep(0.05)
                assert (health["mqtt"], health["alerts"], health["tracks"]) == (True, 1, 1), health
                # The stream starts with a snapshot holding both.
                data = await asyncio.to_thread(first_sse_data, base)
                assert [a["alert_id"] for a in data["alerts"]] == ["A-1"]
                assert [t["id"] for t in data["tracks"]] == ["T-1"]
                # An ack posted to the console reaches the amqtt side as the contract message.
                status, _ = await call(base, "/api/alerts/A-1/action", {"action": "dismiss", "operator": "op-1", "comment": "birds"})
                assert status == 202
                msg = await asyncio.wait_for(anext(aiter(mq.messages)), 10)
                assert msg.topic.value == "bw/v1/alerts/A-1/ack"
                body = json.loads(msg.payload)
                assert (body["action"], body["operator"], body["comment"]) == ("dismiss", "op-1", "birds")
                # Refused before anything is published: a wildcard id, an unknown action, a form post.
                assert (await call(base, "/api/alerts/A-%23/action", {"action": "ack"}))[0] == 400
                assert (await call(base, "/api/alerts/A-1/action", {"action": "delete"}))[0] == 400
                assert (await call(base, "/api/alerts/A-1/action", {"action": "ack"}, form=True))[0] == 415
            finally:
                stop.set()
                await asyncio.wait_for(console, 10)


def test_console_works_against_the_embedded_amqtt_broker() -> None:
    asyncio.run(_scenario())
