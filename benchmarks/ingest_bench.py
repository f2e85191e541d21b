"""Inbound validation cost per message: valid messages of each sensor type and each class of garbage.

Run: ``.venv/bin/python benchmarks/ingest_bench.py`` (prints a table; best of 5 runs).
This is ``adapters.ingest.parse_inbound`` alone, no broker, one core.
"""

from __future__ import annotations

import json
import sys
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
    print(f"{'message':<34} {'bytes':>8} {'result':<18} {'us/msg':>9} {'msg/s':>9}")
    for name, topic, payload in CASES:
        result = parse_inbound(topic, payload, T0 + 0.1, SITE, T)
        what = result.code if isinstance(result, DeadLetter) else f"Scan m={result.size}"
        number = 20 if len(payload) > 50_000 else 500
        best = min(timeit.repeat(lambda: parse_inbound(topic, payload, T0 + 0.1, SITE, T), number=number, repeat=5)) / number
        print(f"{name:<34} {len(payload):>8} {what:<18} {best * 1e6:>9.1f} {1 / best:>9.0f}")


if __name__ == "__main__":
    main()
