// shoebox: the offline map (Places page, the photo page's pin, and the Edit dialog's map,
// where a click on a map with data-pick moves the pin and sends a "pick" event). Web Mercator drawn in
// SVG from the world outlines the viewer serves; photo clusters from /api/places/clusters,
// joined on screen when their circles would touch; the first view fits data-extent (the
// photos' south,west,north,east) unless the address names one. Online raster tiles
// underneath only when [places] tile_url is set. No library, no CDN.
"use strict";

(() => {
  if (window.shoeboxPlaces) return; // a page may include it twice (the Edit dialog): run once
  window.shoeboxPlaces = true;
  const SVG = "http://www.w3.org/2000/svg";
  const TILE = 256; // the world is TILE px wide at zoom 0
  const MAX_ZOOM = 18;
  const MAX_LAT = 85.0511;
  const FIT_MAX_ZOOM = 12; // the first view of photos all in one place: a town, not a street
  const FIT_MARGIN = 48; // px left around the photos' extent, for the clusters' circles
  const GAP = 2; // px at least between two clusters' circles
  const EARTH_KM = 6371.0088;

  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const project = (lat, lng) => {
    const phi = (clamp(lat, -MAX_LAT, MAX_LAT) * Math.PI) / 180;
    return [((lng + 180) / 360) * TILE, (0.5 - Math.log(Math.tan(Math.PI / 4 + phi / 2)) / (2 * Math.PI)) * TILE];
  };
  const unproject = (x, y) => {
    const n = Math.PI - (2 * Math.PI * y) / TILE;
    return [(180 / Math.PI) * Math.atan(Math.sinh(n)), (x / TILE) * 360 - 180];
  };
  const el = (name, attrs) => {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  };

  const radius = (count) => 11 + 3 * Math.log2(count);

  function km(a, b) { // great-circle distance between two [lat, lng]
    const r = Math.PI / 180;
    const h = Math.sin(((b[0] - a[0]) * r) / 2) ** 2 +
      Math.cos(a[0] * r) * Math.cos(b[0] * r) * Math.sin(((b[1] - a[1]) * r) / 2) ** 2;
    return 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  // Two clusters as one: their photos counted together at their mean position, and a near:
  // search whose circle covers both of theirs.
  function joined(a, b) {
    const count = a.count + b.count;
    const lat = (a.lat * a.count + b.lat * b.count) / count;
    const lng = (a.lng * a.count + b.lng * b.count) / count;
    let reach = 0.1;
    for (const part of [a, b]) {
      const [plat, plng, pkm] = part.near.split(",").map(Number);
      reach = Math.max(reach, km([lat, lng], [plat, plng]) + pkm);
    }
    const near = `${lat.toFixed(6)},${lng.toFixed(6)},${Math.min(20000, reach * 1.01).toFixed(3)}`;
    return { lat, lng, count, photo_id: Math.max(a.photo_id, b.photo_id), near };
  }

  function ringPath(ring) {
    let d = "";
    ring.forEach(([lng, lat], i) => {
      const [x, y] = project(lat, lng);
      d += (i ? "L" : "M") + x.toFixed(3) + " " + y.toFixed(3);
    });
    return d + "Z";
  }

  class GeoMap {
    constructor(box) {
      this.box = box;
      this.data = box.dataset;
      this.interactive = this.data.interactive === "yes";
      this.status = box.querySelector(".geo-status");
      this.svg = el("svg", { role: "img" });
      this.tiles = el("g", { class: "tiles" });
      this.world = el("g", { class: "world" });
      this.marks = el("g", { class: "marks" });
      this.svg.append(this.tiles, this.world, this.marks);
      box.prepend(this.svg);
      if (this.data.tiles) box.classList.add("tiled");
      this.clusters = [];
      this.seq = 0;
      this.timer = 0;
      const pin = this.pin();
      const start = this.fromHash() || (pin ? [pin[0], pin[1], Number(this.data.zoom || 3)] : null);
      const extent = (this.data.extent || "").split(",").map(Number);
      if (start) {
        const [cx, cy] = project(start[0], start[1]);
        this.view = { cx, cy, z: start[2] };
      } else if (extent.length === 4 && extent.every(Number.isFinite)) {
        this.view = this.fitting(...extent);
      } else {
        this.view = { cx: TILE / 2, cy: TILE / 2, z: this.fitZoom() };
      }
      this.clampView();
      if (this.interactive) this.listen();
      new ResizeObserver(() => this.draw()).observe(box);
      this.loadWorld();
    }

    pin() {
      const lat = parseFloat(this.data.lat), lng = parseFloat(this.data.lng);
      return Number.isFinite(lat) && Number.isFinite(lng) ? [lat, lng] : null;
    }

    fromHash() {
      if (!this.interactive) return null;
      const parts = decodeURIComponent(location.hash.slice(1)).split(",").map(Number);
      if (parts.length !== 3 || !parts.every(Number.isFinite)) return null;
      return [clamp(parts[0], -MAX_LAT, MAX_LAT), clamp(parts[1], -180, 180), clamp(parts[2], 0, MAX_ZOOM)];
    }

    fitting(south, west, north, east) { // the view that shows this box whole, as near as it may
      const [x0, y0] = project(north, west), [x1, y1] = project(south, east);
      const width = Math.max(1, this.box.clientWidth - 2 * FIT_MARGIN);
      const height = Math.max(1, this.box.clientHeight - 2 * FIT_MARGIN);
      const z = Math.log2(Math.min(width / Math.max(x1 - x0, 1e-9), height / Math.max(y1 - y0, 1e-9)));
      return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, z: clamp(z, 0, FIT_MAX_ZOOM) };
    }

    fitZoom() {
      return clamp(Math.log2(Math.max(1, this.box.clientWidth) / TILE), 0, MAX_ZOOM);
    }

    clampView() {
      const v = this.view;
      v.z = clamp(v.z, Math.min(this.fitZoom(), 1), MAX_ZOOM);
      v.cx = clamp(v.cx, 0, TILE);
      v.cy = clamp(v.cy, 0, TILE);
    }

    scale() { return 2 ** this.view.z; }

    toScreen(x, y) {
      const s = this.scale();
      return [(x - this.view.cx) * s + this.box.clientWidth / 2, (y - this.view.cy) * s + this.box.clientHeight / 2];
    }

    toWorld(px, py) {
      const s = this.scale();
      return [(px - this.box.clientWidth / 2) / s + this.view.cx, (py - this.box.clientHeight / 2) / s + this.view.cy];
    }

    async loadWorld() {
      try {
        const answer = await fetch(this.data.world, { credentials: "same-origin" });
        if (!answer.ok) throw new Error((await answer.text()).slice(0, 200) || answer.statusText);
        const geo = await answer.json();
        const frag = document.createDocumentFragment();
        for (const feature of geo.features) {
          let d = "";
          for (const polygon of feature.geometry.coordinates) for (const ring of polygon) d += ringPath(ring);
          const path = el("path", { class: "land", d });
          const title = el("title");
          title.textContent = feature.properties.name || "";
          path.append(title);
          frag.append(path);
        }
        this.world.append(frag);
        this.box.dataset.drawn = String(geo.features.length);
        this.say("");
      } catch (err) {
        this.say("The world map could not be loaded: " + err.message);
      }
      this.draw();
      this.fetchClusters();
    }

    say(text) { if (this.status) this.status.textContent = text; }

    draw() {
      const s = this.scale();
      const [tx, ty] = this.toScreen(0, 0);
      this.world.setAttribute("transform", `translate(${tx} ${ty}) scale(${s})`);
      this.drawTiles();
      this.drawMarks();
    }

    drawTiles() {
      const template = this.data.tiles;
      if (!template) return;
      this.tiles.replaceChildren();
      const z = clamp(Math.round(this.view.z), 0, 19), n = 2 ** z;
      const size = TILE * 2 ** (this.view.z - z);
      const [x0, y0] = this.toWorld(0, 0), [x1, y1] = this.toWorld(this.box.clientWidth, this.box.clientHeight);
      const per = TILE / n;
      for (let ty = Math.max(0, Math.floor(y0 / per)); ty <= Math.min(n - 1, Math.floor(y1 / per)); ty++) {
        for (let tx = Math.floor(x0 / per); tx <= Math.floor(x1 / per); tx++) {
          if (tx < 0 || tx >= n) continue;
          const [sx, sy] = this.toScreen(tx * per, ty * per);
          const href = template.replace("{z}", z).replace("{x}", tx).replace("{y}", ty).replace("{s}", "abc"[(tx + ty) % 3]);
          this.tiles.append(el("image", { href, x: sx, y: sy, width: size + 0.5, height: size + 0.5 }));
        }
      }
    }

    drawMarks() {
      this.marks.replaceChildren();
      const pin = this.pin();
      if (pin) {
        const [x, y] = this.toScreen(...project(pin[0], pin[1]));
        this.marks.append(el("circle", { class: "pin", cx: x, cy: y, r: 7 }));
      }
      const shown = this.apart();
      if (this.fetched) this.box.dataset.shown = String(shown.length);
      for (const c of shown) {
        const [x, y] = c.xy;
        const g = el("g", { class: "cluster", transform: `translate(${x} ${y})`, tabindex: "0", role: "link", "data-count": c.count });
        const title = el("title");
        title.textContent = `${c.count} ${c.count === 1 ? "photo" : "photos"}`;
        const text = el("text");
        text.textContent = c.count > 999 ? Math.round(c.count / 1000) + "k" : String(c.count);
        g.append(title, el("circle", { r: radius(c.count) }), text);
        const open = () => { location.href = this.data.search + "?q=" + encodeURIComponent("near:" + c.near); };
        g.addEventListener("click", () => { if (!this.dragged) open(); });
        g.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
        this.marks.append(g);
      }
    }

    // The clusters as drawn at this zoom: any two whose circles would touch become one, the
    // biggest first, until none do (the server's grid cells do not know the circles' sizes).
    apart() {
      const at = (c) => ({ ...c, xy: this.toScreen(...project(c.lat, c.lng)) });
      let list = this.clusters.map(at);
      for (let changed = true; changed;) {
        changed = false;
        list.sort((a, b) => b.count - a.count);
        const kept = [];
        for (const c of list) {
          const i = kept.findIndex((k) =>
            Math.hypot(k.xy[0] - c.xy[0], k.xy[1] - c.xy[1]) < radius(k.count) + radius(c.count) + GAP);
          if (i < 0) kept.push(c);
          else { kept[i] = at(joined(kept[i], c)); changed = true; }
        }
        list = kept;
      }
      return list;
    }

    fetchClusters() {
      if (!this.data.clusters) return;
      const [north, west] = unproject(...this.toWorld(0, 0));
      const [south, east] = unproject(...this.toWorld(this.box.clientWidth, this.box.clientHeight));
      const params = new URLSearchParams({
        zoom: clamp(Math.round(this.view.z), 0, MAX_ZOOM),
        south: clamp(south, -90, 90).toFixed(5), north: clamp(north, -90, 90).toFixed(5),
        west: clamp(west, -180, 180).toFixed(5), east: clamp(east, -180, 180).toFixed(5),
      });
      const seq = ++this.seq;
      fetch(this.data.clusters + "?" + params, { credentials: "same-origin" })
        .then((answer) => answer.ok ? answer.json() : answer.json().then((e) => { throw new Error(e.error); }))
        .then((clusters) => {
          if (seq !== this.seq) return;
          this.clusters = clusters;
          this.fetched = true;
          const total = clusters.reduce((sum, c) => sum + c.count, 0);
          this.say(total ? `${total} ${total === 1 ? "photo" : "photos"} here` : "No photos with a place here");
          this.drawMarks();
        })
        .catch((err) => this.say("The photos could not be placed: " + err.message));
    }

    changed() {
      this.clampView();
      this.draw();
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.fetchClusters();
        const [lat, lng] = unproject(this.view.cx, this.view.cy);
        history.replaceState(null, "", `#${lat.toFixed(5)},${lng.toFixed(5)},${this.view.z.toFixed(2)}`);
      }, 150);
    }

    zoomAt(delta, px, py) {
      const [wx, wy] = this.toWorld(px, py);
      this.view.z = clamp(this.view.z + delta, 0, MAX_ZOOM);
      const s = this.scale();
      this.view.cx = wx - (px - this.box.clientWidth / 2) / s;
      this.view.cy = wy - (py - this.box.clientHeight / 2) / s;
      this.changed();
    }

    listen() {
      const box = this.box, pointers = new Map();
      let last = null, pinch = 0;
      const local = (e) => { const r = box.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
      box.querySelectorAll("[data-zoom]").forEach((b) => b.addEventListener("click", () => {
        this.zoomAt(Number(b.dataset.zoom), box.clientWidth / 2, box.clientHeight / 2);
      }));
      box.addEventListener("wheel", (e) => {
        e.preventDefault();
        this.zoomAt(-e.deltaY * (e.deltaMode ? 0.05 : 0.002), ...local(e));
      }, { passive: false });
      box.addEventListener("pointerdown", (e) => {
        if (e.target.closest("button")) return;
        pointers.set(e.pointerId, local(e));
        last = local(e);
        this.dragged = false;
        pinch = 0;
      });
      box.addEventListener("pointermove", (e) => {
        if (!pointers.has(e.pointerId)) return;
        const here = local(e);
        pointers.set(e.pointerId, here);
        if (pointers.size === 2) {
          const [a, b] = [...pointers.values()];
          const dist = Math.hypot(a[0] - b[0], a[1] - b[1]);
          if (pinch) this.zoomAt(Math.log2(dist / pinch), (a[0] + b[0]) / 2, (a[1] + b[1]) / 2);
          pinch = dist;
          return;
        }
        const dx = here[0] - last[0], dy = here[1] - last[1];
        if (!this.dragged && Math.hypot(dx, dy) < 4) return;
        if (!this.dragged) { this.dragged = true; box.classList.add("dragging"); box.setPointerCapture(e.pointerId); }
        last = here;
        this.view.cx -= dx / this.scale();
        this.view.cy -= dy / this.scale();
        this.changed();
      });
      const up = (e) => {
        if (this.data.pick && e.type === "pointerup" && !this.dragged && pointers.size === 1) {
          const [lat, lng] = unproject(...this.toWorld(...local(e)));
          this.data.lat = lat.toFixed(5);
          this.data.lng = clamp(lng, -180, 180).toFixed(5);
          this.drawMarks();
          box.dispatchEvent(new CustomEvent("pick", { detail: { lat, lng: clamp(lng, -180, 180) } }));
        }
        pointers.delete(e.pointerId);
        box.classList.remove("dragging");
        if (pointers.size === 1) last = [...pointers.values()][0];
      };
      box.addEventListener("pointerup", up);
      box.addEventListener("pointercancel", up);
      window.addEventListener("hashchange", () => {
        const to = this.fromHash();
        if (!to) return;
        [this.view.cx, this.view.cy] = project(to[0], to[1]);
        this.view.z = to[2];
        this.changed();
      });
    }
  }

  const start = () => document.querySelectorAll(".geo-map").forEach((box) => new GeoMap(box));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
