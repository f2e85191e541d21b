"""Offline replay (CONTRACT.md "Offline replay"): a recording through the live code path.

The recording's receipt times drive the same ``Pipeline`` the service runs; between
two messages the pipeline's clock is ticked at every deadline it names (reorder
release, housekeeping), as the live service's timer does. Output: one JSON line
``{"topic": ..., "payload": {...}}`` per message the live service would have
published, split into ``tracks.jsonl``, ``alerts.jsonl``, ``dispatch.jsonl`` and
``deadletter.jsonl``. The retained alert-state mirror (``alerts/state/...``) is not
written: it repeats ``alerts.jsonl``. Same input, byte-identical output.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from adapters.recording import RecordedMessage
from borderwatch.pipeline import Outbound, Pipeline, PipelineConfig
from borderwatch.progress import Progress
from fusion.site import Site

OUTPUT_FILES = {"track": "tracks.jsonl", "alert": "alerts.jsonl", "dispatch": "dispatch.jsonl", "deadletter": "deadletter.jsonl"}


@dataclass(frozen=True)
class ReplaySummary:
    messages_in: int
    published: dict[str, int]  # by kind
    counters: dict[str, int]  # the pipeline's own and its trackers' (``tracker.``-prefixed)
    wall_s: float
    out_dir: Path


def output_line(o: Outbound) -> str:
    """``{"topic":...,"payload":...}`` with the payload's published bytes spliced in verbatim."""
    return '{"topic":' + json.dumps(o.topic, ensure_ascii=False) + ',"payload":' + o.payload.decode("utf-8") + "}\n"


def replay_messages(
    messages: Iterable[RecordedMessage],
    site: Site,
    out_dir: Path,
    config: PipelineConfig | None = None,
    progress: Progress | None = None,
) -> ReplaySummary:
    """Run ``messages`` (in receipt order) through a fresh Pipeline; write the four outputs."""
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(site, config)
    published: Counter[str] = Counter()
    files = {kind: open(out_dir / name, "w", encoding="utf-8") for kind, name in OUTPUT_FILES.items()}
    n = 0
    try:

        def emit(outs: list[Outbound]) -> None:
            for o in outs:
                fh = files.get(o.kind)
                if fh is not None:
                    fh.write(output_line(o))
                    published[o.kind] += 1

        for msg in messages:
            deadline = pipeline.next_deadline()
            while deadline is not None and deadline <= msg.recv_time:
                emit(pipeline.tick(deadline))
                deadline = pipeline.next_deadline()
            emit(pipeline.handle(msg.topic, msg.payload, msg.recv_time))
            n += 1
            if progress is not None:
                progress(n, f"alerts {published['alert']}")
        emit(pipeline.flush())
        if progress is not None:
            progress(n, f"alerts {published['alert']}", final=True)
    finally:
        for fh in files.values():
            fh.close()
    return ReplaySummary(n, dict(published), dict(pipeline.all_counters()), time.monotonic() - started, out_dir)


def print_summary(s: ReplaySummary, stream: IO[str] = sys.stdout) -> None:
    print(
        f"replayed {s.messages_in} messages in {s.wall_s:.2f} s: "
        + ", ".join(f"{OUTPUT_FILES[k]} {s.published.get(k, 0)}" for k in OUTPUT_FILES)
        + f" -> {s.out_dir}",
        file=stream,
    )
