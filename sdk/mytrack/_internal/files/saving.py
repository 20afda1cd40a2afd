"""``run.save()``: which files a glob names, where they land, and the links.

Layout rules (the reference's examples):

* a relative glob keeps its path from the current directory:
  ``save("these/are/myfiles/*")`` -> ``these/are/myfiles/...``;
* ``base_path`` keeps the structure below it:
  ``save("these/are/myfiles/*", base_path="these")`` -> ``are/myfiles/...``;
* an absolute glob without ``base_path`` keeps one parent folder:
  ``save("/a/b/run123/*.txt")`` -> ``run123/...``.

Names are "/"-separated paths inside the run's ``files/`` folder; nothing may
land outside it.
"""

from __future__ import annotations

import glob
import os
import shutil
import warnings
from typing import Any

from mytrack.errors import InvalidTypeError, InvalidValueError

POLICIES = ("live", "now", "end")


def plan(glob_str: Any, base_path: Any, files_dir: str) -> list[tuple[str, str]]:
    """(absolute source path, name in the run) for each file the glob matches now."""
    if not isinstance(glob_str, str | os.PathLike):
        raise InvalidTypeError(f"save() takes a path or glob string, got {type(glob_str).__name__}")
    pattern = os.fspath(glob_str)
    if "://" in pattern:
        raise InvalidValueError(f"save() takes local paths, not URIs: {pattern!r}")
    absolute = os.path.abspath(pattern)
    matches = sorted(p for p in glob.glob(absolute, recursive=True) if os.path.isfile(p))
    if base_path is not None:
        if not isinstance(base_path, str | os.PathLike):
            raise InvalidTypeError(f"base_path must be a path, got {type(base_path).__name__}")
        base = os.path.abspath(os.fspath(base_path))
    elif os.path.isabs(pattern):
        base = os.path.dirname(os.path.dirname(absolute))
    else:
        base = os.getcwd()
    planned = []
    for source in matches:
        inside_run = _relative_inside(source, files_dir)
        name = inside_run if inside_run is not None else _name(source, base, base_path)
        if not os.access(source, os.R_OK):
            raise InvalidValueError(f"cannot read {source}: permission denied")
        if not _utf8(source):  # an undecodable file name: the protocol and store need UTF-8
            raise InvalidValueError(
                f"cannot save {source!r}: its path is not valid UTF-8; rename the file")
        planned.append((source, name))
    return planned


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _relative_inside(path: str, folder: str) -> str | None:
    relative = os.path.relpath(os.path.realpath(path), os.path.realpath(folder))
    return None if relative.startswith("..") else relative.replace(os.sep, "/")


def _name(source: str, base: str, base_path: Any) -> str:
    relative = os.path.relpath(source, base)
    parts = relative.split(os.sep)
    if os.path.isabs(relative) or ".." in parts:
        if base_path is not None:
            raise InvalidValueError(f"base_path {os.fspath(base_path)!r} is not a prefix of {source}")
        raise InvalidValueError(
            f"{source} is outside the current directory; pass base_path= to say which "
            "part of its path to keep"
        )
    return "/".join(parts)


def check_name(name: str) -> str:
    """A file name in a run: relative, "/"-separated, no "..", not empty."""
    if not isinstance(name, str) or not name:
        raise InvalidValueError(f"file name must be a non-empty string, got {name!r}")
    parts = name.replace("\\", "/").split("/")
    if name.startswith("/") or os.path.isabs(name) or ".." in parts or "" in parts:
        raise InvalidValueError(f"file name {name!r} must be a relative path without '..'")
    return "/".join(parts)


def link(source: str, name: str, files_dir: str, policy: str) -> tuple[str, str]:
    """Puts ``source`` at files_dir/name; returns (that path, the policy in force).

    A symlink where possible, else a hard link, else a copy: a copy cannot see
    later changes, so a "live" file copied is uploaded once ("now"), with a warning.
    """
    target = os.path.join(files_dir, *check_name(name).split("/"))
    if os.path.realpath(target) == os.path.realpath(source):
        return target, policy  # already in the run folder
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.lexists(target):
        os.unlink(target)
    try:
        os.symlink(source, target)
        return target, policy
    except OSError:
        pass
    try:
        os.link(source, target)
        return target, policy
    except OSError:
        shutil.copy2(source, target)
    if policy == "live":
        warnings.warn(
            f"could not link {source} into the run folder; copied it instead, so later "
            "changes are not seen: uploading it once (policy 'now')",
            stacklevel=3,
        )
        policy = "now"
    return target, policy
