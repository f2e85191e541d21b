"""Inbound validation cost per message: valid messages of each sensor type and each class of garbage.

Run: ``.venv/bin/python benchmarks/ingest_bench.py`` (prints two tables; best of 5 runs).
The first is ``adapters.ingest.parse_inbound`` alone, the second the outbound
track payloads (``adapters.wire_out``) one by one and in a batch; no broker, one core. Times are CPU
time of this process (``time.process_time``), so other work on the machine inflates
them less than wall time would.
"""

from __future__ import annotations

import json
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.ingest import MAX_PAYLOAD_BYTES, DeadLetter, parse_inbound  # noqa: E402
from adapters.site_file import load_site  # noqa: E402
from adapters.timefmt import to_iso  # noqa: E402
from adapters.topics import Topics  # noqa: E402

SITE = load_site(Path(__file__).resolve().parents[1] / "configs" / "site.yaml")
T = Topics()
T0 = 1_795_615_200.0
RADAR = T.detections("radar", "tower-02")


def radar(n: int) -> bytes:
    det = {"range_m": 1523.4, "bearing_deg": 187.2, "sigma_range_m": 10.0, "sigma_bearing_deg": 0.5, "radial_speed_mps": -1.2, "snr_db": 14.0}
    return json.dumps({"sensor_id": "tower-02", "seq": 1, "time": to_iso(T0), "detections": [det] * n}).encode()


def drone(n: int) -> bytes:
    det = {"lat": 49.0031, "lon": -122.7502, "sigma_m": 15.0, "class": "person", "confidence": 0.82, "count": 1}
    return json.dumps({"sensor_id": "drone-1", "seq": 1, "time": to_iso(T0), "platform": {"lat": 49.0, "lon": -122.75}, "detections": [det] * n}).encode()


def k9(n: int) -> bytes:
    det = {"lat": 49.0101, "lon": -122.7705, "sigma_m": 120.0, "observed_time": to_iso(T0 - 170), "count": 3,
           "heading_deg": 180.0, "narcotics": True, "note": "fresh trail"}
    return json.dumps({"sensor_id": "k9-alpha", "seq": 1, "time": to_iso(T0), "platform": {"lat": 49.0, "lon": -122.75}, "detections": [det] * n}).encode()


def largest_radar() -> bytes:
    """The most radar detections that fit in 256 KiB."""
    n = MAX_PAYLOAD_BYTES // len(json.dumps(json.loads(radar(1))["detections"][0]))
    while len(radar(n)) > MAX_PAYLOAD_BYTES:
        n -= 10
    return radar(n)


CASES: list[tuple[str, str, bytes]] = [
    ("radar, 0 detections", RADAR, radar(0)),
    ("radar, 5 detections", RADAR, radar(5)),
    ("radar, 50 detections", RADAR, radar(50)),
    (f"radar, {len(json.loads(largest_radar())['detections'])} det (256 KiB)", RADAR, largest_radar()),
    ("drone, 5 detections", T.detections("drone", "drone-1"), drone(5)),
    ("k9, 2 reports", T.detections("k9", "k9-alpha"), k9(2)),
    ("bad: oversize 300 KB", RADAR, b" " * 300_000),
    ("bad: not utf-8", RADAR, b"\xff" * 200),
    ("bad: 256 KiB of '['", RADAR, b"[" * MAX_PAYLOAD_BYTES),
    ("bad: 256 KiB escaped quotes", RADAR, b'"' + b'\\"' * (MAX_PAYLOAD_BYTES // 2 - 1)),
    ("bad: NaN literal", RADAR, radar(5).replace(b"1523.4", b"NaN")),
    ("bad: schema (range < 0)", RADAR, radar(5).replace(b"1523.4", b"-1")),
    ("bad: topic/sensor mismatch", T.detections("radar", "tower-01"), radar(5)),
    ("bad: unknown sensor", T.detections("radar", "tower-99"), radar(5)),
]


def main() -> None:
    print(f"{'message':<34} {'bytes':>8} {'result':<18} {'cpu us/msg':>11} {'msg/s':>9}")
    for name, topic, payload in CASES:
        result = parse_inbound(topic, payload, T0 + 0.1, SITE, T)
        what = result.code if isinstance(result, DeadLetter) else f"Scan m={result.size}"
        number = 20 if len(payload) > 50_000 else 500
        run = lambda: parse_inbound(topic, payload, T0 + 0.1, SITE, T)  # noqa: E731
        best = min(timeit.repeat(run, number=number, repeat=5, timer=time.process_time)) / number
        print(f"{name:<34} {len(payload):>8} {what:<18} {best * 1e6:>11.1f} {1 / best:>9.0f}")


def track_table() -> None:
    import numpy as np

    from adapters.wire_out import track_payload, track_payloads
    from fusion.types import TrackReport, TrackStatus

    gen = np.random.default_rng(1)
    reports = [
        TrackReport(f"T-{i:06d}", T0, TrackStatus.CONFIRMED, np.r_[gen.uniform(-15_000, 15_000, 2), gen.normal(0, 2, 2)],
                    np.diag([100.0, 90.0, 1.0, 1.0]), 0.9, np.array([0.7, 0.1, 0.1, 0.1]), ("tower-02",), "west",
                    model_probs=np.array([0.8, 0.2]))
        for i in range(100)
    ]
    print(f"\n{'track payloads':<34} {'cpu us/track':>12}")
    for name, fn, n in (
        ("track_payload, one by one", lambda: [track_payload(r, SITE) for r in reports], 100),
        ("track_payloads, batch of 100", lambda: track_payloads(reports, SITE), 100),
        ("track_payloads, batch of 10", lambda: track_payloads(reports[:10], SITE), 10),
    ):
        best = min(timeit.repeat(fn, number=10, repeat=5, timer=time.process_time)) / 10 / n
        print(f"{name:<34} {best * 1e6:>12.1f}")


if __name__ == "__main__":
    main()
    track_table()
