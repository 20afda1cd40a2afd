/* mytrack histograms over time: a heatmap of step (x) by value bins (y), as W&B draws them.
 *
 *   MyHeatmap.draw(el, answer)   answer: GET /api/runs/E/P/ID/histograms?key=K
 *                                ({steps, edges, counts: [per step: a count per bin]})
 *
 * plotly's heatmap when the page has plotly, else SVG rectangles. What is drawn is kept in
 * window.mytrackCharts[el.dataset.chartId] as [{name, x: steps, y: bin centres, z: [bin][step]}].
 */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function grid(answer) {
    var edges = answer.edges, steps = answer.steps;
    var centres = [];
    for (var i = 0; i + 1 < edges.length; i++) centres.push((edges[i] + edges[i + 1]) / 2);
    var z = centres.map(function (_, b) { return answer.counts.map(function (c) { return c[b]; }); });
    return {x: steps, y: centres, z: z};
  }

  function draw(el, answer) {
    var g = grid(answer);
    var trace = {name: answer.key, x: g.x, y: g.y, z: g.z, heatmap: true};
    window.mytrackCharts = window.mytrackCharts || {};
    if (el.dataset.chartId) window.mytrackCharts[el.dataset.chartId] = [trace];
    el.dataset.steps = String(g.x.length);
    if (!g.x.length) { el.textContent = "no histograms"; return; }
    if (window.Plotly) {
      window.Plotly.react(el, [{type: "heatmap", x: g.x, y: g.y, z: g.z, colorscale: "Viridis",
        colorbar: {thickness: 10, title: {text: "count", side: "right"}},
        hovertemplate: "step %{x}<br>value %{y:.4g}<br>count %{z:.4g}<extra></extra>"}],
      {margin: {l: 50, r: 12, t: 30, b: 36}, font: {size: 11}, paper_bgcolor: "rgba(0,0,0,0)",
        xaxis: {title: {text: "step", font: {size: 11}}, automargin: true}, yaxis: {automargin: true, title: {text: "value"}}},
      {responsive: true, displaylogo: false});
      return;
    }
    drawSvg(el, g);
  }

  function drawSvg(el, g) {
    el.innerHTML = "";
    var w = el.clientWidth || 440, h = el.clientHeight || 260, m = {l: 52, r: 10, t: 8, b: 30};
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("class", "fallback heatmap");
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    el.appendChild(svg);
    var top = 0;
    g.z.forEach(function (row) { row.forEach(function (v) { if (v > top) top = v; }); });
    var cw = (w - m.l - m.r) / g.x.length, ch = (h - m.t - m.b) / Math.max(1, g.y.length);
    g.z.forEach(function (row, b) {
      row.forEach(function (v, s) {
        var r = document.createElementNS(NS, "rect");
        var shade = top ? Math.round(255 - 200 * v / top) : 255;
        r.setAttribute("x", m.l + s * cw); r.setAttribute("y", m.t + (g.y.length - 1 - b) * ch);
        r.setAttribute("width", Math.max(cw, 0.5)); r.setAttribute("height", Math.max(ch, 0.5));
        r.setAttribute("fill", "rgb(" + shade + "," + shade + ",255)");
        svg.appendChild(r);
      });
    });
  }

  window.MyHeatmap = {draw: draw, grid: grid};
})();
