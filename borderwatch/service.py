"""The live service: MQTT in, ``Pipeline``, journal, MQTT out; survives broker loss and SIGKILL.

Data path for one received message (``_on_message``), all on one event loop:

1. apply the clock ticks that fell due before its receipt time (``Pipeline.tick`` at
   each deadline exactly, as ``borderwatch replay`` does), then ``Pipeline.handle``;
2. journal, in one SQLite transaction: the message, those ticks, and the alerts,
   alert states and dispatch orders they produced (``adapters.journal``);
3. return, so ``MqttSession`` PUBACKs the message: the broker forgets it only once
   it is durable here;
4. hand outputs to the publishers.

Recovery (start-up): restore ``STATE_DIR/snapshot.json`` and replay the journal's
inbound rows after it through the same Pipeline (deterministic: same track and
alert IDs), discarding their outputs, then publish every journalled output the
broker has not acknowledged. The broker redelivers what we had not acknowledged.

Queues and what happens when they are full (all bounded, all counted):

- inbound: not a queue here. The broker holds messages until we acknowledge them;
  at most ``receive_maximum`` are in flight to us (MQTT 5 Receive Maximum, or the
  broker's ``max_inflight_messages``). Detections are never shed: under a burst
  they wait at the broker. (QoS 0 messages, which the contract does not use, go
  to a receive queue of ``inbound_queue_max`` and are dropped and counted when full.)
- alerts, alert state, dispatch: journalled, never shed; published per topic in
  order, at most ``durable_window`` in flight; a record is written to the socket as
  soon as it is journalled when nothing earlier of its topic waits.
- tracks: coalesced per track id (a newer message of a track replaces the queued
  one: only the latest state matters); at most ``track_queue_max`` track ids
  queued, beyond that the oldest queued track message is shed and counted.
- dead letters: at most ``deadletter_queue_max`` queued; beyond that the oldest is
  shed and counted (the per-reason counters still count every one).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.journal import Journal, OutboundRecord
from adapters.mqtt_session import MqttSession, Sent, TlsSettings
from adapters.timefmt import from_iso
from adapters.topics import Topics
from borderwatch.gc_tuning import tune_for_service
from borderwatch.observability import ServiceMetrics, serve_http
from borderwatch.pipeline import Outbound, Pipeline, PipelineConfig
from borderwatch.snapshots import Snapshot, read_snapshot, write_snapshot
from fusion.site import Site

log = logging.getLogger(__name__)

DURABLE_KINDS = frozenset({"alert", "alert_state", "dispatch"})
JOURNAL_FILE = "journal.sqlite"
#: A snapshot child may run at most 1/SNAPSHOT_DUTY of the time (see ``Service._snapshot_loop``).
SNAPSHOT_DUTY = 5.0


@dataclass(frozen=True)
class ServiceConfig:
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    client_id: str = "borderwatch"
    #: Journal and snapshots live here; None keeps them in memory (no crash recovery).
    state_dir: Path | None = None
    snapshot_interval_s: float = 2.0
    #: Keep every inbound journal row instead of pruning what a snapshot covers (audits, benchmarks).
    keep_journal: bool = False
    #: fsync the journal on every commit (SQLite synchronous=FULL): outputs survive a power
    #: loss of the host, not only a crash of the process, at the cost of a disk flush per message.
    durable_fsync: bool = False
    #: Longest wall-clock sleep of the tick task when the pipeline names no earlier deadline.
    tick_interval_s: float = 1.0
    tls: TlsSettings | None = None
    username: str | None = None
    password: str | None = None
    session_expiry_s: int = 3600
    receive_maximum: int = 200
    inbound_queue_max: int = 10_000
    metrics_host: str = "127.0.0.1"
    #: Port of /metrics and /healthz; None: no HTTP listener, 0: any free port.
    metrics_port: int | None = None
    track_queue_max: int = 5_000
    deadletter_queue_max: int = 1_000
    durable_window: int = 64
    #: QoS 1 track and dead-letter messages in flight at once (each kind); keep it at or
    #: under the broker's in-flight limit for us (mosquitto max_inflight_messages / Receive Maximum).
    light_window: int = 200
    #: QoS 0 track and dead-letter messages handed to the connection before the publisher yields.
    light_chunk: int = 100
    #: Freeze the start-up heap and collect generation 0 less often (``gc_tuning``) once recovered:
    #: process-wide, so ``borderwatch run`` sets it and a service inside another program does not.
    tune_gc: bool = False
    #: Receive clock (epoch s). A warped clock (demo) runs ``clock_speed`` times wall time.
    clock: Callable[[], float] = time.time
    clock_speed: float = 1.0
    backoff_cap_s: float = 5.0


class RecoveryError(RuntimeError):
    """The saved state cannot be restored; the service must not start from scratch silently."""


class Service:
    """One running service; ``run_service`` is the usual way in. Attributes are for tests and metrics."""

    def __init__(self, site: Site, broker_url: str, config: ServiceConfig, on_outbound: Callable[[Outbound], None] | None = None) -> None:
        self.site = site
        self.config = config
        self.topics = Topics(config.pipeline.prefix)
        self.on_outbound = on_outbound
        self.clock = config.clock
        state_dir = Path(config.state_dir) if config.state_dir is not None else None
        if state_dir is not None:
            state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir
        self.journal = Journal(state_dir / JOURNAL_FILE if state_dir else ":memory:", durable_fsync=config.durable_fsync)
        self.pipeline = Pipeline(site, config.pipeline)
        self.metrics = ServiceMetrics(lambda: self.pipeline.all_counters())
        self.session = MqttSession(
            broker_url,
            config.client_id,
            self.topics.inbound_filters(),
            tls=config.tls,
            username=config.username,
            password=config.password,
            session_expiry_s=config.session_expiry_s,
            receive_maximum=config.receive_maximum,
            inbound_queue_max=config.inbound_queue_max,
            backoff_cap_s=config.backoff_cap_s,
        )
        self.started_at = time.time()
        self.recovered_from: int = 0  # journal rows replayed at start
        self.last_message_wall: float | None = None
        self.last_snapshot_wall: float | None = None
        self.snapshot_period_s = config.snapshot_interval_s  # stretched when snapshots are expensive
        self.last_inbound_id = 0
        self._handling: float | None = None  # receive time of the message being handled (it yields between ticks)
        # publishers' queues
        self._durable: dict[str, deque[OutboundRecord]] = {}  # per topic, in journal order
        self._durable_tasks: dict[str, asyncio.Task[None]] = {}
        #: Per topic, one task per record at the head of ``_durable`` whose publish has started.
        self._inflight: dict[str, deque[asyncio.Task[None]]] = {}
        #: Topics whose records in flight were all sent by ``send_now``, in order (a new one may follow at once).
        self._sent_in_order: set[str] = set()
        self._window = _Window(config.durable_window)
        self._acked_ids: list[int] = []
        self._tracks: OrderedDict[str, Outbound] = OrderedDict()
        self._deadletters: deque[Outbound] = deque()
        self._light_ready = {"tracks": asyncio.Event(), "deadletter": asyncio.Event()}
        self._alert_times: dict[int, float] = {}  # journal id of a "new" alert -> its observation time
        self._reported = (0, 0)  # session stats already added to the metrics: inbound drops, connects
        self.metrics_port: int | None = None
        self._lock_fd: int | None = None

    # ------------------------------------------------------------ recovery
    def recover(self) -> None:
        """Restore the snapshot, replay the journal after it, queue unacknowledged outputs."""
        upto = 0
        snap = read_snapshot(self.state_dir) if self.state_dir else None
        if snap is not None:
            try:
                self.pipeline = Pipeline.restore(self.site, self.config.pipeline, snap.pipeline)
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                # Starting afresh would reissue track and alert IDs already on consoles: refuse instead.
                raise RecoveryError(
                    f"{self.state_dir}/snapshot.json does not restore with this version ({type(exc).__name__}: {exc}). "
                    "Run the version that wrote it, or move the state directory aside to start with new IDs."
                ) from exc
            upto = snap.inbound_upto
            self.last_snapshot_wall = snap.written_at
        n = 0
        for rec in self.journal.inbound_after(upto):
            for t in rec.pre_ticks:
                self._safe(self.pipeline.tick, t)
            if rec.topic is not None:
                self._safe(self.pipeline.handle, rec.topic, rec.payload, rec.recv_time)
            self.last_inbound_id = rec.id
            n += 1
        self.last_inbound_id = max(self.last_inbound_id, upto, self.journal.last_inbound_id())
        self.recovered_from = n
        pending = self.journal.unacked()
        for r in pending:
            self._queue_durable(r)
        if snap is not None or n or pending:
            log.info(
                "recovered state",
                extra={"snapshot_upto": upto, "replayed": n, "unacked_outputs": len(pending), "live_tracks": len(self.pipeline.live_tracks())},
            )

    def _safe(self, fn: Callable[..., list[Outbound]], *args: Any) -> list[Outbound]:
        """A pipeline step that raises is a bug; log and count it, keep the service up."""
        try:
            return fn(*args)
        except Exception:
            self.metrics.internal_errors.inc()
            log.exception("pipeline step failed", extra={"step": fn.__name__})
            return []

    # ------------------------------------------------------------- inbound
    def _tick_once(self, now: float) -> bool:
        """Apply the pipeline's next deadline if it is due by ``now``, journalled on its own.

        True when a tick was applied and another may be due. One tick at a time, so that
        the caller can let the event loop publish this tick's alerts before the next tick's
        work (a batch and the second's housekeeping, or a backlog of batches, would
        otherwise all finish before any of their alerts went out).
        """
        deadline = self.pipeline.next_deadline()
        if deadline is None or deadline > now:
            return False
        t0 = time.perf_counter()
        outs = self._safe(self.pipeline.tick, deadline)
        self.metrics.tracker_seconds.observe(time.perf_counter() - t0)
        self._commit(deadline, None, b"", [deadline], outs)
        nxt = self.pipeline.next_deadline()
        return nxt is None or nxt > deadline  # a pipeline that does not move its deadline must not spin us

    async def _on_message(self, topic: str, payload: bytes, recv_wall: float) -> None:
        recv_time = self.clock()
        self.last_message_wall = recv_wall
        kind = self.topics.classify(topic)
        self.metrics.messages_in.labels(kind[0] if kind else "unknown").inc()
        self._handling = recv_time
        try:
            while self._tick_once(recv_time):  # every deadline up to the message, exactly as replay does
                await asyncio.sleep(0)
            t0 = time.perf_counter()
            outs = self._safe(self.pipeline.handle, topic, payload, recv_time)
            self.metrics.tracker_seconds.observe(time.perf_counter() - t0)
            self._commit(recv_time, topic, payload, [], outs)
        finally:
            self._handling = None

    def _commit(self, recv_time: float, topic: str | None, payload: bytes, ticks: list[float], outs: list[Outbound]) -> None:
        durable = [o for o in outs if o.kind in DURABLE_KINDS]
        inbound_id, out_ids = self.journal.record(recv_time, topic, payload, durable, ticks)
        self.last_inbound_id = inbound_id
        ids = iter(out_ids)
        for o in outs:
            if self.on_outbound is not None:
                try:
                    self.on_outbound(o)
                except Exception:  # a display callback must not stop the service
                    log.exception("on_outbound callback failed")
            if o.kind in DURABLE_KINDS:
                rec = OutboundRecord(next(ids), o.topic, o.payload, o.qos, o.retain, o.kind)
                if o.kind == "alert":
                    self._note_alert_time(rec)
                self._queue_durable(rec)
            elif o.kind == "track":
                self._queue_track(o)
            else:
                self._queue_deadletter(o)

    async def _tick_loop(self) -> None:
        """Apply due ticks when no message arrives to do it; sleeps until the next deadline."""
        while True:
            # Not past a message being handled (it yields between its ticks): replay ticks up
            # to each message's receipt and then handles it, and so must the live run.
            while self._tick_once(self.clock() if self._handling is None else self._handling):
                await asyncio.sleep(0)
            deadline = self.pipeline.next_deadline()
            wait = self.config.tick_interval_s
            if deadline is not None:
                wait = min(wait, max(0.0, (deadline - self.clock()) / self.config.clock_speed))
            await asyncio.sleep(max(wait, 0.002))

    # ------------------------------------------------------------ outbound
    def _queue_durable(self, rec: OutboundRecord) -> None:
        """Queue a journalled record for publication; send it at once when nothing of its topic waits.

        At once (``MqttSession.send_now``, before this returns): when the window has room
        and every earlier record of the topic still in flight was sent the same way, so
        the topic's order holds. Otherwise the topic's drain task starts it later.
        """
        q = self._durable.setdefault(rec.topic, deque())
        q.append(rec)
        inflight = self._inflight.setdefault(rec.topic, deque())
        if len(inflight) == len(q) - 1 and (not inflight or rec.topic in self._sent_in_order) and self._window.try_take():
            sent = self.session.send_now(rec.topic, rec.payload, rec.qos, rec.retain)
            if sent is not None:
                self._sent_in_order.add(rec.topic)
            else:
                self._sent_in_order.discard(rec.topic)
            inflight.append(asyncio.get_running_loop().create_task(self._publish_durable(rec, sent, holds_slot=True)))
        task = self._durable_tasks.get(rec.topic)
        if task is None or task.done():
            self._durable_tasks[rec.topic] = asyncio.get_running_loop().create_task(self._drain_topic(rec.topic))

    async def _drain_topic(self, topic: str) -> None:
        """Publish one topic's journalled messages in order, a window of them in flight.

        Waiting for each PUBACK before sending the next let one alert out per turn of
        the event loop (a turn is a pipeline step, milliseconds under load), so a burst
        of alerts queued for seconds. Now up to ``durable_window`` are in flight (the
        window is shared by all topics): the tasks start in queue order and send their
        PUBLISH before their first suspension (or were sent by ``_queue_durable``), the
        window and the session's reconnect wait wake in FIFO order, and MQTT keeps one
        topic's messages in order. Records leave the queue (and count as acknowledged)
        in queue order.
        """
        q = self._durable[topic]
        inflight = self._inflight[topic]
        while q:
            while len(inflight) < len(q) and len(inflight) < self.config.durable_window:
                self._sent_in_order.discard(topic)
                inflight.append(asyncio.get_running_loop().create_task(self._publish_durable(q[len(inflight)])))
            try:
                await inflight[0]
            except BaseException:
                for task in inflight:
                    task.cancel()
                raise
            inflight.popleft()
            rec = q.popleft()
            self._acked_ids.append(rec.id)
            self.metrics.messages_out.labels(rec.kind).inc()
            obs = self._alert_times.pop(rec.id, None)
            if obs is not None:
                self.metrics.alert_latency.observe(max(0.0, (self.clock() - obs) / self.config.clock_speed))
        del self._durable[topic]
        del self._inflight[topic]
        self._sent_in_order.discard(topic)
        self._durable_tasks.pop(topic, None)

    async def _publish_durable(self, rec: OutboundRecord, sent: Sent | None = None, holds_slot: bool = False) -> None:
        """Publish one record within the window (``holds_slot``: its place was taken when it was sent)."""
        if not holds_slot:
            await self._window.take()
        try:
            await self.session.publish(rec.topic, rec.payload, rec.qos, rec.retain, sent=sent)
        finally:
            self._window.give()

    def _note_alert_time(self, rec: OutboundRecord) -> None:
        try:
            doc = json.loads(rec.payload)
            if doc.get("state") == "new" and doc.get("kind") != "sensor_offline":
                self._alert_times[rec.id] = from_iso(doc["time"])
        except (ValueError, KeyError, TypeError):
            pass

    def _queue_track(self, o: Outbound) -> None:
        key = _track_key(o)
        if key in self._tracks:
            self.metrics.coalesced.inc()
            del self._tracks[key]  # re-insert at the end: keep arrival order of latest states
        elif len(self._tracks) >= self.config.track_queue_max:
            self._tracks.popitem(last=False)
            self.metrics.shed.labels("tracks").inc()
        self._tracks[key] = o
        self._light_ready["tracks"].set()

    def _queue_deadletter(self, o: Outbound) -> None:
        if len(self._deadletters) >= self.config.deadletter_queue_max:
            self._deadletters.popleft()
            self.metrics.shed.labels("deadletter").inc()
        self._deadletters.append(o)
        self._light_ready["deadletter"].set()

    async def _light_publisher(self, queue_name: str) -> None:
        """Tracks or dead letters (one task each, so a dead-letter flood never holds up
        tracks): not journalled; latest-state and bounded (see module doc).

        QoS 0 messages go to the connection ``light_chunk`` at a time as one write
        (``publish_nowait``), with no wait per message; the next chunk waits until the
        socket took the last, so the client's buffer stays within a chunk and the queue
        here coalesces.
        """
        inflight: set[asyncio.Task[None]] = set()
        ready = self._light_ready[queue_name]
        while True:
            o = self._pop_light(queue_name)
            if o is None:
                ready.clear()
                await ready.wait()
                continue
            if o.qos == 0:
                chunk = [o]
                while len(chunk) < self.config.light_chunk and (nxt := self._pop_light(queue_name)) is not None:
                    if nxt.qos != 0:
                        self._requeue(nxt)
                        break
                    chunk.append(nxt)
                if not self.session.publish_nowait([(c.topic, c.payload, c.retain) for c in chunk]):
                    for c in reversed(chunk):  # no connection: wait for one, these first in line
                        self._requeue(c)
                    await self.session.ready.wait()
                    await asyncio.sleep(0.05)
                    continue
                for kind, n in Counter(c.kind for c in chunk).items():
                    self.metrics.messages_out.labels(kind).inc(n)
                await asyncio.sleep(0)  # the event loop writes, receives and handles messages
                while self.session.write_pending():
                    await asyncio.sleep(0.002)
                continue
            while len(inflight) >= self.config.light_window:
                await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
            task = asyncio.get_running_loop().create_task(self._publish_counted(o))
            inflight.add(task)
            task.add_done_callback(inflight.discard)

    def _pop_light(self, queue_name: str) -> Outbound | None:
        """The next track (oldest latest state) or dead letter to publish, or None."""
        if queue_name == "tracks":
            return self._tracks.popitem(last=False)[1] if self._tracks else None
        return self._deadletters.popleft() if self._deadletters else None

    def _requeue(self, o: Outbound) -> None:
        """Put an unsent light message back at the head of its queue (a track: unless a newer state came)."""
        if o.kind == "track":
            key = _track_key(o)
            if key not in self._tracks:
                self._tracks[key] = o
                self._tracks.move_to_end(key, last=False)
        else:
            self._deadletters.appendleft(o)

    async def _publish_counted(self, o: Outbound) -> None:
        await self.session.publish(o.topic, o.payload, o.qos, o.retain)
        self.metrics.messages_out.labels(o.kind).inc()

    # --------------------------------------------------------- housekeeping
    def snapshot_now(self) -> None:
        """Write the snapshot, then prune what it covers and record broker acknowledgements."""
        if self.state_dir is None:
            return
        self.flush_acks()
        snap = Snapshot(self.last_inbound_id, self.pipeline.snapshot(), time.time())
        write_snapshot(self.state_dir, snap)
        self._snapshot_written(snap.inbound_upto, snap.written_at)

    def _snapshot_written(self, upto: int, written_at: float) -> None:
        """A snapshot covering journal rows up to ``upto`` is on disk: prune what it covers."""
        if not self.config.keep_journal:
            self.journal.prune_inbound(upto)
        self.journal.prune_acked()
        self.last_snapshot_wall = written_at

    def flush_acks(self) -> None:
        if self._acked_ids:
            ids, self._acked_ids = self._acked_ids, []
            self.journal.mark_acked(ids)

    async def _snapshot_loop(self) -> None:
        """Snapshot every ``snapshot_interval_s``, or less often when a snapshot is expensive.

        The child encodes the state on another core, and at high rates (the out-of-sequence
        history grows with the detection rate) it takes long enough to compete with the
        service and the broker for CPU: the next one starts only ``SNAPSHOT_DUTY`` times
        its duration later, so snapshots cost at most a fifth of a core. The price is a
        longer journal replay after a crash (the replay runs at the pipeline's speed).
        """
        while True:
            await asyncio.sleep(self.snapshot_period_s)
            took = await self.snapshot_in_child()
            self.snapshot_period_s = max(self.config.snapshot_interval_s, SNAPSHOT_DUTY * took)

    async def snapshot_in_child(self) -> float:
        """Write the snapshot from a forked child, as Redis's BGSAVE does; then prune.

        Encoding the state (the tracker's out-of-sequence history holds every scan of
        the last 11 minutes) took 0.5 s per snapshot at 1,000 detections/s, a stall of
        the event loop every ``snapshot_interval_s``. ``fork`` gives the child a
        copy-on-write image of this instant in about a millisecond; the child encodes and
        writes it (touching no socket, thread or database of the parent) and exits; the
        service goes on meanwhile and prunes the journal only once the file is written.
        """
        if self.state_dir is None:
            return 0.0
        self.flush_acks()
        upto = self.last_inbound_id
        pid = os.fork()
        if pid == 0:  # the child: encode, write, leave without running the parent's clean-ups
            code = 1
            try:
                write_snapshot(self.state_dir, Snapshot(upto, self.pipeline.snapshot(), time.time()))
                code = 0
            finally:
                os._exit(code)
        started = time.time()
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            await asyncio.sleep(0.01)
        took = time.time() - started
        if os.waitstatus_to_exitcode(status) != 0:
            log.error("snapshot child failed", extra={"exit_status": status})
            return took
        self._snapshot_written(upto, started)
        return took

    async def _gauges_loop(self) -> None:
        while True:
            self.update_gauges()
            await asyncio.sleep(1.0)

    def update_gauges(self) -> None:
        m = self.metrics
        m.queue_depth.labels("tracks").set(len(self._tracks))
        m.queue_depth.labels("deadletter").set(len(self._deadletters))
        m.queue_depth.labels("durable").set(sum(len(q) for q in self._durable.values()))
        m.queue_depth.labels("inbound").set(self.session.inbox_depth())
        m.live_tracks.set(len(self.pipeline.live_tracks()))
        m.open_alerts.set(self.pipeline.open_alert_count())
        m.journal_unacked.set(sum(len(q) for q in self._durable.values()))
        m.connected.set(1 if self.session.connected.is_set() else 0)
        stats = self.session.stats
        m.inbound_dropped.inc(stats.inbound_dropped - self._reported[0])
        m.reconnects.inc(stats.connects - self._reported[1])
        self._reported = (stats.inbound_dropped, stats.connects)
        if self.last_snapshot_wall is not None:
            m.snapshot_age.set(time.time() - self.last_snapshot_wall)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy = connected to the broker and (when durable) a snapshot younger than 5 intervals."""
        now = time.time()
        snap_age = None if self.last_snapshot_wall is None else now - self.last_snapshot_wall
        connected = self.session.connected.is_set()
        snap_ok = self.state_dir is None or (snap_age is not None and snap_age < 5 * self.snapshot_period_s + 5)
        doc = {
            "status": "ok" if connected and snap_ok else "degraded",
            "mqtt_connected": connected,
            "mqtt_protocol": self.session.stats.protocol,
            "uptime_s": round(now - self.started_at, 3),
            "last_message_age_s": None if self.last_message_wall is None else round(now - self.last_message_wall, 3),
            "snapshot_age_s": None if snap_age is None else round(snap_age, 3),
            "live_tracks": len(self.pipeline.live_tracks()),
            "open_alerts": self.pipeline.open_alert_count(),
            "outputs_awaiting_broker": sum(len(q) for q in self._durable.values()),
            "replayed_at_start": self.recovered_from,
        }
        return connected and snap_ok, doc

    # ----------------------------------------------------------------- run
    async def _acquire_state_lock(self, stop: asyncio.Event | None) -> bool:
        """Hold ``STATE_DIR/lock`` (flock) for the life of the process; False if stopped while waiting.

        Two services on one state directory would interleave their journals, so the
        second waits here, before touching the journal or the broker session, until
        the first exits. The kernel releases the lock when its holder dies, SIGKILL
        included: a second instance started beside the first is a warm standby that
        takes over within ``poll`` seconds instead of paying a cold start.
        """
        if self.state_dir is None:
            return True
        self._lock_fd = os.open(self.state_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        announced = False
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if announced:
                    log.info("state lock acquired: taking over")
                return True
            except BlockingIOError:
                if not announced:
                    log.info("state directory in use by another instance; standing by", extra={"state_dir": str(self.state_dir)})
                    announced = True
            if stop is not None and stop.is_set():
                return False
            await asyncio.sleep(0.05)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        if not await self._acquire_state_lock(stop):
            return
        self.recover()
        self.snapshot_now()
        if self.config.tune_gc:
            tune_for_service()
        server = None
        if self.config.metrics_port is not None:
            server = await serve_http(self.config.metrics_host, self.config.metrics_port, self.metrics, self.health)
            self.metrics_port = server.sockets[0].getsockname()[1]
            log.info("metrics and health on http://%s:%d/metrics, /healthz", self.config.metrics_host, self.metrics_port)
        tasks = [
            asyncio.create_task(self.session.run(self._on_message), name="mqtt"),
            asyncio.create_task(self._tick_loop(), name="tick"),
            asyncio.create_task(self._light_publisher("tracks"), name="publish-tracks"),
            asyncio.create_task(self._light_publisher("deadletter"), name="publish-deadletters"),
            asyncio.create_task(self._snapshot_loop(), name="snapshot"),
            asyncio.create_task(self._gauges_loop(), name="gauges"),
        ]
        stopper = asyncio.create_task((stop or asyncio.Event()).wait(), name="stop")
        try:
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stopper and t.cancelled():
                    raise RuntimeError(f"service task {t.get_name()} was cancelled")
                if t is not stopper and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            for t in [*tasks, stopper, *self._durable_tasks.values()]:
                t.cancel()
            for t in [*tasks, stopper, *self._durable_tasks.values()]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            if server is not None:
                server.close()
            self.snapshot_now()
            self.journal.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the lock: a standby takes over
            log.info("service stopped", extra={"live_tracks": len(self.pipeline.live_tracks())})


class _Window:
    """How many journalled publishes may await their PUBACK at once, all topics together.

    A semaphore that can also be taken without waiting (``try_take``), so that a record
    can be sent from synchronous code; waiters are woken in FIFO order.
    """

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return True
        return False

    async def take(self) -> None:
        if self.try_take():
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut  # give() passed its place on to this waiter
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.give()  # woken and cancelled in the same turn: pass the place on
            else:
                self._waiters.remove(fut)
            raise

    def give(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.free += 1


def _track_key(o: Outbound) -> str:
    """The track id of a track message (payloads start with it; JSON-parse as a fallback)."""
    head = o.payload[:40]
    if head.startswith(b'{"track_id":"'):
        end = head.find(b'"', 13)
        if end > 0:
            return head[13:end].decode()
    try:
        return str(json.loads(o.payload)["track_id"])
    except (ValueError, KeyError, TypeError):
        return o.topic + o.payload.decode("utf-8", "replace")


async def run_service(
    site: Site,
    broker_url: str,
    *,
    config: ServiceConfig = ServiceConfig(),
    stop: asyncio.Event | None = None,
    on_outbound: Callable[[Outbound], None] | None = None,
    started: Callable[[Service], Awaitable[None] | None] | None = None,
) -> None:
    """Run the service until ``stop`` is set (or forever); ``started`` gets the Service once it exists."""
    service = Service(site, broker_url, config, on_outbound)
    if started is not None:
        res = started(service)
        if asyncio.iscoroutine(res):
            await res
    await service.run(stop)
