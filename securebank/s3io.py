"""Copying folders and files between the local disk and S3 URIs."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError


def split_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an S3 URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def upload_dir(s3: Any, folder: Path, uri: str) -> int:
    """Upload every file under `folder` below the prefix `uri`; return the count."""
    bucket, prefix = split_uri(uri)
    count = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}"
        s3.upload_file(str(path), bucket, key)
        count += 1
    return count


def download_prefix(s3: Any, uri: str, folder: Path) -> int:
    """Download every object below the prefix `uri` (or the one object it names) into `folder`."""
    bucket, prefix = split_uri(uri)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            relative = key[len(prefix) :].lstrip("/") or Path(key).name
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(target))
            count += 1
    if count == 0:
        raise FileNotFoundError(f"nothing at {uri}")
    return count


def read_bytes(s3: Any, uri: str) -> bytes:
    bucket, key = split_uri(uri)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def delete_prefix(s3: Any, uri: str) -> int:
    """Delete every object below the prefix `uri`; return the count."""
    bucket, prefix = split_uri(uri)
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            count += len(keys)
    return count


def cached_copy(s3: Any, uri: str, folder: Path, suffix: str = "") -> Path:
    """A local copy of the object at `uri`: `folder/ETAG+suffix`, downloaded once per content.

    Named by the object's ETag, so different content under the same key is never served from a
    stale copy. Raises FileNotFoundError when the object is missing.
    """
    bucket, key = split_uri(uri)
    try:
        etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    except ClientError as error:
        raise FileNotFoundError(f"{uri} is missing") from error
    local = folder / f"{etag}{suffix}"
    if not local.is_file():
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_suffix(".part")
        partial.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        partial.replace(local)
    return local
