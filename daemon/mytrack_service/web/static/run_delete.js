/* The run page's Delete action: POST /api/runs/delete, then back to the project.
 * Kept apart from app.js: it watches the run title app.js renders (and re-renders
 * while polling) and adds its button there when the run is not live. */
(function () {
  "use strict";
  var D = document.body.dataset;
  if (D.page !== "run") return;
  var TOKEN = (document.querySelector('meta[name="mytrack-token"]') || {}).content || "";
  var path = [D.entity, D.project, D.run].join("/");

  function remove(button) {
    if (!confirm("Delete run " + path + "? Its history, files and console are removed for good.")) return;
    button.disabled = true;
    fetch("/api/runs/delete", {
      method: "POST", credentials: "same-origin",
      headers: {"X-Mytrack-Token": TOKEN, "Content-Type": "application/json"},
      body: JSON.stringify({runs: [path]})
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
        if (data.refused.length) throw new Error(data.refused[0].error);
        location.href = "/" + encodeURIComponent(D.entity) + "/" + encodeURIComponent(D.project);
      });
    }).catch(function (e) {
      button.disabled = false;
      button.textContent = "Delete";
      button.title = e.message;
      alert("Not deleted: " + e.message);
    });
  }

  function decorate(title) {
    if (document.getElementById("delete-run") || document.getElementById("stop-run")) return;
    if (!title.firstChild) return;
    var button = document.createElement("button");
    button.id = "delete-run";
    button.className = "danger";
    button.textContent = "Delete";
    button.addEventListener("click", function () { remove(button); });
    title.appendChild(document.createTextNode(" "));
    title.appendChild(button);
  }

  new MutationObserver(function () {
    var title = document.getElementById("run-title");
    if (title) decorate(title);
  }).observe(document.getElementById("main"), {childList: true, subtree: true});
})();
