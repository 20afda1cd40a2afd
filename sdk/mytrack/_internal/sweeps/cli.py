"""`mytrack sweep [...] CONFIG_OR_ID` and `mytrack agent [...] SWEEP_ID`, with W&B's options."""

from __future__ import annotations

import argparse
import sys
from typing import Any

_COMMANDS = ("stop", "cancel", "pause", "resume")


def add_parser(commands: Any) -> None:
    sweep = commands.add_parser("sweep", help="create a sweep, or change one (--update, --pause...)")
    sweep.add_argument("config_or_id", help="a YAML/JSON configuration file, or a sweep's id")
    sweep.add_argument("--project", "-p")
    sweep.add_argument("--entity", "-e")
    sweep.add_argument("--name", help="the sweep's name (default: the configuration's name)")
    sweep.add_argument("--program", help="the program the default command runs")
    sweep.add_argument("--update", metavar="ID", help="give sweep ID the configuration CONFIG")
    state = sweep.add_mutually_exclusive_group()
    for command in _COMMANDS:
        state.add_argument(f"--{command}", action="store_const", const=command, dest="state_command")
    sweep.add_argument("--redo-crashed", action="store_true",
                       help="with --resume: hand out again the points of crashed trials")
    agent = commands.add_parser("agent", help="run trials of a sweep")
    agent.add_argument("sweep_id", help="[ENTITY/][PROJECT/]SWEEP_ID")
    agent.add_argument("--project", "-p")
    agent.add_argument("--entity", "-e")
    agent.add_argument("--count", type=int, help="run at most this many trials")
    agent.add_argument("--forward-signals", action="store_true",
                       help="pass SIGINT/SIGTERM the agent gets to the running trial")


def run(args: argparse.Namespace) -> int:
    from mytrack._internal.sweeps.agent import agent
    from mytrack._internal.sweeps.create import load_config, sweep
    from mytrack._internal.sweeps.service import SweepService, split_sweep_path
    from mytrack.settings import Settings

    if args.command == "agent":
        agent(args.sweep_id, entity=args.entity, project=args.project, count=args.count,
              forward_signals=args.forward_signals)
        return 0
    if args.state_command is None and args.update is None and not args.redo_crashed:
        sweep(args.config_or_id, entity=args.entity, project=args.project, name=args.name,
              program=args.program)
        return 0
    settings = Settings().resolve({"entity": args.entity, "project": args.project})
    target = args.update or args.config_or_id
    entity, project, sweep_id = split_sweep_path(target, settings.entity or "", settings.project or "")
    request: dict[str, Any] = {"sweep_id": sweep_id, "command": args.state_command or "",
                               "redo_crashed": bool(args.redo_crashed)}
    if args.update is not None:
        config = load_config(args.config_or_id)
        if args.program:
            config["program"] = args.program
        request["config"] = config
    service = SweepService.connect(settings)
    doc = service.call("update", request)
    counts = ", ".join(f"{n} {state}" for state, n in sorted(doc.get("counts", {}).items())) or "no trials"
    print(f"mytrack: sweep {doc['entity']}/{doc['project']}/{doc['id']} is {doc['state']} ({counts})")
    page = service.page(doc["entity"], doc["project"], doc["id"])
    if page:
        print(f"mytrack: view it at {page}")
    print(f"mytrack: start agents with: mytrack agent {doc['entity']}/{doc['project']}/{doc['id']}",
          file=sys.stderr)
    del entity, project
    return 0
