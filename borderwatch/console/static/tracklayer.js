/* Tracks on one canvas over the Leaflet map: a thousand tracks with trails and ellipses
   cost one redraw per batch instead of thousands of DOM or SVG nodes.

   Symbols (shape is the class, fill the status, so colour is never the only cue):
   person = circle, vehicle = square, animal = triangle, unknown = diamond;
   confirmed = filled, tentative = hollow, coasting = hollow dashed;
   a track in an open alert gets a red ring and a "!"; the 95 % position ellipse comes
   from cov_en_m2; the line ahead is one minute of travel. */
"use strict";

const BW_CHI2_95_2D = 5.991; // chi-square, 2 degrees of freedom, 95 %
const BW_LEAD_S = 60;

const BWTrackLayer = L.Layer.extend({
  options: { scale: 1, onSelect: null },

  initialize(options) {
    L.setOptions(this, options);
    this.tracks = new Map();      // id -> track (see picture.py)
    this.alertTracks = new Set(); // ids in an open alert
    this.crossings = [];          // [{lat, lon, fromLat, fromLon, label}]
    this.selected = null;
    this.drawCount = 0;
    this.lastDrawMs = 0;
    this.lastDrawAt = 0;
    this._pending = false;
  },

  onAdd(map) {
    this._map = map;
    const pane = map.getPane("bwTracks") || map.createPane("bwTracks");
    pane.style.zIndex = 450;
    pane.style.pointerEvents = "none";
    this._canvas = L.DomUtil.create("canvas", "track-canvas", pane);
    map.on("move zoom resize viewreset", this.redraw, this);
    map.on("zoomstart", () => { this._canvas.style.visibility = "hidden"; });
    map.on("zoomend", () => { this._canvas.style.visibility = "visible"; this.redraw(); });
    map.on("click", this._onClick, this);
    this.redraw();
  },

  onRemove(map) {
    map.off("move zoom resize viewreset", this.redraw, this);
    map.off("click", this._onClick, this);
    L.DomUtil.remove(this._canvas);
  },

  /* Ask for a redraw on the next animation frame (many calls, one draw). */
  redraw() {
    if (this._pending || !this._map) return;
    this._pending = true;
    requestAnimationFrame(() => { this._pending = false; this._draw(); });
  },

  _metresPerPixel(lat) {
    return 40075016.686 * Math.cos(lat * Math.PI / 180) / (256 * Math.pow(2, this._map.getZoom()));
  },

  _draw() {
    const t0 = performance.now();
    const map = this._map;
    const size = map.getSize();
    const dpr = window.devicePixelRatio || 1;
    const c = this._canvas;
    if (c.width !== size.x * dpr || c.height !== size.y * dpr) {
      c.width = size.x * dpr; c.height = size.y * dpr;
      c.style.width = size.x + "px"; c.style.height = size.y + "px";
    }
    L.DomUtil.setPosition(c, map.containerPointToLayerPoint([0, 0]));
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, size.x, size.y);
    const mpp = this._metresPerPixel(map.getCenter().lat);
    const many = this.tracks.size > 150;
    const labels = !many || map.getZoom() >= 15;
    const pad = 40;
    const visible = [];
    for (const tr of this.tracks.values()) {
      const p = map.latLngToContainerPoint([tr.lat, tr.lon]);
      if (p.x < -pad || p.y < -pad || p.x > size.x + pad || p.y > size.y + pad) continue;
      visible.push([tr, p]);
    }
    // Layer order: ellipses, trails, crossing lines, heading, symbols, labels.
    ctx.lineWidth = 1;
    for (const [tr, p] of visible) this._ellipse(ctx, tr, p, mpp);
    for (const [tr] of visible) this._trail(ctx, tr);
    this._crossings(ctx);
    for (const [tr, p] of visible) this._heading(ctx, tr, p, mpp);
    for (const [tr, p] of visible) this._symbol(ctx, tr, p);
    if (labels || this.alertTracks.size || this.selected) {
      for (const [tr, p] of visible) {
        if (labels || this.alertTracks.has(tr.id) || tr.id === this.selected) this._label(ctx, tr, p);
      }
    }
    this.drawCount += 1;
    this.lastDrawMs = performance.now() - t0;
    this.lastDrawAt = performance.now();
  },

  _colour(tr) {
    if (this.alertTracks.has(tr.id)) return "#ff3b5c";
    if (tr.status === "tentative") return "#b9c6d6";
    return "#ffd24d";
  },

  _ellipse(ctx, tr, p, mpp) {
    const cv = tr.cov;
    if (!cv) return;
    const [ee, en, nn] = cv;
    const half = (ee + nn) / 2;
    const root = Math.sqrt(Math.max(0, ((ee - nn) / 2) ** 2 + en * en));
    const l1 = half + root, l2 = Math.max(0, half - root);
    const k = Math.sqrt(BW_CHI2_95_2D);
    const a = k * Math.sqrt(l1) / mpp, b = k * Math.sqrt(l2) / mpp;
    if (a < 3) return;
    const angle = 0.5 * Math.atan2(2 * en, ee - nn); // major axis, from east towards north
    ctx.beginPath();
    ctx.ellipse(p.x, p.y, a, Math.max(b, 0.5), -angle, 0, 2 * Math.PI);
    ctx.fillStyle = this.alertTracks.has(tr.id) ? "rgba(255,59,92,0.10)" : "rgba(255,210,77,0.07)";
    ctx.strokeStyle = this.alertTracks.has(tr.id) ? "rgba(255,59,92,0.55)" : "rgba(255,210,77,0.38)";
    ctx.fill();
    ctx.stroke();
  },

  _trail(ctx, tr) {
    const pts = tr.trail;
    if (!pts || pts.length < 2) return;
    const map = this._map;
    ctx.beginPath();
    for (let i = 0; i < pts.length; i++) {
      const q = map.latLngToContainerPoint(pts[i]);
      if (i === 0) ctx.moveTo(q.x, q.y); else ctx.lineTo(q.x, q.y);
    }
    ctx.strokeStyle = this.alertTracks.has(tr.id) ? "rgba(255,59,92,0.6)" : "rgba(255,210,77,0.45)";
    ctx.lineWidth = 1.5;
    ctx.setLineDash([]);
    ctx.stroke();
    ctx.lineWidth = 1;
  },

  _heading(ctx, tr, p, mpp) {
    const speed = Math.hypot(tr.ve, tr.vn);
    if (speed < 0.2) return;
    const len = Math.max(10 * this.options.scale, speed * BW_LEAD_S / mpp);
    ctx.beginPath();
    ctx.moveTo(p.x, p.y);
    ctx.lineTo(p.x + (tr.ve / speed) * len, p.y - (tr.vn / speed) * len);
    ctx.strokeStyle = this._colour(tr);
    ctx.lineWidth = 2;
    ctx.setLineDash([]);
    ctx.stroke();
    ctx.lineWidth = 1;
  },

  _shape(ctx, cls, x, y, r) {
    ctx.beginPath();
    if (cls === "vehicle") {
      ctx.rect(x - r * 0.85, y - r * 0.85, r * 1.7, r * 1.7);
    } else if (cls === "animal") {
      ctx.moveTo(x, y - r * 1.1); ctx.lineTo(x + r, y + r * 0.75); ctx.lineTo(x - r, y + r * 0.75); ctx.closePath();
    } else if (cls === "person") {
      ctx.arc(x, y, r, 0, 2 * Math.PI);
    } else {
      ctx.moveTo(x, y - r * 1.15); ctx.lineTo(x + r * 1.15, y); ctx.lineTo(x, y + r * 1.15); ctx.lineTo(x - r * 1.15, y); ctx.closePath();
    }
  },

  /* Symbols and labels are drawn about (0, 0) and scaled with the page's font size,
     so a wall screen gets bigger symbols, not just more pixels. */
  _symbol(ctx, tr, p) {
    const r = 6;
    const colour = this._colour(tr);
    const inAlert = this.alertTracks.has(tr.id);
    ctx.save();
    ctx.translate(p.x, p.y);
    ctx.scale(this.options.scale, this.options.scale);
    if (tr.id === this.selected) {
      ctx.beginPath(); ctx.arc(0, 0, r + 7, 0, 2 * Math.PI);
      ctx.strokeStyle = "#4fb3ff"; ctx.lineWidth = 2.5; ctx.setLineDash([]); ctx.stroke();
    }
    if (inAlert) {
      ctx.beginPath(); ctx.arc(0, 0, r + 4, 0, 2 * Math.PI);
      ctx.strokeStyle = "#ff3b5c"; ctx.lineWidth = 2; ctx.setLineDash([]); ctx.stroke();
    }
    this._shape(ctx, tr.cls, 0, 0, r);
    ctx.lineWidth = 2;
    ctx.strokeStyle = colour;
    if (tr.status === "coasting") ctx.setLineDash([3, 2]); else ctx.setLineDash([]);
    if (tr.status === "confirmed") {
      ctx.fillStyle = colour; ctx.fill();
      ctx.strokeStyle = "#0b1118"; ctx.lineWidth = 1; ctx.stroke();
    } else {
      ctx.fillStyle = "rgba(11,17,24,0.7)"; ctx.fill(); ctx.stroke();
    }
    ctx.setLineDash([]);
    if (inAlert) {
      ctx.fillStyle = "#ff3b5c";
      ctx.font = "800 12px 'DejaVu Sans', system-ui, sans-serif";
      ctx.textAlign = "center"; ctx.textBaseline = "middle";
      ctx.fillText("!", r + 7, -r - 6);
    }
    ctx.restore();
  },

  _label(ctx, tr, p) {
    const text = tr.count > 1 ? `${tr.id} ×${tr.count}` : tr.id;
    ctx.save();
    ctx.translate(p.x, p.y);
    ctx.scale(this.options.scale, this.options.scale);
    ctx.font = "600 11px 'DejaVu Sans', system-ui, sans-serif";
    ctx.textBaseline = "middle";
    const w = ctx.measureText(text).width + 8;
    ctx.fillStyle = "rgba(11,17,24,0.78)";
    ctx.fillRect(7, 3, w, 16);
    ctx.fillStyle = this.alertTracks.has(tr.id) ? "#ff9aac" : "#dbe4ee";
    ctx.fillText(text, 11, 11);
    ctx.restore();
  },

  _crossings(ctx) {
    const map = this._map;
    for (const cp of this.crossings) {
      const q = map.latLngToContainerPoint([cp.lat, cp.lon]);
      if (cp.fromLat != null) {
        const f = map.latLngToContainerPoint([cp.fromLat, cp.fromLon]);
        ctx.beginPath(); ctx.moveTo(f.x, f.y); ctx.lineTo(q.x, q.y);
        ctx.setLineDash([6, 4]); ctx.strokeStyle = "rgba(255,59,92,0.85)"; ctx.lineWidth = 1.5; ctx.stroke();
        ctx.setLineDash([]);
      }
      ctx.save();
      ctx.translate(q.x, q.y);
      ctx.scale(this.options.scale, this.options.scale);
      ctx.beginPath();
      ctx.moveTo(-7, -7); ctx.lineTo(7, 7);
      ctx.moveTo(7, -7); ctx.lineTo(-7, 7);
      ctx.strokeStyle = "#ff3b5c"; ctx.lineWidth = 3; ctx.stroke();
      if (cp.label) {
        ctx.font = "700 11px 'DejaVu Sans', system-ui, sans-serif";
        ctx.textBaseline = "middle";
        const w = ctx.measureText(cp.label).width + 8;
        ctx.fillStyle = "rgba(40,8,14,0.85)"; ctx.fillRect(10, 4, w, 16);
        ctx.fillStyle = "#ffd0d8"; ctx.fillText(cp.label, 14, 12);
      }
      ctx.restore();
    }
  },

  /* The track nearest a click, within 14 px (scaled). */
  trackAt(containerPoint) {
    const reach = 14 * this.options.scale;
    let best = null, bestD = reach * reach;
    for (const tr of this.tracks.values()) {
      const p = this._map.latLngToContainerPoint([tr.lat, tr.lon]);
      const d = (p.x - containerPoint.x) ** 2 + (p.y - containerPoint.y) ** 2;
      if (d < bestD) { best = tr; bestD = d; }
    }
    return best;
  },

  _onClick(e) {
    const tr = this.trackAt(e.containerPoint);
    if (this.options.onSelect) this.options.onSelect(tr ? tr.id : null);
  },
});
