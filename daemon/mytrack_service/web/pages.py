"""HTML skeletons of the UI's pages; ``static/app.js`` fills them from the JSON API.

    /                              projects
    /E/P                           runs table, the project's sweeps and parallel coordinates
    /E/P/sweeps/S                  sweep page       (/E/P/sweeps/S/runs: the sweep's runs table)
    /E/P/runs/ID                   run page
    /E/P/compare?runs=ID,ID        compare view
    /E/P/artifacts[/TYPE/NAME[/V]] artifacts, an artifact's versions, a version (artifacts.py)
"""

from __future__ import annotations

import functools
import html
import importlib.util
import os

from mytrack_service import __version__
from mytrack_service.web.artifacts import page_route

STATIC = os.path.join(os.path.dirname(__file__), "static")
# Chart settings, their controls, settings-aware line charts, histogram heatmaps (before app.js).
_CHART_SCRIPTS = "\n".join(
    f'<script src="/static/{name}.js?v={{version}}" defer></script>'
    for name in ("chartsettings", "chartcontrols", "linechart", "heatmap")
)
_STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@functools.cache
def plotly_path() -> str | None:
    """plotly.min.js inside the installed ``plotly`` wheel (a dependency), if any.

    Found without importing plotly (which would cost the service memory).
    """
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, "package_data", "plotly.min.js")
        if os.path.isfile(path):
            return path
    return None


def static_file(name: str) -> tuple[str, str] | None:
    """(path, content type) of a static asset, None if there is no such asset."""
    if name == "plotly.min.js":
        path = plotly_path()
        return None if path is None else (path, _STATIC_TYPES[".js"])
    ext = os.path.splitext(name)[1]
    if "/" in name or name.startswith(".") or ext not in _STATIC_TYPES:
        return None
    path = os.path.join(STATIC, name)
    return (path, _STATIC_TYPES[ext]) if os.path.isfile(path) else None


def route(parts: list[str]) -> dict[str, str] | None:
    """The page for a path's segments (its data attributes), None if none."""
    if not parts:
        return {"page": "projects"}
    if len(parts) == 2:
        return {"page": "runs", "entity": parts[0], "project": parts[1]}
    if len(parts) == 4 and parts[2] == "runs":
        return {"page": "run", "entity": parts[0], "project": parts[1], "run": parts[3]}
    if len(parts) == 4 and parts[2] == "sweeps":
        return {"page": "sweep", "entity": parts[0], "project": parts[1], "sweep": parts[3]}
    if len(parts) == 5 and parts[2] == "sweeps" and parts[4] == "runs":
        return {"page": "runs", "entity": parts[0], "project": parts[1], "sweep": parts[3]}
    if len(parts) >= 3 and parts[2] == "artifacts":
        return page_route(parts)
    if len(parts) == 3 and parts[2] == "compare":
        return {"page": "compare", "entity": parts[0], "project": parts[1]}
    return None


def render(page: dict[str, str], token: str) -> bytes:
    """The page's skeleton: the token for API calls, the page's identity, the scripts."""
    attrs = " ".join(f'data-{k}="{html.escape(v, quote=True)}"' for k, v in page.items())
    version = html.escape(__version__)
    plotly = (f'<script src="/static/plotly.min.js?v={version}" defer></script>'
              if plotly_path() is not None else "")
    title = html.escape(" / ".join(v for k, v in page.items() if k != "page") or "projects")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="mytrack-token" content="{html.escape(token, quote=True)}">
<title>mytrack · {title}</title>
<link rel="stylesheet" href="/static/app.css?v={version}">
<link rel="stylesheet" href="/static/table.css?v={version}">
<link rel="stylesheet" href="/static/dark.css?v={version}">
<link rel="stylesheet" href="/static/artifacts.css?v={version}">
{plotly}
<script src="/static/chart.js?v={version}" defer></script>
{_CHART_SCRIPTS.format(version=version)}
<script src="/static/artifacts.js?v={version}" defer></script>
<script src="/static/table.js?v={version}" defer></script>
<script src="/static/sweeps.js?v={version}" defer></script>
<script src="/static/app.js?v={version}" defer></script>
<script src="/static/run_delete.js?v={version}" defer></script>
</head><body {attrs}>
<header><a class="brand" href="/">mytrack</a><nav id="crumbs"></nav></header>
<main id="main"><p class="muted">Loading…</p></main>
</body></html>
""".encode()


UNAUTHORIZED = b"""<!doctype html><html><head><meta charset="utf-8"><title>mytrack: token needed</title>
</head><body style="font-family:sans-serif;margin:3em">
<h1>401: a token is needed</h1>
<p>Open the address that <code>mytrack ui</code> prints (it carries <code>?token=...</code>
once; a cookie keeps it), or a run's <code>run.url</code>.</p></body></html>
"""
