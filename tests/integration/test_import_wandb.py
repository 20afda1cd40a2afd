"""`mytrack import wandb`: runs written by the real ``wandb`` (offline) come back value for value.

The W&B run is written by a subprocess with a clean environment (its own
HOME and WANDB_DIR, no mytrack switch), the way a user's training script
writes it; the import runs here against the session's service, and what it
stored is read back with ``mytrack.Api()``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack.importers import wandb as wandb_import
from mytrack.importers import wandb_log
from tests.helpers import wait_for

pytest.importorskip("wandb.proto.wandb_internal_pb2")

pytestmark = pytest.mark.usefixtures("no_current_run")

_WRITER = """
import json, sys, time
import wandb

rows, stamps = int(sys.argv[1]), []
run = wandb.init(project="wb-src", config={"lr": 0.1, "layers": [64, 32], "opt": {"name": "adam"}},
                 tags=["a", "b"], notes="from W&B", name="wb-name", group="g1", job_type="train")
for i in range(rows):
    before = time.time()
    run.log({"loss": 1.0 / (i + 1), "acc": i / 10, "nested": {"x": i}}, step=i * 2)
    stamps.append((before, time.time()))
    if i < 3:
        print(f"out line {i}")
        print(f"err line {i}", file=sys.stderr)
run.config.update({"late": "yes"})
run.summary["best"] = 42
run.summary["loss"] = 0.0001
with open("notes.txt", "w") as f:
    f.write("saved with the run")
run.save("notes.txt", policy="now")
json.dump({"stamps": stamps, "id": run.id, "dir": run.dir}, open("written.json", "w"))
run.finish(exit_code=int(sys.argv[2]))
"""


def _write_wandb_run(folder: Path, rows: int = 5, exit_code: int = 1) -> dict[str, Any]:
    """A W&B offline run written by ``wandb`` itself in a clean subprocess."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        "HOME": str(folder / "home"), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "WANDB_MODE": "offline", "WANDB_DIR": str(folder), "WANDB_SILENT": "true",
        "WANDB_DISABLE_GIT": "true", "WANDB_X_DISABLE_STATS": "false",
    }
    subprocess.run([sys.executable, "-c", textwrap.dedent(_WRITER), str(rows), str(exit_code)],
                   cwd=folder, env=env, check=True, timeout=180, capture_output=True, text=True)
    written: dict[str, Any] = json.loads((folder / "written.json").read_text())
    return written


def _history(run: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "_runtime"} for row in run.scan_history()]


def test_a_wandb_run_is_imported_value_for_value_and_a_second_import_changes_nothing(
    tmp_path: Path, project: str,
) -> None:
    """Config, history (steps, timestamps), summary, console, files, tags, notes and state carry over."""
    source = _write_wandb_run(tmp_path / "src")
    report = wandb_import.import_runs([tmp_path / "src" / "wandb"], project=project)
    assert report.ok and [o.action for o in report.runs] == ["imported"], report
    run = mytrack.Api().run(report.runs[0].path)
    assert run.id == source["id"]
    assert (run.name, run.group, run.job_type, run.notes) == ("wb-name", "g1", "train", "from W&B")
    assert sorted(run.tags) == ["a", "b"]
    assert (run.state, run.exit_code) == ("failed", 1)
    assert run.config == {"lr": 0.1, "layers": [64, 32], "opt": {"name": "adam"}, "late": "yes"}
    history = list(run.scan_history())
    assert [row["_step"] for row in history] == [0, 2, 4, 6, 8]
    for i, row in enumerate(history):
        assert (row["loss"], row["acc"], row["nested"]) == (1.0 / (i + 1), i / 10, {"x": i})
        before, after = source["stamps"][i]
        assert before <= row["_timestamp"] <= after  # the source's time, not the import's
    summary = {k: v for k, v in run.summary.items() if not k.startswith("_")}
    # W&B commits the last row (logged with step=) at finish, after summary["loss"] was set:
    # its own final summary has the row's loss, and so has the import.
    assert summary == {"loss": 0.2, "acc": 0.4, "nested": {"x": 4}, "best": 42}
    console = list(run.console())
    assert [x["text"] for x in console if x["stream"] == "stdout"] == [f"out line {i}" for i in range(3)]
    assert [x["text"] for x in console if x["stream"] == "stderr"] == [f"err line {i}" for i in range(3)]
    handle = run.file("notes.txt").download(root=str(tmp_path / "dl"))
    handle.close()
    assert (tmp_path / "dl" / "notes.txt").read_text() == "saved with the run"
    assert run.metadata["imported_from"]["kind"] == "wandb"

    before = (_history(run), run.summary, run.config, run.updated_at, [f.name for f in run.files()])
    again = wandb_import.import_runs([tmp_path / "src"], project=project)
    assert [(o.action, o.reason) for o in again.runs] == [("skipped", "already imported (failed)")]
    run = mytrack.Api().run(report.runs[0].path)
    assert (_history(run), run.summary, run.config, run.updated_at, [f.name for f in run.files()]) == before


def test_dry_run_lists_and_writes_nothing(tmp_path: Path, project: str) -> None:
    """--dry-run says what would be imported; no run appears."""
    _write_wandb_run(tmp_path / "src", rows=2, exit_code=0)
    report = wandb_import.import_runs([tmp_path / "src"], project=project, dry_run=True)
    assert [o.action for o in report.runs] == ["would import"]
    assert mytrack.Api().runs(project) == []


def test_an_import_killed_part_way_is_completed_by_the_next(tmp_path: Path, project: str) -> None:
    """kill -9 of `mytrack import` while it works: the next import leaves exactly the source's rows."""
    source = _write_wandb_run(tmp_path / "src", rows=3000, exit_code=0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "mytrack.cli", "import", "wandb", str(tmp_path / "src"),
               "--project", project]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    imports = Path(os.environ["MYTRACK_DIR"]) / "imports" / "wandb"
    wait_for(lambda: imports.is_dir() and any(p.glob("*.wal") for p in imports.iterdir()), timeout=60)
    process.send_signal(signal.SIGKILL)
    process.wait()
    report = wandb_import.import_runs([tmp_path / "src"], project=project)
    assert report.ok and report.runs[0].action in ("imported", "skipped"), report
    run = mytrack.Api().run(f"{project}/{source['id']}")
    assert run.state == "finished"
    assert [row["_step"] for row in run.scan_history(keys=["loss"])] == list(range(0, 6000, 2))


def test_the_log_reader_checks_every_fragment(tmp_path: Path) -> None:
    """A flipped byte costs its block, is reported, and is never misread as a record."""
    _write_wandb_run(tmp_path / "src", rows=2000, exit_code=0)
    (log,) = (tmp_path / "src" / "wandb").glob("offline-run-*/*.wandb")
    intact = [r for r in wandb_log.read_records(str(log)) if isinstance(r, bytes)]
    data = bytearray(log.read_bytes())
    assert len(data) > 2 * wandb_log.BLOCK
    data[wandb_log.BLOCK + 100] ^= 0xFF
    damaged = tmp_path / "damaged.wandb"
    damaged.write_bytes(bytes(data))
    items = list(wandb_log.read_records(str(damaged)))
    assert any(isinstance(i, wandb_log.Damage) for i in items)
    records = [i for i in items if isinstance(i, bytes)]
    assert 0 < len(intact) - len(records) < 400  # at most the rest of one 32 KiB block
    assert set(records) <= set(intact)


def test_the_command_lists_runs_and_says_what_was_not_carried(
    tmp_path: Path, project: str, capsys: pytest.CaptureFixture[str],
) -> None:
    """`mytrack import wandb --dry-run`, then for real: a line per run, what was left out, the counts."""
    from mytrack import cli

    source = _write_wandb_run(tmp_path / "src", rows=2, exit_code=0)
    output = subprocess.run(
        [sys.executable, "-m", "mytrack.cli", "import", "wandb", str(tmp_path / "src"), "--project", project,
         "--dry-run"], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert f"/{project}/{source['id']}" in output and "would import" in output
    assert output.strip().endswith("1 run(s): 1 would import")
    capsys.readouterr()
    assert cli.main(["import", "wandb", str(tmp_path / "src"), "--project", project]) == 0
    printed = capsys.readouterr().out
    # What W&B recorded beyond what mytrack carries (its system-metrics samples) is listed.
    assert ("not carried over:" in printed) == ("record(s) not carried" in printed)
    assert printed.strip().endswith("1 run(s): 1 imported")
    assert mytrack.Api().run(f"{project}/{source['id']}").state == "finished"


def test_a_staging_cut_short_is_written_again_from_the_start(tmp_path: Path, project: str) -> None:
    """A run folder left without its .open file (killed while staging) is never adopted half-written."""
    import dataclasses

    from mytrack.importers import importing
    from mytrack.importers.staging import StagedRun

    source = _write_wandb_run(tmp_path / "src", rows=50, exit_code=0)
    (found,) = wandb_import.find_runs([tmp_path / "src"])
    assert not isinstance(found, importing.SourceProblem)

    def cut_short(staged: StagedRun) -> Any:
        for step in range(10):
            staged.log({"loss": -1.0}, step, 1.0)
        raise KeyboardInterrupt  # as a kill would, before the .open file exists

    where = importing.placement(project, None, 60.0)
    key = importing.RunKey(entity=where.entity, project=project, run_id=found.run_id)
    writer = importing.hashlib.sha256(f"wandb\0{found.source_id}\0{key.path}".encode()).hexdigest()[:16]
    folder = Path(where.service_dir) / "imports" / "wandb" / writer
    with pytest.raises(KeyboardInterrupt):
        importing._stage(dataclasses.replace(found, write=cut_short), key, writer, str(folder))
    assert list(folder.glob("*.wal")) and not list(folder.glob("*.open"))

    report = wandb_import.import_runs([tmp_path / "src"], project=project)
    assert [o.action for o in report.runs] == ["imported"], report
    rows = list(mytrack.Api().run(f"{project}/{source['id']}").scan_history(keys=["loss"]))
    assert [r["loss"] for r in rows] == [1.0 / (i + 1) for i in range(50)]


_EXTRAS_WRITER = """
import json, os, time
import wandb

run = wandb.init(project="wb-src", settings=wandb.Settings(x_stats_sampling_interval=0.2))
run.log({"x": 1})
kept = wandb.Artifact("dataset", type="dataset", description="two files", metadata={"rows": 1})
kept.add_file("data.csv")
kept.add(wandb.Table(columns=["a", "b"], data=[[1, "one"]]), "table")
run.log_artifact(kept, aliases=["first"])
lost = wandb.Artifact("lost", type="model")
lost.add_file("weights.bin")
run.log_artifact(lost)
run.alert(title="loss high", text="loss is 3", level=wandb.AlertLevel.WARN, wait_duration=30)
deadline = time.time() + 60
while time.time() < deadline and not os.path.exists("stop"):  # the test waits for samples
    time.sleep(0.2)
json.dump({"id": run.id}, open("written.json", "w"))
run.finish()
"""


def test_system_metrics_artifacts_and_alerts_are_carried(tmp_path: Path, project: str) -> None:
    """W&B's stats samples become the run's system metrics (mytrack's names where they match), a
    logged artifact whose staged files are still there a version with its files and aliases, one
    whose files are gone is reported, and alerts are kept with the run (not sent again)."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "data.csv").write_text("a,b\n1,one\n")
    (folder / "weights.bin").write_bytes(b"\x00" * 8)
    env = {"HOME": str(folder / "home"), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "WANDB_MODE": "offline", "WANDB_DIR": str(folder), "WANDB_SILENT": "true",
           "WANDB_DISABLE_GIT": "true"}
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_EXTRAS_WRITER)], cwd=folder, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: len(list(folder.glob("wandb/offline-run-*/*.wandb"))) == 1, timeout=120)
        (log,) = folder.glob("wandb/offline-run-*/*.wandb")
        record = wandb_import.record_class()

        def stats() -> list[Any]:
            found = []
            for item in wandb_log.read_records(str(log)):
                if isinstance(item, bytes):
                    message = record.FromString(item)
                    if message.WhichOneof("record_type") == "stats":
                        found.append(message.stats)
            return found

        wait_for(lambda: len(stats()) >= 6, timeout=120)
    finally:
        (folder / "stop").write_text("")
    assert writer.wait(timeout=120) == 0, writer.stderr.read() if writer.stderr else ""
    source_id = json.loads((folder / "written.json").read_text())["id"]
    # The model's staged copy is deleted (W&B's staging folder emptied): that version cannot be carried.
    for staged in (folder / "home").rglob("artifacts/staging/*"):
        if staged.read_bytes() == b"\x00" * 8:
            staged.unlink()
    samples = stats()

    report = wandb_import.import_runs([folder], project=project)
    assert report.ok and [o.action for o in report.runs] == ["imported"], report
    (outcome,) = report.runs
    assert not any("stats" in line or "alert" in line for line in outcome.left_out), outcome.left_out
    assert any(line.startswith("artifact 'lost' (model): the file of entry 'weights.bin'")
               for line in outcome.left_out), outcome.left_out
    api = mytrack.Api()
    run = api.run(f"{project}/{source_id}")

    stored = list(run.scan_history(stream="system"))
    assert len(stored) == len(samples)
    for got, sample in zip(stored, samples, strict=True):
        assert got["_timestamp"] == pytest.approx(sample.timestamp.ToMicroseconds() / 1e6)
        values = {item.key: json.loads(item.value_json) for item in sample.item}
        if "memory_percent" in values:
            assert got["system/memory.used_percent"] == values["memory_percent"]
        if "proc.memory.rssMB" in values:
            assert got["system/proc.memory.rss"] == values["proc.memory.rssMB"]
        if "network.sent" in values:
            assert got["system/network.sent"] == pytest.approx(values["network.sent"] / 2**20)
        if "cpu" in values:  # no mytrack equivalent: W&B's name, marked as W&B's
            assert got["system/wandb.cpu"] == values["cpu"]
    assert stored[-1]["_runtime"] > 0

    dataset = api.artifact(f"{project}/dataset:first")
    assert (dataset.type, dataset.description, dataset.metadata) == ("dataset", "two files", {"rows": 1})
    assert sorted(dataset.aliases) == ["first", "latest"]
    assert sorted(f.name for f in dataset.files()) == ["data.csv", "table.table.json"]
    assert dataset.get("table").data == [[1, "one"]]
    assert dataset.logged_by().id == source_id
    with pytest.raises(mytrack.errors.ArtifactNotFoundError):
        api.artifact(f"{project}/lost:latest")

    (alert,) = run.metadata["alerts"]
    assert (alert["title"], alert["text"], alert["level"], alert["wait_duration"]) == (
        "loss high", "loss is 3", "WARN", 30.0)
    # W&B's alert record has no time: the time of the record before it (the row logged before).
    (row,) = run.scan_history()
    assert row["_timestamp"] <= alert["timestamp"] <= stored[-1]["_timestamp"]
