"""`mytrack artifacts ls ENTITY/PROJECT` and `mytrack artifacts get NAME:ALIAS [--root R]`."""

from __future__ import annotations

import argparse
import os
from typing import Any


def add_parser(commands: Any) -> None:
    artifacts = commands.add_parser("artifacts", help="list and download artifacts")
    sub = artifacts.add_subparsers(dest="artifacts_command", required=True)
    ls = sub.add_parser("ls", help="artifact collections of a project, with their versions")
    ls.add_argument("project", nargs="?", help="ENTITY/PROJECT or PROJECT (default: all)")
    get = sub.add_parser("get", help="download an artifact version (digests verified)")
    get.add_argument("name", help="[ENTITY/PROJECT/]NAME[:VERSION|:ALIAS]")
    get.add_argument("--root", help="folder to write into (default: ./artifacts/NAME:VERSION)")


def run(api: Any, args: argparse.Namespace) -> int:
    from mytrack._internal.artifacts.download import download_entries

    if args.artifacts_command == "ls":
        rows = api.artifact_collections(args.project)
        print(f"{'NAME':<32} {'TYPE':<12} {'KIND':<16} {'VERSIONS':>8}  ALIASES")
        for row in rows:
            print(f"{row['entity']}/{row['project']}/{row['name']:<20} {row['type']:<12} "
                  f"{row['kind']:<16} {row['versions']:>8}  {','.join(row['aliases'])}")
        return 0
    artifact = api.artifact(args.name)
    root = os.path.abspath(args.root or os.path.join(
        "artifacts", f"{artifact.collection_name}:{artifact.version}"))
    download_entries(artifact._require_stored("download()"), list(artifact.manifest), root, progress=True)
    print(root)
    return 0
