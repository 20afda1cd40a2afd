"""`mytrack run COMMAND`: an unmodified W&B program, and the Python processes it starts,
record into mytrack."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import mytrack

CLI = "import sys; from mytrack.cli import main; sys.exit(main())"

TRAIN = """
import subprocess, sys
import importlib.metadata
import wandb

assert importlib.metadata.version("wandb")
run = wandb.init(project=sys.argv[1], config={"lr": 0.1, "layers": 2})
for step in range(3):
    wandb.log({"loss": 1.0 / (step + 1)})
wandb.summary["best"] = 1.0
wandb.finish()
# A process the program starts (a launcher's worker) is switched too.
subprocess.run([sys.executable, "child.py", sys.argv[1]], check=True)
"""

CHILD = """
import sys
import wandb

with wandb.init(project=sys.argv[1], name="child") as run:
    run.log({"acc": 0.5})
"""


def mytrack_run(workdir: Path, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI, "run", *command], cwd=workdir, text=True,
        capture_output=True, timeout=120, env={**os.environ, "MYTRACK_SILENT": "1", **(env or {})},
    )


def test_an_unmodified_wandb_script_and_its_child_record_runs(workdir: Path, project: str) -> None:
    """The script's config, history and summary, and its child's run, are in the store."""
    (workdir / "train.py").write_text(textwrap.dedent(TRAIN))
    (workdir / "child.py").write_text(textwrap.dedent(CHILD))
    result = mytrack_run(workdir, "--", sys.executable, "train.py", project)
    assert result.returncode == 0, result.stderr
    runs = {run.name: run for run in mytrack.Api().runs(project)}
    assert len(runs) == 2 and "child" in runs
    child = runs.pop("child")
    (main,) = runs.values()
    assert main.config == {"lr": 0.1, "layers": 2}
    assert [row["loss"] for row in main.scan_history()] == [1.0, 0.5, 1.0 / 3]
    assert main.summary["best"] == 1.0
    assert [row["acc"] for row in child.scan_history()] == [0.5]


def test_exit_status_and_missing_program(workdir: Path) -> None:
    """The command's exit status is mytrack run's; a missing program is 127."""
    assert mytrack_run(workdir, sys.executable, "-c", "raise SystemExit(3)").returncode == 3
    missing = mytrack_run(workdir, "no-such-program-xyz")
    assert missing.returncode == 127 and "no-such-program-xyz" in missing.stderr
    assert mytrack_run(workdir).returncode == 2


def test_an_existing_sitecustomize_still_runs(workdir: Path) -> None:
    """The start-up hook chains to the sitecustomize it hides."""
    other = workdir / "site"
    other.mkdir()
    (other / "sitecustomize.py").write_text("import os\nos.environ['SITE_RAN'] = 'yes'\n")
    code = "import os, wandb; print(os.environ.get('SITE_RAN'), wandb.__mytrack__)"
    env = {"PYTHONPATH": os.pathsep.join([os.environ.get("PYTHONPATH", ""), str(other)])}
    result = mytrack_run(workdir, sys.executable, "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["yes", mytrack.__version__]


def test_without_mytrack_run_wandb_is_not_switched(workdir: Path) -> None:
    """Only the command under mytrack run is switched, not the calling environment."""
    # The real wandb package may be installed (the import-wandb extra): then it is what loads.
    code = (
        "try:\n import wandb\nexcept ImportError:\n print('absent')\n"
        "else:\n print(getattr(wandb, '__mytrack__', 'real'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in ("absent", "real")
