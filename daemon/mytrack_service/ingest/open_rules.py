"""What the service accepts in an OpenRun request, whoever sent it.

The SDK checks names at the call (mytrack_common.names); the service checks
again because any local process can talk to its socket, and what arrives here
becomes folder and file names: the writer id is joined into the WAL's path,
the run folder is where the WAL is written, an adopted WAL is read (and a
quarantine file written beside it). A request that breaks a rule is refused
with INVALID_ARGUMENT and a message naming the field.
"""

from __future__ import annotations

import json
import os

from mytrack_common.names import is_valid_writer_id, name_problem, run_id_problem
from mytrack_proto import mytrack_pb2 as pb


def open_request_problem(request: pb.OpenRunRequest) -> str | None:
    """Why ``request`` must be refused, or None."""
    key = request.run
    for field, problem in (
        ("entity", name_problem(key.entity)),
        ("project", name_problem(key.project)),
        ("run id", run_id_problem(key.run_id)),
    ):
        if problem is not None:
            return f"{field} {problem}"
    if not is_valid_writer_id(request.writer_id):
        return f"writer id {request.writer_id[:100]!r} is not 16 lowercase hex digits"
    if not _utf8_json(request.config_json):
        return "config holds a key or string that is not valid Unicode (a lone surrogate)"
    if request.run_dir:
        problem = _path_problem(request.run_dir)
        if problem is not None:
            return f"run_dir {request.run_dir[:300]!r} {problem}"
        # A WAL is only written into an existing folder (a sync may name one since moved).
        if not request.adopt_wal and not os.path.isdir(request.run_dir):
            return f"run_dir {request.run_dir[:300]!r} is not an existing folder"
    if request.adopt_wal:
        problem = _path_problem(request.adopt_wal)
        if problem is None and not request.adopt_wal.endswith(".wal"):
            problem = "is not a .wal file"
        if problem is None and not os.path.isfile(request.adopt_wal):
            problem = "is not an existing file"
        if problem is not None:
            return f"adopt_wal {request.adopt_wal[:300]!r} {problem}"
    return None


def _utf8_json(data: bytes) -> bool:
    """False for JSON whose strings UTF-8 cannot encode (the store could not take them).

    Invalid JSON passes here: OpenRun answers that itself, naming it.
    """
    if b"\\u" not in data:  # only an escape can make a lone surrogate
        return True
    try:
        json.dumps(json.loads(data), ensure_ascii=False, allow_nan=True).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except (ValueError, RecursionError):
        return True
    return True


def _path_problem(path: str) -> str | None:
    if "\x00" in path:
        return "contains NUL"
    if not os.path.isabs(path):
        return "is not an absolute path"
    if ".." in path.split(os.sep) or os.path.normpath(path) != path.rstrip(os.sep):
        return "is not a normalized path (no '..', '.', or doubled separators)"
    return None
