"""The ``mytrack`` command: look at runs from the terminal.

    mytrack runs ls [ENTITY/PROJECT]
    mytrack runs show ENTITY/PROJECT/RUN_ID
    mytrack runs stop ENTITY/PROJECT/RUN_ID
    mytrack runs rm PATH... [--yes] [--delete-artifacts]
    mytrack gc [--dry-run]
    mytrack history ENTITY/PROJECT/RUN_ID [--keys a,b] [--format csv|jsonl]
    mytrack ui [--open] [--port N] [--rotate-token] [--print]
    mytrack sync RUN_FOLDER... | --dir DIR [--include-offline]
    mytrack run [--] COMMAND...        (COMMAND's `import wandb` gets mytrack)
    mytrack import wandb|tensorboard|mlflow ...
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import sys
from typing import Any

from mytrack._internal import ui_cli
from mytrack._internal.admin import cli as admin_cli
from mytrack._internal.artifacts import cli as artifacts_cli
from mytrack._internal.sweeps import cli as sweeps_cli
from mytrack.api import Api, ApiRun, _flatten
from mytrack.errors import Error, InvalidValueError
from mytrack.importers import cli as importers_cli


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:  # everything after "run" is the command's, unparsed
        from mytrack.compat import launch

        return launch.main(argv[1:])
    parser = argparse.ArgumentParser(prog="mytrack", description="Look at mytrack runs.")
    commands = parser.add_subparsers(dest="command", required=True)
    runs = commands.add_parser("runs", help="list and show runs")
    runs_commands = runs.add_subparsers(dest="runs_command", required=True)
    ls = runs_commands.add_parser("ls", help="a table of runs")
    ls.add_argument("project", nargs="?", help="ENTITY/PROJECT or PROJECT (default: all)")
    ls.add_argument("--filters", help="a JSON filter document, as Api.runs takes it")
    show = runs_commands.add_parser("show", help="state, config and summary of a run")
    show.add_argument("path", help="ENTITY/PROJECT/RUN_ID")
    stop = runs_commands.add_parser("stop", help="stop a live run (it ends as killed)")
    stop.add_argument("path", help="ENTITY/PROJECT/RUN_ID")
    sync = commands.add_parser("sync", help="upload offline, crashed or live run folders")
    sync.add_argument("paths", nargs="*", help="run folders (mytrack-runs/run-...)")
    sync.add_argument("--dir", help="find run folders under DIR (DIR/mytrack-runs/run-*, DIR/mytrack/run-*)")
    sync.add_argument("--include-offline", action="store_true",
                      help="with --dir: include offline runs")
    sync.add_argument("--timeout", type=float, default=600.0)
    files = commands.add_parser("files", help="list and fetch a run's saved files")
    files_commands = files.add_subparsers(dest="files_command", required=True)
    files_ls = files_commands.add_parser("ls", help="the run's files")
    files_ls.add_argument("path", help="ENTITY/PROJECT/RUN_ID")
    files_get = files_commands.add_parser("get", help="download one file")
    files_get.add_argument("path", help="ENTITY/PROJECT/RUN_ID")
    files_get.add_argument("name", help="the file's name in the run")
    files_get.add_argument("--root", default=".", help="folder to write into (default: .)")
    files_get.add_argument("--replace", action="store_true", help="overwrite an existing file")
    ui_cli.add_parser(commands)
    history = commands.add_parser("history", help="export every step of a run")
    history.add_argument("path", help="ENTITY/PROJECT/RUN_ID")
    history.add_argument("--keys", help="comma-separated keys (default: all)")
    history.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    artifacts_cli.add_parser(commands)
    admin_cli.add_parser(commands, runs_commands)
    importers_cli.add_parser(commands)
    sweeps_cli.add_parser(commands)
    commands.add_parser("run", help="run a command whose `import wandb` gets mytrack",
                        usage="mytrack run [--] COMMAND [ARG...]")
    args = parser.parse_args(argv)
    try:
        if args.command == "ui":
            return ui_cli.run(args)
        if args.command == "import":
            return importers_cli.run(args)
        if args.command in ("sweep", "agent"):
            return sweeps_cli.run(args)
        api = Api()
        if args.command == "history":
            return _history(api, args.path, args.keys, args.format)
        if args.command == "files":
            return _files(api, args)
        if args.command == "artifacts":
            return artifacts_cli.run(api, args)
        if admin_cli.handles(args):
            return admin_cli.run(api, args)
        if args.command == "sync":
            return _sync(api, args.paths, args.dir, args.include_offline, args.timeout)
        if args.runs_command == "stop":
            return _runs_stop(api, args.path)
        if args.runs_command == "ls":
            filters = json.loads(args.filters) if args.filters else None
            return _runs_ls(api, args.project, filters)
        return _runs_show(api, args.path)
    except (Error, json.JSONDecodeError) as exc:
        print(f"mytrack: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


def _runs_ls(api: Api, project: str | None, filters: dict[str, Any] | None) -> int:
    from rich.console import Console
    from rich.table import Table

    runs = api.runs(project, filters=filters)
    table = Table(box=None, pad_edge=False)
    for column in ("path", "name", "state", "created", "runtime", "steps", "group", "tags"):
        table.add_column(column, no_wrap=column != "tags")
    for run in runs:
        table.add_row(
            run.path, run.name, run.state, _time(run.created_timestamp), f"{run.runtime:.1f}s",
            str(run.last_step + 1), run.group, ",".join(run.tags),
        )
    # Piped output has no terminal width: do not squeeze the table into 80 columns.
    Console(width=None if sys.stdout.isatty() else 240).print(table)
    print(f"{len(runs)} run(s)")
    return 0


def _runs_show(api: Api, path: str) -> int:
    run = api.run(path)
    fields = [
        ("path", run.path), ("name", run.name), ("state", run.state),
        ("exit code", run.exit_code), ("created", _time(run.created_timestamp)),
        ("updated", _time(run.updated_at)), ("runtime", f"{run.runtime:.1f}s"),
        ("steps", run.last_step + 1), ("group", run.group), ("job type", run.job_type),
        ("tags", ", ".join(run.tags)), ("notes", run.notes), ("host", run.host),
        ("dir", run.dir),
    ]
    for name, value in fields:
        if value not in ("", None):
            print(f"{name:10} {value}")
    _print_section("config", run.config)
    _print_section("summary", {k: v for k, v in run.summary.items() if not run.is_hidden(k)})
    _print_metadata(run.metadata)
    return 0


def _print_metadata(metadata: dict[str, Any]) -> None:
    """The main environment fields (the full record: ``Api().run(path).metadata``)."""
    if not metadata:
        return
    git = metadata.get("git") or {}
    gpu = metadata.get("gpu") or {}
    gpus = [d.get("name", "") for d in gpu.get("devices", [])]
    python = metadata.get("python", "")
    rows = [
        ("python", f"{python} ({metadata.get('executable', '')})" if python else ""),
        ("os", metadata.get("os")), ("host", metadata.get("hostname")),
        ("user", metadata.get("user")), ("program", metadata.get("program")),
        ("command", " ".join(metadata.get("argv") or [])), ("cwd", metadata.get("cwd")),
        ("git", " ".join(p for p in (
            git.get("branch", ""), git.get("commit", "")[:12],
            "(dirty)" if git.get("dirty") else "", git.get("remote", "")) if p)),
        ("cpus", metadata.get("cpu_count")),
        ("memory", f"{metadata['memory_total_mb']} MB" if metadata.get("memory_total_mb") else ""),
        ("gpus", ", ".join(f"{gpus.count(n)} x {n}" for n in dict.fromkeys(gpus))),
        ("driver", " / CUDA ".join(str(v) for v in (gpu.get("driver"), gpu.get("cuda_version")) if v)),
        ("scheduler", ", ".join(f"{k}={v}" for k, v in (metadata.get("scheduler") or {}).items())),
        ("packages", metadata.get("packages")),
    ]
    print("\nmetadata:")
    for name, value in rows:
        if value not in ("", None):
            print(f"  {name:10} {value}")


def _files(api: Api, args: argparse.Namespace) -> int:
    run = api.run(args.path)
    if args.files_command == "get":
        handle = run.file(args.name).download(root=args.root, replace=args.replace)
        handle.close()
        print(handle.name)
        return 0
    for item in run.files():
        print(f"{item.size:>12}  {_time(item.updated_at):19}  {item.digest[:12]:12}  {item.name}")
    return 0


def _runs_stop(api: Api, path: str) -> int:
    delivered, state = api.stop_run(path)
    if delivered:
        print(f"asked the process of {path} to stop; the run will end as killed")
    else:
        print(f"{path} has no live process; its state is {state}")
    return 0


def _sync(api: Api, paths: list[str], root: str | None, include_offline: bool,
          timeout: float) -> int:
    from rich.progress import Progress

    from mytrack._internal.transport.sync import find_writers, sync_writer

    if not paths and root is None:
        raise InvalidValueError("name run folders to sync, or --dir DIR to find them")
    writers = find_writers(paths, root, include_offline)
    client = api._rpc()
    incomplete = 0
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 240)
    with Progress(transient=True, console=console) as progress:
        task = progress.add_task("syncing", total=len(writers))
        for writer in writers:
            progress.update(task, description=f"syncing {writer.run_path}")
            seq, complete = sync_writer(client, writer, timeout)
            incomplete += not complete
            state = "synced" if complete else "still applying"
            progress.console.print(f"{writer.run_path}: {seq} record(s) {state}")
            progress.advance(task)
    print(f"{len(writers)} writer(s) synced" + (f", {incomplete} still applying" if incomplete else ""))
    return 0 if not incomplete else 1


def _print_section(title: str, values: dict[str, Any]) -> None:
    print(f"\n{title}:")
    flat = _flatten(values)
    if not flat:
        print("  (empty)")
    for key in sorted(flat):
        print(f"  {key}: {json.dumps(flat[key])}")


def _history(api: Api, path: str, keys_arg: str | None, fmt: str) -> int:
    run: ApiRun = api.run(path)
    keys = [k.strip() for k in keys_arg.split(",") if k.strip()] if keys_arg else None
    rows = run.scan_history(keys=keys)
    out = sys.stdout
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row) + "\n")
        return 0
    # CSV needs the columns up front: every key of the selected rows.
    flat = [_flatten(r) for r in rows]
    columns = ["_step", *sorted({k for r in flat for k in r} - {"_step"})]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in flat:
        writer.writerow({k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()})
    return 0


def _time(ts: float) -> str:
    if not ts:
        return ""
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


if __name__ == "__main__":
    raise SystemExit(main())
