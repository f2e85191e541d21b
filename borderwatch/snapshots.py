"""Service state snapshots: the pipeline's state and the journal position it covers.

A snapshot is ``{"version", "written_at", "inbound_upto", "pipeline"}`` as JSON in
``STATE_DIR/snapshot.json``. It is written atomically (temporary file in the same
directory, fsync, rename, fsync of the directory), so after a crash the file is the
old snapshot or the new one, never a torn mix. ``inbound_upto`` is the last journal
inbound row whose effect the state includes: recovery restores the state and replays
the journal's rows after it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SNAPSHOT_FILE = "snapshot.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Snapshot:
    inbound_upto: int
    pipeline: dict[str, Any]
    written_at: float


def encode(snapshot: Snapshot) -> bytes:
    """The snapshot as JSON bytes (done on the event loop, so the state is consistent)."""
    doc = {"version": FORMAT_VERSION, "written_at": snapshot.written_at, "inbound_upto": snapshot.inbound_upto, "pipeline": snapshot.pipeline}
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_snapshot(state_dir: Path, snapshot: Snapshot) -> None:
    write_atomic(Path(state_dir) / SNAPSHOT_FILE, encode(snapshot))


def read_snapshot(state_dir: Path) -> Snapshot | None:
    """The last snapshot, or None when there is none. A file that does not parse is an error, not a fresh start."""
    path = Path(state_dir) / SNAPSHOT_FILE
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_bytes())
        if doc.get("version") != FORMAT_VERSION:
            raise ValueError(f"version {doc.get('version')!r}, expected {FORMAT_VERSION}")
        return Snapshot(int(doc["inbound_upto"]), doc["pipeline"], float(doc["written_at"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a usable snapshot ({exc}); move it aside to start afresh") from exc
