"""Run ids, readable default names, and the rules names must follow.

The SDK names offline runs, the service the others. The rules (W&B's, made
strict where a name becomes part of a path) are checked twice: by the SDK at
the call, naming the argument, and again by the service, which must not trust
a client (an entity, project or run id ends up in folder and file names).
"""

from __future__ import annotations

import random
import re
import secrets
import string

_ID_ALPHABET = string.ascii_lowercase + string.digits
# fullmatch, not ``^...$``: ``$`` also matches before a final newline ("abc\n").
_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_WRITER_RE = re.compile(r"[0-9a-f]{16}")
# W&B refuses these in entity and project names: they split or escape URLs and paths.
_NAME_FORBIDDEN = frozenset("/\\#?%:")
MAX_NAME_LENGTH = 128
RUN_ID_RULE = "1-128 letters, digits, '.', '_' or '-', and not '.' or '..'"
NAME_RULE = (
    "1-128 characters, none of / \\ # ? % : or control characters, "
    "not '.' or '..', no leading or trailing spaces"
)

_ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp", "daring",
    "dawn", "eager", "fancy", "fluent", "gentle", "glad", "golden", "happy", "hardy",
    "icy", "jolly", "keen", "lively", "lucky", "lunar", "mellow", "misty", "noble",
    "polar", "proud", "quiet", "rapid", "royal", "rustic", "silent", "smooth", "solar",
    "stellar", "sunny", "swift", "tidy", "vivid", "warm", "wild", "wise", "young",
)
_NOUNS = (
    "badger", "breeze", "brook", "cedar", "cloud", "comet", "coral", "crane", "dune",
    "eagle", "ember", "falcon", "fern", "firefly", "forest", "fox", "galaxy", "glade",
    "harbor", "hawk", "heron", "lake", "lark", "leaf", "lynx", "meadow", "moon", "oak",
    "otter", "owl", "panda", "pine", "planet", "puma", "raven", "reef", "river", "sky",
    "snow", "sparrow", "star", "stone", "sun", "thunder", "tiger", "wave", "willow", "wolf",
)


def new_run_id() -> str:
    """8 lowercase base-36 characters."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def new_writer_id() -> str:
    return secrets.token_hex(8)


def new_run_name() -> str:
    rng = random.SystemRandom()
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{rng.randint(1, 99)}"


def is_valid_run_id(run_id: str) -> bool:
    return run_id_problem(run_id) is None


def run_id_problem(run_id: object) -> str | None:
    """Why ``run_id`` is not a valid run id, or None."""
    if not isinstance(run_id, str):
        return f"expected a string, got {type(run_id).__name__}"
    if not _ID_RE.fullmatch(run_id) or run_id in (".", ".."):
        return f"{run_id[:200]!r} is invalid: use {RUN_ID_RULE}"
    return None


def name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid entity or project name, or None."""
    if not isinstance(name, str):
        return f"expected a string, got {type(name).__name__}"
    if not name:
        return "must not be empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"{name[:40]!r}... is {len(name)} characters long: at most {MAX_NAME_LENGTH}"
    bad = sorted({c for c in name if c in _NAME_FORBIDDEN or not c.isprintable()})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return f"{name!r} contains {shown}: use {NAME_RULE}"
    if name in (".", "..") or name != name.strip():
        return f"{name!r} is invalid: use {NAME_RULE}"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return f"{name!r} is not valid Unicode text (a lone surrogate)"
    return None


def is_valid_writer_id(writer_id: str) -> bool:
    """The form `new_writer_id` makes: the service joins it into a WAL file name."""
    return bool(_WRITER_RE.fullmatch(writer_id))


MAX_ENTRY_NAME = 4096


def entry_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a file inside an artifact (or a saved file), or None.

    A valid name is a relative "/"-separated path that stays inside the folder it
    is downloaded to on any OS: no absolute path or drive letter, no ``..``
    segment, no backslash (a separator on Windows), no NUL or other control
    character, valid Unicode. The SDK checks it when an entry is added, the
    service when it stores a manifest, and the SDK again before it writes a file.
    """
    if not isinstance(name, str):
        return f"expected a string, got {type(name).__name__}"
    if not name.strip("/."):
        return "must name a file"
    if len(name) > MAX_ENTRY_NAME:
        return f"is {len(name)} characters long: at most {MAX_ENTRY_NAME}"
    if "\\" in name:
        return "contains a backslash: use '/' between folders"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "must be a relative path"
    if any(not c.isprintable() for c in name):
        return "contains a control or non-printable character"
    if ".." in name.split("/"):
        return "contains a '..' segment"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (a lone surrogate)"
    return None
