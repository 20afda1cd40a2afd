"""``run.display()``: the run inside a Jupyter notebook.

An IFrame of ``run.url`` when the local web UI answers there, else an HTML
summary (name, path, state, config, summary). Outside a notebook (no
IPython kernel) nothing is shown and display() returns False.
"""

from __future__ import annotations

import html
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from mytrack.errors import Error

_PROBE_SECONDS = 0.5
_MAX_ROWS = 50


def in_notebook() -> bool:
    """Whether this process runs under an IPython kernel (Jupyter, Colab, VS Code...)."""
    module = sys.modules.get("IPython")
    if module is None:
        return False
    try:
        shell = module.get_ipython()
    except Exception:  # noqa: BLE001 - any failure means "not in a notebook"
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def display_run(run: Any, height: int = 420, hidden: bool = False) -> bool:
    """Renders ``run`` in the notebook; False (and nothing shown) elsewhere."""
    if not in_notebook():
        return False
    import importlib

    ipython_display: Any = importlib.import_module("IPython.display")
    url = run.url
    style = "display:none;" if hidden else ""
    if url and _answers(url):
        markup = (f'<div style="{style}"><iframe src="{html.escape(url)}" style="border:none;'
                  f'width:100%;height:{int(height)}px;"></iframe></div>')
    else:
        markup = f'<div style="{style}">{summary_html(run)}</div>'
    ipython_display.display(ipython_display.HTML(markup))
    return True


def summary_html(run: Any) -> str:
    """The run's name, path, config and summary (latest values) as HTML."""
    try:
        summary = {k: v for k, v in run.summary.as_dict().items() if not k.startswith("_")}
    except Error:
        summary = {}
    config = dict(run.config.as_dict())
    parts = [
        f"<h3>{html.escape(run.name)} <small>{html.escape(run.path)}</small></h3>",
        _table("Config", config),
        _table("Summary", summary),
    ]
    return "\n".join(p for p in parts if p)


def _table(title: str, values: dict[str, Any]) -> str:
    if not values:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_short(v))}</td></tr>"
        for k, v in list(values.items())[:_MAX_ROWS]
    )
    return f"<h4>{title}</h4><table>{rows}</table>"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict) and "_type" in value:
        return f"<{value['_type']}>"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=_PROBE_SECONDS) as reply:  # noqa: S310 - our own UI
            return int(reply.status) < 500
    except urllib.error.HTTPError as exc:  # it answered (a token page, say)
        return exc.code < 500
    except (urllib.error.URLError, OSError, ValueError):
        return False
