"""mytrack.compat.install(): `import wandb` gets mytrack, with the names integrations use."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Iterator

import pytest

import mytrack
import mytrack.compat


@pytest.fixture
def switch() -> Iterator[None]:
    """The switch on for one test, off (and no wandb module left) after it."""
    mytrack.compat.install()
    yield
    mytrack.compat.uninstall()


def test_import_wandb_is_mytrack_with_the_names_integrations_import(switch: None) -> None:
    """Lightning's, HF's and W&B's own import lines resolve to mytrack's objects."""
    import wandb
    from wandb.sdk.lib import RunDisabled
    from wandb.sdk.lib.config_util import ConfigError
    from wandb.sdk.lib.paths import StrPath
    from wandb.sdk.wandb_run import Run as SdkRun
    from wandb.wandb_run import Run

    assert Run is SdkRun is mytrack.Run
    assert isinstance(RunDisabled, type)
    assert issubclass(ConfigError, mytrack.errors.Error)
    assert StrPath is not None
    assert wandb.init is mytrack.init and wandb.log is mytrack.log
    assert wandb.Settings is mytrack.Settings and wandb.Api is mytrack.Api
    assert issubclass(wandb.Image, mytrack.Image) and wandb.Image.wandb_pixels
    assert wandb.Artifact is mytrack.Artifact
    assert wandb.__mytrack__ == mytrack.__version__
    assert callable(wandb.define_metric) and callable(wandb.log_artifact)
    for name in ("login", "setup", "require", "termlog", "termwarn", "termerror", "teardown"):
        assert callable(getattr(wandb, name)), name
    assert wandb.login() is True
    assert wandb.require("service") is None
    from wandb.sdk.artifacts.artifact import Artifact
    from wandb.sdk.artifacts.exceptions import ArtifactNotLoggedError

    assert Artifact is mytrack.Artifact and ArtifactNotLoggedError is mytrack.errors.ArtifactNotLoggedError


def test_run_config_summary_are_read_live(switch: None) -> None:
    """wandb.run follows mytrack.run: the module forwards, it does not copy."""
    import wandb

    saved = mytrack.run
    try:
        mytrack.run = None
        assert wandb.run is None
        sentinel = object()
        mytrack.run = sentinel  # type: ignore[assignment]
        assert wandb.run is sentinel
    finally:
        mytrack.run = saved


def test_telemetry_context_is_a_no_op(switch: None) -> None:
    """W&B's telemetry idiom (attribute chains set inside a with) does nothing."""
    from wandb.sdk.lib import telemetry

    with telemetry.context(run=None) as tel:
        tel.feature.keras = True
        tel.imports_init.torch = True


def test_distribution_is_found_with_a_recent_version_and_a_marker(switch: None) -> None:
    """version("wandb") and metadata("wandb") answer, saying it is mytrack."""
    assert importlib.metadata.version("wandb") == mytrack.compat.WANDB_VERSION
    major, minor = (int(x) for x in mytrack.compat.WANDB_VERSION.split(".")[:2])
    assert (major, minor) >= (0, 12)
    assert "mytrack" in importlib.metadata.metadata("wandb")["Summary"]
    spec = importlib.util.find_spec("wandb")
    assert spec is not None and spec.name == "wandb"


def test_unknown_submodule_is_an_import_error_naming_the_layer(switch: None) -> None:
    """An optional part that is not provided fails as integrations expect (ImportError)."""
    with pytest.raises(ImportError, match=r"wandb\.integration\.no_such_library.*mytrack\.compat"):
        importlib.import_module("wandb.integration.no_such_library")


def test_util_add_import_hook_runs_now_or_at_import(switch: None) -> None:
    """add_import_hook calls back for an imported module at once, else after its import."""
    import wandb

    seen: list[str] = []
    wandb.util.add_import_hook("json", lambda m: seen.append(m.__name__))
    assert seen == ["json"]
    sys.modules.pop("colorsys", None)
    wandb.util.add_import_hook("colorsys", lambda m: seen.append(m.__name__))
    assert seen == ["json"]
    import colorsys  # noqa: F401

    assert seen == ["json", "colorsys"]


def test_env_names_are_wandbs(switch: None) -> None:
    """wandb.env holds W&B's variable names."""
    import wandb

    assert wandb.env.PROJECT == "WANDB_PROJECT" and wandb.env.MODE == "WANDB_MODE"


def test_install_is_idempotent_and_uninstall_restores(switch: None) -> None:
    """A second install changes nothing; uninstall leaves no wandb behind."""
    import wandb

    first = wandb
    mytrack.compat.install()
    import wandb as again

    assert again is first
    mytrack.compat.uninstall()
    assert "wandb" not in sys.modules
    assert not mytrack.compat.is_installed()
    mytrack.compat.install()  # the fixture uninstalls


def test_a_real_wandb_on_the_path_is_shadowed_with_one_line(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where a wandb package is installed too, the switch wins and says so once."""
    package = tmp_path / "wandb"  # type: ignore[operator]
    package.mkdir()
    (package / "__init__.py").write_text("REAL = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("MYTRACK_SILENT", raising=False)
    monkeypatch.delenv("WANDB_SILENT", raising=False)
    try:
        mytrack.compat.install()
        import wandb

        assert not hasattr(wandb, "REAL")
        lines = [line for line in capsys.readouterr().err.splitlines() if "wandb" in line]
        assert len(lines) == 1 and str(package) in lines[0]
    finally:
        mytrack.compat.uninstall()


def test_util_helpers(switch: None) -> None:
    """get_module imports or returns None (or raises with the given message); names are made safe."""
    import wandb

    assert wandb.util.get_module("json").__name__ == "json"
    assert wandb.util.get_module("no_such_module_xyz") is None
    with pytest.raises(ImportError, match="install it"):
        wandb.util.get_module("no_such_module_xyz", required="install it")
    assert wandb.util.make_artifact_name_safe("model/v1 best:2") == "model_v1_best_2"
    assert len(wandb.util.generate_id()) == 8


def test_term_helpers_print_unless_silent(switch: None, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """termlog/termwarn/termerror print with mytrack's prefix, and are silenced by WANDB_SILENT."""
    import wandb

    monkeypatch.delenv("MYTRACK_SILENT", raising=False)
    monkeypatch.delenv("WANDB_SILENT", raising=False)
    wandb.termlog("a")
    wandb.termwarn("b")
    wandb.termerror("c")
    assert capsys.readouterr().err.splitlines() == ["mytrack: a", "mytrack: WARNING b", "mytrack: ERROR c"]
    monkeypatch.setenv("WANDB_SILENT", "true")
    wandb.termlog("hidden")
    assert capsys.readouterr().err == ""


def test_keras_callbacks_module_imports_without_keras(monkeypatch: pytest.MonkeyPatch) -> None:
    """mytrack.integration.keras imports without Keras; asking for a callback says Keras is needed."""
    import mytrack.integration.keras as callbacks

    monkeypatch.setitem(sys.modules, "keras", None)  # as if Keras were not installed
    monkeypatch.setattr(callbacks, "_defined", {})
    with pytest.raises(ImportError, match="Keras 3"):
        callbacks.WandbMetricsLogger  # noqa: B018 - the attribute access is the test
