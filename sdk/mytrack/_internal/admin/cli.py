"""``mytrack runs rm PATH... [--yes] [--delete-artifacts]`` and ``mytrack gc [--dry-run]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mytrack.errors import InvalidValueError


def add_parser(commands: Any, runs_commands: Any) -> None:
    rm = runs_commands.add_parser("rm", help="delete runs and the blobs only they used")
    rm.add_argument("paths", nargs="+", metavar="PATH", help="ENTITY/PROJECT/RUN_ID or PROJECT/RUN_ID")
    rm.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    rm.add_argument("--delete-artifacts", action="store_true",
                    help="also delete the artifact versions the runs logged (unless others used them)")
    gc = commands.add_parser("gc", help="report and delete blobs that nothing references")
    gc.add_argument("--dry-run", action="store_true", help="only report what would be deleted")


def handles(args: argparse.Namespace) -> bool:
    return bool(args.command == "gc" or (args.command == "runs" and args.runs_command == "rm"))


def run(api: Any, args: argparse.Namespace) -> int:
    if args.command == "gc":
        return _gc(api, args.dry_run)
    return _rm(api, args.paths, args.yes, args.delete_artifacts)


def _rm(api: Any, paths: list[str], yes: bool, delete_artifacts: bool) -> int:
    runs = [api.run(path) for path in paths]  # every one found before anything is deleted
    for found in runs:
        print(f"{found.path}  {found.name}  {found.state}")
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidValueError("not deleting without confirmation: pass --yes")
        answer = input(f"Delete {len(runs)} run(s) and their data? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    out = api._rpc().admin_call("delete_runs", {
        "runs": [r.path for r in runs], "delete_artifacts": delete_artifacts})
    for path in out["deleted"]:
        print(f"deleted {path}")
    for refused in out["refused"]:
        print(f"mytrack: error: {refused['error']}", file=sys.stderr)
    for name in out["artifacts_deleted"]:
        print(f"deleted artifact {name}")
    for name in out["artifacts_kept"]:
        print(f"kept artifact {name} (used by other runs)")
    blobs = out.get("blobs") or {}
    if blobs:
        print(f"{blobs['deleted']} blob(s) deleted ({_size(blobs['deleted_bytes'])}), "
              f"{blobs['referenced']} still used elsewhere")
    return 1 if out["refused"] or out["not_found"] else 0


def _gc(api: Any, dry_run: bool) -> int:
    out = api._rpc().admin_call("gc", {"dry_run": dry_run})
    verb = "would delete" if dry_run else "deleted"
    print(f"{out['checked']} blob(s) checked, {out['referenced']} referenced, "
          f"{out['unreferenced']} unreferenced")
    print(f"{verb} {out['deleted']} blob(s), {_size(out['deleted_bytes'])}")
    if out["kept_recent"]:
        print(f"kept {out['kept_recent']} unreferenced blob(s) younger than MYTRACK_GC_GRACE")
    for error in out["errors"]:
        print(f"mytrack: error: {error}", file=sys.stderr)
    return 1 if out["errors"] else 0


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
