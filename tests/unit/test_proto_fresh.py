"""The checked-in generated protobuf/gRPC code matches what scripts/gen-proto produces."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROTO_PKG = REPO / "proto" / "mytrack_proto"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("grpc_tools") is None,
    reason="grpc_tools (grpcio-tools, from the [dev] extra) is not installed: cannot regenerate",
)


def _generated(folder: Path) -> dict[str, bytes]:
    return {
        path.name: path.read_bytes()
        for path in sorted(folder.iterdir())
        if path.name.endswith(GENERATED_SUFFIXES)
    }


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    """Regenerating into a temp folder gives byte-identical files to proto/mytrack_proto/."""
    result = subprocess.run(
        [str(REPO / "scripts" / "gen-proto"), str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert result.returncode == 0, f"gen-proto failed:\n{result.stdout}\n{result.stderr}"
    fresh = _generated(tmp_path / "mytrack_proto")
    checked_in = _generated(PROTO_PKG)
    protos = sorted(p.stem for p in PROTO_PKG.glob("*.proto"))
    assert protos, "no .proto sources found"
    expected_names = sorted(f"{stem}{suffix}" for stem in protos for suffix in GENERATED_SUFFIXES)
    assert sorted(fresh) == expected_names
    assert sorted(checked_in) == expected_names, "generated files missing or extra in proto/"
    stale = [name for name in expected_names if fresh[name] != checked_in[name]]
    assert not stale, f"stale generated code, run scripts/gen-proto: {stale}"
