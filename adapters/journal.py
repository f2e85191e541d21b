"""The service's local journal: an SQLite database in WAL mode.

Two logs, written in one transaction per received message, *before* the message is
acknowledged to the broker and before anything it caused is published:

- ``inbound``: every received message with its receipt time and the clock ticks
  the service applied just before it (a row of ticks alone has ``topic`` NULL). The pipeline is deterministic, so state = last snapshot +
  replay of the inbound rows after it. Rows covered by a snapshot are pruned.
- ``outbound``: every alert event, retained alert state and dispatch order the
  message caused, with ``acked = 0`` until the broker PUBACKed it. Unacked rows are
  published again, in order, after a reconnect or a restart; acked rows are pruned
  with the inbound rows at each snapshot.

``synchronous=NORMAL`` in WAL mode survives the process being killed (SIGKILL) at
any point: a committed transaction is in the WAL file, and the OS has it. It does
not survive power loss of the host without ``synchronous=FULL`` (``durable_fsync``),
which costs an fsync per message.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbound (
    id INTEGER PRIMARY KEY,
    recv_time REAL NOT NULL,
    topic TEXT,              -- NULL: clock ticks only
    payload BLOB NOT NULL,
    pre_ticks TEXT           -- JSON list of clock ticks (epoch s) applied before the message, or NULL
);
CREATE TABLE IF NOT EXISTS outbound (
    id INTEGER PRIMARY KEY,
    inbound_id INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    kind TEXT NOT NULL,
    acked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbound_unacked ON outbound(acked, id);
"""


@dataclass(frozen=True)
class InboundRecord:
    id: int
    recv_time: float
    topic: str | None  # None: ticks only
    payload: bytes
    pre_ticks: tuple[float, ...] = ()


@dataclass(frozen=True)
class OutboundRecord:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    kind: str


@dataclass(frozen=True)
class DurableOutput:
    """What the journal needs of an output message (``borderwatch.pipeline.Outbound`` fits)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    kind: str


class Journal:
    """Write-ahead journal of inbound messages and durable outbound messages."""

    def __init__(self, path: Path | str, *, durable_fsync: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable_fsync else 'NORMAL'}")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def record(
        self,
        recv_time: float,
        topic: str | None,
        payload: bytes,
        outputs: Iterable[DurableOutput],
        pre_ticks: Sequence[float] = (),
    ) -> tuple[int, list[int]]:
        """Journal one received message, the ticks applied before it, and the durable outputs they caused.

        ``topic`` None records ticks alone. One transaction: after it returns, a crash
        loses none of it. Returns the inbound row id and the outbound row ids.
        """
        db = self._db
        ticks = json.dumps(list(pre_ticks)) if pre_ticks else None
        db.execute("BEGIN")
        try:
            cur = db.execute(
                "INSERT INTO inbound(recv_time, topic, payload, pre_ticks) VALUES (?, ?, ?, ?)", (recv_time, topic, payload, ticks)
            )
            inbound_id = int(cur.lastrowid)  # type: ignore[arg-type]
            out_ids = []
            for o in outputs:
                cur = db.execute(
                    "INSERT INTO outbound(inbound_id, topic, payload, qos, retain, kind) VALUES (?, ?, ?, ?, ?, ?)",
                    (inbound_id, o.topic, o.payload, o.qos, int(o.retain), o.kind),
                )
                out_ids.append(int(cur.lastrowid))  # type: ignore[arg-type]
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return inbound_id, out_ids

    def last_inbound_id(self) -> int:
        row = self._db.execute("SELECT MAX(id) FROM inbound").fetchone()
        return int(row[0] or 0)

    def inbound_after(self, after_id: int) -> Iterator[InboundRecord]:
        """Inbound rows with id > ``after_id``, oldest first (what a snapshot does not cover)."""
        cur = self._db.execute("SELECT id, recv_time, topic, payload, pre_ticks FROM inbound WHERE id > ? ORDER BY id", (after_id,))
        for row in cur.fetchall():
            ticks = tuple(float(t) for t in json.loads(row[4])) if row[4] else ()
            yield InboundRecord(int(row[0]), float(row[1]), row[2], bytes(row[3]), ticks)

    def prune_inbound(self, upto_id: int) -> int:
        """Drop inbound rows a durable snapshot covers; returns how many."""
        return self._db.execute("DELETE FROM inbound WHERE id <= ?", (upto_id,)).rowcount

    def unacked(self, after_id: int = 0, limit: int | None = None) -> list[OutboundRecord]:
        """Outbound rows the broker has not acknowledged, oldest first."""
        sql = "SELECT id, topic, payload, qos, retain, kind FROM outbound WHERE acked = 0 AND id > ? ORDER BY id"
        args: tuple = (after_id,)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        return [OutboundRecord(int(r[0]), r[1], bytes(r[2]), int(r[3]), bool(r[4]), r[5]) for r in self._db.execute(sql, args)]

    def unacked_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbound WHERE acked = 0").fetchone()[0])

    def mark_acked(self, ids: Iterable[int]) -> None:
        """Record that the broker acknowledged these outbound rows."""
        rows = [(i,) for i in ids]
        if not rows:
            return
        self._db.execute("BEGIN")
        self._db.executemany("UPDATE outbound SET acked = 1 WHERE id = ?", rows)
        self._db.execute("COMMIT")

    def prune_acked(self) -> int:
        """Drop acknowledged outbound rows (nothing reads them again); returns how many."""
        return self._db.execute("DELETE FROM outbound WHERE acked = 1").rowcount
