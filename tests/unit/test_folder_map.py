"""docs/architecture.md's folder map lists every folder of the tree, and nothing that is gone.

A folder is one that holds a tracked file (generated or not); docs/ and the CI's
own folder are left out. Map lines are indented two spaces per level under their
parent, and a line may name a few levels at once (``_internal/run/``).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_SKIP = ("docs/", ".ci/", ".github/")


def _mapped() -> set[str]:
    text = (REPO / "docs" / "architecture.md").read_text()
    block = text.split("## Folder map", 1)[1].split("```", 2)[1]
    paths: set[str] = set()
    stack: list[str] = []
    for line in block.splitlines():
        found = re.match(r"^( *)(\S+/)(\s|$)", line)
        if not found:
            continue
        depth = len(found.group(1)) // 2
        stack = stack[:depth] + [found.group(2)]
        paths.add("".join(stack))
    return paths


def _tracked_folders() -> set[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    folders = {os.path.dirname(name) + "/" for name in listed.stdout.split() if os.path.dirname(name)}
    return {folder for folder in folders if not folder.startswith(_SKIP)}


def test_every_folder_is_in_the_map_and_every_mapped_folder_exists() -> None:
    mapped = {path for path in _mapped() if not path.startswith(_SKIP)}
    tracked = _tracked_folders()
    assert sorted(tracked - mapped) == [], "folders missing from docs/architecture.md's folder map"
    assert sorted(mapped - tracked) == [], "folders in the map that the tree no longer has"
