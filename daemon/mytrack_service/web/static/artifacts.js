/* Artifact pages: a project's artifacts, an artifact's versions, and a version with its
 * files (browser and preview), producer, consumers and lineage graph (plain SVG).
 * Registered in window.mytrackPages, which app.js looks in for pages it does not own;
 * on a project's runs page it adds the link to the project's artifacts.
 */
(function () {
  "use strict";
  var D = document.body.dataset;
  var TOKEN = (document.querySelector('meta[name="mytrack-token"]') || {}).content || "";
  var URL_TOKEN = new URLSearchParams(location.search).get("token");
  var SVG = "http://www.w3.org/2000/svg";

  function enc(s) { return encodeURIComponent(s); }

  function h(tag, attrs, children) {
    var e = document.createElement(tag);
    fill(e, attrs, children);
    return e;
  }

  function s(tag, attrs, children) {
    var e = document.createElementNS(SVG, tag);
    fill(e, attrs, children);
    return e;
  }

  function fill(e, attrs, children) {
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") e.textContent = v;
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), v);
      else if (k === "className") e.setAttribute("class", v);
      else e.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
  }

  function href(path, params) {
    var q = new URLSearchParams(params || {});
    if (URL_TOKEN) q.set("token", URL_TOKEN);
    var t = q.toString();
    return path + (t ? "?" + t : "");
  }

  function api(path) {
    return fetch("/api" + path, {headers: {"X-Mytrack-Token": TOKEN}, credentials: "same-origin"}).then(function (r) {
      return r.json().catch(function () { return {error: r.statusText}; }).then(function (data) {
        if (!r.ok) throw new Error((data && data.error) || ("HTTP " + r.status));
        return data;
      });
    });
  }

  function bytes(n) {
    if (n === null || n === undefined) return "";
    var u = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  }

  function when(ts) { return ts ? new Date(ts * 1000).toLocaleString() : ""; }

  function val(v) {
    if (v === null || v === undefined) return "";
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  function project(e, p) { return "/" + enc(e) + "/" + enc(p); }
  function artifactPath(a, version) {
    var base = project(a.entity || D.entity, a.project || D.project) + "/artifacts/" + enc(a.type) + "/" + enc(a.name);
    return version ? base + "/" + enc(version) : base;
  }
  function versionApi(e, p, name, version) { return "/artifacts/" + [e, p, name, version].map(enc).join("/"); }

  function runLink(run) {
    if (!run) return h("span", {className: "muted", text: "—"});
    var p = run.path.split("/");
    if (run.missing) return h("span", {className: "muted", text: run.path + " (deleted)", title: "this run was deleted"});
    return h("a", {className: "run-link", href: href(project(p[0], p[1]) + "/runs/" + enc(p[2])), title: run.path,
      "data-run": run.path, text: run.name || p[2]});
  }

  function aliases(list) {
    return h("span", {}, (list || []).map(function (a) { return h("span", {className: "alias", text: a}); }));
  }

  function crumbs(items) {
    var nav = document.getElementById("crumbs");
    nav.innerHTML = "";
    items.forEach(function (it, i) {
      if (i) nav.appendChild(h("span", {text: "/"}));
      nav.appendChild(it.href ? h("a", {href: href(it.href), text: it.text}) : h("span", {text: it.text}));
    });
  }

  function base(extra) {
    var items = [{text: "projects", href: "/"}, {text: D.entity}, {text: D.project, href: project(D.entity, D.project)},
      {text: "artifacts", href: project(D.entity, D.project) + "/artifacts"}];
    crumbs(items.concat(extra || []));
  }

  function failed(where, err) { where.appendChild(h("p", {className: "error", text: String(err && err.message || err)})); }

  function grid(id, head, rows) {
    return h("div", {className: "tablewrap"}, [h("table", {className: "grid", id: id}, [
      h("thead", {}, [h("tr", {}, head.map(function (t) { return h("th", {className: "nosort", text: t}); }))]),
      h("tbody", {}, rows)])]);
  }

  // -- the project's artifacts ------------------------------------------------------
  function artifactsPage() {
    var main = document.getElementById("main");
    base(D.type ? [{text: D.type}] : []);
    api("/artifacts/" + enc(D.entity) + "/" + enc(D.project)).then(function (list) {
      main.innerHTML = "";
      main.appendChild(h("h1", {text: "Artifacts of " + D.project + (D.type ? " · " + D.type : "")}));
      list = list.filter(function (c) { return !D.type || c.type === D.type; });
      if (!list.length) { main.appendChild(h("p", {className: "muted", text: "No artifacts."})); return; }
      main.appendChild(grid("artifacts-table", ["name", "type", "kind", "versions", "latest", "aliases", "size (latest)", "updated"],
        list.map(function (c) {
          return h("tr", {"data-artifact": c.name}, [
            h("td", {}, [h("a", {className: "artifact-link", href: href(artifactPath(c)), text: c.name})]),
            h("td", {}, [h("a", {href: href(project(D.entity, D.project) + "/artifacts/" + enc(c.type)), text: c.type})]),
            h("td", {text: c.kind}), h("td", {text: c.versions}), h("td", {text: c.latest}),
            h("td", {}, [aliases(c.aliases)]), h("td", {text: bytes(c.size)}), h("td", {text: when(c.updated_at)})]);
        })));
    }).catch(function (e) { main.innerHTML = ""; failed(main, e); });
  }

  // -- one artifact's versions ------------------------------------------------------
  function artifactPage() {
    var main = document.getElementById("main");
    base([{text: D.type, href: project(D.entity, D.project) + "/artifacts/" + enc(D.type)}, {text: D.name}]);
    api("/artifacts/" + [D.entity, D.project, D.name].map(enc).join("/")).then(function (a) {
      main.innerHTML = "";
      main.appendChild(h("h1", {text: a.name + " "}, [h("span", {className: "muted", text: a.type + " · " + a.kind})]));
      if (a.description) main.appendChild(h("p", {text: a.description}));
      main.appendChild(grid("versions-table", ["version", "aliases", "size", "files", "created", "logged by", "used by", "digest"],
        a.versions.map(function (v) {
          return h("tr", {"data-version": v.version}, [
            h("td", {}, [h("a", {className: "version-link", href: href(artifactPath(a, v.version)), text: v.version})]),
            h("td", {}, [aliases(v.aliases)]), h("td", {text: bytes(v.size)}), h("td", {text: v.file_count}),
            h("td", {text: when(v.created_at)}), h("td", {}, [runLink(v.producer)]),
            h("td", {text: v.consumers ? v.consumers + (v.consumers === 1 ? " run" : " runs") : ""}),
            h("td", {className: "digest", text: (v.digest || "").slice(0, 12), title: v.digest})]);
        })));
    }).catch(function (e) { main.innerHTML = ""; failed(main, e); });
  }

  // -- one version --------------------------------------------------------------------
  function versionPage() {
    var main = document.getElementById("main");
    var vapi = versionApi(D.entity, D.project, D.name, D.version);
    base([{text: D.type, href: project(D.entity, D.project) + "/artifacts/" + enc(D.type)},
          {text: D.name, href: project(D.entity, D.project) + "/artifacts/" + enc(D.type) + "/" + enc(D.name)},
          {text: D.version}]);
    api(vapi).then(function (v) {
      main.innerHTML = "";
      main.appendChild(h("h1", {id: "artifact-title", text: v.name + ":" + v.version + " "}, [aliases(v.aliases)]));
      if (v.description) main.appendChild(h("p", {text: v.description}));
      var overview = [["type", v.type], ["version", v.version], ["digest", v.digest], ["size", bytes(v.size)],
        ["files", v.file_count], ["created", when(v.created_at)]];
      var dl = h("dl", {className: "kv", id: "artifact-overview"});
      overview.forEach(function (kv) { dl.appendChild(h("dt", {text: kv[0]})); dl.appendChild(h("dd", {text: val(kv[1])})); });
      dl.appendChild(h("dt", {text: "logged by"}));
      dl.appendChild(h("dd", {id: "artifact-producer"}, [runLink(v.producer)]));
      if (v.source) {
        dl.appendChild(h("dt", {text: "links to"}));
        dl.appendChild(h("dd", {}, [h("a", {href: href(artifactPath({entity: v.source.entity, project: v.source.project,
          name: v.source.name, type: v.type}, v.source.version)), text: v.source.name + ":" + v.source.version})]));
      }
      var used = h("ul", {id: "artifact-consumers"}, v.consumers.map(function (r) { return h("li", {}, [runLink(r)]); }));
      main.appendChild(h("div", {className: "overview"}, [
        h("div", {}, [dl]),
        h("div", {}, [h("h3", {text: "used by " + v.consumers.length + (v.consumers.length === 1 ? " run" : " runs")}),
          v.consumers.length ? used : h("p", {className: "muted", text: "No run used this version."}),
          v.links.length ? h("h3", {text: "linked into"}) : null,
          v.links.length ? h("ul", {}, v.links.map(function (l) {
            return h("li", {}, [h("a", {href: href(artifactPath({entity: l.entity, project: l.project, name: l.name, type: v.type}, l.version)),
              text: l.entity + "/" + l.project + "/" + l.name + ":" + l.version + " (" + l.kind + ")"})]);
          })) : null])]));
      var meta = Object.keys(v.metadata || {});
      if (meta.length) {
        main.appendChild(h("h2", {text: "Metadata"}));
        main.appendChild(grid("artifact-metadata", ["key", "value"], meta.sort().map(function (k) {
          return h("tr", {}, [h("td", {text: k}), h("td", {text: val(v.metadata[k]), title: val(v.metadata[k])})]);
        })));
      }
      main.appendChild(h("h2", {text: "Files"}));
      main.appendChild(filesBrowser(vapi));
      main.appendChild(h("h2", {id: "lineage", text: "Lineage"}));
      main.appendChild(lineageSection(vapi));
    }).catch(function (e) { main.innerHTML = ""; failed(main, e); });
  }

  function filesBrowser(vapi) {
    var list = h("div"), preview = h("div", {className: "artifact-preview", id: "artifact-preview"},
      [h("span", {className: "muted", text: "Select a file to preview it."})]);
    function fileUrl(path, inline) {
      var q = {path: path, token: TOKEN};
      if (inline) q.inline = "1";
      return "/api" + vapi + "/file?" + new URLSearchParams(q).toString();
    }
    function open(dir) {
      api(vapi + "/files?" + new URLSearchParams({dir: dir})).then(function (r) {
        list.innerHTML = "";
        var crumb = h("div", {className: "controls", id: "files-dir"}, [h("a", {href: "#", text: "/", onclick: function (ev) { ev.preventDefault(); open(""); }})]);
        var acc = "";
        (r.dir ? r.dir.split("/") : []).forEach(function (part) {
          acc = acc ? acc + "/" + part : part;
          var target = acc;
          crumb.appendChild(h("a", {href: "#", text: part + "/", onclick: function (ev) { ev.preventDefault(); open(target); }}));
        });
        list.appendChild(crumb);
        var rows = r.entries.map(function (e) {
          if (e.folder) {
            return h("tr", {"data-folder": e.path}, [h("td", {}, [h("a", {href: "#", className: "folder-link", text: e.name + "/",
              onclick: function (ev) { ev.preventDefault(); open(e.path); }})]),
              h("td", {text: bytes(e.size)}), h("td", {className: "muted", text: e.files + " files"})]);
          }
          var row = h("tr", {"data-file": e.path}, [h("td", {}, [h("a", {href: "#", className: "file-link", text: e.name,
            onclick: function (ev) { ev.preventDefault(); show(e, row); }})]), h("td", {text: bytes(e.size)}),
            h("td", {}, [e.ref ? h("span", {className: "muted", text: e.ref, title: "a reference: not kept by mytrack"})
                               : h("a", {href: fileUrl(e.path, false), text: "download"})])]);
          return row;
        });
        list.appendChild(grid("files-table", ["name", "size", ""], rows));
        if (r.total > r.entries.length) list.appendChild(h("p", {className: "muted", text: "showing " + r.entries.length + " of " + r.total}));
      }).catch(function (e) { list.innerHTML = ""; failed(list, e); });
    }
    function show(e, row) {
      Array.prototype.forEach.call(list.querySelectorAll("tr.selected"), function (r) { r.classList.remove("selected"); });
      row.classList.add("selected");
      preview.innerHTML = "";
      preview.dataset.path = e.path;
      preview.appendChild(h("p", {className: "muted", text: e.path + " · " + bytes(e.size)}));
      if (e.ref) { preview.appendChild(h("p", {text: "A reference to " + e.ref + "; its content is not kept by mytrack."})); return; }
      api(vapi + "/preview?" + new URLSearchParams({path: e.path})).then(function (p) {
        preview.dataset.kind = p.kind;
        if (p.kind === "image") preview.appendChild(h("img", {src: fileUrl(e.path, true), alt: e.path}));
        else if (p.kind === "table") {
          preview.appendChild(grid("preview-table", p.columns.map(val), p.rows.map(function (r) {
            return h("tr", {}, (Array.isArray(r) ? r : [r]).map(function (c) { return h("td", {text: val(c), title: val(c)}); }));
          })));
          if (p.total === null || p.total > p.rows.length) preview.appendChild(h("p", {className: "muted",
            text: "first " + p.rows.length + " rows" + (p.total ? " of " + p.total : "")}));
        } else if (p.kind === "binary") preview.appendChild(h("p", {className: "muted", text: "A binary file: download it."}));
        else preview.appendChild(h("pre", {className: "preview", text: p.text + (p.truncated ? "\n… (truncated: download the whole file)" : "")}));
      }).catch(function (err) { failed(preview, err); });
    }
    open("");
    return h("div", {className: "files-browser"}, [list, preview]);
  }

  // -- lineage -------------------------------------------------------------------------
  function lineageSection(vapi) {
    var params = new URLSearchParams(location.search);
    var hops = Math.max(1, Math.min(10, parseInt(params.get("hops") || "3", 10) || 3));
    var box = h("div", {className: "lineage-wrap", id: "lineage-graph"});
    var note = h("span", {className: "muted", id: "lineage-note"});
    var select = h("select", {id: "lineage-hops", onchange: function () {
      hops = parseInt(select.value, 10);
      var q = new URLSearchParams(location.search);
      q.set("hops", String(hops));
      history.replaceState(null, "", location.pathname + "?" + q.toString() + "#lineage");
      load();
    }}, [1, 2, 3, 4, 5, 6, 8, 10].map(function (n) { return h("option", {value: n, text: n + (n === 1 ? " hop" : " hops") + " each way"}); }));
    select.value = String(hops);
    function load() {
      api(vapi + "/lineage?" + new URLSearchParams({hops: hops})).then(function (g) {
        box.innerHTML = "";
        box.appendChild(drawLineage(g, hops));
        note.textContent = g.nodes.length + " nodes" + (g.truncated ? " (cut: too many to draw)" : "");
      }).catch(function (e) { box.innerHTML = ""; failed(box, e); });
    }
    load();
    return h("div", {}, [h("div", {className: "controls"}, [select, note]), box]);
  }

  function drawLineage(g, hops) {
    var W = 190, H = 40, GX = 70, GY = 18, PAD = 16;
    var layers = {}, min = 0, max = 0;
    g.nodes.forEach(function (n) {
      (layers[n.layer] = layers[n.layer] || []).push(n);
      min = Math.min(min, n.layer); max = Math.max(max, n.layer);
    });
    var pos = {}, tallest = 0;
    Object.keys(layers).forEach(function (l) {
      layers[l].sort(function (a, b) { return (a.kind + (a.label || a.name || a.path)).localeCompare(b.kind + (b.label || b.name || b.path)); });
      layers[l].forEach(function (n, i) { pos[n.id] = {x: PAD + (n.layer - min) * (W + GX), y: PAD + i * (H + GY)}; });
      tallest = Math.max(tallest, layers[l].length);
    });
    var width = PAD * 2 + (max - min + 1) * W + (max - min) * GX, height = PAD * 2 + tallest * (H + GY) - GY;
    var svg = s("svg", {className: "lineage", width: width, height: height, viewBox: "0 0 " + width + " " + height});
    svg.appendChild(s("defs", {}, [s("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto"},
      [s("path", {d: "M0,0 L10,5 L0,10 z", fill: "#9aa3b5"})])]));
    g.edges.forEach(function (e) {
      var a = pos[e[0]], b = pos[e[1]];
      if (!a || !b) return;
      var x0 = a.x + W, y0 = a.y + H / 2, x1 = b.x, y1 = b.y + H / 2, dx = Math.max(30, Math.abs(x1 - x0) / 2);
      svg.appendChild(s("path", {className: "edge", "data-from": e[0], "data-to": e[1], "marker-end": "url(#arrow)",
        d: "M" + x0 + "," + y0 + " C" + (x0 + dx) + "," + y0 + " " + (x1 - dx) + "," + y1 + " " + x1 + "," + y1}));
    });
    g.nodes.forEach(function (n) {
      var p = pos[n.id], title, sub, link = null;
      if (n.kind === "artifact") {
        title = n.label; sub = n.type;
        link = href(artifactPath(n, n.version), {hops: hops}) + "#lineage";
      } else {
        var parts = n.path.split("/");
        title = n.name || parts[2]; sub = n.missing ? "deleted run" : "run · " + n.state;
        if (!n.missing) link = href(project(parts[0], parts[1]) + "/runs/" + enc(parts[2]));
      }
      var cls = "node " + n.kind + (n.id === g.focal ? " focal" : "") + (n.missing ? " missing" : "");
      var body = [s("title", {text: n.kind === "run" ? n.path : n.entity + "/" + n.project + "/" + n.label}),
        s("rect", {x: p.x, y: p.y, width: W, height: H}),
        s("text", {x: p.x + 10, y: p.y + 17, text: clip(title, 26)}),
        s("text", {className: "sub", x: p.x + 10, y: p.y + 32, text: clip(sub, 30)})];
      svg.appendChild(link ? s("a", {className: cls, href: link, "data-node": n.id}, body)
                           : s("g", {className: cls, "data-node": n.id}, body));
    });
    return svg;
  }

  function clip(text, n) { text = String(text || ""); return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  // -- the runs page's way in ----------------------------------------------------------
  function linkFromRunsPage() {
    if (D.page !== "runs" || D.sweep) return;
    var main = document.getElementById("main");
    new MutationObserver(function () {
      var title = main.querySelector("h1");
      if (!title || document.getElementById("project-artifacts")) return;
      title.appendChild(document.createTextNode(" "));
      title.appendChild(h("a", {id: "project-artifacts", className: "project-artifacts",
        href: href(project(D.entity, D.project) + "/artifacts"), text: "artifacts →"}));
    }).observe(main, {childList: true, subtree: true});
  }

  window.mytrackPages = window.mytrackPages || {};
  window.mytrackPages.artifacts = artifactsPage;
  window.mytrackPages.artifact = artifactPage;
  window.mytrackPages["artifact-version"] = versionPage;
  linkFromRunsPage();
})();
