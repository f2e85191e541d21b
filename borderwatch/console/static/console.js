/* Borderwatch operations console: map, alerts, teams, sensors, replay controls.
   Talks only to its own server: GET /api/site once, an EventSource on /api/stream
   (snapshot, then coalesced batches; the browser reconnects by itself and the
   server sends a fresh snapshot), POSTs for operator actions and replay control. */
"use strict";

const SEV_LABEL = { critical: "CRITICAL", high: "HIGH", medium: "MEDIUM", low: "LOW" };
const KIND_LABEL = {
  predicted_crossing: "Predicted crossing", crossing: "Crossing", incursion: "Incursion",
  loitering: "Loitering", narcotics: "Narcotics indication", sensor_offline: "Sensor offline",
};
const REPLY_LABEL = { accept: "accepted", decline: "declined", on_scene: "on scene" };
const CLASS_GLYPH = { person: "●", vehicle: "■", animal: "▲", unknown: "◆" };
const TRAIL_POINTS = 48;  // as picture.py keeps
// Map symbols grow with the root font size (larger on wall screens, see console.css).
const UI = parseFloat(getComputedStyle(document.documentElement).fontSize) / 14;

const S = {
  site: null, mode: "live", tracks: null, alerts: new Map(), dispatch: new Map(), sensors: new Map(), teams: new Map(),
  clock: { t: Date.now() / 1000, rate: 1, at: performance.now() }, replay: null, link: { sse: false, mqtt: false },
  selectedAlert: null, stats: {}, batches: 0, lastBatchAt: 0,
};

// ---------------------------------------------------------------- helpers
const $ = (id) => document.getElementById(id);
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}
function now() { return S.clock.t + S.clock.rate * (performance.now() - S.clock.at) / 1000; }
function hms(t) { return new Date(t * 1000).toISOString().slice(11, 19); }
function mmss(s) {
  const neg = s < 0; s = Math.abs(Math.round(s));
  const m = Math.floor(s / 60), r = s % 60;
  return `${neg ? "-" : ""}${m}:${String(r).padStart(2, "0")}`;
}
function ago(t) {
  if (t == null) return "never";
  const s = Math.max(0, now() - t);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}
function toast(msg, isError) {
  const t = $("toast");
  t.textContent = msg; t.hidden = false; t.className = "toast" + (isError ? " error" : "");
  clearTimeout(toast._h); toast._h = setTimeout(() => { t.hidden = true; }, 3500);
}
function operatorName() { return $("operator").value.trim() || (S.site && S.site.operator) || "console"; }

// ---------------------------------------------------------------- map
const map = L.map("map", { zoomControl: true, preferCanvas: false, attributionControl: true, keyboard: true, worldCopyJump: false });
map.attributionControl.setPrefix(false);
L.control.scale({ metric: true, imperial: false, position: "bottomright" }).addTo(map);
const trackLayer = new BWTrackLayer({ onSelect: selectTrack, scale: UI }).addTo(map);
const staticLayers = { zones: L.layerGroup(), coverage: L.layerGroup(), border: L.layerGroup(), sensors: L.layerGroup(), grid: L.layerGroup() };
const teamLayer = L.layerGroup().addTo(map);
const mobileLayer = L.layerGroup().addTo(map);
const sensorMarkers = new Map();
const coverageShapes = new Map();

function svgIcon(svg, cls, size) {
  const px = Math.round(size * UI);
  const scaled = svg.replace(/^<svg width="(\d+)" height="(\d+)"/, (_m, w, h) => `<svg width="${Math.round(w * UI)}" height="${Math.round(h * UI)}"`);
  return L.divIcon({ className: cls, html: scaled, iconSize: [px, px], iconAnchor: [px / 2, px / 2] });
}
function towerIcon(state) {
  const colour = state === "offline" ? "#ff3b5c" : state === "degraded" ? "#f5c542" : state === "online" ? "#4fb3ff" : "#8b9bb0";
  const cross = state === "offline" ? '<path d="M3 3 L19 19 M19 3 L3 19" stroke="#ff3b5c" stroke-width="3"/>' : "";
  return svgIcon(`<svg width="22" height="22" viewBox="0 0 22 22"><path d="M11 2 L20 19 L2 19 Z" fill="#0b1118" stroke="${colour}" stroke-width="2.5"/><circle cx="11" cy="13" r="2.4" fill="${colour}"/>${cross}</svg>`, "sensor-icon", 22);
}

function addGraticule(bbox) {
  const [w, s, e, n] = bbox;
  const step = Math.max(0.005, Math.pow(10, Math.floor(Math.log10(Math.max(e - w, n - s)))) / 4);
  const style = { color: "#1b2a3a", weight: 1, interactive: false };
  for (let x = Math.floor((w - 0.2) / step) * step; x <= e + 0.2; x += step) staticLayers.grid.addLayer(L.polyline([[s - 0.2, x], [n + 0.2, x]], style));
  for (let y = Math.floor((s - 0.2) / step) * step; y <= n + 0.2; y += step) staticLayers.grid.addLayer(L.polyline([[y, w - 0.2], [y, e + 0.2]], style));
}

function drawSite(doc) {
  const gj = doc.geojson;
  addGraticule(gj.bbox);
  for (const f of gj.features) {
    const p = f.properties;
    if (p.layer === "protected_side") {
      L.geoJSON(f, { interactive: false, style: { color: "#4f86ff", weight: 0, fillColor: "#2f5fd0", fillOpacity: 0.10 } }).addTo(staticLayers.zones);
    } else if (p.layer === "zone") {
      const style = p.kind === "port_of_entry"
        ? { color: "#3ecf8e", weight: 1.5, dashArray: "2 4", fillColor: "#3ecf8e", fillOpacity: 0.10 }
        : p.kind === "restricted"
          ? { color: "#ff3b5c", weight: 1.5, fillColor: "#ff3b5c", fillOpacity: 0.10 }
          : { color: "#ff8a1f", weight: 1, dashArray: "6 4", fillColor: "#ff8a1f", fillOpacity: 0.05 };
      const layer = L.geoJSON(f, { style });
      layer.bindTooltip(`${p.id} (${p.kind === "port_of_entry" ? "port of entry" : p.kind}${p.buffer_m ? `, ${p.buffer_m} m` : ""})`, { className: "map-label", sticky: true });
      layer.addTo(staticLayers.zones);
    } else if (p.layer === "coverage") {
      const shape = L.geoJSON(f, { interactive: false, style: { color: "#4fb3ff", weight: 1, dashArray: "3 5", fill: true, fillOpacity: 0.02 } });
      coverageShapes.set(p.id, shape);
      shape.addTo(staticLayers.coverage);
    } else if (p.layer === "border") {
      const coords = f.geometry.coordinates.map(([x, y]) => [y, x]);
      L.polyline(coords, { color: "#000", weight: 7, opacity: 0.6, interactive: false }).addTo(staticLayers.border);
      L.polyline(coords, { color: "#f2f5f8", weight: 3, dashArray: "14 6", interactive: false }).addTo(staticLayers.border);
    } else if (p.layer === "sensor") {
      const m = L.marker([f.geometry.coordinates[1], f.geometry.coordinates[0]], { icon: towerIcon("unknown"), keyboard: false, title: p.id });
      m.bindTooltip(p.id, { permanent: true, direction: "right", offset: [10, 0], className: "map-label" });
      sensorMarkers.set(p.id, m);
      m.addTo(staticLayers.sensors);
    }
  }
  staticLayers.grid.addTo(map);
  staticLayers.coverage.addTo(map);
  staticLayers.zones.addTo(map);
  staticLayers.border.addTo(map);
  staticLayers.sensors.addTo(map);
  const band = gj.features.find((f) => f.properties.layer === "protected_side");
  if (band) {
    const c = L.geoJSON(band).getBounds().getCenter();
    const side = band.properties.side;
    L.marker(c, { interactive: false, keyboard: false, icon: L.divIcon({ className: "side-label", html: `Protected side (${side})`, iconSize: [220, 16], iconAnchor: [110, 8] }) }).addTo(staticLayers.zones);
  }
  fitSite();
}
function fitSite() {
  const [w, s, e, n] = S.site.geojson.bbox;
  map.fitBounds([[s, w], [n, e]], { padding: [30, 30] });
}

function legend() {
  const ctl = L.control({ position: "bottomleft" });
  ctl.onAdd = () => {
    const d = el("div", "legend");
    d.innerHTML = "<b>Tracks</b><br><span class='sym'>●</span>person <span class='sym'>■</span>vehicle <span class='sym'>▲</span>animal <span class='sym'>◆</span>unknown<br>" +
      "filled confirmed · hollow tentative · dashed coasting<br><span class='sym' style='color:#ff3b5c'>!</span>in alert · <span class='sym' style='color:#ff3b5c'>✕</span>predicted crossing";
    return d;
  };
  ctl.addTo(map);
}

// ---------------------------------------------------------------- picture
function applySnapshot(d) {
  trackLayer.tracks = new Map(d.tracks.map((t) => [t.id, t]));
  S.alerts = new Map(d.alerts.map((a) => [a.alert_id, a]));
  S.dispatch = new Map(d.dispatch.map((x) => [x.team_id, x]));
  S.sensors = new Map(d.sensors.map((x) => [x.id, x]));
  S.teams = new Map(d.teams.map((x) => [x.id, x]));
  applyMeta(d);
  if (S.selectedTrack && !trackLayer.tracks.has(S.selectedTrack)) selectTrack(null);
  renderAll();
}

function applyBatch(d) {
  const tracks = trackLayer.tracks;
  for (const id of d.removed_tracks || []) tracks.delete(id);
  for (const t of d.tracks || []) {
    const old = tracks.get(t.id);
    // Trail points carry their time: a point already in the snapshot is not added twice.
    const trail = old ? old.trail : [];
    const lastT = trail.length ? trail[trail.length - 1][2] : -Infinity;
    const add = (t.trail_add || []).filter((q) => q[2] > lastT);
    t.trail = add.length ? trail.concat(add).slice(-TRAIL_POINTS) : trail;
    delete t.trail_add;
    tracks.set(t.id, t);
  }
  // Screen readers hear each new alert once (the list itself is not a live region: it updates 4 times a second).
  const fresh = (d.alerts || []).filter((a) => !S.alerts.has(a.alert_id));
  if (fresh.length) {
    $("announce").textContent = fresh.map((a) => `New ${SEV_LABEL[a.severity] || a.severity} alert: ${KIND_LABEL[a.kind] || a.kind}. ${a.summary || ""}`).join(" ");
  }
  for (const [key, table, idKey] of [["alerts", S.alerts, "alert_id"], ["dispatch", S.dispatch, "team_id"], ["sensors", S.sensors, "id"], ["teams", S.teams, "id"]]) {
    for (const id of d["removed_" + key] || []) table.delete(id);
    for (const x of d[key] || []) table.set(x[idKey], x);
  }
  applyMeta(d);
  S.batches += 1;
  S.lastBatchAt = performance.now();
  renderAll(d);
}

function applyMeta(d) {
  if (d.clock) { S.clock = { t: d.clock.t, rate: d.clock.rate, at: performance.now() }; $("clock").textContent = hms(now()); }
  if (d.link) { S.link.mqtt = d.link.mqtt; renderLink(); }
  if (d.stats) S.stats = d.stats;
  if (d.replay) { S.replay = d.replay; renderReplay(); }
}

function renderAll(d) {
  const alertTracks = new Set();
  const crossings = [];
  for (const a of S.alerts.values()) {
    for (const id of a.track_ids) alertTracks.add(id);
    if (a.crossing_point && a.crossing_point.lat != null) {
      const rem = a.eta_s != null ? a.eta_s - (now() - a.ref_t) : null;
      crossings.push({ lat: a.crossing_point.lat, lon: a.crossing_point.lon, fromLat: a.lat, fromLon: a.lon,
        label: rem != null ? `${a.alert_id} ETA ${mmss(Math.max(0, rem))}` : a.alert_id });
    }
  }
  trackLayer.alertTracks = alertTracks;
  trackLayer.crossings = crossings;
  trackLayer.redraw();
  if (!d || (d.alerts && d.alerts.length) || (d.removed_alerts && d.removed_alerts.length)) renderAlerts();
  if (!d || (d.dispatch && d.dispatch.length) || (d.removed_dispatch && d.removed_dispatch.length) || (d.teams && d.teams.length)) renderTeams();
  if (!d || (d.sensors && d.sensors.length) || (d.alerts && d.alerts.length) || (d.removed_alerts && d.removed_alerts.length)) renderSensors();
  $("count-tracks").textContent = trackLayer.tracks.size;
  $("count-alerts").textContent = S.alerts.size;
  $("alerts-n").textContent = S.alerts.size;
  if (S.selectedTrack) renderTrackCard();
}

// ---------------------------------------------------------------- alerts
const alertEls = new Map();

function sortedAlerts() {
  return [...S.alerts.values()].sort((a, b) =>
    (a.rank - b.rank) ||
    ((a.eta_s == null) - (b.eta_s == null)) ||
    ((a.eta_s != null && b.eta_s != null) ? (a.ref_t + a.eta_s) - (b.ref_t + b.eta_s) : 0) ||
    (a.first_t - b.first_t) || (a.alert_id < b.alert_id ? -1 : 1));
}

function alertElement(a) {
  const li = el("li", "alert");
  li.tabIndex = 0;
  li.dataset.id = a.alert_id;
  const row = el("div", "row1");
  row.append(el("span", "sev"), el("span", "kind"), el("span", "eta"));
  const actions = el("div", "actions");
  for (const [act, label] of [["ack", "Ack"], ["dismiss", "Dismiss"], ["escalate", "Escalate"]]) {
    const b = el("button", `btn ${act}`, label);
    b.type = "button";
    b.dataset.act = act;
    b.setAttribute("aria-label", `${label} alert ${a.alert_id}`);
    b.addEventListener("click", (ev) => { ev.stopPropagation(); sendAction(a.alert_id, act); });
    actions.append(b);
  }
  li.append(row, el("div", "summary"), el("div", "meta"), el("div", "acted"), actions);
  li.addEventListener("click", () => { selectAlert(a.alert_id, true); });
  li.addEventListener("focus", () => { selectAlert(a.alert_id, false); });
  return li;
}

function updateAlertElement(li, a) {
  const confirmed = a.service_acks.filter((x) => x.action === "ack");
  li.className = `alert sev-${a.severity}` + (a.alert_id === S.selectedAlert ? " selected" : "") + (confirmed.length ? " acked" : a.console_actions.some((x) => x.action === "ack") ? " ack-pending" : "");
  const [sev, kind] = li.querySelector(".row1").children;
  sev.textContent = SEV_LABEL[a.severity] || a.severity.toUpperCase();
  kind.textContent = KIND_LABEL[a.kind] || a.kind;
  li.querySelector(".summary").textContent = a.summary || "";
  const dir = a.direction === "southbound" ? "↓ southbound" : a.direction === "northbound" ? "↑ northbound" : a.direction;
  const meta = [a.alert_id, dir, a.track_ids.join(" "), a.zone_id, a.sensor_id, `since ${hms(a.first_t)}`].filter(Boolean);
  li.querySelector(".meta").textContent = meta.join(" · ");
  li.querySelector(".meta").title = meta.join(" · ");
  // What the service confirmed (its echo on the alert) wins over what this console only sent.
  const done = a.service_acks[a.service_acks.length - 1];
  const sent = a.console_actions[a.console_actions.length - 1];
  const acted = done && (!sent || done.seq >= sent.seq)
    ? `${done.action} by ${done.operator}, confirmed by the service at ${hms(done.t)}`
    : sent ? `${sent.action} sent by ${sent.operator} at ${hms(sent.t)}, awaiting the service` : "";
  li.querySelector(".acted").textContent = acted;
  const replay = S.mode === "replay";
  for (const b of li.querySelectorAll("button")) b.disabled = replay;
  li.setAttribute("aria-label", `${SEV_LABEL[a.severity] || a.severity} ${KIND_LABEL[a.kind] || a.kind}: ${a.summary || a.alert_id}`);
  updateEta(li, a);
}

function updateEta(li, a) {
  const eta = li.querySelector(".eta");
  if (a.eta_s != null) {
    const el = now() - a.ref_t;
    const rem = a.eta_s - el;
    let txt = rem > 0 ? `ETA ${mmss(rem)}` : `due ${mmss(-rem)} ago`;
    // The likely range (quartiles of the crossing time): a young track's ETA can be off by half.
    const r = a.eta_range_s;
    if (rem > 0 && Array.isArray(r) && typeof r[0] === "number") {
      const lo = mmss(Math.max(0, r[0] - el));
      txt += typeof r[1] === "number" ? ` (${lo}–${mmss(Math.max(0, r[1] - el))})` : ` (not before ${lo})`;
    }
    eta.textContent = txt;
    eta.className = "eta" + (rem <= 0 ? " past" : rem < 60 ? " soon" : "");
  } else {
    eta.textContent = `open ${mmss(Math.max(0, now() - a.first_ref_t))}`;
    eta.className = "eta";
  }
}

function renderAlerts() {
  const list = $("alerts");
  const order = sortedAlerts();
  const focused = document.activeElement;
  for (const [id, li] of alertEls) if (!S.alerts.has(id)) { li.remove(); alertEls.delete(id); }
  order.forEach((a, i) => {
    let li = alertEls.get(a.alert_id);
    if (!li) { li = alertElement(a); alertEls.set(a.alert_id, li); }
    updateAlertElement(li, a);
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
  });
  if (focused && list.contains(focused) && document.activeElement !== focused) focused.focus({ preventScroll: true });
  $("alerts-empty").hidden = order.length > 0;
  if (S.selectedAlert && !S.alerts.has(S.selectedAlert)) S.selectedAlert = null;
}

function selectAlert(id, locate) {
  S.selectedAlert = id;
  for (const [aid, li] of alertEls) li.classList.toggle("selected", aid === id);
  const a = S.alerts.get(id);
  if (!a || !locate) return;
  const pts = [];
  if (a.lat != null) pts.push([a.lat, a.lon]);
  if (a.crossing_point && a.crossing_point.lat != null) pts.push([a.crossing_point.lat, a.crossing_point.lon]);
  for (const tid of a.track_ids) { const t = trackLayer.tracks.get(tid); if (t) pts.push([t.lat, t.lon]); }
  // Who is responding, and where they will meet it, belong in the same view.
  for (const d of S.dispatch.values()) {
    if (d.alert_id !== a.alert_id) continue;
    if (d.intercept.lat != null) pts.push([d.intercept.lat, d.intercept.lon]);
    const team = S.teams.get(d.team_id);
    if (team && team.lat != null) pts.push([team.lat, team.lon]);
  }
  if (pts.length === 1) map.setView(pts[0], Math.max(map.getZoom(), 15));
  else if (pts.length > 1) map.fitBounds(pts, { padding: [80, 80], maxZoom: 16 });
  if (a.track_ids.length) selectTrack(a.track_ids[0]);
}

async function sendAction(alertId, action) {
  if (S.mode === "replay") { toast("Replay: actions are not sent", true); return; }
  try {
    const r = await fetch(`/api/alerts/${encodeURIComponent(alertId)}/action`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action, operator: operatorName(), comment: "" }),
    });
    const body = await r.json().catch(() => ({}));
    if (r.status === 202) toast(`${action} sent for ${alertId}`);
    else toast(`${action} for ${alertId} not sent: ${body.error || r.status}`, true);
  } catch (e) {
    toast(`${action} for ${alertId} not sent: console unreachable`, true);
  }
}

// ---------------------------------------------------------------- teams and dispatch
function teamIcon(team, tasked) {
  const colour = tasked ? "#ff8a1f" : team.available === false ? "#8b9bb0" : "#3ecf8e";
  const letter = team.kind === "vehicle" ? "V" : team.kind === "air" ? "A" : "F";
  return svgIcon(`<svg width="22" height="22" viewBox="0 0 22 22"><rect x="2" y="2" width="18" height="18" rx="3" fill="#0b1118" stroke="${colour}" stroke-width="2.5"/><text x="11" y="15.5" text-anchor="middle" font-size="11" font-weight="800" fill="${colour}" font-family="DejaVu Sans, sans-serif">${letter}</text></svg>`, "team-icon", 22);
}

function renderTeams() {
  teamLayer.clearLayers();
  const body = $("teams");
  body.textContent = "";
  for (const team of S.teams.values()) {
    const d = S.dispatch.get(team.id);
    const tr = el("tr");
    const state = d ? (REPLY_LABEL[d.reply] || (d.state === "update" ? "tasked (updated)" : "tasked")) : team.available === false ? "unavailable" : "idle";
    const cls = d ? "tasked" : team.available === false ? "unavailable" : "idle";
    tr.append(el("td", "", team.id), el("td", `state ${cls}`, state), el("td", "", d ? d.alert_id || d.dispatch_id : "—"));
    const eta = d && d.intercept.eta_s != null ? mmss(Math.max(0, d.intercept.eta_s - (now() - d.ref_t))) : "";
    const etaTd = el("td", "num", eta);
    etaTd.dataset.team = team.id;
    tr.append(etaTd);
    if (d && d.summary) tr.title = d.summary;
    body.append(tr);
    if (team.lat != null) {
      const m = L.marker([team.lat, team.lon], { icon: teamIcon(team, !!d), keyboard: false, title: team.id });
      m.bindTooltip(team.id, { permanent: true, direction: "left", offset: [-10, 0], className: "map-label" });
      teamLayer.addLayer(m);
      if (d && d.intercept.lat != null) {
        teamLayer.addLayer(L.polyline([[team.lat, team.lon], [d.intercept.lat, d.intercept.lon]], { color: "#ff8a1f", weight: 2, dashArray: "8 6", interactive: false }));
      }
    }
    if (d && d.intercept.lat != null) {
      const ic = L.marker([d.intercept.lat, d.intercept.lon], { keyboard: false, icon: svgIcon('<svg width="24" height="24" viewBox="0 0 24 24"><circle cx="12" cy="12" r="8" fill="none" stroke="#ff8a1f" stroke-width="2.5"/><path d="M12 0 V7 M12 17 V24 M0 12 H7 M17 12 H24" stroke="#ff8a1f" stroke-width="2.5"/></svg>', "team-icon", 24) });
      ic.bindTooltip(`intercept ${team.id}${d.intercept.eta_s != null ? " · " + mmss(d.intercept.eta_s) : ""}`, { direction: "top", className: "map-label" });
      teamLayer.addLayer(ic);
    }
  }
}

// ---------------------------------------------------------------- sensors
function renderSensors() {
  const body = $("sensors");
  body.textContent = "";
  mobileLayer.clearLayers();
  // The service's own verdict (a sensor_offline alert: it went silent) outranks the sensor's last status.
  const silent = new Set([...S.alerts.values()].filter((a) => a.kind === "sensor_offline" && a.sensor_id).map((a) => a.sensor_id));
  for (const s of S.sensors.values()) {
    const tr = el("tr");
    const last = el("td", "num", ago(s.last_msg_t));
    last.dataset.sensor = s.id;
    const state = silent.has(s.id) && s.state !== "offline" ? "silent" : s.state;
    tr.append(el("td", "", s.id), el("td", "", s.type), el("td", `state ${state}`, state), last);
    body.append(tr);
    const m = sensorMarkers.get(s.id);
    const down = state === "offline" || state === "silent";
    if (m && m.bwState !== state) {  // radar scans touch a sensor every batch: redo its icon only on a change
      m.bwState = state;
      m.setIcon(towerIcon(down ? "offline" : state));
      const cov = coverageShapes.get(s.id);
      if (cov) cov.setStyle({ color: down ? "#ff3b5c" : "#4fb3ff", dashArray: down ? "1 6" : "3 5" });
    }
    if (!s.fixed && s.lat != null) {
      const letter = s.type === "drone" ? "D" : s.type === "k9" ? "K9" : "?";
      const mk = L.marker([s.lat, s.lon], { keyboard: false, title: s.id, icon: svgIcon(`<svg width="26" height="20" viewBox="0 0 26 20"><rect x="1" y="1" width="24" height="18" rx="9" fill="#0b1118" stroke="#4fb3ff" stroke-width="2"/><text x="13" y="14" text-anchor="middle" font-size="10" font-weight="800" fill="#4fb3ff" font-family="DejaVu Sans, sans-serif">${letter}</text></svg>`, "mobile-icon", 26) });
      mk.bindTooltip(s.id, { direction: "right", offset: [12, 0], className: "map-label" });
      mobileLayer.addLayer(mk);
    }
  }
}

// ---------------------------------------------------------------- selected track
function selectTrack(id) {
  S.selectedTrack = id;
  trackLayer.selected = id;
  trackLayer.redraw();
  $("track-card").hidden = !id;
  if (id) renderTrackCard();
}
function renderTrackCard() {
  const t = trackLayer.tracks.get(S.selectedTrack);
  const card = $("track-card");
  if (!t) { card.hidden = true; return; }
  const speed = Math.hypot(t.ve, t.vn);
  const heading = (Math.atan2(t.ve, t.vn) * 180 / Math.PI + 360) % 360;
  const sd = t.cov ? Math.sqrt((t.cov[0] + t.cov[2]) / 2) : null;
  const rows = [
    ["Class", `${CLASS_GLYPH[t.cls] || "◆"} ${t.cls}${t.count > 1 ? ` ×${t.count}` : ""}`],
    ["Status", t.status], ["Speed", `${speed.toFixed(1)} m/s`], ["Heading", speed > 0.2 ? `${heading.toFixed(0)}°` : "—"],
    ["Position σ", sd != null ? `${sd.toFixed(0)} m` : "—"], ["Existence", t.existence != null ? t.existence.toFixed(2) : "—"],
    ["Sensors", t.sensors.join(", ") || "—"], ["Sector", t.sector || "—"], ["Updated", `${hms(t.t)} (${ago(Math.min(t.t, now()))})`],
  ];
  card.textContent = "";
  card.append(el("h3", "", t.id));
  const dl = el("dl");
  for (const [k, v] of rows) dl.append(el("dt", "", k), el("dd", "", v));
  card.append(dl);
}

// ---------------------------------------------------------------- link status
function renderLink() {
  const box = $("link");
  let text, cls;
  if (!S.link.sse) { text = "Console unreachable, reconnecting…"; cls = "link-bad"; }
  else if (S.mode === "replay") { text = "Replay"; cls = ""; }
  else if (!S.link.mqtt) { text = "Broker offline, retrying"; cls = "link-bad"; }
  else { text = "Live feed connected"; cls = ""; }
  box.className = "link " + cls;
  $("link-text").textContent = text;
}

// ---------------------------------------------------------------- replay
function renderReplay() {
  const r = S.replay;
  if (!r) return;
  $("replay-bar").hidden = false;
  const scrub = $("replay-scrub");
  scrub.min = 0; scrub.max = (r.t1 - r.t0).toFixed(1);
  if (!scrub.matches(":active") && document.activeElement !== scrub) scrub.value = (r.t - r.t0).toFixed(1);
  $("replay-time").textContent = hms(r.t);
  $("replay-end").textContent = hms(r.t1);
  const play = $("replay-play");
  play.textContent = r.playing ? "❚❚ Pause" : "▶ Play";
  play.setAttribute("aria-label", r.playing ? "Pause" : "Play");
  const sel = $("replay-speed");
  if (!sel.options.length) for (const s of r.speeds) sel.append(new Option(`${s}×`, String(s)));
  sel.value = String(r.speed);
}
async function replayOp(body) {
  const r = await fetch("/api/replay", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (r.ok) { S.replay = await r.json(); renderReplay(); } else toast("replay: " + ((await r.json()).error || r.status), true);
}
$("replay-play").addEventListener("click", () => replayOp({ op: S.replay && S.replay.playing ? "pause" : "play" }));
$("replay-scrub").addEventListener("input", (e) => { if (S.replay) $("replay-time").textContent = hms(S.replay.t0 + Number(e.target.value)); });
$("replay-scrub").addEventListener("change", (e) => { if (S.replay) replayOp({ op: "seek", t: S.replay.t0 + Number(e.target.value) }); });
$("replay-speed").addEventListener("change", (e) => replayOp({ op: "speed", speed: Number(e.target.value) }));

// ---------------------------------------------------------------- keyboard
document.addEventListener("keydown", (e) => {
  const tag = (e.target.tagName || "").toLowerCase();
  if (tag === "input" || tag === "select" || tag === "textarea" || e.ctrlKey || e.metaKey || e.altKey) return;
  const order = sortedAlerts();
  const idx = order.findIndex((a) => a.alert_id === S.selectedAlert);
  const focusAlert = (i) => {
    if (!order.length) return;
    const a = order[Math.max(0, Math.min(order.length - 1, i))];
    const li = alertEls.get(a.alert_id);
    if (li) { li.focus(); li.scrollIntoView({ block: "nearest" }); }
  };
  const inList = $("alerts").contains(e.target);
  if (e.key === "ArrowDown" || e.key === "j") { if (inList || e.key === "j") { focusAlert(idx + 1); e.preventDefault(); } }
  else if (e.key === "ArrowUp" || e.key === "k") { if (inList || e.key === "k") { focusAlert(idx < 0 ? 0 : idx - 1); e.preventDefault(); } }
  else if (e.key === "Enter" && inList && tag === "li") { selectAlert(S.selectedAlert, true); e.preventDefault(); }
  else if ((e.key === "a" || e.key === "d" || e.key === "e") && S.selectedAlert && tag !== "button") {
    sendAction(S.selectedAlert, { a: "ack", d: "dismiss", e: "escalate" }[e.key]); e.preventDefault();
  }
  else if (e.key === "f") fitSite();
  else if (e.key === " " && S.mode === "replay" && tag !== "button") { $("replay-play").click(); e.preventDefault(); }
  else if (e.key === "?") $("help").showModal();
  else if (e.key === "Escape") { selectTrack(null); }
});
$("help-btn").addEventListener("click", () => $("help").showModal());

// ---------------------------------------------------------------- stream
function connect() {
  const es = new EventSource("/api/stream");
  es.addEventListener("open", () => { S.link.sse = true; renderLink(); });
  es.addEventListener("snapshot", (ev) => { S.link.sse = true; applySnapshot(JSON.parse(ev.data)); });
  es.addEventListener("batch", (ev) => applyBatch(JSON.parse(ev.data)));
  es.addEventListener("clock", (ev) => applyMeta(JSON.parse(ev.data)));
  es.addEventListener("error", () => {
    S.link.sse = false; renderLink();
    if (es.readyState === EventSource.CLOSED) { setTimeout(connect, 3000); }  // the browser gave up: start over
  });
}

// Once a second: clocks, countdowns, "last message" ages.
setInterval(() => {
  $("clock").textContent = hms(now());
  for (const [id, li] of alertEls) { const a = S.alerts.get(id); if (a) updateEta(li, a); }
  for (const td of document.querySelectorAll("#sensors td[data-sensor]")) { const s = S.sensors.get(td.dataset.sensor); if (s) td.textContent = ago(s.last_msg_t); }
  for (const td of document.querySelectorAll("#teams td[data-team]")) {
    const d = S.dispatch.get(td.dataset.team);
    td.textContent = d && d.intercept.eta_s != null ? mmss(Math.max(0, d.intercept.eta_s - (now() - d.ref_t))) : "";
  }
  if (S.alerts.size) renderAll({});  // moves crossing-point ETA labels
}, 1000);

async function start() {
  const r = await fetch("/api/site");
  S.site = await r.json();
  S.mode = S.site.mode;
  document.body.classList.toggle("replay", S.mode === "replay");
  $("site-name").textContent = S.site.summary.name;
  $("mode-badge").textContent = S.mode === "replay" ? "REPLAY" : "LIVE";
  $("mode-badge").classList.toggle("replay", S.mode === "replay");
  const op = $("operator");
  op.value = localStorage.getItem("bw.operator") || S.site.operator || "";
  op.addEventListener("change", () => localStorage.setItem("bw.operator", op.value.trim()));
  if (S.site.basemap && S.site.basemap.url) {
    L.tileLayer(S.site.basemap.url, { attribution: S.site.basemap.attribution || "", maxZoom: S.site.basemap.max_zoom || 19, opacity: 0.55 }).addTo(map);
  }
  drawSite(S.site);
  legend();
  connect();
}

// For tests and the benchmark: read-only view of what the page holds and when it last drew.
window.bwConsole = { state: S, trackLayer, map };
start();
