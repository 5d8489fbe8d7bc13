/* firegap map layers for Leaflet 1.9: compact data drawn on one canvas per layer.
 *
 * A layer's data (written by pipeline/map_encode.py):
 *   k      "line" | "poly" | "point"
 *   d      decimals of the coordinates
 *   s      every vertex as one Google encoded-polyline string (lat, lon deltas run across
 *          features); polygon rings are stored without their closing vertex
 *   n      vertices per part (lines: per line, polygons: per ring; absent for points)
 *   f      parts per feature (absent: one part each)
 *   st     style index per feature (absent: style 0); styles: [{c, w, o, fc, fo, dash, r}]
 *   a, v   tooltip values by column (numbers, null, or indexes into v[column] for text)
 *   tip    {h: heading (may hold "{column}"), hc: heading column, rows: [[label, col, dec]]}
 *   pop    popup HTML per feature (null: the tooltip);  id: row id per feature (or null)
 *
 * Coordinates become zoom-0 pixel coordinates once (Float64Array); a redraw scales them,
 * skips features outside the view and vertices closer than half a pixel, and strokes one
 * path per style. Hover and click find features through a grid index built on first use.
 */
(function () {
  "use strict";

  var HALF_PX = 0.5;
  var CHUNK = 2000;
  var FULL_WIDTH_ZOOM = 16;
  var ROUND_ZOOM = 17;
  var DEG = Math.PI / 180;
  var MAX_LAT = 85.0511287798;

  function decode(s, total, scale) {
    var lat = new Float64Array(total), lon = new Float64Array(total);
    var i = 0, la = 0, lo = 0, k = 0, r, sh, b;
    while (k < total) {
      r = 0; sh = 0;
      do { b = s.charCodeAt(i++) - 63; r |= (b & 31) << sh; sh += 5; } while (b >= 32);
      la += (r & 1) ? ~(r >> 1) : (r >> 1);
      r = 0; sh = 0;
      do { b = s.charCodeAt(i++) - 63; r |= (b & 31) << sh; sh += 5; } while (b >= 32);
      lo += (r & 1) ? ~(r >> 1) : (r >> 1);
      lat[k] = la / scale; lon[k] = lo / scale; k++;
    }
    return [lat, lon];
  }

  /* Non-negative integers written by map_encode.encode_uints (a list is taken as it is). */
  function uints(s) {
    if (typeof s !== "string") { return s || []; }
    var out = [], i = 0, r, sh, b;
    while (i < s.length) {
      r = 0; sh = 0;
      do { b = s.charCodeAt(i++) - 63; r |= (b & 31) << sh; sh += 5; } while (b >= 32);
      out.push(r);
    }
    return out;
  }

  /* Leaflet's EPSG:3857 at zoom 0 (256 px for the world). */
  function px(lat, lon) {
    var y = Math.max(Math.min(lat, MAX_LAT), -MAX_LAT) * DEG;
    return [256 * (lon / 360 + 0.5),
            256 * (0.5 - Math.log(Math.tan(Math.PI / 4 + y / 2)) / (2 * Math.PI))];
  }

  function esc(t) {
    return String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  /* Every firegap layer of the page, shown or not: a row id is looked up in all of them. */
  var ALL = [];

  function Manager(map) {
    this.map = map;
    this.layers = [];
    this.tip = L.tooltip({direction: "top", offset: [0, -8], opacity: 0.95});
    this.highlighted = null;
    this._pending = null;
    var pane = map.createPane("firegapHighlight");
    pane.style.zIndex = 450;
    pane.style.pointerEvents = "none";
    var self = this;
    map.on("mousemove", function (e) {
      self._pending = e;
      if (self._frame) { return; }
      self._frame = L.Util.requestAnimFrame(function () {
        self._frame = null;
        self.hover(self._pending);
      });
    });
    map.on("mouseout", function () { self.closeTip(); });
    map.on("click", function (e) { self.click(e); });
  }

  Manager.prototype.find = function (latlng) {
    var zoom = this.map.getZoom(), scale = Math.pow(2, zoom);
    var p = px(latlng.lat, latlng.lng);
    var order = this.layers.filter(function (l) { return l._map && l.interactive; });
    order.sort(function (a, b) { return b.options.zIndex - a.options.zIndex; });
    for (var i = 0; i < order.length; i++) {
      var f = order[i].hit(p[0], p[1], scale);
      if (f >= 0) { return {layer: order[i], index: f}; }
    }
    return null;
  };

  Manager.prototype.closeTip = function () {
    if (this.map.hasLayer(this.tip)) { this.map.closeTooltip(this.tip); }
    this.map.getContainer().style.cursor = "";
  };

  Manager.prototype.hover = function (e) {
    var hit = this.find(e.latlng);
    var html = hit ? hit.layer.tooltip(hit.index) : "";
    if (!html) { this.closeTip(); return; }
    this.tip.setLatLng(e.latlng).setContent(html);
    if (!this.map.hasLayer(this.tip)) { this.map.openTooltip(this.tip); }
    this.map.getContainer().style.cursor = "pointer";
  };

  Manager.prototype.click = function (e) {
    var hit = this.find(e.latlng);
    if (!hit) { return; }
    var html = hit.layer.popup(hit.index, e.latlng) || hit.layer.tooltip(hit.index);
    if (html) {
      L.popup({maxWidth: 360}).setLatLng(e.latlng).setContent(html).openOn(this.map);
    }
  };

  /* Draw the feature with row id `id` on top, ringed, and say which it is. */
  Manager.prototype.highlight = function (id, at) {
    if (this.highlighted && this.highlighted.drawn) {
      this.highlighted.drawn.forEach(function (l) { l.remove(); });
    }
    this.highlighted = null;
    for (var i = 0; i < ALL.length; i++) {
      var layer = ALL[i], f = layer.findId(id);
      if (f < 0) { continue; }
      if (!layer._map) { this.map.addLayer(layer._group || layer); }
      var drawn = layer.leafletFeature(f, this.map, at);
      this.highlighted = {id: id, layer: layer.options.name, index: f, drawn: drawn,
                          bounds: drawn[0].getBounds ? drawn[0].getBounds() : null,
                          latlng: drawn[0].getLatLng ? drawn[0].getLatLng() : null};
      return this.highlighted;
    }
    return null;
  };

  function manager(map) {
    if (!map._firegap) { map._firegap = new Manager(map); }
    return map._firegap;
  }

  L.FiregapLayer = L.Layer.extend({
    options: {pane: "overlayPane", zIndex: 0, padding: 0.1, interactive: true, name: ""},

    initialize: function (data, options) {
      L.setOptions(this, options);
      this.data = data;
      this.interactive = this.options.interactive && !!(data.tip || data.pop);
      this._unpack();
      ALL.push(this);
    },

    _unpack: function () {
      var d = this.data, kind = d.k, i, j;
      var n = d.n = uints(d.n);
      if (d.f) { d.f = uints(d.f); }
      if (d.st) { d.st = uints(d.st); }
      var nParts = kind === "point" ? (d.count || 0) : n.length;
      var total = 0;
      if (kind === "point") { total = nParts; } else { for (i = 0; i < n.length; i++) { total += n[i]; } }
      var ll = decode(d.s || "", total, Math.pow(10, d.d));
      this.lat = ll[0]; this.lon = ll[1];
      var X = new Float64Array(total), Y = new Float64Array(total);
      for (i = 0; i < total; i++) { var p = px(ll[0][i], ll[1][i]); X[i] = p[0]; Y[i] = p[1]; }
      this.X = X; this.Y = Y;
      var partStart = new Int32Array(nParts + 1);
      for (i = 0; i < nParts; i++) { partStart[i + 1] = partStart[i] + (kind === "point" ? 1 : n[i]); }
      this.partStart = partStart;
      var nFeat = d.f ? d.f.length : nParts;
      var featPart = new Int32Array(nFeat + 1);
      for (i = 0; i < nFeat; i++) { featPart[i + 1] = featPart[i] + (d.f ? d.f[i] : 1); }
      this.featPart = featPart;
      this.nFeat = nFeat;
      var box = new Float64Array(4 * nFeat);
      for (i = 0; i < nFeat; i++) {
        var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
        for (j = partStart[featPart[i]]; j < partStart[featPart[i + 1]]; j++) {
          if (X[j] < x0) { x0 = X[j]; } if (X[j] > x1) { x1 = X[j]; }
          if (Y[j] < y0) { y0 = Y[j]; } if (Y[j] > y1) { y1 = Y[j]; }
        }
        box[4 * i] = x0; box[4 * i + 1] = y0; box[4 * i + 2] = x1; box[4 * i + 3] = y1;
      }
      this.box = box;
      var styles = d.styles || [{}];
      var groups = styles.map(function () { return []; });
      var order = [];
      for (i = 0; i < nFeat; i++) {
        var st = d.st ? d.st[i] : 0;
        if (!groups[st].length) { order.push(st); }
        groups[st].push(i);
      }
      this.groups = order.map(function (st) { return {style: styles[st], features: Int32Array.from(groups[st])}; });
      this.ids = null;
      if (d.id) {
        this.ids = {};
        for (i = 0; i < d.id.length; i++) { if (d.id[i] !== null) { this.ids[d.id[i]] = i; } }
      }
    },

    onAdd: function (map) {
      manager(map).layers.indexOf(this) < 0 && manager(map).layers.push(this);
      var c = this._canvas = L.DomUtil.create("canvas", "firegap-layer leaflet-zoom-animated");
      c.style.zIndex = this.options.zIndex;
      c.style.pointerEvents = "none";
      this.getPane().appendChild(c);
      map.on("moveend viewreset resize", this._redraw, this);
      map.on("zoomanim", this._animateZoom, this);
      this._redraw();
    },

    onRemove: function (map) {
      map.off("moveend viewreset resize", this._redraw, this);
      map.off("zoomanim", this._animateZoom, this);
      L.DomUtil.remove(this._canvas);
      this._canvas = null;
    },

    _animateZoom: function (e) {
      var map = this._map, scale = map.getZoomScale(e.zoom, this._zoom);
      var size = map.getSize(), pad = this.options.padding;
      var viewHalf = size.multiplyBy(0.5 + pad);
      var offset = viewHalf.multiplyBy(-scale).add(map.project(this._center, e.zoom))
        .subtract(map._getNewPixelOrigin(e.center, e.zoom));
      L.DomUtil.setTransform(this._canvas, offset, scale);
    },

    _redraw: function () {
      var map = this._map;
      if (!map || !this._canvas) { return; }
      var t0 = performance.now();
      var size = map.getSize(), pad = this.options.padding;
      var min = map.containerPointToLayerPoint(size.multiplyBy(-pad)).round();
      var w = Math.round(size.x * (1 + 2 * pad)), h = Math.round(size.y * (1 + 2 * pad));
      var dpr = window.devicePixelRatio || 1, c = this._canvas;
      this._center = map.getCenter(); this._zoom = map.getZoom();
      L.DomUtil.setPosition(c, min);
      var W = Math.round(w * dpr), H = Math.round(h * dpr);
      if (c.width !== W || c.height !== H) { c.width = W; c.height = H; }
      c.style.width = w + "px"; c.style.height = h + "px";
      var ctx = c.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, h);
      // A canvas with nothing on it is hidden: the browser then skips compositing it.
      if (!this.drawnAt(this._zoom)) { c.style.display = "none"; this.lastDrawMs = 0; return; }
      var drawn = 0;
      var S = Math.pow(2, this._zoom), org = map.getPixelOrigin();
      var ox = org.x + min.x, oy = org.y + min.y;
      var vx0 = ox / S, vy0 = oy / S, vx1 = (ox + w) / S, vy1 = (oy + h) / S;
      var kind = this.data.k, X = this.X, Y = this.Y, box = this.box;
      var ps = this.partStart, fp = this.featPart;
      // Software rasterisers choke on one huge wide path with round joins: strokes go out in
      // chunks of CHUNK features, lines thin out below FULL_WIDTH_ZOOM (a 9 px alley halo at
      // province zoom covers half a kilometre), and joins are round only from ROUND_ZOOM.
      var thin = Math.min(1, Math.pow(2, this._zoom - FULL_WIDTH_ZOOM));
      var round = this._zoom >= ROUND_ZOOM;
      for (var g = 0; g < this.groups.length; g++) {
        var st = this.groups[g].style, feats = this.groups[g].features;
        var lw = st.w === undefined ? 2 : st.w, r = st.r || 4;
        lw = lw > 0 ? Math.max(Math.min(lw, 1.2), lw * thin) : 0;
        var grow = (lw + 2 * r) / S, inPath = 0;
        var flush = function () {
          if (kind !== "line" && st.fo) {
            ctx.globalAlpha = st.fo; ctx.fillStyle = st.fc || st.c; ctx.fill("evenodd");
          }
          if (lw > 0) {
            ctx.globalAlpha = st.o === undefined ? 0.9 : st.o;
            ctx.strokeStyle = st.c; ctx.lineWidth = lw;
            ctx.lineCap = round ? "round" : "butt"; ctx.lineJoin = round ? "round" : "bevel";
            ctx.setLineDash(st.dash || []);
            ctx.stroke();
          }
          ctx.globalAlpha = 1;
          ctx.beginPath(); inPath = 0;
        };
        ctx.beginPath();
        for (var q = 0; q < feats.length; q++) {
          var i = feats[q], b = 4 * i;
          if (box[b] > vx1 + grow || box[b + 2] < vx0 - grow ||
              box[b + 1] > vy1 + grow || box[b + 3] < vy0 - grow) { continue; }
          if (++inPath > CHUNK) { flush(); inPath = 1; }
          drawn++;
          for (var part = fp[i]; part < fp[i + 1]; part++) {
            var a = ps[part], z = ps[part + 1];
            var x = X[a] * S - ox, y = Y[a] * S - oy;
            if (kind === "point") {
              ctx.moveTo(x + r, y); ctx.arc(x, y, r, 0, 2 * Math.PI);
              continue;
            }
            ctx.moveTo(x, y);
            var lx = x, ly = y;
            for (var k = a + 1; k < z; k++) {
              x = X[k] * S - ox; y = Y[k] * S - oy;
              if (k === z - 1 || Math.abs(x - lx) > HALF_PX || Math.abs(y - ly) > HALF_PX) {
                ctx.lineTo(x, y); lx = x; ly = y;
              }
            }
            if (kind === "poly") { ctx.closePath(); }
          }
        }
        flush();
      }
      c.style.display = drawn ? "" : "none";
      this.lastDrawMs = performance.now() - t0;
    },

    /* Whether the layer is drawn at a zoom (aggregates below some zoom, detail above). */
    drawnAt: function (zoom) {
      var d = this.data;
      return !((d.z0 !== undefined && zoom < d.z0) || (d.z1 !== undefined && zoom > d.z1));
    },

    /* Feature under zoom-0 point (x, y) at map scale S, or -1: the last drawn wins. */
    hit: function (x, y, S) {
      if (!this.drawnAt(Math.round(Math.log2(S)))) { return -1; }
      if (!this.nFeat) { return -1; }
      if (!this._grid) { this._buildGrid(); }
      var tol = 4 / S, best = -1, grid = this._grid, cs = grid.cs, m;
      var cx0 = Math.floor((x - tol) / cs), cx1 = Math.floor((x + tol) / cs);
      var cy0 = Math.floor((y - tol) / cs), cy1 = Math.floor((y + tol) / cs);
      var seen = {}, cands = grid.big.slice();
      if ((cx1 - cx0 + 1) * (cy1 - cy0 + 1) > grid.cells.size) {
        // zoomed far out: the tolerance spans more cells than there are; test every feature
        for (m = 0; m < this.nFeat; m++) { cands.push(m); }
      } else {
        for (var cx = cx0; cx <= cx1; cx++) {
          for (var cy = cy0; cy <= cy1; cy++) {
            var cell = grid.cells.get(cx * 4194304 + cy);
            if (cell) { for (m = 0; m < cell.length; m++) { cands.push(cell[m]); } }
          }
        }
      }
      for (var c = 0; c < cands.length; c++) {
        var i = cands[c];
        if (i <= best || seen[i]) { continue; }
        seen[i] = true;
        if (this._hits(i, x, y, S, tol)) { best = i; }
      }
      return best;
    },

    _hits: function (i, x, y, S, tol) {
      var box = this.box, b = 4 * i, st = this._styleOf(i), kind = this.data.k;
      var lw = st.w === undefined ? 2 : st.w, r = kind === "point" ? (st.r || 4) : 0;
      var t = tol + (lw / 2 + r) / S;
      if (x < box[b] - t || x > box[b + 2] + t || y < box[b + 1] - t || y > box[b + 3] + t) {
        return false;
      }
      var X = this.X, Y = this.Y, ps = this.partStart, fp = this.featPart, inside = false;
      for (var part = fp[i]; part < fp[i + 1]; part++) {
        var a = ps[part], z = ps[part + 1], j, k;
        if (kind === "point") {
          if (Math.hypot(X[a] - x, Y[a] - y) <= t) { return true; }
          continue;
        }
        for (k = kind === "poly" ? a : a + 1, j = kind === "poly" ? z - 1 : a; k < z; j = k++) {
          var ax = X[j], ay = Y[j], dx = X[k] - ax, dy = Y[k] - ay, L2 = dx * dx + dy * dy;
          var u = L2 > 0 ? Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / L2)) : 0;
          if (Math.hypot(ax + u * dx - x, ay + u * dy - y) <= t) { return true; }
          if (kind === "poly" && ((ay > y) !== (Y[k] > y)) &&
              x < dx * (y - ay) / dy + ax) { inside = !inside; }
        }
      }
      return inside;
    },

    _styleOf: function (i) {
      var styles = this.data.styles || [{}];
      return styles[this.data.st ? this.data.st[i] : 0];
    },

    _buildGrid: function () {
      var n = this.nFeat, box = this.box, i;
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, sizes = 0;
      for (i = 0; i < n; i++) {
        x0 = Math.min(x0, box[4 * i]); y0 = Math.min(y0, box[4 * i + 1]);
        x1 = Math.max(x1, box[4 * i + 2]); y1 = Math.max(y1, box[4 * i + 3]);
        sizes += Math.max(box[4 * i + 2] - box[4 * i], box[4 * i + 3] - box[4 * i + 1]);
      }
      var extent = Math.max(x1 - x0, y1 - y0, 1e-9);
      var cs = Math.max(extent / 2048, 2 * sizes / Math.max(n, 1), 1e-9);
      var cells = new Map(), big = [];
      for (i = 0; i < n; i++) {
        var a = Math.floor(box[4 * i] / cs), b = Math.floor(box[4 * i + 2] / cs);
        var c = Math.floor(box[4 * i + 1] / cs), d = Math.floor(box[4 * i + 3] / cs);
        if ((b - a + 1) * (d - c + 1) > 64) { big.push(i); continue; }
        for (var cx = a; cx <= b; cx++) {
          for (var cy = c; cy <= d; cy++) {
            var key = cx * 4194304 + cy, cell = cells.get(key);
            if (cell) { cell.push(i); } else { cells.set(key, [i]); }
          }
        }
      }
      this._grid = {cs: cs, cells: cells, big: big};
    },

    /* Tooltip text of column `col` of feature i: coded columns (a string of codes, 0 for
     * missing, k for v[col][k - 1]) or numbers shown with `dec` decimals. */
    value: function (col, i, dec) {
      var all = this.data.a, a = all && all[col];
      if (a === undefined || a === null) { return null; }
      if (typeof a === "string") { a = all[col] = uints(a); }
      var v = a[i], dict = this.data.v && this.data.v[col];
      if (dict) { return v ? dict[v - 1] : "\u2013"; }
      if (v === null || v === undefined) { return "\u2013"; }
      return typeof v === "number" && dec !== undefined && dec !== null ? v.toFixed(dec) : String(v);
    },

    tooltip: function (i) {
      var tip = this.data.tip;
      if (!tip) { return ""; }
      var self = this, out = [];
      if (tip.h) {
        out.push("<b>" + tip.h.replace(/\{(\w+)\}/g, function (m, col) {
          var v = self.value(col, i, 0); return v === null ? m : v;
        }) + "</b>");
      }
      if (tip.hc) {
        var name = this.value(tip.hc, i);
        if (name && name !== "\u2013") { out.push("<b>" + name + "</b>"); }
      }
      (tip.rows || []).forEach(function (row) {
        var v = self.value(row[1], i, row[2]);
        if (v !== null) { out.push(row[0] + ": " + v); }
      });
      if (this.data.id && this.data.id[i] !== null) { out.unshift("<b>" + esc(this.data.id[i]) + "</b>"); }
      return out.join("<br>");
    },

    /* Popup HTML; "{view}" in it becomes "#zoom/lat/lon" of the clicked spot (street zoom
     * at least), so a ward map opens where the province map was clicked. */
    popup: function (i, latlng) {
      var pop = this.data.pop ? this.data.pop[i] : null;
      if (!pop) { return ""; }
      var z = Math.max(this._map.getZoom(), 16);
      return pop.replace("{view}", "#" + z + "/" + latlng.lat.toFixed(6) + "/" + latlng.lng.toFixed(6));
    },

    findId: function (id) {
      return this.ids && Object.prototype.hasOwnProperty.call(this.ids, id) ? this.ids[id] : -1;
    },

    /* Leaflet vector copies of feature i in the highlight pane: a wide ring, then the feature. */
    leafletFeature: function (i, map, at) {
      var parts = [], ps = this.partStart, fp = this.featPart, lat = this.lat, lon = this.lon;
      for (var part = fp[i]; part < fp[i + 1]; part++) {
        var pts = [];
        for (var k = ps[part]; k < ps[part + 1]; k++) { pts.push([lat[k], lon[k]]); }
        parts.push(pts);
      }
      var st = this._styleOf(i), ring = {pane: "firegapHighlight", interactive: false,
        color: "#fab005", weight: 12, opacity: 0.9, fill: false};
      var inner = {pane: "firegapHighlight", interactive: false, color: st.c,
        weight: Math.max(3, st.w || 3), opacity: 1, fillOpacity: 0.35};
      var out;
      if (this.data.k === "point") {
        out = [L.circleMarker(parts[0][0], L.extend({}, ring, {radius: 16, weight: 5})),
               L.circleMarker(parts[0][0], L.extend({}, inner, {radius: st.r || 6}))];
      } else if (this.data.k === "poly") {
        out = [L.polygon(parts, ring), L.polygon(parts, inner)];
      } else {
        out = [L.polyline(parts, ring), L.polyline(parts, inner)];
      }
      out.forEach(function (l) { l.addTo(map); });
      var html = this.tooltip(i) || esc(this.data.id[i]);
      out[0].bindTooltip(html, {permanent: true, direction: "top", className: "firegap-found"})
        .openTooltip(at);
      return out;
    }
  });

  /* A layer of several kinds (shortlist: alley lines and site points) is a group of them. */
  L.firegapLayer = function (data, options) {
    if (!data.multi) { return new L.FiregapLayer(data, options); }
    var group = L.layerGroup();
    data.multi.forEach(function (d) {
      var layer = new L.FiregapLayer(d, options);
      layer._group = group;
      group.addLayer(layer);
    });
    return group;
  };

  /* Open at "#zoom/lat/lon[/row id]" when the address has one (no animation, so nothing
   * undoes it), else on the data's bounds; follow later changes of the address. */
  L.firegapOpen = function (map, bounds) {
    function parse() {
      var h = decodeURIComponent(window.location.hash.slice(1)).split("/");
      var z = Number(h[0]), lat = Number(h[1]), lon = Number(h[2]);
      if (h.length < 3 || !isFinite(z) || !isFinite(lat) || !isFinite(lon) || h[0] === "") {
        return null;
      }
      return {zoom: z, lat: lat, lon: lon, id: h.length > 3 ? h.slice(3).join("/") : null};
    }
    function go(first) {
      var h = parse();
      if (h) {
        map.setView([h.lat, h.lon], h.zoom, {animate: false});
        if (h.id) { manager(map).highlight(h.id, L.latLng(h.lat, h.lon)); }
      } else if (first) {
        map.fitBounds(bounds, {animate: false});
      }
    }
    go(true);
    window.addEventListener("hashchange", function () { go(false); });
  };

  L.firegapManager = manager;
})();
