"""An editable install (a meta-path finder, as setuptools' installs) is not shadowed by the run folders.

``python train.py`` run twice from one folder used to fail the second time:
the first run created ``./mytrack/``, which Python's path finder (ahead of the
editable finder) took for a namespace package ``mytrack``. The scripts here
find the SDK only through such a finder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SDK = Path(__file__).resolve().parents[2] / "sdk"

# As setuptools' __editable___*_finder: consulted after the path finder.
PRELUDE = f"""
import importlib.abc, importlib.machinery, importlib.util, sys
SDK = {str(SDK)!r}
sys.path[:] = [p for p in sys.path if p.rstrip("/") != SDK]

class EditableFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "mytrack":
            return None
        return importlib.util.spec_from_file_location(
            "mytrack", SDK + "/mytrack/__init__.py", submodule_search_locations=[SDK + "/mytrack"])

at = next(i for i, f in enumerate(sys.meta_path) if f is importlib.machinery.PathFinder) + 1
sys.meta_path.insert(at, EditableFinder())

# Where mytrack is also installed as a package (CI installs it), the path finder would
# find that copy first: hide the package there, as an editable install has none.
class _Hide:
    def __init__(self, real):
        self.real = real
    def find_spec(self, name, target=None):
        return None if name == "mytrack" else self.real.find_spec(name, target)
    def invalidate_caches(self):
        self.real.invalidate_caches()

import os
for entry in list(sys.path):
    if entry and os.path.isfile(os.path.join(entry, "mytrack", "__init__.py")):
        importlib.machinery.PathFinder.find_spec("json", [entry])  # makes its finder
        real = sys.path_importer_cache.get(entry)
        if real is not None:
            sys.path_importer_cache[entry] = _Hide(real)
"""

TRAIN = PRELUDE + """
import mytrack
run = mytrack.init(project=sys.argv[1], settings=mytrack.Settings(console="off", quiet=True))
run.log({"x": 1})
run.finish()
print(mytrack.__file__)
"""


def _python(code: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "MYTRACK_SILENT": "true"})


def test_an_empty_mytrack_folder_shadows_an_editable_install(tmp_path: Path) -> None:
    """The trap itself, reproduced: with ./mytrack/ present, mytrack imports as an empty namespace."""
    (tmp_path / "mytrack").mkdir()
    done = _python(PRELUDE + "import mytrack\nprint(hasattr(mytrack, 'init'))", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_train_script_runs_twice_from_one_folder(tmp_path: Path, project: str) -> None:
    """Two runs from the same folder both work: run folders go to ./mytrack-runs/, which cannot be imported."""
    for _ in range(2):
        done = _python(TRAIN, tmp_path, project)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().endswith("sdk/mytrack/__init__.py")
    assert not (tmp_path / "mytrack").exists()
    assert len(list((tmp_path / "mytrack-runs").glob("run-*"))) == 2
