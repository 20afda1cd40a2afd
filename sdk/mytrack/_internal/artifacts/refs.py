"""Artifact references: ``file://`` paths and ``s3://`` objects, recorded, not copied.

S3 references record each object's ETag, version id and size (boto3
``head_object``/``list_objects_v2``, any endpoint through ``AWS_ENDPOINT_URL``);
downloading reads the object and checks that its ETag is still the recorded one.
"""

from __future__ import annotations

import os
from typing import Any

from mytrack._internal.files.checked_download import write_verified
from mytrack.errors import ArtifactError, InvalidValueError


def reference_entries(uri: str, name: str | None, checksum: bool, max_objects: int | None) -> list[Any]:
    from mytrack.artifacts import ArtifactManifestEntry, hash_file

    if uri.startswith("file://"):
        path = uri[len("file://"):]
        if os.path.isdir(path):
            out = []
            for folder, dirs, files in os.walk(path):
                dirs.sort()
                for file in sorted(files):
                    full = os.path.join(folder, file)
                    rel = os.path.relpath(full, path).replace(os.sep, "/")
                    out.extend(reference_entries("file://" + full, f"{name}/{rel}" if name else rel,
                                                 checksum, None))
            return out[:max_objects] if max_objects else out
        if not os.path.isfile(path):
            raise InvalidValueError(f"add_reference: {path!r} does not exist")
        digest, size = hash_file(path) if checksum else ("", os.path.getsize(path))
        return [ArtifactManifestEntry(name or os.path.basename(path), digest, size,
                                      ref="file://" + os.path.abspath(path))]
    if uri.startswith("s3://"):
        return _s3_entries(uri, name, max_objects)
    raise InvalidValueError(f"add_reference supports file:// and s3:// URIs, got {uri!r}")


def _client() -> Any:
    try:
        import boto3
    except ImportError:  # pragma: no cover - the [s3] extra
        raise ArtifactError("s3:// references need boto3 (pip install 'mytrack[s3]')") from None
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def _s3_entries(uri: str, name: str | None, max_objects: int | None) -> list[Any]:
    from mytrack.artifacts import ArtifactManifestEntry

    client = _client()
    bucket, key = _split(uri)
    try:
        head = client.head_object(Bucket=bucket, Key=key) if key else None
    except Exception:  # noqa: BLE001 - not an object: a prefix
        head = None
    if head is not None:
        return [_entry(ArtifactManifestEntry, name or key.rsplit("/", 1)[-1], bucket, key,
                       head["ETag"], head["ContentLength"], head.get("VersionId"))]
    out = []
    prefix = key.rstrip("/") + "/" if key else ""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(prefix):]
            out.append(_entry(ArtifactManifestEntry, f"{name}/{rel}" if name else rel, bucket,
                              obj["Key"], obj["ETag"], obj["Size"], None))
            if max_objects and len(out) >= max_objects:
                return out
    if not out:
        raise InvalidValueError(f"add_reference: nothing found at {uri}")
    return out


def _entry(cls: Any, path: str, bucket: str, key: str, etag: str, size: int, version: Any) -> Any:
    etag = etag.strip('"')
    extra = {"etag": etag}
    if version:
        extra["version_id"] = version
    return cls(path, etag, int(size), ref=f"s3://{bucket}/{key}", extra=extra)


def fetch_s3(entry: Any, target: str) -> None:
    """Downloads a referenced object to ``target``, checking its recorded ETag."""
    bucket, key = _split(entry.ref)
    args: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if entry.extra.get("version_id"):
        args["VersionId"] = entry.extra["version_id"]
    try:
        response = _client().get_object(**args)
    except Exception as exc:  # noqa: BLE001 - botocore errors, translated here
        raise ArtifactError(f"reference {entry.ref} cannot be read: {exc}") from None
    etag = str(response.get("ETag", "")).strip('"')
    if entry.extra.get("etag") and etag != entry.extra["etag"]:
        raise ArtifactError(
            f"reference {entry.ref} changed since it was logged (etag {etag}, expected {entry.extra['etag']})")
    # The ETag above is S3's check; the helper gives the atomic replace.
    write_verified(response["Body"].iter_chunks(1 << 20), target, None)
