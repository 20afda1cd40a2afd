"""Run ids and readable default names (the SDK names offline runs, the service the others)."""

from __future__ import annotations

import random
import re
import secrets
import string

_ID_ALPHABET = string.ascii_lowercase + string.digits
_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")

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
    return bool(_ID_RE.match(run_id))
