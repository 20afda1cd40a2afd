"""Which names look like secrets, and how command lines and nested values are redacted."""

from __future__ import annotations

from typing import Any

import pytest

from mytrack_common.secrets import REDACTED, is_secret_name, redact_argv, redact_mapping


@pytest.mark.parametrize("name", [
    "password", "db_password", "DB_PASSWD", "passphrase", "secret", "client_secret",
    "AWS_SECRET_ACCESS_KEY", "aws_access_key_id", "api_key", "apiKey", "api-key", "APIKEY",
    "private_key", "credentials", "hf_token", "GITHUB_TOKEN", "authToken", "auth",
    "basic-auth", "Authorization", "pwd", "session_key", "cookie",
])
def test_secret_looking_names(name: str) -> None:
    """Names that usually hold credentials are recognised, whatever their case or separators."""
    assert is_secret_name(name)


@pytest.mark.parametrize("name", [
    "lr", "max_tokens", "tokenizer", "num_tokens", "author", "keyframes", "passes",
    "batch_size", "key", "public_key_size",
])
def test_ordinary_names_are_kept(name: str) -> None:
    """Hyperparameter names are not hidden (max_tokens, tokenizer, author...)."""
    assert not is_secret_name(name)


def test_redact_argv_forms() -> None:
    """--opt=value, --opt value, KEY=value and dotted overrides are hidden; the rest is kept."""
    argv = ["train.py", "--password=hunter2", "--lr", "0.1", "--api-key", "abc123",
            "db.password=pw", "HF_TOKEN=hf_x", "--token", "--verbose", "epochs=3", "plain"]
    assert redact_argv(argv) == [
        "train.py", f"--password={REDACTED}", "--lr", "0.1", "--api-key", REDACTED,
        f"db.password={REDACTED}", f"HF_TOKEN={REDACTED}", "--token", "--verbose", "epochs=3",
        "plain",
    ]


def test_redact_argv_keeps_the_program_and_an_empty_line() -> None:
    """argv[0] is never touched (even if it looks like a secret); an empty argv stays empty."""
    assert redact_argv([]) == []
    assert redact_argv(["/opt/secret/train.py", "--x", "1"]) == ["/opt/secret/train.py", "--x", "1"]


def test_redact_mapping_nested_and_lists() -> None:
    """A secret key's whole value is hidden at any depth, lists are walked, the input is not changed."""
    values: dict[str, Any] = {"lr": 0.1, "db": {"host": "h", "password": "p"}, "auth": {"user": "u"},
              "hooks": [{"token": "t", "url": "u"}]}
    assert redact_mapping(values) == {
        "lr": 0.1, "db": {"host": "h", "password": REDACTED}, "auth": REDACTED,
        "hooks": [{"token": REDACTED, "url": "u"}],
    }
    assert values["db"]["password"] == "p"
