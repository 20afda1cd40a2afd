/* mytrack chart controls: the form that edits MyChartSettings for all charts, a section or one chart.
 *
 *   MyChartControls.panel({scope: "all"|"section"|"chart", name, key, section, xOptions: [keys]})
 *     -> an element (.chart-controls[data-scope]) whose inputs carry data-field=FIELD; it follows
 *        the settings when they change elsewhere (the URL, a broader scope).
 *   MyChartControls.toggle(panelOptions, title) -> a small button that shows/hides such a panel
 *     (returns {button, panel}).
 */
(function () {
  "use strict";
  var S = window.MyChartSettings;
  var X_BUILTIN = [["", "metric's own"], ["_step", "step"], ["_runtime", "relative time"], ["_timestamp", "wall time"]];

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") e.textContent = v;
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), v);
      else if (k === "className") e.className = v;
      else e.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }

  function current(o) {
    // What this scope shows: the effective settings of its chart, or of its level.
    if (o.scope === "chart") return S.effective(o.key, o.section);
    return S.effective(undefined, o.scope === "section" ? o.name : "\u0000none");
  }

  function panel(o) {
    var scope = o.scope, name = o.scope === "chart" ? o.key : o.name;
    var box = el("div", {className: "chart-controls", "data-scope": scope, "data-name": name || ""});
    var timer = null;
    function put(patch) { S.update(scope, name, patch); }
    var weight = el("input", {type: "range", min: 0, max: 0.99, step: 0.01, "data-field": "smoothing",
      title: "smoothing (0: none)", oninput: function () {
        number.value = weight.value;
        clearTimeout(timer);
        timer = setTimeout(function () { put({smoothing: Number(weight.value)}); }, 150);
      }});
    var number = el("input", {type: "number", min: 0, max: 0.99, step: 0.01, className: "smoothing-value",
      "data-field": "smoothing-number", onchange: function () {
        var v = Math.min(0.999, Math.max(0, Number(number.value) || 0));
        weight.value = v; put({smoothing: v});
      }});
    var kind = el("select", {"data-field": "smoothing_type", title: "smoothing kind",
      onchange: function () { put({smoothing_type: kind.value}); }},
      [el("option", {value: "ema", text: "EMA"}), el("option", {value: "time", text: "time-weighted EMA"})]);
    var xs = X_BUILTIN.concat((o.xOptions || []).map(function (k) { return [k, k]; }));
    var x = el("select", {"data-field": "x", title: "x axis", onchange: function () { put({x: x.value}); }},
      xs.map(function (p) { return el("option", {value: p[0], text: p[1]}); }));
    var logX = el("input", {type: "checkbox", "data-field": "log_x", onchange: function () { put({log_x: logX.checked}); }});
    var logY = el("input", {type: "checkbox", "data-field": "log_y", onchange: function () { put({log_y: logY.checked}); }});
    var yMin = el("input", {type: "number", step: "any", placeholder: "min", "data-field": "y_min", className: "yfixed",
      onchange: function () { put({y_min: yMin.value === "" ? null : Number(yMin.value)}); }});
    var yMax = el("input", {type: "number", step: "any", placeholder: "max", "data-field": "y_max", className: "yfixed",
      onchange: function () { put({y_max: yMax.value === "" ? null : Number(yMax.value)}); }});
    var yRange = el("select", {"data-field": "y_range", title: "y range", onchange: function () {
      put({y_range: yRange.value}); }},
      [el("option", {value: "auto", text: "y: auto"}), el("option", {value: "robust", text: "y: ignore outliers"}),
        el("option", {value: "fixed", text: "y: fixed"})]);
    [el("label", {}, ["smoothing ", weight, " "]), number, kind, el("label", {}, ["x ", x]),
      el("label", {}, [logX, " log x"]), el("label", {}, [logY, " log y"]), yRange, yMin, yMax]
      .forEach(function (c) { box.appendChild(c); });

    function sync() {
      var v = current(o);
      weight.value = v.smoothing; number.value = v.smoothing;
      kind.value = v.smoothing_type;
      if (!Array.prototype.some.call(x.options, function (op) { return op.value === v.x; })) {
        x.appendChild(el("option", {value: v.x, text: v.x}));
      }
      x.value = v.x;
      logX.checked = v.log_x; logY.checked = v.log_y;
      yRange.value = v.y_range;
      yMin.value = v.y_min === null ? "" : v.y_min; yMax.value = v.y_max === null ? "" : v.y_max;
      yMin.style.display = yMax.style.display = v.y_range === "fixed" ? "" : "none";
    }
    box.addXOption = function (k) {
      if (!Array.prototype.some.call(x.options, function (op) { return op.value === k; })) {
        x.appendChild(el("option", {value: k, text: k}));
      }
    };
    S.subscribe(sync);
    sync();
    return box;
  }

  function toggle(o, title) {
    var p = panel(o);
    p.style.display = "none";
    var b = el("button", {className: "chart-gear", title: title || "chart settings", text: "⚙",
      "data-scope": o.scope, "data-name": o.scope === "chart" ? o.key : o.name,
      onclick: function () { p.style.display = p.style.display === "none" ? "" : "none"; }});
    return {button: b, panel: p};
  }

  window.MyChartControls = {panel: panel, toggle: toggle};
})();
