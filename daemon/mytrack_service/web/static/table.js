/* mytrack web UI: the runs table of a project (loaded before app.js, which calls MyTable.runsPage).
 *
 * The whole view lives in the address bar: filters, sort, grouping, columns, pinned columns,
 * selected runs and the page's offset are query parameters, rewritten on every change
 * (history.replaceState), so a copied link reproduces the view. Parameters starting with
 * "chart." (the charts' settings) are carried through untouched, to the compare view too.
 * Saved views store these parameters in the service's store, per project.
 */
(function () {
  "use strict";
  var PREFIXES = [["summary", "Summary"], ["config", "Config"], ["system", "System"], ["metadata", "Metadata"]];
  var RUN_LABELS = {name: "Name", state: "State", user: "User", created_at: "Created", updated_at: "Updated",
    runtime: "Runtime", group: "Group", job_type: "Job type", tags: "Tags", id: "ID", last_step: "Last step",
    host: "Host", notes: "Notes", sweep: "Sweep"};
  var KEYS = ["sort", "filter", "search", "state", "tags", "group", "group_by", "cols", "pin", "sel", "offset"];

  function parseFilter(text) {
    text = (text || "").trim();
    if (!text) return null;
    if (text[0] === "{") return JSON.parse(text);
    var ops = {"=": "$eq", "==": "$eq", "!=": "$ne", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "~": "$regex"};
    var conds = text.split(/\s+and\s+/i).map(function (part) {
      var m = part.match(/^\s*([^\s=!<>~]+)\s*(==|=|!=|<=|>=|<|>|~)\s*(.+?)\s*$/);
      if (!m) throw new Error("cannot read the condition " + JSON.stringify(part) + " (try config.lr < 0.1)");
      var raw = m[3], v;
      if (/^-?\d+(\.\d*)?([eE][-+]?\d+)?$/.test(raw)) v = Number(raw);
      else if (raw === "true" || raw === "false") v = raw === "true";
      else if (raw === "null") v = null;
      else v = raw.replace(/^(['"])(.*)\1$/, "$2");
      var c = {}; c[m[1]] = {}; c[m[1]][ops[m[2]]] = v;
      return c;
    });
    return conds.length === 1 ? conds[0] : {"$and": conds};
  }

  function label(col) {
    if (RUN_LABELS[col]) return RUN_LABELS[col];
    var i = col.indexOf(".");
    return col.slice(0, i) === "summary" ? col.slice(i + 1) : col;
  }

  function readState() {
    var q = new URLSearchParams(location.search), st = {extra: {}};
    KEYS.forEach(function (k) { st[k] = q.get(k) || ""; });
    q.forEach(function (v, k) { if (k.slice(0, 6) === "chart.") st.extra[k] = v; });
    st.sort = st.sort || "-created_at";
    st.offset = Number(st.offset) || 0;
    st.cols = st.cols ? JSON.parse(st.cols) : null;
    st.pin = st.pin ? JSON.parse(st.pin) : ["name"];
    st.selected = new Set(st.sel ? st.sel.split(",") : []);
    return st;
  }

  // The view as query parameters (no token): what the address bar, links and saved views hold.
  function viewParams(st) {
    var p = {};
    if (st.sort !== "-created_at") p.sort = st.sort;
    ["filter", "search", "state", "tags", "group", "group_by"].forEach(function (k) { if (st[k]) p[k] = st[k]; });
    if (st.cols) p.cols = JSON.stringify(st.cols);
    if (!(st.pin.length === 1 && st.pin[0] === "name")) p.pin = JSON.stringify(st.pin);
    if (st.selected.size) p.sel = Array.from(st.selected).join(",");
    if (st.offset) p.offset = String(st.offset);
    Object.keys(st.extra).forEach(function (k) { p[k] = st.extra[k]; });
    return p;
  }

  function runsPage(ui) {
    var h = ui.h, api = ui.api, enc = ui.enc, val = ui.val, D = ui.D, main = ui.main;
    var E = D.entity, P = D.project, path = "/" + enc(E) + "/" + enc(P) + (D.sweep ? "/sweeps/" + enc(D.sweep) : "");
    var st = readState(), data = null, timer = null, views = [];
    document.body.classList.add("wide");
    ui.crumbs([{text: "projects", href: "/"}, {text: E}, {text: P}].concat(D.sweep ? [{text: "sweep " + D.sweep}] : []));
    main.innerHTML = "";
    main.appendChild(h("h1", {text: P + (D.sweep ? " · sweep " + D.sweep : "")}));

    function sync() {
      var q = new URLSearchParams(viewParams(st));
      if (ui.URL_TOKEN) q.set("token", ui.URL_TOKEN);
      var s = q.toString();
      history.replaceState(null, "", location.pathname + (s ? "?" + s : ""));
    }
    function change(fn) { return function (ev) { fn(ev); st.offset = 0; sync(); load(); }; }
    function field(name, placeholder, cls) {
      return h("input", {type: name === "search" ? "search" : "text", placeholder: placeholder, className: cls,
        id: "runs-" + name, value: st[name], onchange: change(function (ev) { st[name] = ev.target.value; })});
    }

    var status = h("span", {className: "muted", id: "runs-count"});
    var err = h("div", {className: "error", id: "runs-error"});
    var states = h("select", {id: "runs-state", onchange: change(function (ev) { st.state = ev.target.value; })},
      ["", "running", "finished", "failed", "crashed", "killed", "preempting", "preempted"].map(function (s) {
        return h("option", {value: s, text: s || "any state", selected: s === st.state});
      }));
    var groupBy = h("select", {id: "runs-groupby", title: "group by",
      onchange: change(function (ev) { st.group_by = ev.target.value; })});
    var filterBox = field("filter", "filter: optimizer = adam and summary.acc >= 0.9 (or W&B JSON)", "wide");
    main.appendChild(h("div", {className: "controls"}, [
      field("search", "search names"), states, field("tags", "tags (a,b)"), field("group", "group"), filterBox,
      h("label", {}, ["group by ", groupBy]),
      h("button", {id: "columns-button", text: "Columns", onclick: function () {
        picker.hidden = !picker.hidden; if (!picker.hidden) renderPicker(); }}),
      status]));

    // Views: saved per project in the store; the link of the current one.
    var viewSelect = h("select", {id: "views", onchange: function (ev) {
      var v = views.filter(function (x) { return x.name === ev.target.value; })[0];
      if (v) location.href = ui.href(location.pathname, v.state);
    }});
    var viewName = h("input", {type: "text", id: "view-name", placeholder: "view name"});
    var link = h("input", {type: "text", id: "view-link", readonly: true, className: "wide", hidden: true});
    main.appendChild(h("div", {className: "controls"}, [
      h("label", {}, ["view ", viewSelect]), viewName,
      h("button", {id: "view-save", text: "Save view", onclick: saveView}),
      h("button", {id: "view-delete", text: "Delete view", onclick: deleteView}),
      h("button", {id: "copy-link", text: "Copy link", onclick: copyLink}), link]));

    // Bulk actions on the selected runs.
    var bulkText = h("input", {type: "text", id: "bulk-text", placeholder: "tag or group"});
    var compare = h("button", {className: "primary", id: "compare", text: "Compare selected", onclick: function () {
      var q = {runs: Array.from(st.selected).join(",")};
      Object.keys(st.extra).forEach(function (k) { q[k] = st.extra[k]; });
      location.href = ui.href("/" + enc(E) + "/" + enc(P) + "/compare", q);
    }});
    var bulkButtons = [compare,
      h("button", {id: "bulk-tag", text: "Tag", onclick: function () { bulk("/runs/tags", {add: [bulkText.value]}); }}),
      h("button", {id: "bulk-untag", text: "Untag", onclick: function () { bulk("/runs/tags", {remove: [bulkText.value]}); }}),
      h("button", {id: "bulk-group", text: "Move to group", onclick: function () { bulk("/runs/group", {group: bulkText.value}); }}),
      h("button", {id: "bulk-delete", className: "danger", text: "Delete", onclick: function () {
        if (confirm("Delete " + st.selected.size + " runs, their files and the blobs nothing else uses?")) {
          bulk("/runs/delete", {}, true);
        }
      }})];
    var selCount = h("span", {className: "muted", id: "selected-count"});
    main.appendChild(h("div", {className: "controls"}, [selCount, bulkText].concat(bulkButtons)));
    main.appendChild(err);
    var picker = h("div", {className: "column-picker card", id: "column-picker", hidden: true});
    main.appendChild(picker);
    var wrap = h("div", {className: "tablewrap"});
    main.appendChild(wrap);
    var pager = h("div", {className: "controls"});
    main.appendChild(pager);
    if (!D.sweep && window.MySweeps) window.MySweeps.projectPanels(main, E, P);  // sweeps.js

    function selectedPaths() {
      return Array.from(st.selected).map(function (id) { return E + "/" + P + "/" + id; });
    }

    function bulk(route, body, drop) {
      body.runs = selectedPaths();
      err.textContent = "";
      api(route, body).then(function () {
        if (drop) st.selected.clear();
        sync(); load();
      }).catch(function (e) { err.textContent = e.message; });
    }

    function loadViews(selected) {
      return api("/projects/" + enc(E) + "/" + enc(P) + "/views").then(function (list) {
        views = list;
        viewSelect.innerHTML = "";
        viewSelect.appendChild(h("option", {value: "", text: list.length ? "(choose a view)" : "(no saved views)"}));
        list.forEach(function (v) { viewSelect.appendChild(h("option", {value: v.name, text: v.name, selected: v.name === selected})); });
      }).catch(function (e) { err.textContent = e.message; });
    }

    function saveView() {
      var name = viewName.value.trim();
      if (!name) { err.textContent = "name the view first"; return; }
      api("/projects/" + enc(E) + "/" + enc(P) + "/views", {name: name, state: viewParams(st)})
        .then(function () { return loadViews(name); }).catch(function (e) { err.textContent = e.message; });
    }

    function deleteView() {
      var name = viewSelect.value || viewName.value.trim();
      if (!name) return;
      api("/projects/" + enc(E) + "/" + enc(P) + "/views/delete", {name: name})
        .then(function () { return loadViews(""); }).catch(function (e) { err.textContent = e.message; });
    }

    function copyLink() {
      // Without the token: the recipient opens it in a browser that has opened their own `mytrack ui` address.
      var s = new URLSearchParams(viewParams(st)).toString();
      link.value = location.origin + location.pathname + (s ? "?" + s : "");
      link.hidden = false;
      link.select();
      if (navigator.clipboard) navigator.clipboard.writeText(link.value).catch(function () {});
    }

    function visible() {
      if (st.cols) return st.cols;
      var cols = ["name", "state"];
      data.columns.summary.slice(0, 8).forEach(function (k) { cols.push("summary." + k); });
      data.columns.config.slice(0, 8).forEach(function (k) { cols.push("config." + k); });
      return cols.concat(["created_at", "runtime", "user", "group", "job_type", "tags"]);
    }

    function ordered() {
      var cols = visible(), pinned = st.pin.filter(function (c) { return cols.indexOf(c) >= 0; });
      return pinned.concat(cols.filter(function (c) { return pinned.indexOf(c) < 0; }));
    }

    function load() {
      var q = {sort: st.sort, offset: st.offset, limit: 100};
      ["search", "state", "tags", "group", "group_by"].forEach(function (k) { if (st[k]) q[k] = st[k]; });
      if (D.sweep) q.sweep = D.sweep;
      if (data && st.group_by) {
        q.aggregate = JSON.stringify(visible().filter(function (c) { return c.indexOf(".") > 0; }));
      }
      err.textContent = "";
      try {
        var f = parseFilter(st.filter);
        if (f) q.filters = JSON.stringify(f);
      } catch (e) { err.textContent = e.message; return; }
      api("/projects/" + enc(E) + "/" + enc(P) + "/runs?" + new URLSearchParams(q)).then(function (d) {
        var first = !data;
        data = d;
        if (first && st.group_by) { load(); return; }  // again, with the visible columns aggregated
        render();
        clearTimeout(timer);
        var live = d.runs.some(function (r) { return r.state === "running" || r.state === "preempting"; });
        timer = setTimeout(load, live ? ui.POLL_MS : 15000);
      }).catch(function (e) { err.textContent = e.message; });
    }

    function groupOptions() {
      groupBy.innerHTML = "";
      var opts = [["", "nothing"], ["group", "group"], ["job_type", "job type"], ["state", "state"], ["user", "user"]];
      data.columns.config.forEach(function (k) { opts.push(["config." + k, "config." + k]); });
      if (st.group_by && !opts.some(function (o) { return o[0] === st.group_by; })) opts.push([st.group_by, st.group_by]);
      opts.forEach(function (o) { groupBy.appendChild(h("option", {value: o[0], text: o[1], selected: o[0] === st.group_by})); });
    }

    function cell(r, col) {
      var v;
      switch (col) {
        case "name":
          return h("td", {"data-col": col}, [h("a", {href: ui.href("/" + enc(E) + "/" + enc(P) + "/runs/" + enc(r.id)),
            text: r.name || r.id, className: "run-link", title: r.id})]);
        case "state": return h("td", {"data-col": col}, [ui.stateBadge(r.state)]);
        case "created_at": case "updated_at":
          return h("td", {"data-col": col, text: ui.ago(r[col]), title: ui.when(r[col])});
        case "runtime": return h("td", {"data-col": col, text: ui.dur(r.runtime)});
        case "tags": return h("td", {"data-col": col}, r.tags.map(function (t) { return h("span", {className: "tag", text: t}); }));
        case "id": v = r.id; break;
        case "sweep": v = r.sweep_id; break;
        default:
          var i = col.indexOf(".");
          v = i > 0 ? (r[col.slice(0, i)] || {})[col.slice(i + 1)] : r[col];
      }
      return h("td", {"data-col": col, text: val(v), title: val(v)});
    }

    function header(col) {
      var arrow = st.sort === col ? " ▲" : st.sort === "-" + col ? " ▼" : "";
      return h("th", {"data-col": col, text: label(col) + arrow, title: "sort by " + col, onclick: function () {
        st.sort = st.sort === "-" + col ? col : "-" + col; st.offset = 0; sync(); load();
      }});
    }

    function groupRow(g, cols) {
      var states = Object.keys(g.states || {}).map(function (s) { return g.states[s] + " " + s; }).join(", ");
      var name = g.value === null || g.value === "" ? "(none)" : val(g.value);
      var cells = [h("td", {}, []), h("td", {"data-col": cols[0], text: name + " · " + g.count + " runs · " + states})];
      cols.slice(1).forEach(function (c) {
        var a = (g.aggregates || {})[c];
        cells.push(h("td", {"data-col": c, className: a ? "aggregate" : "", text: a ? "μ " + val(a.mean) : "",
          title: a ? "mean " + val(a.mean) + ", min " + val(a.min) + ", max " + val(a.max) + " (" + a.count + " runs)" : null}));
      });
      return h("tr", {className: "grouprow", "data-group": name}, cells);
    }

    function render() {
      groupOptions();
      var cols = ordered();
      status.textContent = data.total + " runs";
      var all = h("input", {type: "checkbox", id: "select-all", title: "select the runs of this page", onchange: function (ev) {
        data.runs.forEach(function (r) { if (ev.target.checked) st.selected.add(r.id); else st.selected.delete(r.id); });
        sync(); render();
      }});
      var head = [h("th", {className: "nosort select"}, [all])].concat(cols.map(header));
      var groups = {}, rows = [], last = null;
      (data.groups || []).forEach(function (g) { groups[JSON.stringify(g.value)] = g; });
      data.runs.forEach(function (r) {
        if (st.group_by) {
          var key = groupKey(r);
          if (key !== last && groups[key]) rows.push(groupRow(groups[key], cols));
          last = key;
        }
        var box = h("input", {type: "checkbox", className: "select-run", "data-run": r.id, checked: st.selected.has(r.id),
          onchange: function (ev) {
            if (ev.target.checked) st.selected.add(r.id); else st.selected.delete(r.id);
            sync(); selection();
          }});
        rows.push(h("tr", {"data-run": r.id}, [h("td", {className: "select"}, [box])].concat(cols.map(function (c) { return cell(r, c); }))));
      });
      wrap.innerHTML = "";
      var table = h("table", {className: "grid", id: "runs-table"}, [h("thead", {}, [h("tr", {}, head)]), h("tbody", {}, rows)]);
      wrap.appendChild(table);
      pinColumns(table, cols);
      selection();
      pager.innerHTML = "";
      if (data.total > data.limit) {
        pager.appendChild(h("button", {text: "← previous", disabled: st.offset === 0, onclick: function () {
          st.offset = Math.max(0, st.offset - data.limit); sync(); load(); }}));
        pager.appendChild(h("span", {className: "muted", text: (st.offset + 1) + "–" +
          Math.min(data.total, st.offset + data.limit) + " of " + data.total}));
        pager.appendChild(h("button", {text: "next →", disabled: st.offset + data.limit >= data.total,
          onclick: function () { st.offset += data.limit; sync(); load(); }}));
      }
      if (!picker.hidden) renderPicker();
    }

    function groupKey(r) {
      var col = st.group_by, i = col.indexOf("."), v;
      if (i > 0) v = (r[col.slice(0, i)] || {})[col.slice(i + 1)];
      else v = col === "tags" ? r.tags.join(",") : r[col];
      return JSON.stringify(v === undefined ? null : v);
    }

    // Pinned columns stay on the left while the table scrolls sideways.
    function pinColumns(table, cols) {
      var left = 0, first = table.querySelector("th.select");
      if (first) { first.classList.add("pinned"); left = first.offsetWidth; }
      table.querySelectorAll("td.select").forEach(function (td) { td.classList.add("pinned"); });
      cols.forEach(function (c) {
        if (st.pin.indexOf(c) < 0) return;
        var cellsOf = table.querySelectorAll('[data-col="' + CSS.escape(c) + '"]'), width = 0;
        cellsOf.forEach(function (e) { e.classList.add("pinned"); e.style.left = left + "px"; width = Math.max(width, e.offsetWidth); });
        left += width;
      });
    }

    function selection() {
      var n = st.selected.size;
      selCount.textContent = n ? n + " selected" : "select runs for bulk actions";
      bulkButtons.forEach(function (b) { b.disabled = n === 0; });
    }

    function renderPicker() {
      var shown = visible(), filterText = (picker.querySelector("#column-search") || {}).value || "";
      picker.innerHTML = "";
      var search = h("input", {type: "search", id: "column-search", placeholder: "find a column", value: filterText,
        oninput: function () { renderPicker(); var s = document.getElementById("column-search"); s.focus(); s.selectionStart = s.value.length; }});
      picker.appendChild(h("div", {className: "controls"}, [search,
        h("button", {text: "Default columns", onclick: function () { st.cols = null; sync(); render(); }}),
        h("button", {text: "Close", onclick: function () { picker.hidden = true; }})]));
      var sections = [["run", "Run"]].concat(PREFIXES);
      sections.forEach(function (s) {
        var keys = s[0] === "run" ? data.columns.run : data.columns[s[0]] || [];
        var ids = keys.map(function (k) { return s[0] === "run" ? k : s[0] + "." + k; })
          .filter(function (id) { return !filterText || id.toLowerCase().indexOf(filterText.toLowerCase()) >= 0; });
        if (!ids.length) return;
        picker.appendChild(h("h3", {text: s[1] + " (" + ids.length + ")"}));
        picker.appendChild(h("div", {className: "column-list", "data-section": s[0]}, ids.map(function (id) {
          var on = shown.indexOf(id) >= 0, pinned = st.pin.indexOf(id) >= 0;
          return h("div", {className: "column-item"}, [
            h("label", {}, [h("input", {type: "checkbox", className: "col-toggle", "data-col": id, checked: on, onchange: function (ev) {
              var cols = visible().slice();
              if (ev.target.checked) cols.push(id); else cols = cols.filter(function (c) { return c !== id; });
              st.cols = cols; sync(); load();
            }}), " " + (s[0] === "run" ? label(id) : id.slice(s[0].length + 1))]),
            h("button", {className: "col-pin" + (pinned ? " on" : ""), "data-col": id, title: pinned ? "unpin" : "pin to the left",
              text: pinned ? "📌" : "pin", onclick: function () {
                st.pin = pinned ? st.pin.filter(function (c) { return c !== id; }) : st.pin.concat([id]);
                if (!pinned && visible().indexOf(id) < 0) st.cols = visible().concat([id]);
                sync(); render();
              }}),
            h("button", {className: "col-filter", "data-col": id, title: "filter on this column", text: "filter", onclick: function () {
              filterBox.value = (filterBox.value.trim() ? filterBox.value.trim() + " and " : "") + id + " = ";
              filterBox.focus();
            }})]);
        })));
      });
    }

    loadViews("");
    load();
  }

  window.MyTable = {runsPage: runsPage, parseFilter: parseFilter};
})();
