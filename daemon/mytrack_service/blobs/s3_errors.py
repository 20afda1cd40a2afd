"""Translation of boto3's and botocore's exceptions for `S3BlobStore`.

Messages name the endpoint (scheme, host and port only), the bucket and the
S3 error code, never a credential: whatever a server echoes back is scrubbed
of the access key id, the secret key and the session token in use.
botocore is looked at only through exceptions it raised, so importing this
module does not import it.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any
from urllib.parse import urlsplit

from mytrack_service.blobs.base import BlobError, BlobNotFound

_DRIVERS = ("botocore", "boto3", "s3transfer", "urllib3")
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
           "ExpiredToken", "TokenRefreshRequired", "AllAccessDisabled", "403"}
_NO_CREDENTIALS = ("NoCredentialsError", "PartialCredentialsError")
_SECRET_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def translate(exc: Exception, what: str, where: str, credentials: Any) -> BlobError | None:
    """The BlobError for a driver exception, or None if ``exc`` is not one.

    Args:
        exc: the exception caught.
        what: what failed, e.g. "cannot read blob <digest>".
        where: the endpoint, as `safe_endpoint` gives it.
        credentials: botocore's credentials in use, which must not appear (or None).
    """
    if not _is_driver_error(exc):
        return None
    kind = BlobNotFound if error_code(exc) in ("NoSuchKey", "404") else BlobError
    return kind(scrub(f"{what}: {describe(exc, where)}", credentials))


def describe(exc: BaseException, where: str) -> str:
    """What went wrong, in a sentence (not yet scrubbed)."""
    if is_unreachable(exc):
        return f"cannot reach the S3 endpoint {where}, or lost it ({type(exc).__name__})"
    if type(exc).__name__ in _NO_CREDENTIALS:
        return ("no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or configure a profile")
    response = _response(exc)
    if response is None:
        return f"{type(exc).__name__}: {exc}"
    code = error_code(exc)
    message = response["Error"].get("Message") or ""
    text = f"{where} answered {code}" + (f": {message}" if message else "")
    if code in _DENIED:
        text += " (check the AWS credentials and the bucket's permissions)"
    return text


def scrub(text: str, credentials: Any) -> str:
    """``text`` with every credential in use (and in AWS_* variables) replaced by ``***``."""
    secrets = {os.environ.get(name) for name in _SECRET_VARIABLES}
    if credentials is not None:
        with contextlib.suppress(Exception):  # refreshable ones may fail to refresh
            secrets |= {credentials.access_key, credentials.secret_key, credentials.token}
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def is_unreachable(exc: BaseException | None) -> bool:
    """A connection failure or timeout: the endpoint may come back."""
    if exc is None or not type(exc).__module__.startswith("botocore"):
        return False
    from botocore import exceptions as bx  # type: ignore[import-untyped, unused-ignore]

    return isinstance(exc, (bx.ConnectionError, bx.HTTPClientError))


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a ClientError (or of the one behind a failed upload)."""
    response = _response(exc)
    if response is None:
        return None
    return str(response["Error"].get("Code") or http_status(exc) or "")


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of the response behind ``exc``, if there was one."""
    response = _response(exc)
    status = (response or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def safe_endpoint(url: str | None) -> str:
    """scheme://host[:port] of ``url``, without user info or path; "S3" if none."""
    parts = urlsplit(url or "")
    if not parts.scheme or not parts.hostname:
        return "S3"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _response(exc: BaseException) -> dict[str, Any] | None:
    # boto3's S3UploadFailedError is raised while handling the ClientError.
    for candidate in (exc, exc.__cause__, exc.__context__):
        response = getattr(candidate, "response", None)
        if isinstance(response, dict) and isinstance(response.get("Error"), dict):
            return response
    return None


def _is_driver_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in _DRIVERS or isinstance(exc, OSError)
