"""``mytrack import wandb PATH... | tensorboard LOGDIR | mlflow --tracking-uri URI``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mytrack.importers.importing import FAILED, ImportReport


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("import", help="bring runs over from W&B, TensorBoard or MLflow")
    sources = parser.add_subparsers(dest="import_source", required=True)
    wandb = sources.add_parser("wandb", help="W&B run folders (wandb/run-*, wandb/offline-run-*)")
    wandb.add_argument("paths", nargs="+", help="run folders, wandb/ folders, or folders holding wandb/")
    tensorboard = sources.add_parser("tensorboard", help="TensorBoard logs: a run per event-file folder")
    tensorboard.add_argument("logdir", help="the log directory")
    mlflow = sources.add_parser("mlflow", help="runs of an MLflow tracking store")
    mlflow.add_argument("--tracking-uri", required=True, help="file:./mlruns, sqlite:///mlflow.db, ...")
    mlflow.add_argument("--experiment", action="append",
                        help="an experiment name (repeatable; default: every experiment)")
    for source in (wandb, tensorboard, mlflow):
        source.add_argument("--project", help="the project to place the runs in (default: the source's)")
        source.add_argument("--entity", help="the entity (default: yours)")
        source.add_argument("--dry-run", action="store_true", help="list what would be imported; write nothing")
        source.add_argument("--timeout", type=float, default=600.0,
                            help="seconds to wait for the service per run (default: 600)")


def run(args: argparse.Namespace) -> int:
    options = {"project": args.project, "entity": args.entity, "dry_run": args.dry_run,
               "progress": sys.stderr.isatty(), "timeout": args.timeout}
    if args.import_source == "wandb":
        from mytrack.importers import wandb

        report = wandb.import_runs(args.paths, **options)
    elif args.import_source == "tensorboard":
        import mytrack.importers.tensorboard as tensorboard_importer

        report = tensorboard_importer.import_runs(args.logdir, **options)
    else:
        import mytrack.importers.mlflow as mlflow_importer

        report = mlflow_importer.import_runs(args.tracking_uri, experiments=args.experiment, **options)
    print_report(report)
    return 0 if report.ok else 1


def print_report(report: ImportReport) -> None:
    """One line per run, then what was not carried over and why, then the counts."""
    for outcome in report.runs:
        reason = f" ({outcome.reason})" if outcome.reason else ""
        print(f"{outcome.action:12} {outcome.path or '-'}  <- {outcome.where}{reason}")
    left_out = [o for o in report.runs if o.left_out and o.action != FAILED]
    if left_out or report.unreadable:
        print("\nnot carried over:")
    for problem in report.unreadable:
        print(f"  {problem.where}: {problem.reason}")
    for outcome in left_out:
        print(f"  {outcome.path}:")
        for line in outcome.left_out:
            print(f"    {line}")
    print(report.summary())
