"""QoS 0 publishing cost: aiomqtt's ``publish``, paho's ``publish`` and ``MqttSession.publish_nowait``, side by side.

    .venv/bin/python benchmarks/publish_qos0.py                 # 20,000 track-sized messages each way
    .venv/bin/python benchmarks/publish_qos0.py --messages 50000

A mosquitto of its own on a free port; one session publishes the same track message
three ways: through ``MqttSession.publish`` (awaited per message, as aiomqtt does it
even at QoS 0); through paho's own ``publish`` per message without a wait (the
service's way until 2026-11-25: a message-info object, a packet and a socket write
each); and through ``publish_nowait`` the way the service's track publisher does it
(100 messages encoded as one write, then wait until the socket took them). The last
two both wait for the socket after every 100. Prints CPU time (process time) and wall
time per message, side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.mqtt_session import MqttSession  # noqa: E402
from benchmarks.harness import Broker  # noqa: E402

#: A track message as the service publishes it (canonical JSON, 350 bytes).
TRACK = (b'{"track_id":"T-s01-000123","time":"2027-01-15T08:00:01.512Z","status":"confirmed","lat":49.0018293,'
         b'"lon":-122.7362098,"vel_east_mps":-0.564,"vel_north_mps":-1.281,"cov_en_m2":[[12.31,0.52],[0.52,14.2]],'
         b'"existence":0.994,"class":"person","sensors":["drone-003"],"sector":"s01","count":1,"speed_mps":1.4,'
         b'"heading_deg":156.2,"model_probs":[0.8,0.1,0.1]}')
CHUNK = 100  # as ServiceConfig.light_chunk


async def measure(url: str, n: int) -> dict[str, dict[str, float]]:
    session = MqttSession(url, "bench-publish-qos0", [])

    async def ignore(topic: str, payload: bytes, recv_time: float) -> None:
        return None

    runner = asyncio.create_task(session.run(ignore))
    await asyncio.wait_for(session.ready.wait(), 10)
    rows: dict[str, dict[str, float]] = {}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        await session.publish("bw/v1/tracks/s01", TRACK, 0)
    rows["publish (aiomqtt wait)"] = {"cpu": time.process_time() - cpu0, "wall": time.perf_counter() - wall0}
    paho_client = session._client._client  # the peer: paho's publish, no wait per message
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(n):
        paho_client.publish("bw/v1/tracks/s01", TRACK, 0)
        if i % CHUNK == CHUNK - 1:
            await _socket_took(session)
    await _socket_took(session)
    rows["paho publish, no wait"] = {"cpu": time.process_time() - cpu0, "wall": time.perf_counter() - wall0}
    chunk = [("bw/v1/tracks/s01", TRACK, False)] * CHUNK
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(n // CHUNK):
        if not session.publish_nowait(chunk):
            raise SystemExit("publish_nowait refused: the connection dropped")
        await _socket_took(session)
    rows["publish_nowait (chunks)"] = {"cpu": time.process_time() - cpu0, "wall": time.perf_counter() - wall0}
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    return rows


async def _socket_took(session: MqttSession) -> None:
    await asyncio.sleep(0)
    while session.write_pending():
        await asyncio.sleep(0.002)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000, help="messages per way")
    args = ap.parse_args(argv)
    args.messages = max(CHUNK, args.messages // CHUNK * CHUNK)  # whole chunks, the same count each way
    work = Path(tempfile.mkdtemp(prefix="bw-publish-"))
    broker = Broker(work / "broker")
    broker.start()
    try:
        rows = asyncio.run(measure(broker.url, args.messages))
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nQoS 0 publishing, {args.messages:,} track messages of {len(TRACK)} bytes to a local mosquitto")
    print(f"  {'way':<26} {'CPU us/msg':>11} {'wall us/msg':>12}")
    for name, r in rows.items():
        print(f"  {name:<26} {1e6 * r['cpu'] / args.messages:>11.0f} {1e6 * r['wall'] / args.messages:>12.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
