"""Which names look like secrets, and their values replaced by ``"***"``.

Shared by the SDK (a run's command line and environment metadata are
redacted before they leave the process, unless the user opts out with
``Settings(x_redact_secrets=False)``) and the service (the web UI shows the
config values of such keys as ``"***"``). The match errs on the side of
hiding: a hidden value that was harmless costs a click to the stored data
(the read API returns config verbatim); a shown password cannot be unshown.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

REDACTED = "***"

# Anywhere in the name once separators are dropped ("db_password", "apiKey", "AWS_SECRET_ACCESS_KEY").
_FRAGMENTS = (
    "password", "passwd", "passphrase", "secret", "apikey", "accesskey", "privatekey",
    "credential", "authtoken", "accesstoken", "refreshtoken", "sessionkey",
)
# Whole words only: "token" hides "hf_token" but not "max_tokens" or "tokenizer";
# "auth" hides "auth" and "basic_auth" but not "author".
_WORDS = frozenset({"pwd", "token", "auth", "authorization", "bearer", "cookie"})
_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@functools.lru_cache(maxsize=4096)  # the same config keys come back in every run of a table
def is_secret_name(name: str) -> bool:
    """Whether a config key, option or variable name looks like it holds a secret."""
    words = _SPLIT.split(_CAMEL.sub("_", name).lower())
    squashed = "".join(words)
    return any(f in squashed for f in _FRAGMENTS) or any(w in _WORDS for w in words)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line with the values of secret-looking options replaced.

    Handles ``--password=x``, ``--password x``, ``-p``-less ``password=x``
    (Hydra-style overrides, ``KEY=VALUE`` arguments) and nested names such as
    ``db.password=x``. The program (argv[0]) is kept.
    """
    out: list[str] = list(argv[:1])
    hide_next = False
    for arg in argv[1:]:
        if hide_next and not arg.startswith("-"):
            out.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        name, eq, _ = arg.partition("=")
        if arg.startswith("-") and is_secret_name(name.lstrip("-")):
            if eq:
                out.append(f"{name}={REDACTED}")
            else:
                out.append(arg)
                hide_next = True  # its value is the next argument
            continue
        if eq and name and not arg.startswith("-") and is_secret_name(name):
            out.append(f"{name}={REDACTED}")
            continue
        out.append(arg)
    return out


def redact_mapping(values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of nested dicts with the values of secret-looking keys replaced.

    A secret key's whole value is hidden, nested or not (``{"auth": {...}}``).
    Lists are walked too: ``[{"token": ...}]`` hides the token.
    """
    return {key: REDACTED if is_secret_name(str(key)) else redact_value(value)
            for key, value in values.items()}


def redact_value(value: Any) -> Any:
    """``value`` with the secrets of the dicts in it hidden, as `redact_mapping` does."""
    if isinstance(value, Mapping):
        return redact_mapping(value)
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    return value
