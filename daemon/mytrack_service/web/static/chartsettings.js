/* mytrack chart settings: what every line chart is drawn with, for all charts, per section, per chart.
 *
 *   MyChartSettings.get()        -> {all: {...}, sections: {NAME: {...}}, charts: {KEY: {...}}} (a copy)
 *   MyChartSettings.set(obj)     replaces them (fields not given take their defaults), as get() returns
 *   MyChartSettings.onchange     a function called with get() after every change (set, a control, the URL)
 *   MyChartSettings.update(scope, name, patch)   scope "all" | "section" | "chart"
 *   MyChartSettings.effective(key, section)      the settings one chart is drawn with
 *
 * Fields (each scope holds only those it changes; a narrower scope wins):
 *   smoothing       0 <= w < 1 (0: none)          smoothing_type  "ema" | "time" (time-weighted EMA)
 *   x               "" (the metric's own x: its step_metric, else the step) | "_step" | "_runtime"
 *                   (relative time) | "_timestamp" (wall time) | any logged key ("epoch")
 *   log_x, log_y    booleans                      y_range         "auto" | "robust" | "fixed"
 *   y_min, y_max    numbers or null (with y_range "fixed"; null: from the data)
 *
 * Setting a field for all charts (or a section) clears it from the narrower scopes, so the
 * control for a whole section really applies to every chart in it.
 *
 * In the address: chart.FIELD=V (all charts), chart.section.NAME.FIELD=V, chart.key.KEY.FIELD=V
 * (NAME and KEY may hold dots: the field is the last dotted part). Booleans are 1/0.
 */
(function () {
  "use strict";
  var DEFAULTS = {smoothing: 0, smoothing_type: "ema", x: "", log_x: false, log_y: false,
    y_range: "auto", y_min: null, y_max: null};
  var FIELDS = Object.keys(DEFAULTS);
  var TYPES = {smoothing_type: ["ema", "time"], y_range: ["auto", "robust", "fixed"]};
  var PREFIX = "chart.";
  var state = {all: {}, sections: {}, charts: {}};
  var sectionOf = {};  // chart key -> its section, for clearing a section's charts
  var listeners = [];

  function clean(field, value) {
    // A field's value as stored, or undefined when it is not a valid one.
    if (value === undefined) return undefined;
    var d = DEFAULTS[field];
    if (field === "smoothing") {
      var w = Number(value);
      return isFinite(w) && w >= 0 && w < 1 ? w : undefined;
    }
    if (field === "y_min" || field === "y_max") {
      if (value === null || value === "") return null;
      var n = Number(value);
      return isFinite(n) ? n : undefined;
    }
    if (typeof d === "boolean") {
      if (value === true || value === "1" || value === "true" || value === 1) return true;
      if (value === false || value === "0" || value === "false" || value === 0) return false;
      return undefined;
    }
    if (TYPES[field]) return TYPES[field].indexOf(value) >= 0 ? value : undefined;
    return typeof value === "string" ? value : undefined;
  }

  function cleanScope(obj) {
    var out = {};
    FIELDS.forEach(function (f) {
      if (!obj || !(f in obj)) return;
      var v = clean(f, obj[f]);
      if (v !== undefined) out[f] = v;
    });
    return out;
  }

  function cleanMap(obj) {
    var out = {};
    Object.keys(obj || {}).forEach(function (name) {
      var s = cleanScope(obj[name]);
      if (Object.keys(s).length) out[name] = s;
    });
    return out;
  }

  function copy(obj) { return JSON.parse(JSON.stringify(obj)); }

  function get() { return copy(state); }

  function changed() {
    writeUrl();
    var snapshot = get();
    listeners.forEach(function (fn) { fn(snapshot); });
    if (typeof api.onchange === "function") api.onchange(snapshot);
  }

  function set(obj) {
    obj = obj || {};
    state = {all: cleanScope(obj.all), sections: cleanMap(obj.sections), charts: cleanMap(obj.charts)};
    changed();
  }

  function update(scope, name, patch) {
    var fields = cleanScope(patch);
    var keys = Object.keys(fields);
    if (scope === "all") {
      keys.forEach(function (f) {
        state.all[f] = fields[f];
        Object.keys(state.sections).forEach(function (s) { delete state.sections[s][f]; });
        Object.keys(state.charts).forEach(function (k) { delete state.charts[k][f]; });
      });
    } else {
      var map = scope === "section" ? state.sections : state.charts;
      map[name] = map[name] || {};
      keys.forEach(function (f) {
        map[name][f] = fields[f];
        if (scope === "section") {
          Object.keys(state.charts).forEach(function (k) { if (sectionOf[k] === name) delete state.charts[k][f]; });
        }
      });
    }
    [state.sections, state.charts].forEach(function (map) {
      Object.keys(map).forEach(function (n) { if (!Object.keys(map[n]).length) delete map[n]; });
    });
    changed();
  }

  function effective(key, section) {
    if (key !== undefined) sectionOf[key] = section || "";
    var out = {};
    FIELDS.forEach(function (f) { out[f] = DEFAULTS[f]; });
    [state.all, state.sections[section || ""], state.charts[key]].forEach(function (s) {
      Object.keys(s || {}).forEach(function (f) { out[f] = s[f]; });
    });
    return out;
  }

  // -- the address ---------------------------------------------------------------------
  function fromQuery(search) {
    var out = {all: {}, sections: {}, charts: {}};
    new URLSearchParams(search).forEach(function (value, name) {
      if (name.indexOf(PREFIX) !== 0) return;
      var rest = name.slice(PREFIX.length), dot = rest.lastIndexOf(".");
      var field = rest.slice(dot + 1);
      if (FIELDS.indexOf(field) < 0) return;
      if (dot < 0) { out.all[field] = value; return; }
      var scope = rest.slice(0, dot), m = scope.match(/^(section|key)\.(.*)$/);
      if (!m) return;
      var map = m[1] === "section" ? out.sections : out.charts;
      map[m[2]] = map[m[2]] || {};
      map[m[2]][field] = value;
    });
    return out;
  }

  function text(v) { return v === true ? "1" : v === false ? "0" : v === null ? "" : String(v); }

  function toQuery(params) {
    Array.from(params.keys()).forEach(function (k) { if (k.indexOf(PREFIX) === 0) params.delete(k); });
    Object.keys(state.all).forEach(function (f) { params.set(PREFIX + f, text(state.all[f])); });
    [["section", state.sections], ["key", state.charts]].forEach(function (pair) {
      Object.keys(pair[1]).sort().forEach(function (n) {
        Object.keys(pair[1][n]).forEach(function (f) {
          params.set(PREFIX + pair[0] + "." + n + "." + f, text(pair[1][n][f]));
        });
      });
    });
    return params;
  }

  function writeUrl() {
    if (!window.history || !window.history.replaceState) return;
    var params = toQuery(new URLSearchParams(location.search));
    var q = params.toString();
    window.history.replaceState(window.history.state, "", location.pathname + (q ? "?" + q : "") + location.hash);
  }

  var fromUrl = fromQuery(location.search);
  state = {all: cleanScope(fromUrl.all), sections: cleanMap(fromUrl.sections), charts: cleanMap(fromUrl.charts)};

  var api = {
    get: get, set: set, update: update, effective: effective, onchange: null, defaults: copy(DEFAULTS),
    fields: FIELDS.slice(), fromQuery: fromQuery,
    toQuery: function () { return toQuery(new URLSearchParams()).toString(); },
    subscribe: function (fn) { listeners.push(fn); },
  };
  window.MyChartSettings = api;
})();
