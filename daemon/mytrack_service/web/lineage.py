"""An artifact version's lineage: runs and artifact versions as a graph, a few hops each way.

Edges follow the data: a run points to the versions it logged, a version to
the runs that used it. Upstream of a version are the run that logged it, the
versions that run used, the runs that logged those...; downstream the runs
that used it, the versions they logged, and so on. Each node gets a *layer*,
its signed distance from the version the page is about (upstream negative),
which is the column the browser draws it in. A graph past `MAX_NODES` is cut
(``truncated``) rather than sent whole: a dataset used by thousands of runs
would otherwise make one page read the whole store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mytrack_service.store.artifact_model import ArtifactTx, VersionRow

MAX_HOPS = 10
MAX_NODES = 200

RunInfo = Callable[[str], dict[str, Any]]


def lineage(tx: ArtifactTx, version_id: int, hops: int, run_info: RunInfo) -> dict[str, Any]:
    """``{nodes, edges, hops, truncated}`` around the version (a portfolio link: its source).

    ``run_info(path)`` describes a run node (its name and state).
    """
    graph = _Graph(tx, run_info)
    focal = graph.content_of(version_id)
    graph.add_version(focal, 0)
    for direction in (-1, 1):
        frontier = [f"artifact:{focal}"]
        for hop in range(1, hops + 1):
            following: list[str] = []
            for node in frontier:
                for neighbour in graph.neighbours(node, direction):
                    if graph.add(neighbour, direction * hop):
                        following.append(neighbour)
            frontier = following
            if not frontier or graph.full:
                break
    edges = sorted(e for e in graph.edges if e[0] in graph.nodes and e[1] in graph.nodes)
    return {"nodes": list(graph.nodes.values()), "edges": [list(e) for e in edges],
            "hops": hops, "truncated": graph.full, "focal": f"artifact:{focal}"}


class _Graph:
    def __init__(self, tx: ArtifactTx, run_info: RunInfo) -> None:
        self.tx = tx
        self.run_info = run_info
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: set[tuple[str, str]] = set()
        self.full = False

    def content_of(self, version_id: int) -> int:
        """The version whose content a version holds (a link's source, else itself)."""
        row = self.tx.version(version_id)
        while row is not None and row.source_id:
            version_id = row.source_id
            row = self.tx.version(version_id)
        return version_id

    def neighbours(self, node: str, direction: int) -> list[str]:
        """Nodes one edge away, upstream (-1) or downstream (+1); records the edges."""
        kind, _, ident = node.partition(":")
        found: list[str] = []
        if kind == "artifact":
            version_id = int(ident)
            if direction < 0:
                row = self.tx.version(version_id)
                runs = [row.created_by] if row is not None and row.created_by else []
                for run in runs:
                    found.append(f"run:{run}")
                    self.edges.add((f"run:{run}", node))
            else:
                for run in self.tx.users_of_version(version_id):
                    found.append(f"run:{run}")
                    self.edges.add((node, f"run:{run}"))
        else:
            if direction < 0:
                versions = [self.content_of(v) for v in self.tx.usage_of_run(ident)]
            else:
                versions = [v.id for v in self.tx.versions_by_run(ident)]
            for version in versions:
                other = f"artifact:{version}"
                found.append(other)
                self.edges.add((other, node) if direction < 0 else (node, other))
        return found

    def add(self, node: str, layer: int) -> bool:
        """Adds a node first reached at ``layer``; False if known already or the graph is full."""
        if node in self.nodes:
            return False
        if len(self.nodes) >= MAX_NODES:
            self.full = True
            return False
        kind, _, ident = node.partition(":")
        if kind == "artifact":
            return self.add_version(int(ident), layer)
        self.nodes[node] = {"id": node, "kind": "run", "layer": layer, **self.run_info(ident)}
        return True

    def add_version(self, version_id: int, layer: int) -> bool:
        row = self.tx.version(version_id)
        if row is None:
            return False
        self.nodes[f"artifact:{version_id}"] = {
            "id": f"artifact:{version_id}", "kind": "artifact", "layer": layer,
            **_describe(self.tx, row),
        }
        return True


def _describe(tx: ArtifactTx, row: VersionRow) -> dict[str, Any]:
    coll = tx.collection_by_id(row.collection_id)
    version = f"v{row.index}" if row.index >= 0 else ""
    return {"entity": coll.entity, "project": coll.project, "name": coll.name,
            "type": row.type, "version": version, "label": f"{coll.name}:{version}"}
