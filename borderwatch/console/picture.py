"""The operational picture a console shows, built from contract messages, with change tracking.

``Picture.apply(topic, payload, recv_time)`` folds one outbound contract message
(tracks, alerts, retained alert state, dispatch, replies, sensor status and
detections, team positions) into plain dicts ready for the page. ``take_delta()``
returns only what changed since the last call, so the stream sends coalesced
batches (one per tick, however many messages came in) instead of one event per
message; ``snapshot()`` is the whole picture for a page that (re)connects.

Countdowns (alert ETA, intercept ETA, time open) run from ``ref_t``: the message's
``time``, or its receipt on the console's clock when that is earlier. A retained alert
from minutes ago counts from its own time; a service whose clock runs ahead (skew, or
a demo's warped clock not shared with the console) cannot show a negative age.

Bad payloads never raise: they are counted in ``bad_messages`` and dropped,
because a console must keep showing what it can.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

from adapters.timefmt import from_iso

SEVERITY_RANK: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3}
#: Trail points kept per track, at least TRAIL_SPACING_M apart: a walker's last ~5 minutes,
#: without radar jitter drawn as a scribble, and a snapshot of 1,000 tracks stays ~2 MB.
TRAIL_POINTS = 48
TRAIL_SPACING_M = 8.0
#: Alert ids remembered after their end, so a late retained state cannot resurrect them.
ENDED_MEMORY = 10_000

_KINDS = ("tracks", "alerts", "dispatch", "sensors", "teams")


def _num(v: object) -> float | None:
    """A finite float, or None."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _ground_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance in metres: plenty for spacing trail points metres apart."""
    k = 6_371_000.0 * math.pi / 180.0
    return math.hypot((lat2 - lat1) * k, (lon2 - lon1) * k * math.cos(math.radians(lat1)))


def _time(v: object) -> float | None:
    if not isinstance(v, str):
        return None
    try:
        return from_iso(v)
    except ValueError:
        return None


@dataclass
class Picture:
    """The live picture. Call from one thread (the console's event loop)."""

    site_sensors: list[dict] = field(default_factory=list)  # [{"id","type","lat","lon"}]
    site_teams: list[dict] = field(default_factory=list)  # [{"id","kind","lat","lon"}]
    prefix: str = "bw/v1"
    track_stale_s: float = 120.0
    trail_points: int = TRAIL_POINTS
    trail_spacing_m: float = TRAIL_SPACING_M

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to the site's roster with nothing seen (replay seeks start from here)."""
        self.tracks: dict[str, dict] = {}
        self.alerts: dict[str, dict] = {}
        self.dispatch: dict[str, dict] = {}  # team_id -> current order
        self.sensors: dict[str, dict] = {
            s["id"]: {"id": s["id"], "type": s["type"], "state": "unknown", "status_t": None, "last_msg_t": None,
                      "lat": s.get("lat"), "lon": s.get("lon"), "fixed": s.get("lat") is not None}
            for s in self.site_sensors
        }
        self.teams: dict[str, dict] = {
            t["id"]: {"id": t["id"], "kind": t.get("kind", ""), "lat": t.get("lat"), "lon": t.get("lon"), "available": True, "t": None}
            for t in self.site_teams
        }
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._unconfirmed: set[str] = set()
        self._dirty: dict[str, set[str]] = {k: set() for k in _KINDS}
        self._removed: dict[str, set[str]] = {k: set() for k in _KINDS}
        self.bad_messages = 0
        self.messages = 0

    # ---- input -----------------------------------------------------------------
    def apply(self, topic: str, payload: dict | None, recv_time: float) -> bool:
        """Fold one message in; False (and counted as bad) when it is not a usable contract message.

        ``payload`` None means an empty MQTT payload (a cleared retained topic).
        """
        self.messages += 1
        if not topic.startswith(self.prefix + "/"):
            return self._bad()
        parts = topic[len(self.prefix) + 1 :].split("/")
        if payload is not None and not isinstance(payload, dict):
            return self._bad()
        head = parts[0]
        if head == "tracks" and len(parts) == 2 and payload is not None:
            return self._track(payload, recv_time) or self._bad()
        if head == "alerts" and len(parts) == 1 and payload is not None:
            return self._alert(payload, recv_time, retained=False) or self._bad()
        if head == "alerts" and len(parts) == 3 and parts[1] == "state":
            if payload is None or not payload:
                self._remove("alerts", parts[2])
                return True
            return self._alert(payload, recv_time, retained=True) or self._bad()
        if head == "dispatch" and len(parts) == 2 and payload is not None:
            return self._dispatch(parts[1], payload, recv_time) or self._bad()
        if head == "dispatch" and len(parts) == 3 and parts[2] == "reply" and payload is not None:
            return self._reply(parts[1], payload) or self._bad()
        if head == "sensors" and len(parts) == 4 and parts[3] in ("status", "detections"):
            return self._sensor(parts[1], parts[2], parts[3], payload or {}, recv_time) or self._bad()
        if head == "teams" and len(parts) == 3 and parts[2] == "position" and payload is not None:
            return self._team(parts[1], payload) or self._bad()
        return self._bad()

    def _bad(self) -> bool:
        self.bad_messages += 1
        return False

    def _touch(self, kind: str, key: str) -> None:
        self._dirty[kind].add(key)
        self._removed[kind].discard(key)

    def _remove(self, kind: str, key: str) -> None:
        table: dict = getattr(self, kind)
        if table.pop(key, None) is not None:
            self._removed[kind].add(key)
        self._dirty[kind].discard(key)

    def _track(self, p: dict, recv_time: float) -> bool:
        tid, t, lat, lon = p.get("track_id"), _time(p.get("time")), _num(p.get("lat")), _num(p.get("lon"))
        if not isinstance(tid, str) or not tid or t is None or lat is None or lon is None:
            return False
        if p.get("status") == "deleted":
            self._remove("tracks", tid)
            return True
        old = self.tracks.get(tid)
        if old is not None and t < old["t"]:
            return True  # an older report overtaken by a newer one: keep the newer
        cov = p.get("cov_en_m2")
        try:
            cov_flat = [float(cov[0][0]), float(cov[0][1]), float(cov[1][1])] if cov is not None else None
            if cov_flat is not None and not all(math.isfinite(c) for c in cov_flat):
                cov_flat = None
        except (TypeError, IndexError, ValueError):
            cov_flat = None
        trail = old["trail"] if old is not None else []
        fresh = old["fresh"] if old is not None else 0
        if not trail or _ground_m(trail[-1][0], trail[-1][1], lat, lon) >= self.trail_spacing_m:
            trail = (trail + [[lat, lon, t]])[-self.trail_points :]
            fresh = min(fresh + 1, self.trail_points)
        sensors = p.get("sensors")
        self.tracks[tid] = {
            "id": tid,
            "t": t,
            "rt": recv_time,
            "status": str(p.get("status", "")),
            "lat": lat,
            "lon": lon,
            "ve": _num(p.get("vel_east_mps")) or 0.0,
            "vn": _num(p.get("vel_north_mps")) or 0.0,
            "cov": cov_flat,
            "existence": _num(p.get("existence")),
            "cls": p.get("class") if isinstance(p.get("class"), str) else "unknown",
            "count": int(p["count"]) if isinstance(p.get("count"), int) and not isinstance(p.get("count"), bool) else 1,
            "sensors": [str(s) for s in sensors] if isinstance(sensors, list) else [],
            "sector": str(p.get("sector", "")),
            "trail": trail,  # [[lat, lon, t], ...], oldest first
            "fresh": fresh,  # trail points added since the last delta
        }
        self._touch("tracks", tid)
        return True

    def _alert(self, p: dict, recv_time: float, retained: bool) -> bool:
        aid, t = p.get("alert_id"), _time(p.get("time"))
        if not isinstance(aid, str) or not aid or t is None:
            return False
        if retained:
            self._unconfirmed.discard(aid)
        if p.get("state") == "end":
            self._remove("alerts", aid)
            self._ended[aid] = None
            while len(self._ended) > ENDED_MEMORY:
                self._ended.popitem(last=False)
            return True
        if aid in self._ended:
            return True
        old = self.alerts.get(aid)
        if old is not None and t < old["t"]:
            return True
        severity = str(p.get("severity", "low"))
        track_ids = p.get("track_ids")
        crossing = p.get("crossing_point") if isinstance(p.get("crossing_point"), dict) else None
        self.alerts[aid] = {
            **{k: v for k, v in p.items() if k not in ("time",)},
            "alert_id": aid,
            "t": t,
            "first_t": old["first_t"] if old is not None else t,
            "ref_t": min(t, recv_time),
            "first_ref_t": old["first_ref_t"] if old is not None else min(t, recv_time),
            "severity": severity,
            "rank": SEVERITY_RANK.get(severity, len(SEVERITY_RANK)),
            "track_ids": [str(x) for x in track_ids] if isinstance(track_ids, list) else [],
            "lat": _num(p.get("lat")),
            "lon": _num(p.get("lon")),
            "eta_s": _num(p.get("eta_s")),
            "crossing_point": {"lat": _num(crossing.get("lat")), "lon": _num(crossing.get("lon"))} if crossing else None,
            "retained": retained or (old is not None and old["retained"]),
            "console_actions": old["console_actions"] if old is not None else [],
            "service_acks": self._service_acks(old, p, t, self.messages),
        }
        self._touch("alerts", aid)
        return True

    @staticmethod
    def _service_acks(old: dict | None, p: dict, t: float, seq: int) -> list[dict]:
        """Operator actions the service has taken in, kept across later updates.

        The service echoes an action once, as an optional ``ack`` object on the alert
        update that follows it (docs/mqtt-api.md); later updates do not repeat it.
        ``seq`` orders them against this console's own sent actions (arrival order, not
        clocks, decides whether an echo answers what was sent).
        """
        acks = old["service_acks"] if old is not None else []
        echo = p.get("ack")
        if isinstance(echo, dict) and isinstance(echo.get("action"), str):
            acks = acks + [{"action": echo["action"], "operator": str(echo.get("operator", "")), "t": t, "seq": seq}]
        return acks

    def _dispatch(self, team_id: str, p: dict, recv_time: float) -> bool:
        t = _time(p.get("time"))
        if t is None or not isinstance(p.get("dispatch_id"), str):
            return False
        if p.get("state") == "cancel":
            cur = self.dispatch.get(team_id)
            if cur is not None and cur["dispatch_id"] == p["dispatch_id"]:
                self._remove("dispatch", team_id)
            return True
        target = p.get("target") if isinstance(p.get("target"), dict) else {}
        intercept = p.get("intercept") if isinstance(p.get("intercept"), dict) else {}
        old = self.dispatch.get(team_id)
        same = old is not None and old["dispatch_id"] == p["dispatch_id"]
        self.dispatch[team_id] = {
            "team_id": team_id,
            "dispatch_id": p["dispatch_id"],
            "alert_id": p.get("alert_id"),
            "t": t,
            "ref_t": min(t, recv_time),
            "state": str(p.get("state", "new")),
            "target": {"lat": _num(target.get("lat")), "lon": _num(target.get("lon"))},
            "intercept": {"lat": _num(intercept.get("lat")), "lon": _num(intercept.get("lon")), "eta_s": _num(intercept.get("eta_s"))},
            "summary": str(p.get("summary", "")),
            "reply": old["reply"] if same else None,
        }
        self._touch("dispatch", team_id)
        return True

    def _reply(self, team_id: str, p: dict) -> bool:
        reply = p.get("reply")
        if not isinstance(reply, str):
            return False
        cur = self.dispatch.get(team_id)
        if cur is None or cur["dispatch_id"] != p.get("dispatch_id"):
            return True  # a reply to an order we no longer show
        if reply == "clear":
            self._remove("dispatch", team_id)
        else:
            cur["reply"] = reply
            self._touch("dispatch", team_id)
        return True

    def _sensor(self, stype: str, sid: str, what: str, p: dict, recv_time: float) -> bool:
        s = self.sensors.get(sid)
        if s is None:
            s = self.sensors[sid] = {"id": sid, "type": stype, "state": "unknown", "status_t": None, "last_msg_t": None,
                                     "lat": None, "lon": None, "fixed": False}
            s["unlisted"] = True
        if what == "status":
            state = p.get("state")
            if isinstance(state, str):
                s["state"] = state
            # A retained status may be old: its own time, not its receipt, is when the sensor spoke.
            s["status_t"] = _time(p.get("time")) or recv_time
            s["last_msg_t"] = max(s["last_msg_t"] or s["status_t"], s["status_t"])
        else:
            s["last_msg_t"] = recv_time
            if s["state"] in ("unknown", "offline"):
                s["state"] = "online"  # it is talking, whatever its last status said
            plat = p.get("platform")
            if not s["fixed"] and isinstance(plat, dict) and _num(plat.get("lat")) is not None and _num(plat.get("lon")) is not None:
                s["lat"], s["lon"] = _num(plat["lat"]), _num(plat["lon"])
        self._touch("sensors", sid)
        return True

    def _team(self, team_id: str, p: dict) -> bool:
        lat, lon = _num(p.get("lat")), _num(p.get("lon"))
        if lat is None or lon is None:
            return False
        team = self.teams.setdefault(team_id, {"id": team_id, "kind": "", "available": True})
        team.update(lat=lat, lon=lon, t=_time(p.get("time")), available=bool(p.get("available", True)))
        self._touch("teams", team_id)
        return True

    # ---- broker reconnects ----------------------------------------------------------
    def expect_retained_again(self) -> None:
        """Call on (re)connect: alerts learnt from retained state must be re-sent by the broker.

        An alert that ended while the console was away had its retained state cleared,
        so it never arrives again; ``drop_unconfirmed`` then removes it.
        """
        self._unconfirmed = {aid for aid, a in self.alerts.items() if a["retained"]}

    def drop_unconfirmed(self) -> int:
        """Remove retained-state alerts the broker did not re-send since ``expect_retained_again``."""
        gone = [aid for aid in self._unconfirmed if aid in self.alerts]
        for aid in gone:
            self._remove("alerts", aid)
        self._unconfirmed = set()
        return len(gone)

    # ---- console's own actions ---------------------------------------------------
    def note_action(self, alert_id: str, action: str, operator: str, t: float) -> None:
        """Remember an ack/dismiss/escalate this console sent, so every open page shows it."""
        alert = self.alerts.get(alert_id)
        if alert is not None:
            alert["console_actions"] = alert["console_actions"] + [{"action": action, "operator": operator, "t": t, "seq": self.messages}]
            self._touch("alerts", alert_id)

    def prune(self, now: float) -> int:
        """Drop tracks not heard of for ``track_stale_s`` (a missed ``deleted``); how many went."""
        gone = [tid for tid, tr in self.tracks.items() if now - tr["rt"] > self.track_stale_s]
        for tid in gone:
            self._remove("tracks", tid)
        return len(gone)

    # ---- output ----------------------------------------------------------------
    def _public_track(self, tr: dict, with_trail: bool) -> dict:
        """A track for the page: the whole trail in a snapshot; in a delta only the points
        added since the last one (``trail_add``), so coalescing loses no trail points."""
        out = {k: v for k, v in tr.items() if k not in ("trail", "rt", "fresh")}
        if with_trail:
            out["trail"] = tr["trail"]
        else:
            out["trail_add"] = tr["trail"][-tr["fresh"]:] if tr["fresh"] else []
            tr["fresh"] = 0
        return out

    def snapshot(self) -> dict:
        """The whole picture, for a page that (re)connects; change tracking is left alone."""
        return {
            "tracks": [self._public_track(t, True) for t in self.tracks.values()],
            "alerts": list(self.alerts.values()),
            "dispatch": list(self.dispatch.values()),
            "sensors": list(self.sensors.values()),
            "teams": list(self.teams.values()),
            "stats": self.stats(),
        }

    def take_delta(self) -> dict | None:
        """What changed since the last call (upserts and removed ids per kind), or None if nothing."""
        if not any(self._dirty[k] or self._removed[k] for k in _KINDS):
            return None
        out: dict = {"stats": self.stats()}
        for kind in _KINDS:
            table: dict = getattr(self, kind)
            upserts = [table[key] for key in self._dirty[kind] if key in table]
            if kind == "tracks":
                upserts = [self._public_track(t, False) for t in upserts]
            out[kind] = upserts
            out["removed_" + kind] = sorted(self._removed[kind])
            self._dirty[kind].clear()
            self._removed[kind].clear()
        return out

    def stats(self) -> dict:
        return {"tracks": len(self.tracks), "alerts": len(self.alerts), "messages": self.messages, "bad_messages": self.bad_messages}
