/* mytrack web UI: fills the server's page skeletons from the JSON API (/api/...).
 * No framework and no build step. Pages: projects, runs table, run, compare.
 * Running runs are polled every few seconds; nothing is loaded from outside this server.
 */
(function () {
  "use strict";
  var D = document.body.dataset;
  var TOKEN = (document.querySelector('meta[name="mytrack-token"]') || {}).content || "";
  // Framed (Jupyter) pages may not get the cookie: keep the token on our own links then.
  var URL_TOKEN = new URLSearchParams(location.search).get("token");
  var POLL_MS = 3000;
  var main = document.getElementById("main");

  // -- helpers -------------------------------------------------------------------
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

  function href(path, params) {
    var q = new URLSearchParams(params || {});
    if (URL_TOKEN) q.set("token", URL_TOKEN);
    var s = q.toString();
    return path + (s ? "?" + s : "");
  }

  function api(path, body) {
    var opts = {headers: {"X-Mytrack-Token": TOKEN}, credentials: "same-origin"};
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch("/api" + path, opts).then(function (r) {
      return r.json().catch(function () { return {error: r.statusText}; }).then(function (data) {
        if (!r.ok) throw new Error((data && data.error) || ("HTTP " + r.status));
        return data;
      });
    });
  }

  function runBase(e, p, id) { return "/runs/" + enc(e) + "/" + enc(p) + "/" + enc(id); }

  function fileUrl(e, p, id, name, inline) {
    var q = {name: name, token: TOKEN};
    if (inline) q.inline = "1";
    return "/api" + runBase(e, p, id) + "/file?" + new URLSearchParams(q).toString();
  }

  function when(ts) { return ts ? new Date(ts * 1000).toLocaleString() : ""; }

  function ago(ts) {
    if (!ts) return "";
    var s = Date.now() / 1000 - ts;
    if (s < 60) return Math.max(0, Math.round(s)) + "s ago";
    if (s < 3600) return Math.round(s / 60) + "m ago";
    if (s < 86400) return Math.round(s / 3600) + "h ago";
    return Math.round(s / 86400) + "d ago";
  }

  function dur(s) {
    if (s === null || s === undefined) return "";
    s = Math.round(s);
    var out = [];
    if (s >= 3600) out.push(Math.floor(s / 3600) + "h");
    if (s >= 60) out.push(Math.floor(s % 3600 / 60) + "m");
    out.push(s % 60 + "s");
    return out.join(" ");
  }

  function bytes(n) {
    if (n === null || n === undefined) return "";
    var u = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  }

  function val(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(+v.toPrecision(6));
    if (typeof v === "object") {
      if (!Array.isArray(v) && typeof v._type === "string") return "<" + v._type + ">";
      return JSON.stringify(v);
    }
    return String(v);
  }

  function stateBadge(state) { return h("span", {className: "state state-" + state, text: state}); }

  function failed(where, err) {
    where.appendChild(h("p", {className: "error", text: String(err && err.message || err)}));
  }

  function flat(obj, prefix, out) {
    out = out || {};
    Object.keys(obj || {}).forEach(function (k) {
      var v = obj[k], path = (prefix || "") + k;
      if (v && typeof v === "object" && !Array.isArray(v) && !("_type" in v)) flat(v, path + ".", out);
      else out[path] = v;
    });
    return out;
  }

  function kvTable(obj) {
    var rows = Object.keys(obj).sort().map(function (k) {
      return h("tr", {}, [h("td", {text: k}), h("td", {text: val(obj[k]), title: val(obj[k])})]);
    });
    if (!rows.length) return h("p", {className: "muted", text: "none"});
    return h("table", {className: "grid"}, [h("tbody", {}, rows)]);
  }

  function crumbs(items) {
    var nav = document.getElementById("crumbs");
    nav.innerHTML = "";
    items.forEach(function (it, i) {
      if (i) nav.appendChild(h("span", {text: "/"}));
      nav.appendChild(it.href ? h("a", {href: href(it.href), text: it.text}) : h("span", {text: it.text}));
    });
  }

  // -- projects --------------------------------------------------------------------
  function projectsPage() {
    crumbs([{text: "projects"}]);
    api("/projects").then(function (projects) {
      main.innerHTML = "";
      main.appendChild(h("h1", {text: "Projects"}));
      if (!projects.length) {
        main.appendChild(h("p", {className: "muted", text: "No runs yet: log one with mytrack.init()."}));
        return;
      }
      main.appendChild(h("div", {className: "tablewrap"}, [h("table", {className: "grid", id: "projects"}, [
        h("thead", {}, [h("tr", {}, ["Entity", "Project", "Runs", "Last activity"].map(function (t) {
          return h("th", {className: "nosort", text: t});
        }))]),
        h("tbody", {}, projects.map(function (p) {
          return h("tr", {}, [h("td", {text: p.entity}),
            h("td", {}, [h("a", {href: href("/" + enc(p.entity) + "/" + enc(p.project)), text: p.project})]),
            h("td", {text: p.run_count}), h("td", {text: ago(p.last_activity), title: when(p.last_activity)})]);
        })),
      ])]));
    }).catch(function (e) { main.innerHTML = ""; failed(main, e); });
  }

  // -- runs table: static/table.js (MyTable.runsPage) ---------------------------------

  // -- a chart of one history key, drawn as its settings say (linechart.js), with zoom that fetches the exact points
  function historyChart(base, def, el, name) {
    return MyLineChart.run({api: api, base: base, def: def, el: el, name: name});
  }

  // -- run page ---------------------------------------------------------------------
  function runPage() {
    var E = D.entity, P = D.project, ID = D.run, base = runBase(E, P, ID);
    var charts = {}, consoleLast = null, detail = null, timer = null, systemAt = 0, mediaAt = 0;
    crumbs([{text: "projects", href: "/"}, {text: E}, {text: P, href: "/" + enc(E) + "/" + enc(P)}, {text: ID}]);
    var sections = {};
    ["overview", "charts", "media", "config", "files", "artifacts", "console", "system"].forEach(function (id) {
      sections[id] = h("section", {id: id});
    });

    function first(d) {
      main.innerHTML = "";
      var title = h("h1", {id: "run-title"});
      main.appendChild(title);
      main.appendChild(h("nav", {className: "sectionnav"}, ["overview", "charts", "media", "config", "files",
        "artifacts", "console", "system"].map(function (id) { return h("a", {href: "#" + id, text: id}); })));
      Object.keys(sections).forEach(function (id) { main.appendChild(sections[id]); });
      renderOverview(d);
      renderCharts(d);
      renderMedia(d);
      sections.config.appendChild(h("h2", {text: "Config and summary"}));
      sections.config.appendChild(h("div", {className: "overview"}, [
        h("div", {}, [h("h3", {text: "config"}), h("div", {id: "config-table"}, [kvTable(flat(d.config))])]),
        h("div", {}, [h("h3", {text: "summary"}), h("div", {id: "summary-table"}, [kvTable(flat(d.summary))])])]));
      renderFiles(d);
      renderArtifacts();
      sections.console.appendChild(h("h2", {text: "Console"}));
      sections.console.appendChild(h("pre", {className: "console", id: "console-lines"}));
      loadConsole();
      renderSystem();
    }

    function renderTitle(d) {
      var title = document.getElementById("run-title");
      title.innerHTML = "";
      title.appendChild(document.createTextNode((d.run.name || ID) + " "));
      title.appendChild(stateBadge(d.run.state));
      if (d.run.live) {
        title.appendChild(document.createTextNode(" "));
        title.appendChild(h("button", {className: "danger", id: "stop-run", text: "Stop", onclick: function (ev) {
          if (!confirm("Stop run " + (d.run.name || ID) + "? It ends as killed.")) return;
          ev.target.disabled = true;
          api(base + "/stop", {}).then(function (r) { ev.target.textContent = r.delivered ? "stopping…" : r.state; })
            .catch(function (e) { ev.target.textContent = e.message; });
        }}));
      }
    }

    function overviewFacts(d) {
      var r = d.run, facts = [["id", r.id], ["path", r.path], ["state", r.state], ["user", r.user],
        ["created", when(r.created_at)], ["updated", when(r.updated_at)], ["runtime", dur(r.runtime)],
        ["last step", r.last_step < 0 ? "" : r.last_step], ["host", r.host], ["command", r.command],
        ["group", r.group], ["job type", r.job_type], ["exit code", r.exit_code === null ? "" : r.exit_code],
        ["sweep", r.sweep_id], ["python", r.python], ["git", r.git && r.git.commit ? (r.git.commit + (r.git.dirty ? " (dirty)" : "")) : ""],
        ["folder", r.run_dir]];
      var dl = h("dl", {className: "kv", id: "run-facts"});
      facts.forEach(function (f) {
        if (f[1] === "" || f[1] === undefined || f[1] === null) return;
        dl.appendChild(h("dt", {text: f[0]})); dl.appendChild(h("dd", {text: String(f[1])}));
      });
      return dl;
    }

    function renderOverview(d) {
      var s = sections.overview;
      s.innerHTML = "";
      renderTitle(d);
      var notes = h("textarea", {className: "notes", id: "notes-editor", placeholder: "notes about this run"});
      notes.value = d.run.notes || "";
      var saved = h("span", {className: "muted", id: "notes-status"});
      var tagBox = h("div", {id: "tags"});
      function drawTags(tags) {
        tagBox.innerHTML = "";
        tags.forEach(function (t) {
          tagBox.appendChild(h("span", {className: "tag"}, [t, h("button", {title: "remove", text: "×", onclick: function () {
            saveTags(tags.filter(function (x) { return x !== t; })); }})]));
        });
        tagBox.appendChild(h("input", {type: "text", id: "tag-input", placeholder: "add a tag + Enter", size: 16,
          onkeydown: function (ev) {
            if (ev.key === "Enter" && ev.target.value.trim()) saveTags(tags.concat([ev.target.value.trim()]));
          }}));
      }
      function saveTags(tags) {
        api(base + "/tags", {tags: tags}).then(function (r) { d.run.tags = r.tags; drawTags(r.tags); })
          .catch(function (e) { saved.textContent = e.message; });
      }
      drawTags(d.run.tags || []);
      var editor = h("div", {className: "card"}, [h("h3", {text: "notes"}), notes,
        h("div", {}, [h("button", {className: "primary", id: "notes-save", text: "Save notes", onclick: function () {
          saved.textContent = "saving…";
          api(base + "/notes", {notes: notes.value}).then(function () { saved.textContent = "saved"; })
            .catch(function (e) { saved.textContent = e.message; });
        }}), " ", saved]), h("h3", {text: "tags"}), tagBox]);
      s.appendChild(h("h2", {text: "Overview"}));
      s.appendChild(h("div", {className: "overview"}, [h("div", {className: "card", id: "facts-card"}, [overviewFacts(d)]), editor]));
      if (d.writers.length) {
        s.appendChild(h("h3", {text: "writers (shared run)"}));
        s.appendChild(h("table", {className: "grid", id: "writers"}, [h("tbody", {}, d.writers.map(function (w) {
          return h("tr", {}, [h("td", {text: w.label || "(unlabelled)"}), h("td", {text: w.primary ? "primary" : ""}),
            h("td", {}, [stateBadge(w.state || "running")]), h("td", {text: w.exit_code === undefined || w.exit_code === null ? "" : "exit " + w.exit_code})]);
        }))]));
      }
      if (d.alerts.length) {
        s.appendChild(h("h3", {text: "alerts" + (d.alerts_suppressed ? " (" + d.alerts_suppressed + " suppressed)" : "")}));
        s.appendChild(h("table", {className: "grid", id: "alerts"}, [h("tbody", {}, d.alerts.slice().reverse().map(function (a) {
          return h("tr", {}, [h("td", {text: when(a.timestamp || a.time)}), h("td", {text: a.level}),
            h("td", {text: a.title}), h("td", {text: a.text})]);
        }))]));
      }
    }

    function updateOverview(d) {
      renderTitle(d);
      var facts = document.getElementById("facts-card");
      facts.innerHTML = ""; facts.appendChild(overviewFacts(d));
      var cfg = document.getElementById("config-table"), sum = document.getElementById("summary-table");
      cfg.innerHTML = ""; cfg.appendChild(kvTable(flat(d.config)));
      sum.innerHTML = ""; sum.appendChild(kvTable(flat(d.summary)));
    }

    function renderCharts(d) {
      var s = sections.charts;
      if (!s.firstChild) {
        s.appendChild(h("h2", {text: "Charts"}));
        s.appendChild(h("div", {className: "controls"}, [h("input", {type: "search", placeholder: "filter charts",
          id: "chart-filter", oninput: function (ev) {
            var q = ev.target.value.toLowerCase();
            Object.keys(charts).forEach(function (k) { charts[k].card.style.display = k.toLowerCase().indexOf(q) >= 0 ? "" : "none"; });
          }}), h("span", {className: "muted", id: "hidden-count"})]));
        s.appendChild(MyChartControls.panel({scope: "all", xOptions: numericKeys(d)}));
      }
      var allControls = s.querySelector('.chart-controls[data-scope="all"]');
      numericKeys(d).forEach(function (k) { allControls.addXOption(k); });
      var hidden = 0;
      d.charts.forEach(function (def) {
        if (def.hidden) { hidden++; return; }
        if (charts[def.key]) return;
        var sectionName = def.section || "charts";
        var grid = s.querySelector('.charts[data-section="' + CSS.escape(sectionName) + '"]');
        if (!grid) {
          var sectionGear = MyChartControls.toggle({scope: "section", name: def.section, xOptions: numericKeys(d)},
            "settings of every chart in " + sectionName);
          s.appendChild(h("h3", {className: "section-title"}, [sectionName, " ", sectionGear.button]));
          s.appendChild(sectionGear.panel);
          grid = h("div", {className: "charts", "data-section": sectionName});
          s.appendChild(grid);
        }
        var el = h("div", {className: "chart", "data-chart-id": def.key, "data-key": def.key});
        var gear = MyChartControls.toggle({scope: "chart", key: def.key, section: def.section, xOptions: numericKeys(d)},
          "settings of this chart");
        var card = h("div", {className: "chart-card", "data-key": def.key}, [h("div", {className: "title"}, [
          h("span", {text: def.key}), h("span", {}, [h("span", {className: "muted", text: def.step_metric ? "x: " + def.step_metric : ""}),
            " ", gear.button])]), gear.panel, el]);
        grid.appendChild(card);
        charts[def.key] = historyChart(base, def, el);
        charts[def.key].card = card;
        charts[def.key].load();
      });
      document.getElementById("hidden-count").textContent = hidden ? hidden + " hidden metric(s) not shown" : "";
      if (!d.charts.length && !s.querySelector(".charts")) {
        if (!s.querySelector(".empty")) s.appendChild(h("p", {className: "muted empty", text: "No metrics logged yet."}));
      } else {
        var empty = s.querySelector(".empty"); if (empty) empty.remove();
      }
    }

    function numericKeys(d) {
      return d.charts.map(function (c) { return c.key; }).sort();
    }

    function renderMedia(d) {
      mediaAt = Date.now();
      var s = sections.media;
      s.innerHTML = "";
      if (!d.media.length) return;
      s.appendChild(h("h2", {text: "Media"}));
      d.media.forEach(function (m) {
        var body = h("div", {className: "media-body"});
        var card = h("div", {className: "media-card", "data-media": m.key, "data-type": m.type},
          [h("div", {className: "title"}, [h("strong", {text: m.key}), " ", h("span", {className: "muted", text: m.type})]), body]);
        s.appendChild(card);
        if (m.type === "histogram") {
          var heat = h("div", {className: "chart heatmap", "data-chart-id": "heatmap:" + m.key, "data-key": m.key});
          card.insertBefore(heat, body);
          api(base + "/histograms?" + new URLSearchParams({key: m.key})).then(function (r) { MyHeatmap.draw(heat, r); })
            .catch(function (e) { failed(heat, e); });
        }
        api(base + "/media?" + new URLSearchParams({key: m.key})).then(function (r) { mediaPanel(body, r.steps); })
          .catch(function (e) { failed(body, e); });
      });
    }

    function mediaPanel(body, steps) {
      if (!steps.length) { body.textContent = "no values"; return; }
      var shown = h("div", {className: "media-items"});
      var label = h("span", {className: "muted media-step"});
      function show(i) {
        label.textContent = "step " + steps[i].step;
        shown.innerHTML = "";
        var v = steps[i].value;
        (Array.isArray(v) ? v : [v]).forEach(function (item) { shown.appendChild(mediaItem(item)); });
      }
      if (steps.length > 1) {
        body.appendChild(h("div", {}, [h("input", {type: "range", min: 0, max: steps.length - 1, value: steps.length - 1,
          className: "media-slider", oninput: function (ev) { show(Number(ev.target.value)); }}), " ", label]));
      } else body.appendChild(label);
      body.appendChild(shown);
      show(steps.length - 1);
    }

    function mediaItem(m) {
      if (!m || typeof m !== "object") return h("span", {text: val(m)});
      var cap = m.caption ? h("figcaption", {text: m.caption}) : null;
      var url = m.path ? fileUrl(E, P, ID, m.path, true) : null;
      var link = m.path ? h("a", {href: fileUrl(E, P, ID, m.path, false), text: m.path.split("/").pop()}) : null;
      switch (m._type) {
        case "image-file":
          // Small images are scaled up (pixelated) to at least 128 pixels wide.
          var small = m.width && m.width < 128;
          return h("figure", {}, [h("img", {src: url, alt: m.caption || m.path, width: small ? 128 : m.width,
            style: small ? "image-rendering: pixelated" : null, "class": "media-image"}), cap]);
        case "video-file":
          return h("figure", {}, m.format === "gif" ? [h("img", {src: url}), cap] : [h("video", {src: url, controls: true, width: m.width}), cap]);
        case "audio-file":
          return h("figure", {}, [h("audio", {src: url, controls: true}), cap]);
        case "histogram":
          var el = h("div", {className: "chart"});
          setTimeout(function () {
            var bins = m.bins || [], mids = (m.values || []).map(function (_, i) { return (bins[i] + bins[i + 1]) / 2; });
            MyChart.draw(el, {traces: [{name: "count", x: mids, y: m.values || [], bars: true}], xTitle: "value"});
          }, 0);
          return h("div", {style: "width: 460px"}, [el]);
        case "table-file":
          return tablePanel(m);
        case "plot":
          return h("div", {}, [h("div", {className: "muted", text: (m.spec && (m.spec.title || m.spec.chart)) || "plot"}),
            m.table ? tablePanel(m.table, m.spec) : null]);
        default:
          return h("div", {}, [link || h("span", {text: val(m)}), cap]);
      }
    }

    function tablePanel(m, spec) {
      var box = h("div", {className: "media-table"}), offset = 0, limit = 20;
      var chart = spec && spec.fields && spec.fields.x && spec.fields.y ? h("div", {className: "chart", style: "width: 460px"}) : null;
      function page() {
        api(base + "/table?" + new URLSearchParams({name: m.path, offset: offset, limit: chart ? 5000 : limit})).then(function (t) {
          box.innerHTML = "";
          if (chart) {
            var xi = t.columns.indexOf(spec.fields.x), yi = t.columns.indexOf(spec.fields.y);
            if (xi >= 0 && yi >= 0) {
              box.appendChild(chart);
              MyChart.draw(chart, {traces: [{name: spec.fields.y, x: t.rows.map(function (r) { return r[xi]; }),
                y: t.rows.map(function (r) { return r[yi]; }), bars: spec.chart === "bar"}], xTitle: spec.fields.x});
              return;
            }
          }
          box.appendChild(h("table", {className: "grid"}, [h("thead", {}, [h("tr", {}, t.columns.map(function (c) {
            return h("th", {className: "nosort", text: c}); }))]),
            h("tbody", {}, t.rows.map(function (r) { return h("tr", {}, r.map(function (v) {
              return h("td", {}, [v && v._type ? mediaItem(v) : h("span", {text: val(v)})]); })); }))]));
          box.appendChild(h("div", {className: "controls"}, [
            h("button", {text: "←", disabled: offset === 0, onclick: function () { offset = Math.max(0, offset - limit); page(); }}),
            h("span", {className: "muted", text: (t.total ? offset + 1 : 0) + "–" + Math.min(t.total, offset + limit) + " of " + t.total}),
            h("button", {text: "→", disabled: offset + limit >= t.total, onclick: function () { offset += limit; page(); }})]));
        }).catch(function (e) { failed(box, e); });
      }
      page();
      return box;
    }

    function renderFiles(d) {
      var s = sections.files;
      s.innerHTML = "";
      s.appendChild(h("h2", {text: "Files"}));
      if (!d.files.length) { s.appendChild(h("p", {className: "muted", text: "No files."})); return; }
      var preview = h("pre", {className: "preview", id: "file-preview", style: "display:none"});
      s.appendChild(h("table", {className: "grid", id: "files"}, [h("tbody", {}, d.files.map(function (f) {
        return h("tr", {}, [
          h("td", {}, [f.pending ? h("span", {text: f.name}) : h("a", {href: fileUrl(E, P, ID, f.name, false), text: f.name, className: "file-link"})]),
          h("td", {text: f.pending ? "uploading…" : bytes(f.size)}), h("td", {text: when(f.updated_at)}),
          h("td", {}, [f.pending || (f.size || 0) > 64 << 20 ? null : h("button", {text: "preview", onclick: function () {
            preview.style.display = ""; preview.textContent = "loading…";
            api(base + "/preview?" + new URLSearchParams({name: f.name})).then(function (r) {
              preview.textContent = r.binary ? "(binary file: download it)" : r.text + (r.truncated ? "\n… (truncated)" : "");
            }).catch(function (e) { preview.textContent = e.message; });
          }})])]);
      }))]));
      s.appendChild(preview);
    }

    function runLink(path) {
      var p = (path || "").split("/");
      return p.length === 3 ? h("a", {href: "/" + p.map(enc).join("/").replace(/\/([^/]*)$/, "/runs/$1"), text: path})
                            : h("span", {text: path || "—"});
    }

    function renderArtifacts() {
      var s = sections.artifacts;
      api(base + "/artifacts").then(function (r) {
        s.innerHTML = "";
        s.appendChild(h("h2", {text: "Artifacts"}));
        if (!r.logged.length && !r.used.length) { s.appendChild(h("p", {className: "muted", text: "No artifacts."})); return; }
        function table(title, rows, other) {
          s.appendChild(h("h3", {text: title}));
          s.appendChild(h("table", {className: "grid artifacts"}, [h("tbody", {}, rows.map(function (a) {
            var who = other === "used_by" ? h("td", {}, a.used_by.length ? a.used_by.map(runLink) : [h("span", {className: "muted", text: "unused"})])
                                          : h("td", {}, [runLink(a.created_by)]);
            var page = "/" + [a.entity, a.project, "artifacts", a.type, a.name, a.version].map(enc).join("/");
            return h("tr", {}, [h("td", {}, [h("a", {className: "artifact-link", href: href(page), text: a.name + ":" + a.version})]), h("td", {text: a.type}),
              h("td", {text: (a.aliases || []).join(", ")}), h("td", {text: bytes(a.size) + " · " + a.file_count + " files"}), who]);
          }))]));
        }
        if (r.logged.length) table("logged (used by)", r.logged, "used_by");
        if (r.used.length) table("used (logged by)", r.used, "created_by");
      }).catch(function (e) { s.textContent = e.message; });
    }

    function loadConsole() {
      var q = consoleLast === null ? {limit: 1000} : {after: consoleLast, limit: 5000};
      return api(base + "/console?" + new URLSearchParams(q)).then(function (r) {
        var pre = document.getElementById("console-lines");
        if (consoleLast === null && !r.lines.length) pre.textContent = "(no console output)";
        else if (consoleLast === null) pre.textContent = "";
        r.lines.forEach(function (l) {
          pre.appendChild(h("span", {className: l.stream === "stderr" ? "stderr" : ""}, [(l.label ? "[" + l.label + "] " : "") + l.text + "\n"]));
        });
        if (r.last !== null && r.last !== undefined) consoleLast = r.last;
        if (r.lines.length) pre.scrollTop = pre.scrollHeight;
      });
    }

    function renderSystem() {
      systemAt = Date.now();
      return api(base + "/system").then(function (r) {
        var s = sections.system;
        s.innerHTML = "";
        var keys = Object.keys(r.series);
        if (!keys.length) return;
        s.appendChild(h("h2", {text: "System"}));
        var grid = h("div", {className: "charts"});
        s.appendChild(grid);
        keys.forEach(function (k) {
          var el = h("div", {className: "chart", "data-chart-id": "system:" + k});
          var unit = (r.units || {})[k] || "";
          grid.appendChild(h("div", {className: "chart-card"}, [h("div", {className: "title"}, [h("span", {text: k}),
            h("span", {className: "muted unit", text: unit})]), el]));
          MyChart.draw(el, {traces: [{name: k, x: r.series[k].x, y: r.series[k].y}], xTitle: "seconds", yTitle: unit});
        });
      });
    }

    function poll() {
      api(base).then(function (d) {
        var lastStep = detail.run.last_step;
        var wasLive = detail.run.live;
        detail = d;
        updateOverview(d);
        renderCharts(d);
        if (d.run.last_step !== lastStep) {
          Object.keys(charts).forEach(function (k) { if (!charts[k].zoom) charts[k].load(); });
        }
        // Media panels are rebuilt (slider back on the last step) when new keys come, or at most every 15 s.
        if (d.media.length !== sections.media.querySelectorAll(".media-card").length ||
            (d.run.last_step !== lastStep && Date.now() - mediaAt > 15000) || !d.run.live) renderMedia(d);
        if (d.files.length !== sections.files.querySelectorAll("tr").length) renderFiles(d);
        loadConsole();
        if (Date.now() - systemAt > 15000 || !d.run.live) renderSystem();
        if (d.run.live || wasLive) timer = setTimeout(poll, POLL_MS);
      }).catch(function () { timer = setTimeout(poll, POLL_MS * 3); });
    }

    api(base).then(function (d) {
      detail = d;
      first(d);
      if (d.run.live) timer = setTimeout(poll, POLL_MS);
    }).catch(function (e) { main.innerHTML = ""; failed(main, e); });
  }

  // -- compare view --------------------------------------------------------------------
  function interp(xs, ys, x) {
    if (!xs.length || x < xs[0] || x > xs[xs.length - 1]) return null;
    var lo = 0, hi = xs.length - 1;
    while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (xs[mid] <= x) lo = mid; else hi = mid; }
    if (ys[lo] === null || ys[hi] === null) return ys[lo] === null ? ys[hi] : ys[lo];
    if (xs[hi] === xs[lo]) return ys[lo];
    return ys[lo] + (ys[hi] - ys[lo]) * (x - xs[lo]) / (xs[hi] - xs[lo]);
  }

  // Mean line with a min/max band over a group's runs, on a common grid of x values.
  function groupBand(series) {
    var lo = Infinity, hi = -Infinity;
    series.forEach(function (s) { if (s.x.length) { lo = Math.min(lo, s.x[0]); hi = Math.max(hi, s.x[s.x.length - 1]); } });
    if (lo === Infinity) return {x: [], mean: [], lo: [], hi: []};
    var n = hi > lo ? 300 : 1, out = {x: [], mean: [], lo: [], hi: []};
    for (var i = 0; i < n; i++) {
      var x = n === 1 ? lo : lo + (hi - lo) * i / (n - 1);
      var vals = series.map(function (s) { return interp(s.x, s.y, x); }).filter(function (v) { return v !== null; });
      if (!vals.length) continue;
      out.x.push(x);
      out.mean.push(vals.reduce(function (a, b) { return a + b; }, 0) / vals.length);
      out.lo.push(Math.min.apply(null, vals)); out.hi.push(Math.max.apply(null, vals));
    }
    return out;
  }

  function comparePage() {
    var E = D.entity, P = D.project;
    var ids = (new URLSearchParams(location.search).get("runs") || "").split(",").filter(Boolean);
    crumbs([{text: "projects", href: "/"}, {text: E}, {text: P, href: "/" + enc(E) + "/" + enc(P)}, {text: "compare"}]);
    main.innerHTML = "";
    main.appendChild(h("h1", {text: "Compare " + ids.length + " runs"}));
    if (!ids.length) { main.appendChild(h("p", {className: "muted", text: "Select runs in the runs table first."})); return; }
    Promise.all(ids.map(function (id) { return api(runBase(E, P, id)); })).then(function (details) {
      var grouped = details.some(function (d, i) {
        return d.run.group && details.some(function (o, j) { return j !== i && o.run.group === d.run.group; });
      });
      var groupBox = h("input", {type: "checkbox", id: "compare-grouped", checked: grouped, onchange: function () { drawAll(); }});
      main.appendChild(h("div", {className: "controls"}, [h("label", {}, [groupBox, " group runs by group (mean with min/max band)"])]));
      main.appendChild(h("div", {className: "controls"}, details.map(function (d, i) {
        return h("span", {}, [h("span", {className: "tag", style: "background:" + MyChart.color(i) + ";color:#fff", text: d.run.name || d.run.id}),
          " ", stateBadge(d.run.state), " ", h("span", {className: "muted", text: d.run.group})]);
      })));
      var keys = [], defs = {};
      details.forEach(function (d) {
        d.charts.forEach(function (c) { if (!c.hidden && !defs[c.key]) { defs[c.key] = c; keys.push(c.key); } });
      });
      keys.sort();
      main.appendChild(MyChartControls.panel({scope: "all", xOptions: keys}));
      var grid = h("div", {className: "charts"});
      main.appendChild(grid);
      var cache = {};
      function drawAll() {
        keys.forEach(function (k) {
          var el = grid.querySelector('.chart[data-key="' + CSS.escape(k) + '"]');
          var section = defs[k].section || "";
          if (!el) {
            el = h("div", {className: "chart", "data-chart-id": "compare:" + k, "data-key": k});
            var gear = MyChartControls.toggle({scope: "chart", key: k, section: section, xOptions: keys}, "settings of this chart");
            grid.appendChild(h("div", {className: "chart-card", "data-key": k}, [h("div", {className: "title"}, [
              h("span", {text: k}), gear.button]), gear.panel, el]));
          }
          var settings = MyChartSettings.effective(k, section);
          var q = MyLineChart.query(settings, defs[k]);
          q.key = k;
          var text = new URLSearchParams(q).toString();
          var fetches = details.map(function (d) {
            var id = d.run.id, ck = id + "\u0000" + text;
            if (cache[ck]) return Promise.resolve(cache[ck]);
            var has = d.charts.some(function (c) { return c.key === k; });
            if (!has) return Promise.resolve(null);
            return api(runBase(E, P, id) + "/history?" + text)
              .then(function (r) { cache[ck] = r; return r; }).catch(function () { return null; });
          });
          Promise.all(fetches).then(function (lines) { drawCompare(el, k, q.x, details, lines, groupBox.checked, settings); });
        });
      }
      MyChartSettings.subscribe(drawAll);
      drawAll();
    }).catch(function (e) { failed(main, e); });
  }

  function drawCompare(el, key, x, details, lines, grouped, settings) {
    var traces = [], groups = {}, order = [];
    details.forEach(function (d, i) {
      var r = lines[i];
      if (!r) return;
      var own = MyLineChart.lineTraces(r, d.run.name || d.run.id, MyChart.color(i), x);
      var g = grouped && d.run.group ? d.run.group : null;
      if (g === null) { traces = traces.concat(own); return; }
      if (!groups[g]) { groups[g] = []; order.push(g); }
      groups[g].push(own[own.length - 1]);  // the smoothed line when smoothing
    });
    order.forEach(function (g, gi) {
      var members = groups[g];
      if (members.length === 1) { traces.push(members[0]); return; }
      var b = groupBand(members);
      traces.push({name: g + " (mean of " + members.length + ")", x: b.x, y: b.mean, color: MyChart.color(details.length + gi),
        band: {x: b.x, lo: b.lo, hi: b.hi}});
    });
    var spec = MyLineChart.spec(settings, lines, traces, x);
    spec.legend = true;
    MyChart.draw(el, spec);
  }

  var ui = {h: h, api: api, href: href, enc: enc, val: val, ago: ago, when: when, dur: dur,
    stateBadge: stateBadge, crumbs: crumbs, failed: failed, main: main, D: D, URL_TOKEN: URL_TOKEN, POLL_MS: POLL_MS};
  function runsPage() { window.MyTable.runsPage(ui); }
  var pages = {projects: projectsPage, runs: runsPage, run: runPage, compare: comparePage,
    sweep: function () { window.MySweeps.page(main, crumbs); }};
  (pages[D.page] || (window.mytrackPages || {})[D.page] || projectsPage)();  // others: artifacts.js
})();
