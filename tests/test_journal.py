"""The SQLite journal: write-ahead of inbound messages and durable outputs, crash-safe under SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.journal import DurableOutput, Journal


def _alert(n: int) -> DurableOutput:
    return DurableOutput("bw/v1/alerts", b'{"alert_id":"A-%06d"}' % n, 1, False, "alert")


def test_record_and_replay_order(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    i1, o1 = j.record(10.0, "bw/v1/sensors/radar/t/detections", b"d1", [])
    i2, o2 = j.record(11.0, None, b"", [_alert(1), _alert(2)], pre_ticks=[10.5, 11.0])
    i3, o3 = j.record(12.0, "bw/v1/alerts/A-000001/ack", b"ack", [_alert(3)])
    assert (o1, len(o2), len(o3)) == ([], 2, 1)
    assert [r.id for r in j.inbound_after(0)] == [i1, i2, i3]
    assert [(r.recv_time, r.topic, r.pre_ticks) for r in j.inbound_after(i1)] == [
        (11.0, None, (10.5, 11.0)),
        (12.0, "bw/v1/alerts/A-000001/ack", ()),
    ]
    assert [r.payload for r in j.unacked()] == [_alert(1).payload, _alert(2).payload, _alert(3).payload]
    j.mark_acked([o2[0], o3[0]])
    assert [r.id for r in j.unacked()] == [o2[1]]
    assert j.prune_acked() == 2
    assert j.prune_inbound(i2) == 2
    assert [r.id for r in j.inbound_after(0)] == [i3]
    assert j.last_inbound_id() == i3
    j.close()
    j2 = Journal(tmp_path / "j.sqlite")  # reopened: same state
    assert [r.id for r in j2.unacked()] == [o2[1]]
    assert j2.unacked_count() == 1


@settings(max_examples=50, deadline=None)
@given(payload=st.binary(max_size=2000), topic=st.one_of(st.none(), st.text(max_size=60)), t=st.floats(0, 4e9))
def test_payload_bytes_round_trip(tmp_path_factory, payload: bytes, topic: str | None, t: float) -> None:
    j = Journal(tmp_path_factory.mktemp("j") / "j.sqlite")
    i, _ = j.record(t, topic, payload, [DurableOutput("x", payload, 1, True, "alert_state")])
    (rec,) = list(j.inbound_after(i - 1))
    assert (rec.recv_time, rec.topic, rec.payload) == (t, topic, payload)
    (out,) = j.unacked()
    assert out.payload == payload and out.retain is True
    j.close()


def test_sigkill_loses_no_committed_record(tmp_path: Path) -> None:
    """A writer killed with SIGKILL mid-stream: every record it reported committed is in the journal."""
    db = tmp_path / "j.sqlite"
    code = textwrap.dedent(
        f"""
        import sys
        from adapters.journal import Journal, DurableOutput
        j = Journal({str(db)!r})
        n = 0
        while True:
            n += 1
            i, outs = j.record(float(n), "t", b"x" * 100, [DurableOutput("a", b"%d" % n, 1, False, "alert")] if n % 7 == 0 else [])
            sys.stdout.write(f"{{i}}\\n"); sys.stdout.flush()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=Path(__file__).parents[1], text=True)
    reported = []
    assert proc.stdout is not None
    for line in proc.stdout:
        reported.append(int(line))
        if len(reported) >= 3000:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    j = Journal(db)
    ids = {r.id for r in j.inbound_after(0)}
    assert set(reported) <= ids
    assert len(j.unacked()) >= 3000 // 7


def test_durable_fsync_switches_sqlite_to_full_sync(tmp_path: Path) -> None:
    """``borderwatch run --durable-fsync``: synchronous=FULL (2), else NORMAL (1), both in WAL mode."""
    for durable, level in ((False, 1), (True, 2)):
        j = Journal(tmp_path / f"j-{durable}.sqlite", durable_fsync=durable)
        assert j._db.execute("PRAGMA synchronous").fetchone()[0] == level
        assert j._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
