/* mytrack web UI: the sweep page, and the project page's sweeps list and parallel-coordinates
 * panel. Loaded before app.js, which calls:
 *
 *   MySweeps.page(main, crumbs)            the sweep page (/E/P/sweeps/ID)
 *   MySweeps.projectPanels(main, E, P)     on a project's runs page
 *
 * The parallel coordinates and scatter plots need plotly (the [ui] extra); without it they
 * say so, and the best-so-far chart is drawn by chart.js's fallback. What each plot drew is
 * kept in window.mytrackCharts (the browser tests read it).
 */
(function () {
  "use strict";
  var D = document.body.dataset;
  var TOKEN = (document.querySelector('meta[name="mytrack-token"]') || {}).content || "";
  var URL_TOKEN = new URLSearchParams(location.search).get("token");
  var POLL_MS = 3000;
  window.mytrackCharts = window.mytrackCharts || {};

  function enc(s) { return encodeURIComponent(s); }

  function h(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") e.textContent = v;
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), v);
      else if (k === "className") e.className = v;
      else e.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return e;
  }

  function href(path) { return URL_TOKEN ? path + "?token=" + enc(URL_TOKEN) : path; }

  function api(path) {
    return fetch("/api" + path, {headers: {"X-Mytrack-Token": TOKEN}, credentials: "same-origin"})
      .then(function (r) {
        return r.json().catch(function () { return {error: r.statusText}; }).then(function (data) {
          if (!r.ok) throw new Error((data && data.error) || ("HTTP " + r.status));
          return data;
        });
      });
  }

  function val(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(+v.toPrecision(6));
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  function counts(c) {
    var keys = Object.keys(c || {}).sort();
    return keys.length ? keys.map(function (k) { return c[k] + " " + k; }).join(", ") : "no trials";
  }

  function noPlotly(el) {
    el.innerHTML = "";
    el.appendChild(h("p", {className: "muted", text: "This plot needs plotly (pip install 'mytrack[ui]')."}));
  }

  // -- plots ---------------------------------------------------------------------
  // One axis per key: numbers as they are, anything else as the index of its value.
  function dimension(label, raw) {
    var numeric = raw.every(function (v) { return v === null || v === undefined || typeof v === "number"; });
    if (numeric) return {label: label, values: raw.map(function (v) { return v === undefined ? null : v; })};
    var choices = Array.from(new Set(raw.map(val))).sort();
    return {label: label, values: raw.map(function (v) { return choices.indexOf(val(v)); }),
      tickvals: choices.map(function (_, i) { return i; }), ticktext: choices};
  }

  // rows: [{params: {key: value}, metric}]; keys: the parameter axes; the metric is the last one.
  function parallel(el, rows, keys, metricName) {
    rows = rows.filter(function (r) { return r.metric !== null && r.metric !== undefined; });
    var dims = keys.map(function (k) { return dimension(k, rows.map(function (r) { return r.params[k]; })); });
    var metric = rows.map(function (r) { return r.metric; });
    dims.push({label: metricName, values: metric});
    window.mytrackCharts[el.id] = {dimensions: dims, runs: rows.length};
    el.dataset.points = String(rows.length);
    if (!window.Plotly) return noPlotly(el);
    if (!rows.length) {
      el.innerHTML = "";
      el.appendChild(h("p", {className: "muted", text: "No run has a value of " + metricName + " yet."}));
      return;
    }
    window.Plotly.react(el, [{type: "parcoords", dimensions: dims,
      line: {color: metric, colorscale: "Viridis", showscale: true, colorbar: {title: {text: metricName}}}}],
    {margin: {l: 60, r: 40, t: 40, b: 20}}, {responsive: true, displaylogo: false});
  }

  function scatter(el, trials, key, metricName) {
    var pts = trials.filter(function (t) { return t.metric !== null && t.params[key] !== undefined; });
    var x = pts.map(function (t) { return t.params[key]; }), y = pts.map(function (t) { return t.metric; });
    window.mytrackCharts[el.id] = [{name: key, x: x, y: y}];
    el.dataset.points = String(pts.length);
    if (!window.Plotly) return noPlotly(el);
    window.Plotly.react(el, [{type: "scatter", mode: "markers", x: x, y: y,
      text: pts.map(function (t) { return "trial " + t.seq + " (" + t.run_id + ")"; }),
      marker: {color: "#2f6fdb", size: 8}}],
    {margin: {l: 50, r: 10, t: 10, b: 40}, xaxis: {title: {text: key}}, yaxis: {title: {text: metricName}}},
    {responsive: true, displaylogo: false});
  }

  // -- the sweep page ----------------------------------------------------------------
  function sweepPage(main, crumbs) {
    var E = D.entity, P = D.project, S = D.sweep;
    var st = {sort: "seq", desc: false, data: null, timer: null, drawn: ""};
    crumbs([{text: "projects", href: "/"}, {text: E}, {text: P, href: "/" + enc(E) + "/" + enc(P)},
      {text: "sweep " + S}]);
    main.innerHTML = "";
    var title = h("h1", {id: "sweep-title", text: "Sweep " + S});
    var state = h("span", {className: "state", id: "sweep-state"});
    var facts = h("p", {id: "sweep-facts", className: "muted"});
    var err = h("div", {className: "error", id: "sweep-error"});
    var best = h("div", {className: "chart", id: "sweep-best", "data-chart-id": "sweep-best"});
    var par = h("div", {className: "chart tall", id: "sweep-parallel"});
    var scatters = h("div", {className: "charts", id: "sweep-scatters"});
    var imp = h("div", {id: "sweep-importance"});
    var trials = h("div", {className: "tablewrap", id: "sweep-trials-wrap"});
    var config = h("pre", {className: "preview", id: "sweep-config"});
    main.appendChild(h("div", {}, [title, " ", state]));
    main.appendChild(facts);
    main.appendChild(h("p", {}, [h("a", {id: "sweep-runs-link", href: href("/" + enc(E) + "/" + enc(P) + "/sweeps/" +
      enc(S) + "/runs"), text: "the sweep's runs in the runs table"})]));
    main.appendChild(err);
    [["Best value so far", best], ["Parallel coordinates", par], ["Metric against each parameter", scatters],
      ["Parameter importance", imp], ["Trials", trials], ["Configuration", config]].forEach(function (s) {
      main.appendChild(h("h2", {text: s[0]}));
      main.appendChild(s[0] === "Best value so far" || s[0] === "Parallel coordinates" ? h("div", {className: "chart-card"}, [s[1]]) : s[1]);
    });

    function load() {
      api("/sweeps/" + enc(E) + "/" + enc(P) + "/" + enc(S)).then(function (d) {
        st.data = d; err.textContent = ""; render();
        clearTimeout(st.timer);
        var live = d.state === "running" || d.state === "stopping" ||
          d.trials.some(function (t) { return t.state === "running" || t.state === "pending"; });
        st.timer = setTimeout(load, live ? POLL_MS : 15000);
      }).catch(function (e) { err.textContent = e.message; });
    }

    function render() {
      var d = st.data, metric = d.metric.name || "metric";
      title.textContent = "Sweep " + (d.name || d.id);
      state.textContent = d.state; state.className = "state state-" + d.state;
      facts.textContent = [d.id, "method " + d.config.method, d.metric.name ? d.metric.goal + " " + d.metric.name : "no metric",
        counts(d.counts)].join(" · ");
      document.getElementById("sweep-facts").dataset.counts = JSON.stringify(d.counts || {});
      config.textContent = JSON.stringify(d.config, null, 2);
      renderTrials(d);
      var keys = Array.from(new Set([].concat.apply([], d.trials.map(function (t) { return Object.keys(t.params); })))).sort();
      // The plots are drawn again only when the trials' values changed (polling keeps plotly's zoom).
      var sig = JSON.stringify(d.trials.map(function (t) { return [t.seq, t.metric]; }));
      if (sig === st.drawn) return;
      st.drawn = sig;
      window.MyChart.draw(best, {traces: [{name: "best " + metric, x: d.best.seq, y: d.best.best},
        {name: metric, x: d.best.seq, y: d.best.metric, color: "#9aa3b5"}], xTitle: "trial", legend: true});
      parallel(par, d.trials, keys, metric);
      scatters.innerHTML = "";
      keys.forEach(function (k) {
        var el = h("div", {className: "chart", id: "sweep-scatter-" + k});
        scatters.appendChild(h("div", {className: "chart-card"}, [h("div", {className: "title", text: metric + " against " + k}), el]));
        scatter(el, d.trials, k, metric);
      });
      renderImportance(d);
    }

    function renderImportance(d) {
      imp.innerHTML = "";
      if (!d.importance.length) {
        imp.appendChild(h("p", {className: "muted", text: "Needs at least 3 trials with a value of the metric."}));
        return;
      }
      var top = Math.max.apply(null, d.importance.map(function (r) { return r.importance || 0; }).concat([1e-12]));
      imp.appendChild(h("table", {className: "grid", id: "sweep-importance-table"}, [
        h("thead", {}, [h("tr", {}, ["Parameter", "Importance", "Correlation"].map(function (t) {
          return h("th", {className: "nosort", text: t}); }))]),
        h("tbody", {}, d.importance.map(function (r) {
          var bar = r.importance === null ? h("span", {className: "muted", text: "(scikit-learn not installed)"})
            : h("span", {}, [h("span", {className: "bar", style: "width:" + Math.round(120 * r.importance / top) + "px"}),
              " " + val(r.importance)]);
          var c = r.correlation;
          return h("tr", {"data-param": r.name}, [h("td", {text: r.name}), h("td", {}, [bar]),
            h("td", {className: c === null ? "" : c < 0 ? "neg" : "pos", text: c === null ? "" : val(c)})]);
        }))]));
    }

    function renderTrials(d) {
      var keys = Array.from(new Set([].concat.apply([], d.trials.map(function (t) { return Object.keys(t.params); })))).sort();
      var cols = [["seq", "#"], ["name", "Run"], ["state", "State"], ["metric", d.metric.name || "metric"]]
        .concat(keys.map(function (k) { return ["p:" + k, k]; }));
      function cell(t, c) { return c.slice(0, 2) === "p:" ? t.params[c.slice(2)] : t[c]; }
      var rows = d.trials.slice().sort(function (a, b) {
        var x = cell(a, st.sort), y = cell(b, st.sort), r;
        if (x === null || x === undefined) r = 1; else if (y === null || y === undefined) r = -1;
        else r = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return st.desc && x !== null && x !== undefined && y !== null && y !== undefined ? -r : r;
      });
      trials.innerHTML = "";
      trials.appendChild(h("table", {className: "grid", id: "sweep-trials"}, [
        h("thead", {}, [h("tr", {}, cols.map(function (c) {
          var arrow = st.sort === c[0] ? (st.desc ? " ▼" : " ▲") : "";
          return h("th", {text: c[1] + arrow, "data-col": c[0], onclick: function () {
            st.desc = st.sort === c[0] ? !st.desc : false; st.sort = c[0]; renderTrials(st.data);
          }});
        }))]),
        h("tbody", {}, rows.map(function (t) {
          return h("tr", {"data-run": t.run_id}, cols.map(function (c) {
            if (c[0] === "name") {
              return h("td", {}, [h("a", {href: href("/" + enc(E) + "/" + enc(P) + "/runs/" + enc(t.run_id)), text: t.name || t.run_id})]);
            }
            if (c[0] === "state") return h("td", {}, [h("span", {className: "state state-" + t.state, text: t.state})]);
            return h("td", {text: val(cell(t, c[0]))});
          }));
        }))]));
    }

    load();
  }

  // -- on a project's page: its sweeps, and parallel coordinates of its runs ----------
  function projectPanels(main, E, P) {
    var box = h("div", {id: "project-sweeps-panel"});
    main.appendChild(box);
    api("/projects/" + enc(E) + "/" + enc(P) + "/sweeps").then(function (sweeps) {
      if (!sweeps.length) return;
      box.appendChild(h("h2", {text: "Sweeps"}));
      box.appendChild(h("table", {className: "grid", id: "project-sweeps"}, [
        h("thead", {}, [h("tr", {}, ["Sweep", "State", "Trials"].map(function (t) { return h("th", {className: "nosort", text: t}); }))]),
        h("tbody", {}, sweeps.map(function (s) {
          return h("tr", {}, [h("td", {}, [h("a", {href: href("/" + enc(E) + "/" + enc(P) + "/sweeps/" + enc(s.id)),
            text: s.name + (s.name === s.id ? "" : " (" + s.id + ")")})]),
          h("td", {}, [h("span", {className: "state state-" + s.state, text: s.state})]), h("td", {text: counts(s.counts)})]);
        }))]));
    }).catch(function () { /* an older service: no sweeps */ });
    var panel = h("div", {id: "project-parallel-panel"});
    main.appendChild(panel);
    var st = {metric: "", keys: null};
    var metricSel = h("select", {id: "parallel-metric", onchange: function (ev) { st.metric = ev.target.value; load(); }});
    var keysIn = h("input", {type: "text", className: "wide", id: "parallel-keys", placeholder: "config keys (a,b,c)",
      onchange: function (ev) { st.keys = ev.target.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean); load(); }});
    var el = h("div", {className: "chart tall", id: "project-parallel"});

    function load() {
      var q = st.metric ? "?metric=" + enc(st.metric) : "";
      api("/projects/" + enc(E) + "/" + enc(P) + "/parallel" + q).then(function (d) {
        if (!d.summary_keys.length || !d.config_keys.length) return;
        if (!panel.firstChild) {
          panel.appendChild(h("h2", {text: "Parallel coordinates"}));
          panel.appendChild(h("div", {className: "controls"}, [h("span", {text: "metric"}), metricSel,
            h("span", {text: "against"}), keysIn]));
          panel.appendChild(h("div", {className: "chart-card"}, [el]));
          d.summary_keys.forEach(function (k) { metricSel.appendChild(h("option", {value: k, text: k})); });
        }
        if (!st.metric) { st.metric = d.summary_keys[0]; metricSel.value = st.metric; return load(); }
        if (!st.keys) { st.keys = d.config_keys.slice(0, 8); keysIn.value = st.keys.join(", "); }
        parallel(el, d.runs.map(function (r) { return {params: r.config, metric: r.metric}; }), st.keys, st.metric);
      }).catch(function () { /* an older service */ });
    }
    load();
  }

  window.MySweeps = {page: sweepPage, projectPanels: projectPanels};
})();
