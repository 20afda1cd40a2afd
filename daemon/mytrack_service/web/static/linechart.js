/* mytrack line charts with settings: asks the server for a line as the chart's settings say
 * (x axis, smoothing, robust range) and draws it with MyChart (log axes, y range, raw line faint
 * behind the smoothed one).
 *
 *   MyLineChart.run({api, base, def: {key, section, step_metric}, el, name}) -> chart
 *     chart.load(force)  fetches (unless the same request was answered already) and draws
 *     chart.zoom         the zoomed x range, null when not zoomed
 *   MyLineChart.query(settings, def)  the /history query of those settings (without key/range)
 *   MyLineChart.lineTraces(answer, name, color, x)   the traces of one answer
 *   MyLineChart.spec(settings, answers, traces, x)   MyChart.draw's spec for those traces
 */
(function () {
  "use strict";
  var S = window.MyChartSettings;
  var X_TITLES = {_step: "step", _runtime: "relative time (s)", _timestamp: "wall time"};

  function xOf(settings, def) { return settings.x || def.step_metric || "_step"; }

  function query(settings, def) {
    var q = {x: xOf(settings, def), points: 2000};
    if (settings.smoothing > 0) { q.smoothing = settings.smoothing; q.smoothing_type = settings.smoothing_type; }
    if (settings.y_range === "robust") q.robust = 1;
    return q;
  }

  // Wall time is drawn on a date axis, which shows milliseconds as UTC: shift them so it shows local time.
  function xValues(answer, x) {
    var xs = answer.xs || answer.steps;
    if (x !== "_timestamp") return xs;
    return xs.map(function (v) {
      return v === null ? null : v * 1000 - new Date(v * 1000).getTimezoneOffset() * 60000;
    });
  }

  function lineTraces(answer, name, color, x) {
    var xs = xValues(answer, x);
    if (!answer.smoothed) return [{name: name, x: xs, y: answer.y, steps: answer.steps, color: color}];
    return [{name: name + " (raw)", x: xs, y: answer.y, steps: answer.steps, color: color, raw: true},
      {name: name, x: xs, y: answer.smoothed, steps: answer.steps, color: color, smoothed: true}];
  }

  function extent(traces) {
    var lo = Infinity, hi = -Infinity;
    traces.forEach(function (t) {
      if (t.raw) return;
      (t.y || []).forEach(function (v) {
        if (v === null || !isFinite(v)) return;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      });
    });
    return lo === Infinity ? null : [lo, hi];
  }

  function yRange(settings, answers, traces) {
    var data = extent(traces);
    if (settings.y_range === "fixed") {
      var lo = settings.y_min !== null ? settings.y_min : data ? data[0] : 0;
      var hi = settings.y_max !== null ? settings.y_max : data ? data[1] : 1;
      return lo < hi ? [lo, hi] : null;
    }
    if (settings.y_range === "robust") {
      var r = null;
      answers.forEach(function (a) {
        if (!a || !a.y_robust) return;
        r = r ? [Math.min(r[0], a.y_robust[0]), Math.max(r[1], a.y_robust[1])] : a.y_robust.slice();
      });
      if (r) return r;
    }
    return null;  // auto (MyChart gives a constant line a narrow range of its own)
  }

  function spec(settings, answers, traces, x) {
    var constant = extent(traces);
    return {
      traces: traces, xTitle: X_TITLES[x] || x, xDate: x === "_timestamp", logX: settings.log_x,
      logY: settings.log_y, yRange: yRange(settings, answers, traces),
      constant: constant && constant[0] === constant[1] ? constant[0] : null,
    };
  }

  function run(o) {
    var c = {zoom: null, zoomX: null, busy: false, again: false, lastQuery: null, answer: null, drawn: null};
    var def = o.def, el = o.el;

    function stepRange(x, x0, x1) {
      // Zooming in x units other than steps: the steps of the points drawn inside [x0, x1], and a neighbour each side.
      if (x === "_step" || !c.drawn) return [x0, x1];
      var xs = c.drawn.x, steps = c.drawn.steps, lo = null, hi = null;
      for (var i = 0; i < xs.length; i++) {
        if (xs[i] === null || xs[i] < x0 || xs[i] > x1) continue;
        var a = steps[Math.max(0, i - 1)], b = steps[Math.min(steps.length - 1, i + 1)];
        lo = lo === null ? a : Math.min(lo, a); hi = hi === null ? b : Math.max(hi, b);
      }
      return lo === null ? [null, null] : [lo, hi];
    }

    function draw(settings, x) {
      var d = c.answer, traces = lineTraces(d, o.name || def.key, MyChart.color(0), x);
      el.dataset.total = d.total; el.dataset.sampled = d.sampled; el.dataset.x = x;
      el.dataset.smoothing = d.smoothing || 0;
      var s = spec(settings, [d], traces, x);
      s.xRange = c.zoom;
      s.onZoom = function (x0, x1) {
        if (c.zoom && c.zoom[0] === x0 && c.zoom[1] === x1) return;
        c.zoom = [x0, x1]; c.zoomX = x; c.load(true);
      };
      s.onReset = function () { if (c.zoom) { c.zoom = null; c.load(true); } };
      if (!c.zoom) c.drawn = {x: traces[0].x, steps: d.steps};
      MyChart.draw(el, s);
    }

    c.load = function (force) {
      var settings = S.effective(def.key, def.section);
      var q = query(settings, def), x = q.x;
      if (c.zoom && c.zoomX !== x) c.zoom = null;  // a zoom is in the units of the x it was made on
      var range = c.zoom ? stepRange(x, c.zoom[0], c.zoom[1]) : [null, null];
      q.key = def.key;
      if (range[0] !== null) q.min_step = Math.floor(range[0]);
      if (range[1] !== null) q.max_step = Math.ceil(range[1]);
      var text = new URLSearchParams(q).toString();
      if (force === false && text === c.lastQuery && c.answer) { draw(settings, x); return Promise.resolve(); }
      if (c.busy) { c.again = true; return Promise.resolve(); }
      c.busy = true;
      return o.api(o.base + "/history?" + text).then(function (d) {
        c.busy = false; c.answer = d; c.lastQuery = text;
        draw(settings, x);
        if (c.again) { c.again = false; c.load(false); }
      }).catch(function (e) { c.busy = false; el.textContent = e.message; });
    };
    S.subscribe(function () { c.load(false); });
    return c;
  }

  window.MyLineChart = {run: run, query: query, lineTraces: lineTraces, spec: spec, xOf: xOf, xValues: xValues};
})();
