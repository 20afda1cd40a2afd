"""The ``wandb`` module tree that ``import wandb`` gets once the switch is on.

Each module is built once, from mytrack's objects, and holds only the names
integrations reach for (Lightning's ``WandbLogger``, Hugging Face's
``WandbCallback``, accelerate's ``WandBTracker``...). The top-level module
forwards every other attribute to ``mytrack``, so ``wandb.run``,
``wandb.config`` and ``wandb.summary`` always read the current run, as W&B's do.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import types
from typing import Any

import mytrack
from mytrack import errors, tensorboard
from mytrack.compat import wandb_env, wandb_util
from mytrack.compat.distribution import WANDB_VERSION
from mytrack.compat.module_names import (
    define_metric,
    link_model,
    log_artifact,
    log_code,
    log_model,
    login,
    mark_preempting,
    require,
    setup,
    teardown,
    termerror,
    termlog,
    termwarn,
    use_artifact,
    use_model,
)


class Loader(importlib.abc.Loader):
    """Hands out the already built facade module for its name."""

    def __init__(self, modules: dict[str, types.ModuleType]) -> None:
        self._modules = modules

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self._modules[spec.name]

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module was filled when it was built."""


class AliasLoader(importlib.abc.Loader):
    """Fills a facade module from one of mytrack's on first import, so that the
    framework it needs (Keras) is imported only by code that asks for it."""

    def __init__(self, source: str) -> None:
        self.source = source

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        import importlib

        real = importlib.import_module(self.source)
        for name in real.__all__:
            setattr(module, name, getattr(real, name))
        module.__all__ = list(real.__all__)  # type: ignore[attr-defined]


# Facade modules filled on import from mytrack's modules (see AliasLoader).
ALIASED = {"wandb.integration.keras": "mytrack.integration.keras"}


class WandbModule(types.ModuleType):
    """The top-level ``wandb``: its own names first, then mytrack's (read live)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return getattr(sys.modules["mytrack"], name)
        except AttributeError:
            raise AttributeError(
                f"module 'wandb' (mytrack's W&B compatibility layer) has no attribute {name!r}"
            ) from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(dir(sys.modules["mytrack"])))


class RunDisabled:
    """W&B's type of a disabled run. mytrack's disabled runs are `Run`s, so no
    object is ever of this type; it exists for ``isinstance`` checks."""


class _Sink:
    """Takes any attribute read or write and does nothing: W&B's telemetry object."""

    def __getattr__(self, name: str) -> _Sink:
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        pass

    def __enter__(self) -> _Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class Image(mytrack.Image):
    """``wandb.Image``: mytrack's Image with W&B's pixel rules for every source
    (NumPy arrays out of [0, 1] are rescaled or clipped, not refused)."""

    wandb_pixels = True


def telemetry_context(*args: Any, **kwargs: Any) -> _Sink:
    """``wandb.sdk.lib.telemetry.context(run=...)``: mytrack keeps no telemetry."""
    return _Sink()


def build() -> dict[str, types.ModuleType]:
    """Every facade module by its dotted name, with specs pointing at one loader."""
    modules: dict[str, types.ModuleType] = {}
    loader = Loader(modules)

    def module(
        name: str, package: bool, attrs: dict[str, Any], kind: type[types.ModuleType] = types.ModuleType
    ) -> types.ModuleType:
        mod = kind(name, f"mytrack's stand-in for W&B's {name}")
        spec = importlib.machinery.ModuleSpec(name, loader, is_package=package)
        mod.__spec__ = spec
        mod.__loader__ = loader
        mod.__package__ = name if package else name.rpartition(".")[0]
        if package:
            mod.__path__ = []  # nothing on disk: unknown submodules are not found
        mod.__dict__.update(attrs)
        modules[name] = mod
        return mod

    run_module = module("wandb.sdk.wandb_run", False, {"Run": mytrack.Run, "RunDisabled": RunDisabled})
    settings_module = module("wandb.sdk.wandb_settings", False, {"Settings": mytrack.Settings})
    config_util = module("wandb.sdk.lib.config_util", False, {"ConfigError": errors.UsageError})
    telemetry = module("wandb.sdk.lib.telemetry", False, {"context": telemetry_context})
    paths = module("wandb.sdk.lib.paths", False, {
        "StrPath": str | os.PathLike, "FilePathStr": str, "URIStr": str, "LogicalPath": str,
    })
    lib = module("wandb.sdk.lib", True, {
        "RunDisabled": RunDisabled, "config_util": config_util, "telemetry": telemetry, "paths": paths,
    })
    artifact_errors = module("wandb.sdk.artifacts.exceptions", False, {
        "ArtifactNotLoggedError": errors.ArtifactNotLoggedError,
    })
    artifact_module = module("wandb.sdk.artifacts.artifact", False, {"Artifact": mytrack.Artifact})
    artifacts = module("wandb.sdk.artifacts", True, {"artifact": artifact_module, "exceptions": artifact_errors})
    sdk = module("wandb.sdk", True, {
        "lib": lib, "wandb_run": run_module, "wandb_settings": settings_module, "artifacts": artifacts,
        "Settings": mytrack.Settings, "init": mytrack.init, "finish": mytrack.finish,
    })
    util = module("wandb.util", False, {name: getattr(wandb_util, name) for name in wandb_util.__all__})
    env = module("wandb.env", False, {name: getattr(wandb_env, name) for name in wandb_env.__all__})
    errors_module = module("wandb.errors", True, {
        "Error": errors.Error, "CommError": errors.CommError, "UsageError": errors.UsageError,
    })
    data_types = module("wandb.data_types", False, {
        **{name: getattr(mytrack, name) for name in ("Audio", "Histogram", "Html", "Object3D", "Table", "Video")},
        "Image": Image,
    })
    module("wandb.integration", True, {})
    public = module("wandb.apis.public", False, {"Api": mytrack.Api})
    apis = module("wandb.apis", True, {"public": public, "PublicApi": mytrack.Api})
    module("wandb.wandb_run", False, {"Run": mytrack.Run, "RunDisabled": RunDisabled})
    module("wandb.plot", False, {k: v for k, v in vars(mytrack.plot).items() if not k.startswith("__")})
    module("wandb.tensorboard", False, {"patch": tensorboard.patch, "unpatch": tensorboard.unpatch})
    module("wandb", True, {
        "__version__": WANDB_VERSION,
        "__mytrack__": mytrack.__version__,  # the marker: this wandb is mytrack
        "sdk": sdk, "util": util, "env": env, "errors": errors_module, "apis": apis,
        "data_types": data_types, "wandb_run": modules["wandb.wandb_run"], "Image": Image,
        "Error": errors.Error, "setup": setup, "teardown": teardown, "login": login,
        "require": require, "termlog": termlog, "termwarn": termwarn, "termerror": termerror,
        "define_metric": define_metric, "log_artifact": log_artifact, "use_artifact": use_artifact,
        "log_model": log_model, "use_model": use_model, "link_model": link_model,
        "log_code": log_code, "mark_preempting": mark_preempting, "plot": modules["wandb.plot"],
        "tensorboard": modules["wandb.tensorboard"],
    }, kind=WandbModule)
    return modules
