"""Recordings as MCAP, so they open in standard log viewers (Foxglove, ``mcap`` CLI).

One MCAP message per received message: ``log_time`` = receipt time, ``publish_time`` =
observation time (the payload's ``time`` when it has a valid one, else receipt),
``sequence`` = position in the recording (receipt order is restored from it on
reading). Payload bytes are stored untouched: a JSON object on a channel with
message encoding ``json``; anything else (bad input worth replaying) on a channel of
the same topic with encoding ``x-borderwatch-raw`` (the field is mandatory; a name
no viewer claims keeps them from trying to decode it). Times are
kept to the microsecond.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from mcap.reader import make_reader
from mcap.writer import Writer

from adapters.recording import RecordedMessage
from adapters.timefmt import from_iso

PROFILE = "borderwatch"
RAW_ENCODING = "x-borderwatch-raw"  # payloads that are not a JSON object


def _ns(t: float) -> int:
    return int(round(t * 1_000_000)) * 1000


def _observation_time(payload: bytes) -> float | None:
    try:
        obj = json.loads(payload)
        return from_iso(obj["time"]) if isinstance(obj, dict) and isinstance(obj.get("time"), str) else None
    except (ValueError, KeyError, OverflowError, OSError):
        return None


def _is_json_object(payload: bytes) -> bool:
    try:
        return isinstance(json.loads(payload), dict)
    except ValueError:
        return False


def write_mcap(messages: Iterable[RecordedMessage], path: Path | str) -> int:
    """Write messages (in receipt order) to an MCAP file; returns how many."""
    n = 0
    with open(path, "wb") as fh:
        writer = Writer(fh)
        writer.start(profile=PROFILE, library="borderwatch")
        channels: dict[tuple[str, str], int] = {}
        for msg in messages:
            encoding = "json" if _is_json_object(msg.payload) else RAW_ENCODING
            key = (msg.topic, encoding)
            if key not in channels:
                channels[key] = writer.register_channel(topic=msg.topic, message_encoding=encoding, schema_id=0)
            obs = _observation_time(msg.payload)
            writer.add_message(
                channel_id=channels[key],
                log_time=_ns(msg.recv_time),
                data=msg.payload,
                publish_time=_ns(obs if obs is not None else msg.recv_time),
                sequence=n,
            )
            n += 1
        writer.finish()
    return n


def read_mcap(path: Path | str) -> Iterator[RecordedMessage]:
    """Messages of an MCAP recording in receipt order (by ``sequence``)."""
    with open(path, "rb") as fh:
        rows = [
            (m.sequence, m.log_time, ch.topic, m.data)
            for _, ch, m in make_reader(fh).iter_messages(log_time_order=False)
        ]
    rows.sort(key=lambda r: r[0])
    for _, log_time, topic, data in rows:
        yield RecordedMessage((log_time // 1000) / 1_000_000, topic, bytes(data))
