"""A local S3 endpoint for the tests: moto's server, in this process, on a free port.

The session gets fake credentials and an isolated AWS configuration (no
profile, no ~/.aws files, no instance metadata), so a developer's real
credentials are never used, and everything is put back at the end. Under CI
(``CI=true``) a missing moto or boto3 fails the tests instead of skipping them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Known values, so that tests can check that they never appear in messages.
TEST_ACCESS_KEY_ID = "AKIAMYTRACKTESTKEY01"
TEST_SECRET_ACCESS_KEY = "mytrack-test-secret-0123456789abcdefSECRET"


def _session_environment(tmp: Path) -> dict[str, str | None]:
    """AWS_* variables for the test session (None: unset)."""
    return {
        "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_ENDPOINT_URL": None,  # each test names its endpoint
        "AWS_CONFIG_FILE": str(tmp / "aws-config"),  # absent files: nothing read
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a moto S3 server running for the whole test session."""
    try:
        importlib.import_module("boto3")  # the S3 store needs it
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and the S3 tests cannot run: {exc}; "
                        "pip install '.[dev]' (boto3, moto[server])", pytrace=False)
        pytest.skip(f"no local S3 endpoint: {exc} (pip install 'moto[server]' boto3)")
    wanted = _session_environment(tmp_path_factory.mktemp("aws"))
    saved = {name: os.environ.get(name) for name in wanted}
    _apply(wanted)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        _apply(saved)


def _apply(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
