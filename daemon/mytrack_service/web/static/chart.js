/* mytrack charts: plotly.js when the page has it (the [ui] extra), else a small SVG
 * line chart of our own, so the UI works without the extra.
 *
 *   MyChart.draw(el, {traces, xTitle, onZoom(x0, x1), onReset()})
 *     traces: [{name, x: [], y: [], color, band: {x: [], lo: [], hi: []}, bars: bool,
 *               raw: bool (drawn faint behind its smoothed line, not in the legend)}]
 *     legend: show one even for a single trace; xRange: [x0, x1] shown (zoomed)
 *     logX, logY: log axes; xDate: x holds milliseconds, drawn as dates; yRange: [y0, y1] or null
 *     (auto); yTitle: the y axis' title (a unit)
 *
 * The plotly toolbar sits in a top margin of its own, above the plot area, and the legend at
 * the bottom of the chart below the x axis' title, so neither covers data or the other.
 *
 * Every chart's traces are also kept in window.mytrackCharts[el.dataset.chartId], which is
 * what the browser tests read to compare drawn points with the logged values.
 */
(function () {
  "use strict";
  var PALETTE = ["#2f6fdb", "#d64545", "#1f9d55", "#b7791f", "#7a5cc4", "#0e9aa7", "#e66f00",
    "#5b6b8c", "#c2185b", "#6d8f00"];
  window.mytrackCharts = window.mytrackCharts || {};

  function color(i) { return PALETTE[i % PALETTE.length]; }

  function draw(el, spec) {
    if (el.dataset.chartId) window.mytrackCharts[el.dataset.chartId] = spec.traces;
    el.dataset.points = String(spec.traces.reduce(function (n, t) { return n + t.x.length; }, 0));
    if (!spec.yRange) spec.yRange = constantRange(spec.traces);
    if (window.Plotly) return drawPlotly(el, spec);
    return drawSvg(el, logScaled(spec));
  }

  // -- plotly ---------------------------------------------------------------
  function drawPlotly(el, spec) {
    var data = [];
    spec.traces.forEach(function (t, i) {
      var c = t.color || color(i);
      if (t.band) {
        data.push({x: t.band.x, y: t.band.hi, mode: "lines", line: {width: 0}, hoverinfo: "skip",
          showlegend: false, type: "scatter"});
        data.push({x: t.band.x, y: t.band.lo, mode: "lines", line: {width: 0}, fill: "tonexty",
          fillcolor: hexAlpha(c, 0.18), hoverinfo: "skip", showlegend: false, type: "scatter"});
      }
      data.push(t.bars ? {x: t.x, y: t.y, type: "bar", name: t.name, marker: {color: c}}
        : {x: t.x, y: t.y, type: "scatter", mode: t.x.length < 2 ? "markers" : "lines",
          name: t.name, line: {color: c, width: t.raw ? 1 : 1.5}, connectgaps: false,
          opacity: t.raw ? 0.25 : 1, showlegend: !t.raw, hoverinfo: t.raw ? "skip" : undefined});
    });
    var shown = spec.traces.filter(function (t) { return !t.raw; }).length;
    var layout = {
      margin: {l: 50, r: 12, t: 30, b: 36}, showlegend: !!(spec.legend || shown > 1),
      legend: {orientation: "h", yref: "container", y: 0, yanchor: "bottom", x: 0, xanchor: "left",
        font: {size: 11}},
      xaxis: {title: {text: spec.xTitle || "", font: {size: 11}, standoff: 4}, automargin: true},
      yaxis: {automargin: true, exponentformat: "e"}, hovermode: "x", font: {size: 11},
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    };
    if (spec.yTitle) layout.yaxis.title = {text: spec.yTitle, font: {size: 11}};
    if (spec.logX) layout.xaxis.type = "log";
    else if (spec.xDate) layout.xaxis.type = "date";
    if (spec.logY) layout.yaxis.type = "log";
    var xr = axisRange(spec.xRange, spec.logX), yr = axisRange(spec.yRange, spec.logY);
    if (xr) { layout.xaxis.range = xr; layout.xaxis.autorange = false; }
    if (yr) { layout.yaxis.range = yr; layout.yaxis.autorange = false; }
    window.Plotly.react(el, data, layout, {responsive: true, displaylogo: false});
    if (!el._mytrackBound) {
      el._mytrackBound = true;
      el.on("plotly_relayout", function (ev) {
        var s = el._mytrackSpec;
        if (ev["xaxis.autorange"]) { if (s.onReset) s.onReset(); return; }
        var x0 = ev["xaxis.range[0]"], x1 = ev["xaxis.range[1]"];
        if (x0 === undefined && ev["xaxis.range"]) { x0 = ev["xaxis.range"][0]; x1 = ev["xaxis.range"][1]; }
        if (x0 !== undefined && s.onZoom) s.onZoom(fromAxis(x0, s.logX), fromAxis(x1, s.logX));
      });
    }
    el._mytrackSpec = spec;
  }

  // A constant line gets a narrow range around its value: lr=3e-4 reads 3e-4, not a line at 0 on -1...1.
  function constantRange(traces) {
    var lo = Infinity, hi = -Infinity;
    for (var i = 0; i < traces.length; i++) {
      var t = traces[i];
      if (t.bars || t.band) return null;
      for (var j = 0; j < t.y.length; j++) {
        var y = t.y[j];
        if (y === null || !isFinite(y)) continue;
        if (y < lo) lo = y;
        if (y > hi) hi = y;
      }
    }
    // Equal up to rounding (a smoothed or averaged constant) counts as constant too.
    if (lo === Infinity || hi - lo > Math.max(Math.abs(lo), Math.abs(hi)) * 1e-12) return null;
    var v = (lo + hi) / 2, pad = Math.abs(v) * 0.1 || 1;
    return [v - pad, v + pad];
  }

  // Plotly's ranges are in log10 units on a log axis, and date strings on a date axis.
  function axisRange(range, log) {
    if (!range) return null;
    if (!log) return range.slice();
    if (!(range[0] > 0 && range[1] > 0)) return null;
    return [Math.log10(range[0]), Math.log10(range[1])];
  }

  function fromAxis(v, log) {
    var n = typeof v === "string" && isNaN(Number(v)) ? Date.parse(v.replace(" ", "T") + "Z") : Number(v);
    return log ? Math.pow(10, n) : n;
  }

  function hexAlpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16 & 255) + "," + (n >> 8 & 255) + "," + (n & 255) + "," + a + ")";
  }

  // -- fallback: SVG ------------------------------------------------------------
  var NS = "http://www.w3.org/2000/svg";

  function node(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(e);
    return e;
  }

  function extent(traces, axis, range) {
    var lo = Infinity, hi = -Infinity;
    traces.forEach(function (t) {
      var xs = t.x, vs = t[axis];
      for (var i = 0; i < vs.length; i++) {
        var v = vs[i];
        if (v === null || !isFinite(v)) continue;
        if (range && (xs[i] < range[0] || xs[i] > range[1])) continue;
        if (v < lo) lo = v; if (v > hi) hi = v;
      }
      if (t.band && axis === "y") {
        t.band.lo.concat(t.band.hi).forEach(function (v) {
          if (v !== null && isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
        });
      }
    });
    if (lo === Infinity) return [0, 1];
    if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
    return [lo, hi];
  }

  function ticks(lo, hi, n) {
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
    var err = (hi - lo) / n / step;
    step *= err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1;
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }

  function fmt(v) {
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
    return String(+v.toPrecision(4));
  }

  // The fallback draws log axes as log10 of the values (ticks labelled with the values).
  function logScaled(spec) {
    if (!spec.logX && !spec.logY) return spec;
    var lg = function (v) { return v !== null && v > 0 ? Math.log10(v) : null; };
    var out = Object.assign({}, spec, {traces: spec.traces.map(function (t) {
      var x = spec.logX ? t.x.map(lg) : t.x, y = spec.logY ? t.y.map(lg) : t.y;
      return Object.assign({}, t, {x: x, y: y, band: null});
    })});
    if (spec.logY) out.yRange = spec.yRange && spec.yRange[0] > 0 ? spec.yRange.map(Math.log10) : null;
    if (spec.logX && spec.xRange) out.xRange = spec.xRange[0] > 0 ? spec.xRange.map(Math.log10) : null;
    var zoom = spec.onZoom;
    if (spec.logX && zoom) out.onZoom = function (a, b) { zoom(Math.pow(10, a), Math.pow(10, b)); };
    return out;
  }

  function drawSvg(el, spec) {
    el.innerHTML = "";
    var w = el.clientWidth || 440, h = el.clientHeight || 260;
    var legend = spec.legend || spec.traces.filter(function (t) { return !t.raw; }).length > 1;
    var m = {l: 52, r: 10, t: 8, b: legend ? 46 : 30};
    var svg = node("svg", {"class": "fallback", viewBox: "0 0 " + w + " " + h}, el);
    var xr = spec.xRange || (function () {
      var lo = Infinity, hi = -Infinity;
      spec.traces.forEach(function (t) {
        t.x.forEach(function (v) { if (v === null) return; if (v < lo) lo = v; if (v > hi) hi = v; });
      });
      if (lo === Infinity) return [0, 1];
      return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
    })();
    var yr = spec.yRange || extent(spec.traces, "y", spec.xRange);
    var fx = spec.logX ? function (v) { return fmt(Math.pow(10, v)); } : fmt;
    var fy = spec.logY ? function (v) { return fmt(Math.pow(10, v)); } : fmt;
    var pw = w - m.l - m.r, ph = h - m.t - m.b;
    var sx = function (v) { return m.l + (v - xr[0]) / (xr[1] - xr[0]) * pw; };
    var sy = function (v) { return m.t + ph - (v - yr[0]) / (yr[1] - yr[0]) * ph; };
    var axis = node("g", {"class": "axis"}, svg);
    ticks(yr[0], yr[1], 5).forEach(function (v) {
      node("line", {"class": "gridline", x1: m.l, x2: m.l + pw, y1: sy(v), y2: sy(v)}, axis);
      node("text", {x: m.l - 4, y: sy(v) + 4, "text-anchor": "end"}, axis).textContent = fy(v);
    });
    ticks(xr[0], xr[1], 6).forEach(function (v) {
      node("text", {x: sx(v), y: m.t + ph + 14, "text-anchor": "middle"}, axis).textContent = fx(v);
    });
    node("path", {d: "M" + m.l + "," + m.t + "V" + (m.t + ph) + "H" + (m.l + pw), fill: "none"}, axis);
    var clipId = "clip" + Math.random().toString(36).slice(2);
    node("rect", {x: m.l, y: m.t, width: pw, height: ph}, node("clipPath", {id: clipId}, svg));
    var plot = node("g", {"clip-path": "url(#" + clipId + ")"}, svg);
    spec.traces.forEach(function (t, i) {
      var c = t.color || color(i);
      if (t.band) {
        var up = [], down = [];
        t.band.x.forEach(function (x, j) {
          if (t.band.hi[j] === null || t.band.lo[j] === null) return;
          up.push(sx(x) + "," + sy(t.band.hi[j])); down.unshift(sx(x) + "," + sy(t.band.lo[j]));
        });
        if (up.length) node("polygon", {points: up.concat(down).join(" "), fill: c, "fill-opacity": 0.18}, plot);
      }
      if (t.bars) {
        var bw = Math.max(1, pw / Math.max(1, t.x.length) * 0.8);
        t.x.forEach(function (x, j) {
          var y = t.y[j]; if (y === null) return;
          node("rect", {x: sx(x) - bw / 2, y: Math.min(sy(y), sy(Math.max(yr[0], 0))), width: bw,
            height: Math.abs(sy(y) - sy(Math.max(yr[0], 0))), fill: c}, plot);
        });
        return;
      }
      var d = "", pen = false;
      for (var j = 0; j < t.x.length; j++) {
        var y = t.y[j];
        if (y === null || !isFinite(y) || t.x[j] === null) { pen = false; continue; }
        d += (pen ? "L" : "M") + sx(t.x[j]).toFixed(1) + "," + sy(y).toFixed(1);
        pen = true;
      }
      node("path", {d: d, fill: "none", stroke: c, "stroke-width": 1.5, "stroke-opacity": t.raw ? 0.25 : 1,
        "class": t.raw ? "trace raw" : "trace"}, plot);
      if (t.x.length === 1 && t.y[0] !== null) node("circle", {cx: sx(t.x[0]), cy: sy(t.y[0]), r: 3, fill: c}, plot);
    });
    if (legend) {
      var lx = m.l;
      spec.traces.forEach(function (t, i) {
        if (t.raw) return;
        node("rect", {x: lx, y: h - 12, width: 10, height: 3, fill: t.color || color(i)}, svg);
        var label = node("text", {x: lx + 14, y: h - 8}, svg);
        label.textContent = t.name;
        lx += 24 + 6.5 * String(t.name).length;
      });
    }
    if (spec.xTitle) node("text", {x: m.l + pw, y: m.t + ph + 26, "text-anchor": "end", fill: "#6b7385"}, svg).textContent = spec.xTitle;
    zoomable(svg, spec, m, pw, ph, xr);
  }

  function zoomable(svg, spec, m, pw, ph, xr) {
    var start = null, box = null;
    function dataX(ev) {
      var r = svg.getBoundingClientRect(), vb = svg.viewBox.baseVal;
      var px = (ev.clientX - r.left) * vb.width / r.width;
      return Math.min(Math.max(px, m.l), m.l + pw);
    }
    svg.addEventListener("mousedown", function (ev) {
      start = dataX(ev);
      box = node("rect", {"class": "zoombox", x: start, y: m.t, width: 0, height: ph}, svg);
    });
    svg.addEventListener("mousemove", function (ev) {
      if (start === null) return;
      var x = dataX(ev);
      box.setAttribute("x", Math.min(x, start)); box.setAttribute("width", Math.abs(x - start));
    });
    svg.addEventListener("mouseup", function (ev) {
      if (start === null) return;
      var x = dataX(ev), a = Math.min(x, start), b = Math.max(x, start);
      start = null; box.remove();
      if (b - a < 4 || !spec.onZoom) return;
      var toX = function (px) { return xr[0] + (px - m.l) / pw * (xr[1] - xr[0]); };
      spec.onZoom(toX(a), toX(b));
    });
    svg.addEventListener("dblclick", function () { if (spec.onReset) spec.onReset(); });
  }

  window.MyChart = {draw: draw, color: color, usesPlotly: function () { return !!window.Plotly; }};
})();
