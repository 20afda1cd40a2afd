"""Running a real library's training script under `mytrack run`, and reading back its run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import mytrack

CLI = "import sys; from mytrack.cli import main; sys.exit(main())"


def run_under_switch(workdir: Path, script: str, *args: str, timeout: float = 300) -> str:
    """Runs ``script`` (unmodified W&B code) under `mytrack run`; returns its last stdout line."""
    path = workdir / "train.py"
    path.write_text(textwrap.dedent(script))
    env = {**os.environ, "MYTRACK_SILENT": "1", "TOKENIZERS_PARALLELISM": "false",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "WANDB_SILENT": "true"}
    result = subprocess.run(
        [sys.executable, "-c", CLI, "run", "--", sys.executable, str(path), *args],
        cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env,
    )
    if result.returncode != 0:
        raise AssertionError(f"script failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result.stdout.strip().splitlines()[-1]


def only_run(project: str) -> Any:
    """The project's one run, as stored."""
    runs = mytrack.Api().runs(project)
    assert len(runs) == 1, [r.name for r in runs]
    return runs[0]
