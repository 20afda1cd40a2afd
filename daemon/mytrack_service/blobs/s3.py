"""`S3BlobStore`: content-addressed blobs in an S3-compatible bucket.

``s3://bucket/prefix`` keeps the blob with digest ``d`` as the object
``<prefix>/<d[:2]>/<d>``. The endpoint comes from ``AWS_ENDPOINT_URL`` (any
S3-compatible server) and the credentials from boto3's usual chain (AWS_*
variables, ``~/.aws``, instance roles). boto3 is imported only when such a
store is opened; it is the ``mytrack[s3]`` extra.

Objects appear whole or not at all (a PUT or a completed multipart upload is
atomic), so readers never see a partial blob. botocore's exceptions become
`BlobError`/`BlobNotFound` (see `s3_errors`), never showing the credentials.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from mytrack_service.blobs.base import BlobError, BlobInfo, BlobNotFound, BlobStore

# One implementation of "copy into a temporary file while hashing" for both stores.
from mytrack_service.blobs.local import check_digest, write_verified
from mytrack_service.blobs.s3_errors import (
    error_code,
    http_status,
    is_unreachable,
    safe_endpoint,
    translate,
)

logger = logging.getLogger("mytrack_service.blobs")

_BUFSIZE = 1 << 20  # 1 MiB
_MULTIPART_THRESHOLD = 64 << 20
_MULTIPART_CHUNK = 16 << 20
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}")
_KEY_TAIL = re.compile(r"([0-9a-f]{2})/([0-9a-f]{64})")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Splits ``s3://bucket[/prefix]`` into (bucket, prefix without surrounding slashes).

    Raises:
        ValueError: not such a URI. The URI is not echoed: it could hold a key.
    """
    parts = urlsplit(uri)
    if parts.scheme != "s3" or parts.query or parts.fragment or not _BUCKET.fullmatch(parts.netloc):
        raise ValueError(
            "an S3 blob store URI must be s3://bucket[/prefix], with no credentials, port "
            "or query (credentials come from AWS_* variables or ~/.aws)"
        )
    prefix = parts.path.strip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise ValueError("the prefix of an s3:// URI must not contain empty, '.' or '..' parts")
    return parts.netloc, prefix


class S3BlobStore(BlobStore):
    """Blobs in an S3 bucket, under a key prefix; the bucket is created if missing.

    Attributes:
        bucket: the bucket name.
        prefix: the key prefix ("" for the bucket's root).
        client: the boto3 S3 client (thread-safe; for tools and tests).
    """

    def __init__(
        self, uri: str, *, endpoint_url: str | None = None, create_bucket: bool = True,
        connect_timeout: float = 10.0, read_timeout: float = 60.0, max_attempts: int = 5,
        multipart_threshold: int = _MULTIPART_THRESHOLD,
    ) -> None:
        """Opens the store; checks (and maybe creates) the bucket when reachable.

        Args:
            uri: ``s3://bucket[/prefix]``.
            endpoint_url: the S3 endpoint; default ``AWS_ENDPOINT_URL``, else AWS.
            create_bucket: create the bucket if it does not exist.
            connect_timeout, read_timeout: seconds, per request.
            max_attempts: tries per request (botocore's standard retry mode).
            multipart_threshold: files from this size up are uploaded in parts.

        Raises:
            ValueError: a malformed URI.
            BlobError: boto3 is missing, or the bucket is refused or cannot be created.
                An unreachable endpoint is not an error here (the service must start
                while S3 is down): the bucket is checked again on first use.
        """
        self.bucket, self.prefix = parse_s3_uri(uri)
        boto3, config_class, transfer_class = _import_boto3()
        # boto3 reads AWS_ENDPOINT_URL itself since 1.31; passing it supports older ones.
        endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self._where = safe_endpoint(endpoint)
        self._credentials: Any = None  # botocore's, for scrubbing them out of messages
        config = config_class(
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"}, max_pool_connections=32,
        )
        # Opening must not hold up the service's start while S3 is down: the first
        # check of the bucket gets one quick try, later requests the full retries.
        probe_config = config.merge(config_class(
            connect_timeout=min(connect_timeout, 3.0), retries={"max_attempts": 1},
        ))
        with self._translated("cannot configure the S3 client"):
            session = boto3.session.Session()
            self.client: Any = session.client("s3", endpoint_url=endpoint, config=config)
            probe = session.client("s3", endpoint_url=endpoint, config=probe_config)
            # The session keeps what the client was given; None when none was found.
            self._credentials = session.get_credentials()
        self._where = safe_endpoint(self.client.meta.endpoint_url)
        self._transfer = transfer_class(
            multipart_threshold=multipart_threshold, multipart_chunksize=_MULTIPART_CHUNK,
            max_concurrency=4,
        )
        self._create = create_bucket
        self._bucket_ready = False
        self._lock = threading.Lock()
        try:
            self._ensure_bucket(probe)
        except BlobError as exc:
            if not is_unreachable(exc.__cause__):
                raise
            logger.warning("%s; the bucket will be checked again on first use", exc)

    def __repr__(self) -> str:
        return f"S3BlobStore({self.uri!r})"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def key(self, digest: str) -> str:
        """The object key of the blob ``digest``."""
        check_digest(digest)
        return f"{self.prefix}/{digest[:2]}/{digest}" if self.prefix else f"{digest[:2]}/{digest}"

    def put_file(self, path: str) -> tuple[str, int]:
        try:
            before, digest, size = _hash_file(path)
        except OSError as exc:
            raise BlobError(f"cannot store {path!r}: {exc}") from exc
        if self.exists(digest):
            return digest, size
        key = self.key(digest)
        with self._translated(f"cannot store {path!r} as blob {digest}"):
            # The managed transfer reads the file from disk part by part (never whole),
            # in parallel above the multipart threshold.
            self.client.upload_file(path, self.bucket, key, Config=self._transfer)
        if _signature(path) != before:
            # What was uploaded may not be what was hashed: never leave it under this key.
            self._discard_if_corrupt(digest)
            raise BlobError(f"{path!r} changed while it was being stored; store it again")
        return digest, size

    def put_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if not self.exists(digest):
            with self._translated(f"cannot store blob {digest}"):
                self.client.put_object(Bucket=self.bucket, Key=self.key(digest), Body=data)
        return digest

    def open(self, digest: str) -> BinaryIO:
        key = self.key(digest)
        self._ensure_bucket()
        with self._translated(f"cannot read blob {digest}"):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        return io.BufferedReader(_BodyReader(self, body, digest), buffer_size=_BUFSIZE)

    def get_to_file(self, digest: str, path: str) -> None:
        write_verified(self, digest, path)

    def exists(self, digest: str) -> bool:
        key = self.key(digest)
        self._ensure_bucket()
        with self._translated(f"cannot look up blob {digest}"):
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
            except Exception as exc:
                if http_status(exc) == 404:
                    return False
                raise
        return True

    def list(self) -> Iterator[str]:
        """Every stored digest, in ascending order (S3 lists keys in order)."""
        self._ensure_bucket()
        base = f"{self.prefix}/" if self.prefix else ""
        with self._translated("cannot list the blobs"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base
            )
            for page in pages:
                for item in page.get("Contents", ()):
                    match = _KEY_TAIL.fullmatch(item["Key"][len(base):])
                    if match and match[2].startswith(match[1]):
                        yield match[2]

    def stat(self, digest: str) -> BlobInfo | None:
        key = self.key(digest)
        self._ensure_bucket()
        with self._translated(f"cannot look up blob {digest}"):
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=key)
            except Exception as exc:
                if http_status(exc) == 404:
                    return None
                raise
        return BlobInfo(int(head["ContentLength"]), float(head["LastModified"].timestamp()))

    def delete(self, digest: str) -> bool:
        if self.stat(digest) is None:  # S3 answers a DELETE of nothing with success
            return False
        with self._translated(f"cannot delete blob {digest}"):
            self.client.delete_object(Bucket=self.bucket, Key=self.key(digest))
        return True

    def _ensure_bucket(self, client: Any = None) -> None:
        """Checks once that the bucket exists (asking ``client``), creating it if allowed."""
        if self._bucket_ready:
            return
        with self._lock, self._translated(f"cannot use bucket {self.bucket!r}"):
            if self._bucket_ready:
                return
            try:
                (client or self.client).head_bucket(Bucket=self.bucket)
            except Exception as exc:
                status = http_status(exc)
                if status == 404 and self._create:
                    self._create_bucket()
                elif status == 404:
                    raise BlobError(f"bucket {self.bucket!r} does not exist") from exc
                # 403: it exists, and we may not list it (or the credentials are bad:
                # HEAD answers carry no error code; the next request will say which).
                elif status != 403:
                    raise
            self._bucket_ready = True

    def _create_bucket(self) -> None:
        args: dict[str, Any] = {"Bucket": self.bucket}
        region = self.client.meta.region_name
        if region and region != "us-east-1":  # us-east-1 refuses a LocationConstraint
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**args)
            logger.info("created bucket %s", self.bucket)
        except Exception as exc:
            if error_code(exc) != "BucketAlreadyOwnedByYou":  # another service was quicker
                error = translate(exc, f"bucket {self.bucket!r} does not exist and cannot "
                                  "be created", self._where, self._credentials)
                if error is None:
                    raise
                raise error from exc

    def _discard_if_corrupt(self, digest: str) -> None:
        hasher = hashlib.sha256()
        with contextlib.suppress(BlobNotFound), self.open(digest) as stream:
            while chunk := stream.read(_BUFSIZE):
                hasher.update(chunk)
            if hasher.hexdigest() != digest:
                with self._translated(f"cannot remove the corrupt blob {digest}"):
                    self.client.delete_object(Bucket=self.bucket, Key=self.key(digest))

    @contextlib.contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        """Turns boto3's and botocore's exceptions into BlobError / BlobNotFound."""
        try:
            yield
        except BlobError:
            raise
        except Exception as exc:
            error = translate(exc, what, self._where, self._credentials)
            if error is None:
                raise
            raise error from exc


class _BodyReader(io.RawIOBase):
    """A raw stream over an object's body, with driver errors translated."""

    def __init__(self, store: S3BlobStore, body: Any, digest: str) -> None:
        self._store = store
        self._body = body
        self._digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with self._store._translated(f"cannot read blob {self._digest}"):
            data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _import_boto3() -> tuple[Any, Any, Any]:
    try:
        import boto3  # type: ignore[import-untyped, unused-ignore]
        from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped, unused-ignore]
        from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]
    except ImportError as exc:
        raise BlobError(
            f"s3:// blob stores need boto3 ({exc}): pip install 'mytrack[s3]'"
        ) from exc
    return boto3, Config, TransferConfig


def _hash_file(path: str) -> tuple[tuple[int, ...] | None, str, int]:
    """(the file's signature before reading, its sha256 hex digest, its size), streamed."""
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as src:
        before = _signature(src.fileno())
        while chunk := src.read(_BUFSIZE):
            hasher.update(chunk)
            size += len(chunk)
    return before, hasher.hexdigest(), size


def _signature(file: str | int) -> tuple[int, ...] | None:
    """What changes when a file's content does (for a path or a descriptor)."""
    try:
        st = os.stat(file)
    except OSError:
        return None
    # ctime too: tools can restore an mtime after a change, none can restore a ctime.
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
