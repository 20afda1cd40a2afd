"""The public surface of `mytrack` and the import boundary between SDK and service."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import types
from pathlib import Path

import mytrack

REPO = Path(__file__).resolve().parents[2]

# Pinned: changing the public API must be a deliberate edit of this list.
PUBLIC_NAMES = [
    "AlertLevel",
    "Api",
    "Artifact",
    "Audio",
    "Config",
    "Error",
    "Histogram",
    "Html",
    "Image",
    "Object3D",
    "Run",
    "Settings",
    "Summary",
    "Table",
    "Video",
    "__version__",
    "agent",
    "alert",
    "config",
    "define_metric",
    "errors",
    "finish",
    "init",
    "link_model",
    "log",
    "log_artifact",
    "log_code",
    "log_model",
    "mark_preempting",
    "plot",
    "restore",
    "run",
    "save",
    "summary",
    "sweep",
    "tensorboard",
    "unwatch",
    "use_artifact",
    "use_model",
    "watch",
]


def test_all_is_pinned() -> None:
    """mytrack.__all__ is exactly the pinned list of public names."""
    assert sorted(mytrack.__all__) == PUBLIC_NAMES
    assert len(set(mytrack.__all__)) == len(mytrack.__all__)


def test_all_is_a_literal_that_matches_the_namespace() -> None:
    """Every public name the package defines or imports is in __all__, and nothing else is.

    Submodules (``mytrack.api`` ...) are attributes once imported; they are public as
    modules, not as names of the package, unless __all__ lists them (``errors``, ``plot``).
    """
    defined = {
        name
        for name, value in vars(mytrack).items()
        if (not name.startswith("_") or name == "__version__")
        and name != "annotations"
        and (not isinstance(value, types.ModuleType) or name in mytrack.__all__)
    }
    assert sorted(defined) == sorted(mytrack.__all__)


def test_every_public_name_exists() -> None:
    """Every name in __all__ is an attribute of the package, and `from mytrack import *` gives exactly them."""
    for name in mytrack.__all__:
        assert hasattr(mytrack, name), name
    namespace: dict[str, object] = {}
    exec("from mytrack import *", namespace)  # noqa: S102 - the point of the test
    assert sorted(k for k in namespace if k != "__builtins__") == PUBLIC_NAMES


def test_public_objects_are_what_they_claim() -> None:
    """The public names are the real version string, exception base, functions and Settings class."""
    assert isinstance(mytrack.__version__, str) and mytrack.__version__
    assert issubclass(mytrack.Error, Exception)
    assert mytrack.errors.Error is mytrack.Error
    assert callable(mytrack.init) and callable(mytrack.log) and callable(mytrack.finish)
    assert isinstance(mytrack.Settings(), mytrack.Settings)


def _run_python(code: str) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


_LOADED = (
    "import json, sys; "
    "print(json.dumps({'loaded': sorted(m for m in sys.modules if m.split('.')[0] in "
    "('mytrack', 'mytrack_service', 'mytrack_proto')), 'failed': failed}))"
)


def test_import_mytrack_does_not_import_service() -> None:
    """`import mytrack` (and its submodules) loads no mytrack_service module."""
    code = (
        "import importlib, pkgutil, mytrack\n"
        "failed = []\n"
        "for info in pkgutil.walk_packages(mytrack.__path__, 'mytrack.'):\n"
        "    if info.name.endswith('.__main__'): continue\n"
        "    try:\n"
        "        importlib.import_module(info.name)\n"
        "    except ImportError as exc:\n"
        "        failed.append(f'{info.name}: {exc}')\n"
        + _LOADED
    )
    result = _run_python(code)
    assert "mytrack" in result["loaded"] and "mytrack.api" in result["loaded"]
    assert [m for m in result["loaded"] if m.startswith("mytrack_service")] == []
    assert [f for f in result["failed"] if "mytrack" in f] == []


def test_import_service_does_not_import_sdk() -> None:
    """Importing every mytrack_service module loads no `mytrack` SDK module."""
    code = (
        "import importlib, pkgutil, mytrack_service\n"
        "failed = []\n"
        "for info in pkgutil.walk_packages(mytrack_service.__path__, 'mytrack_service.'):\n"
        "    if info.name.endswith('.__main__'): continue\n"
        "    try:\n"
        "        importlib.import_module(info.name)\n"
        "    except ImportError as exc:\n"
        "        failed.append(f'{info.name}: {exc}')\n"
        + _LOADED
    )
    result = _run_python(code)
    assert "mytrack_service.rpc" in result["loaded"]
    assert "mytrack_service.apply.applier" in result["loaded"]
    sdk = [m for m in result["loaded"] if m == "mytrack" or m.startswith("mytrack.")]
    assert sdk == []
    assert [f for f in result["failed"] if "mytrack" in f] == []


def _imported_packages(folder: Path) -> dict[str, set[str]]:
    """Top-level package of every absolute import statement, per file (lazy imports included)."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(REPO))] = names
    return found


def test_no_cross_imports_in_source() -> None:
    """No source file of the SDK names mytrack_service in an import, and none of the service names mytrack."""
    sdk = _imported_packages(REPO / "sdk" / "mytrack")
    service = _imported_packages(REPO / "daemon" / "mytrack_service")
    proto = _imported_packages(REPO / "proto" / "mytrack_proto")
    assert sdk and service and proto
    assert {f for f, names in sdk.items() if "mytrack_service" in names} == set()
    assert {f for f, names in service.items() if "mytrack" in names} == set()
    assert {f for f, names in proto.items() if names & {"mytrack", "mytrack_service"}} == set()
