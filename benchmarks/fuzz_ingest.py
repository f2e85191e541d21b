"""Coverage-guided fuzzing of inbound validation with atheris (libFuzzer), beyond the hypothesis tests.

Run (about a minute; writes its corpus under /tmp, never into the repo):

    .venv/bin/pip install atheris
    .venv/bin/python benchmarks/fuzz_ingest.py -max_total_time=60

The first input byte picks the topic, the rest is the payload. The corpus is seeded
with one valid message of each inbound kind, so libFuzzer mutates real JSON. A
failure is any exception out of ``parse_inbound``, or a ``Scan`` whose arrays are
inconsistent (wrong shapes, non-finite positions, a covariance that is not positive
definite, class probabilities that do not sum to one).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports():
    from adapters import ingest, schemas  # noqa: F401
    from adapters.ingest import DeadLetter, parse_inbound

import numpy as np  # noqa: E402

from adapters.site_file import load_site  # noqa: E402
from adapters.timefmt import to_iso  # noqa: E402
from adapters.topics import Topics  # noqa: E402
from fusion.types import Scan  # noqa: E402

SITE = load_site(Path(__file__).resolve().parents[1] / "configs" / "site.yaml")
T = Topics()
T0 = 1_795_615_200.0
TOPICS = [
    T.detections("radar", "tower-02"),
    T.detections("drone", "drone-1"),
    T.detections("k9", "k9-alpha"),
    T.sensor_status("radar", "tower-01"),
    T.team_position("unit-7"),
    T.alert_ack("A-000001"),
    T.dispatch_reply("unit-7"),
    T.detections("radar", "tower-01"),
]

SEEDS = [
    (0, {"sensor_id": "tower-02", "seq": 1, "time": to_iso(T0), "platform": {"lat": 48.997, "lon": -122.75, "alt_m": 30},
         "detections": [{"range_m": 1523.4, "bearing_deg": 187.2, "sigma_range_m": 10.0, "sigma_bearing_deg": 0.5,
                         "radial_speed_mps": -1.2, "snr_db": 14.0}]}),
    (1, {"sensor_id": "drone-1", "seq": 1, "time": to_iso(T0), "platform": {"lat": 49.0, "lon": -122.75, "alt_m": 100},
         "detections": [{"lat": 49.0031, "lon": -122.7502, "sigma_m": 15.0, "class": "person", "confidence": 0.82, "count": 1}]}),
    (2, {"sensor_id": "k9-alpha", "seq": 1, "time": to_iso(T0), "platform": {"lat": 49.0, "lon": -122.75},
         "detections": [{"lat": 49.0101, "lon": -122.7705, "sigma_m": 120.0, "observed_time": to_iso(T0 - 170), "count": 3,
                         "heading_deg": 180.0, "narcotics": True, "note": "fresh trail"}]}),
    (3, {"state": "offline", "time": to_iso(T0), "sensor_id": "tower-01"}),
    (4, {"time": to_iso(T0), "lat": 49.0, "lon": -122.75, "available": True}),
    (5, {"time": to_iso(T0), "operator": "ops", "action": "ack", "comment": ""}),
    (6, {"dispatch_id": "D-1", "time": to_iso(T0), "reply": "accept", "comment": ""}),
]


def check_scan(scan: Scan) -> None:
    m = scan.size
    assert scan.z.shape == (m, 2) and scan.R.shape == (m, 2, 2) and scan.det_time.shape == (m,)
    assert scan.class_probs.shape == (m, 4) and scan.count.shape == (m,)
    assert np.isfinite(scan.z).all() and np.isfinite(scan.R).all() and np.isfinite(scan.det_time).all()
    assert np.isfinite(scan.sensor_enu).all()
    if m:
        assert (np.linalg.eigvalsh(scan.R) > 0).all(), scan.R
        assert np.allclose(scan.class_probs.sum(axis=1), 1.0)
        assert (scan.count >= 1).all()


def test_one_input(data: bytes) -> None:
    if not data:
        return
    topic = TOPICS[data[0] % len(TOPICS)]
    result = parse_inbound(topic, data[1:], T0 + 0.1, SITE, T)
    if isinstance(result, Scan):
        check_scan(result)
    elif isinstance(result, DeadLetter):
        assert result.reason.split(":", 1)[0] in ingest.DEADLETTER_CODES, result.reason
        assert len(result.payload_excerpt) <= ingest.EXCERPT_CHARS


def main() -> None:
    corpus = Path(tempfile.mkdtemp(prefix="bw-fuzz-ingest-"))
    for i, (topic_index, msg) in enumerate(SEEDS):
        (corpus / f"seed-{i}").write_bytes(bytes([topic_index]) + json.dumps(msg).encode())
    print(f"corpus: {corpus}", file=sys.stderr)
    atheris.Setup([*sys.argv, str(corpus)], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
