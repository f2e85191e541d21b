"""The track table: every track of a sector as rows of a few numpy arrays.

No per-track Python objects: stages read and write whole columns. ``ids`` are the
serial numbers behind ``T-{sector}-{n:06d}``; ``sensors`` is a bit mask over the
site's sensor list, in words of 64 bits (sensor ``i`` is bit ``i % 64`` of word ``i // 64``:
a site may list any number of sensors); ``reported`` is the status last reported (``STATUS_CODES``),
so that ``advance`` can report only changes.

Each row keeps its own time ``t``: the time its state (``xm``, ``Pm``, ``mu``, ``r``)
refers to. A scan predicts only the tracks it can touch, so a track far from this
step's detections keeps the state of its last touch (motion.py, docs/tracker.md).

Derived columns (``xc``, ``moments``) are functions of a row's ``xm``, ``Pm`` and ``mu``
kept with the row because the row's state does not change until a step touches it:
the reach test and routing then extrapolate every track from them at a few vector
operations per track instead of reducing the (n, M, 4, 4) mode arrays at every scan.
Whoever writes ``xm``, ``Pm`` or ``mu`` of rows calls ``refresh``; snapshots leave them
out (a restored table computes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
from numpy.typing import NDArray

from fusion.packing import pack, unpack
from fusion.tracking.motion import combined_mean, position_moments
from fusion.types import TrackStatus

FloatArray = NDArray[np.float64]

#: Status codes stored in ``reported`` (0: never reported).
STATUS_CODES: dict[TrackStatus, int] = {
    TrackStatus.TENTATIVE: 1,
    TrackStatus.CONFIRMED: 2,
    TrackStatus.COASTING: 3,
    TrackStatus.DELETED: 4,
}
CODE_STATUS: dict[int, TrackStatus] = {v: k for k, v in STATUS_CODES.items()}


@dataclass
class TrackTable:
    ids: NDArray[np.int64]  # (n,)
    xm: FloatArray  # (n, M, 4) per-mode state
    Pm: FloatArray  # (n, M, 4, 4)
    mu: FloatArray  # (n, M) mode probabilities
    r: FloatArray  # (n,) existence probability
    label: FloatArray  # (n, 4) class posterior from labels (before the speed cue)
    count: NDArray[np.int64]  # (n,) head count
    sensors: NDArray[np.uint64]  # (n, words) bit mask over site sensors (module doc)
    born: FloatArray  # (n,) time of first detection
    last_update: FloatArray  # (n,) time of last detection
    confirmed: NDArray[np.bool_]  # (n,) ever confirmed
    reported: NDArray[np.int8]  # (n,) last reported status code
    dup_of: NDArray[np.int64]  # (n,) serial of the older track this one shadows (0: none)
    dup_n: NDArray[np.int64]  # (n,) consecutive steps it has done so
    t: FloatArray  # (n,) time of the state (xm, Pm, mu, r)
    # derived (module docstring), computed when not given:
    xc: FloatArray = field(default=None, metadata={"derived": True})  # type: ignore[assignment]  # (n, 4) mean at t
    moments: FloatArray = field(default=None, metadata={"derived": True})  # type: ignore[assignment]  # (n, 3) at t

    def __post_init__(self) -> None:
        if self.xc is None or self.moments is None:
            self.xc, self.moments = np.empty((self.n, 4)), np.empty((self.n, 3))
            self.refresh(slice(None))
        #: (buffers, the columns handed out as their first rows) when the columns have spare rows
        #: behind them for ``concat`` (``select(..., room)``); None otherwise
        self._room: tuple[dict[str, NDArray], dict[str, NDArray]] | None = None

    @staticmethod
    def empty(modes: int, sensor_words: int = 1) -> "TrackTable":
        return TrackTable(
            ids=np.zeros(0, np.int64), xm=np.zeros((0, modes, 4)), Pm=np.zeros((0, modes, 4, 4)),
            mu=np.zeros((0, modes)), r=np.zeros(0), label=np.zeros((0, 4)), count=np.zeros(0, np.int64),
            sensors=np.zeros((0, sensor_words), np.uint64), born=np.zeros(0), last_update=np.zeros(0),
            confirmed=np.zeros(0, bool), reported=np.zeros(0, np.int8),
            dup_of=np.zeros(0, np.int64), dup_n=np.zeros(0, np.int64), t=np.zeros(0),
            xc=np.zeros((0, 4)), moments=np.zeros((0, 3)),
        )

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])

    def refresh(self, idx: NDArray | slice) -> None:
        """Recompute the derived columns of rows ``idx`` after their xm, Pm or mu changed."""
        xm, mu = self.xm[idx], self.mu[idx]
        xc = combined_mean(xm, mu)
        self.xc[idx] = xc
        self.moments[idx] = position_moments(xm, self.Pm[idx], mu, xc)

    def select(self, idx: NDArray[np.int64], room: int = 0) -> "TrackTable":
        """Rows ``idx`` (integer indices), copied. ``take`` copies whole rows at a time; fancy
        indexing of the (n, ...) columns goes element by element, several times slower.

        ``room``: spare rows behind the copy, so that ``concat`` (a birth) writes its rows
        there instead of copying every column of the table again.
        """
        if room == 0:
            return TrackTable(**{name: getattr(self, name).take(idx, axis=0) for name in _COLUMNS})
        m = len(idx)
        buffers = {}
        for name in _COLUMNS:
            col = getattr(self, name)
            buffers[name] = np.empty((m + room,) + col.shape[1:], col.dtype)
            col.take(idx, axis=0, out=buffers[name][:m], mode="clip")  # "raise" would copy through a temporary
        return TrackTable._over(buffers, m)

    @staticmethod
    def _over(buffers: dict[str, NDArray], n: int) -> "TrackTable":
        """The table of the first ``n`` rows of ``buffers`` (views), the rest left as room."""
        views = {name: buf[:n] for name, buf in buffers.items()}
        out = TrackTable(**views)
        out._room = (buffers, views)
        return out

    def drop(self, gone: NDArray[np.bool_], room: int) -> "TrackTable":
        """The rows not in ``gone`` (a mask with at least one row), in their order.

        In self's own buffers when it has room (``select(..., room)``, ``concat``): the rows
        behind the first one gone move up, the rows before it stay where they are, and no
        column is allocated (a step removes a track or two from a table of thousands). The
        result takes the buffers over: self is not to be read after. Else a copy with ``room``
        spare rows (``select``).
        """
        keep = (~gone).nonzero()[0]
        if self._room is None:
            return self.select(keep, room=room)
        buffers, views = self._room
        first = int(gone.argmax())  # every row before it is kept: keep[:first] == arange(first)
        tail, m = keep[first:], keep.size
        for name in _COLUMNS:
            col = getattr(self, name)
            if views.get(name) is col:
                buffers[name][first:m] = col.take(tail, axis=0)
            else:  # replaced since, not written in place: the buffer holds none of its rows
                buffers[name][:m] = col.take(keep, axis=0)
        self._room = None
        return TrackTable._over(buffers, m)

    def select_with(self, idx: NDArray[np.int64], **columns: NDArray) -> "TrackTable":
        """Rows ``idx`` with ``columns`` given (their values for those rows), the others copied:
        what ``select`` after writing ``columns`` into the rows would give, without the write."""
        return TrackTable(**{name: columns[name] if name in columns else getattr(self, name).take(idx, axis=0)
                             for name in _COLUMNS})

    def put(self, idx: NDArray, other: "TrackTable", names: tuple[str, ...] | None = None) -> None:
        """Write the rows of ``other`` into rows ``idx`` (in place): every column, or the columns ``names``."""
        for name in _COLUMNS if names is None else names:
            getattr(self, name)[idx] = getattr(other, name)

    def concat(self, other: "TrackTable") -> "TrackTable":
        """The rows of both (either one itself when the other is empty: no copy).

        Into the room behind self's columns when it holds other's rows: only other's rows
        are copied, and the result takes the buffers over (self gives up its room, so
        nothing else appends there; a column that was replaced since, not written in
        place, is copied in first). Else into new buffers with as many rows again as room.
        """
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n, k = self.n, other.n
        if self._room is not None and n + k <= self._room[0]["ids"].shape[0]:
            buffers, views = self._room
        else:
            buffers, views = {}, {}
            for name in _COLUMNS:
                col = getattr(self, name)
                buffers[name] = np.empty((2 * (n + k),) + col.shape[1:], col.dtype)
        for name in _COLUMNS:
            col = getattr(self, name)
            if views.get(name) is not col:
                buffers[name][:n] = col
            buffers[name][n:n + k] = getattr(other, name)
        self._room = None
        return TrackTable._over(buffers, n + k)

    def copy(self) -> "TrackTable":
        return TrackTable(**{name: getattr(self, name).copy() for name in _COLUMNS})

    def to_dict(self) -> dict:
        """Every stored column packed (``fusion.packing``): exact, and cheap for the snapshot's checkpoints."""
        return {f.name: pack(getattr(self, f.name)) for f in fields(self) if not f.metadata.get("derived")}

    @staticmethod
    def from_dict(d: dict, modes: int, sensor_words: int = 1) -> "TrackTable":
        """Inverse of ``to_dict`` (the derived columns are computed).

        Snapshots written before the mask had words hold ``sensors`` as one int64 per row
        (the low 64 sensors; bit 63 as the sign): it becomes word 0.
        """
        t = TrackTable.empty(modes, sensor_words)
        out = {}
        for f in fields(t):
            if f.metadata.get("derived"):
                continue
            ref = getattr(t, f.name)
            col = unpack(d[f.name])
            if f.name == "sensors" and col.ndim == 1:
                words = np.zeros((col.shape[0], sensor_words), np.uint64)
                words[:, 0] = col.astype(np.int64, copy=False).view(np.uint64)
                col = words
            out[f.name] = col.astype(ref.dtype, copy=False).reshape((-1,) + ref.shape[1:])
        return TrackTable(**out)


#: Every column, derived ones included (``dataclasses.fields`` costs more than the copy of a few rows).
_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(TrackTable))
#: The columns a scan's update writes (``SectorTracker._process``); identity, birth time, the status
#: last reported and the duplicate counts change elsewhere, so a step does not write them back.
SCAN_COLUMNS: tuple[str, ...] = tuple(n for n in _COLUMNS if n not in ("ids", "born", "reported", "dup_of", "dup_n"))
