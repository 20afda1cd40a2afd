"""mytrack.integration.lightning.MytrackLogger with a real Lightning Trainer on a tiny CPU model."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mytrack

pytest.importorskip("torch")
pytest.importorskip("lightning")

from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402

from mytrack.integration.lightning import MytrackLogger  # noqa: E402
from tests.integrations.helpers import only_run  # noqa: E402
from tests.integrations.lightning_models import Tiny, loaders, trainer  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_current_run")


def test_fit_logs_hparams_metrics_media_and_best_checkpoint(workdir: Path, project: str) -> None:
    """Hyperparameters (a class by name) in config; 8 train_loss rows on trainer/global_step 0-7 and
    val_loss per epoch; a table and an image; log_model=True logs the best checkpoint once, at the end,
    with its score."""
    logger = MytrackLogger(project=project, name="tiny", log_model=True, save_dir=str(workdir), tags=["t"])
    checkpoint = ModelCheckpoint(dirpath="ckpt", monitor="val_loss", save_top_k=1)
    trainer(logger, [checkpoint]).fit(Tiny(), *loaders())
    logger.log_table("samples", columns=["x", "y"], data=[[1, 2.0], [3, 4.0]], step=8)
    logger.log_image("inputs", [[[0.0, 1.0], [1.0, 0.0]]], step=8, caption=["one"])
    mytrack.finish()

    run = only_run(project)
    assert (run.name, run.tags, run.state, run.id) == ("tiny", ["t"], "finished", logger.version)
    assert run.config == {"lr": 0.05, "hidden": 4, "activation": "ReLU"}
    rows = list(run.scan_history())
    train = [r for r in rows if "train_loss" in r]
    assert [r["trainer/global_step"] for r in train] == list(range(8))
    val = [r for r in rows if "val_loss" in r]
    assert [r["epoch"] for r in val] == [0, 1]
    media = [r for r in rows if "samples" in r or "inputs" in r]
    assert len(media) == 2 and all(r["trainer/global_step"] == 8 for r in media)
    assert run.summary["samples"]["_type"] == "table-file"
    assert {"*", "trainer/global_step"} <= {m["name"] for m in run.metrics}

    api = mytrack.Api()
    best = api.artifact(f"{project}/model-{run.id}:best")
    assert sorted(best.aliases) == ["best", "latest"] and best.version == "v0"
    assert [f.name for f in best.files()] == ["model.ckpt"]
    assert best.metadata["score"] == pytest.approx(min(r["val_loss"] for r in val))
    assert best.metadata["original_filename"] == Path(checkpoint.best_model_path).name
    assert best.metadata["ModelCheckpoint"]["monitor"] == "val_loss"
    assert best.metadata["ModelCheckpoint"]["save_top_k"] == 1
    downloaded = MytrackLogger.download_artifact(f"{project}/model-{run.id}:best", save_dir=workdir / "dl",
                                                 use_artifact=False)
    assert (Path(downloaded) / "model.ckpt").read_bytes() == Path(checkpoint.best_model_path).read_bytes()


def test_log_model_all_logs_every_checkpoint_as_saved(workdir: Path, project: str) -> None:
    """log_model="all" with save_top_k=-1: a version per epoch under checkpoint_name, the last one
    "latest", the lowest val_loss "best"; a prefix goes before every metric key; watch() logs
    gradient histograms; use_artifact() declares a version as the run's input."""
    logger = MytrackLogger(project=project, log_model="all", checkpoint_name="tiny-model", prefix="fit")
    checkpoint = ModelCheckpoint(dirpath="ckpt", monitor="val_loss", save_top_k=-1)
    model = Tiny()
    logger.watch(model, log="gradients", log_freq=1, log_graph=False)
    trainer(logger, [checkpoint]).fit(model, *loaders())
    used = logger.use_artifact("tiny-model:v0", artifact_type="model")
    assert used.version == "v0" and used.metadata["original_filename"] == "epoch=0-step=4.ckpt"
    run_id = logger.version
    mytrack.finish()

    api = mytrack.Api()
    versions = {v: api.artifact(f"{project}/tiny-model:{v}") for v in ("v0", "v1")}
    assert [versions[v].metadata["original_filename"] for v in ("v0", "v1")] == ["epoch=0-step=4.ckpt",
                                                                                 "epoch=1-step=8.ckpt"]
    assert "latest" in versions["v1"].aliases and "latest" not in versions["v0"].aliases
    scores = {v: a.metadata["score"] for v, a in versions.items()}
    assert "best" in versions[min(scores, key=lambda v: scores[v])].aliases
    run = api.run(f"{project}/{run_id}")
    keys = set().union(*(r.keys() for r in run.scan_history()))
    assert {"fit-train_loss", "fit-val_loss"} <= keys and "train_loss" not in keys
    assert any(key.startswith("gradients/") for key in keys)


def test_logger_pickles_with_a_fixed_run_id(project: str) -> None:
    """Pickled before its run starts (ddp_spawn), the logger fixes the run id its copies will use."""
    logger = MytrackLogger(project=project)
    copy = pickle.loads(pickle.dumps(logger))
    assert copy.version == logger.version and copy.version is not None
    assert type(copy) is MytrackLogger and copy.experiment is not None
    assert copy.experiment.id == logger.version
    mytrack.finish()


def test_pytorch_lightning_package_gets_its_own_logger_class() -> None:
    """mytrack.integration.pytorch_lightning builds the logger on pytorch_lightning's Logger."""
    pl = pytest.importorskip("pytorch_lightning")
    from mytrack.integration.pytorch_lightning import MytrackLogger as PlLogger

    assert issubclass(PlLogger, pl.loggers.Logger) and PlLogger.__module__ == "mytrack.integration.pytorch_lightning"
    assert pickle.loads(pickle.dumps(PlLogger(project="p"))).name == "p"


DDP_SCRIPT = """
import sys
from mytrack.integration.lightning import MytrackLogger
from tests.integrations.lightning_models import Tiny, loaders, trainer

if __name__ == "__main__":
    logger = MytrackLogger(project=sys.argv[1], name="ddp", log_all_ranks=sys.argv[2] == "all")
    trainer(logger, [], strategy="ddp_spawn", devices=2, max_epochs=1).fit(Tiny(), *loaders())
    print(logger.version)
"""


def test_other_ranks_log_nothing_by_default(project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a rank other than 0 the experiment is Lightning's stand-in and nothing starts a run."""
    from lightning.pytorch.utilities import rank_zero_only

    monkeypatch.setattr(rank_zero_only, "rank", 1)
    logger = MytrackLogger(project=project)
    logger.log_hyperparams({"a": 1})
    logger.log_metrics({"loss": 1.0}, step=0)
    assert type(logger.experiment).__name__ == "_DummyExperiment" and mytrack.run is None


def test_ddp_spawn_every_rank_into_one_shared_run(workdir: Path, project: str) -> None:
    """2 spawned CPU ranks (gloo) with log_all_ranks=True: the logger pickled into them logs into the
    run the main process named, rank 0 as usual and rank 1 under rank1/ (a writer of the shared run)."""
    ranks = "all"
    (workdir / "ddp.py").write_text(textwrap.dedent(DDP_SCRIPT))
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{repo}:{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run([sys.executable, "ddp.py", project, ranks], cwd=workdir, capture_output=True, text=True,
                            timeout=180, env=env)
    assert result.returncode == 0, result.stderr[-6000:]
    run = only_run(project)
    assert run.id == result.stdout.strip().splitlines()[-1] and run.name == "ddp"
    rows = list(run.scan_history())
    # 32 samples over 2 ranks: 2 steps of 8 per rank.
    assert [r["trainer/global_step"] for r in rows if "train_loss" in r] == [0, 1]
    assert [r["rank1/train_loss"] > 0 for r in rows if "rank1/train_loss" in r] == [True, True]
    assert run.config["hidden"] == 4


OFFLINE_SCRIPT = """
import sys
from lightning.pytorch.callbacks import ModelCheckpoint
from mytrack.integration.lightning import MytrackLogger
from tests.integrations.lightning_models import Tiny, loaders, trainer

logger = MytrackLogger(project=sys.argv[1], offline=True, log_model=True)
checkpoint = ModelCheckpoint(monitor="val_loss", save_top_k=1)
trainer(logger, [checkpoint]).fit(Tiny(), *loaders())
print(logger.version)
"""


def test_offline_logger_writes_the_run_and_its_checkpoints_for_sync(workdir: Path, project: str,
                                                                    tmp_path: Path) -> None:
    """offline=True reaches no service; `mytrack sync` then stores history, config and the checkpoint."""
    (workdir / "offline.py").write_text(textwrap.dedent(OFFLINE_SCRIPT))
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{repo}:{os.environ.get('PYTHONPATH', '')}",
           "MYTRACK_DIR": str(tmp_path / "no-service-here")}
    result = subprocess.run([sys.executable, "offline.py", project], cwd=workdir, capture_output=True,
                            text=True, timeout=180, env=env)
    assert result.returncode == 0, result.stderr[-6000:]
    assert not (tmp_path / "no-service-here" / "service.sock").exists()
    run_id = result.stdout.strip().splitlines()[-1]
    (folder,) = workdir.rglob(f"run-*-{run_id}")
    subprocess.run([sys.executable, "-m", "mytrack.cli", "sync", str(folder)], check=True,
                   capture_output=True, timeout=120)
    run = mytrack.Api().run(f"{project}/{run_id}")
    rows = list(run.scan_history())
    assert [r["trainer/global_step"] for r in rows if "train_loss" in r] == list(range(8))
    assert len([r for r in rows if "val_loss" in r]) == 2 and run.config["lr"] == 0.05
    model = mytrack.Api().artifact(f"{project}/model-{run_id}:latest")
    assert model.type == "model" and "best" in model.aliases
    assert [f.name for f in model.files()] == ["model.ckpt"]
