"""Pick the blob store from one setting, `DATABAHN_STORAGE_URL`.

Why a URL: both deployments (embedded and scale-out) run from one code base and one config
key, and a URL carries everything an S3-compatible store needs in a single line:

- unset or ""             -> local store in `<home>/files`
- `/path`, `rel/path`     -> local store there (relative paths are taken from `<home>`)
- `file:///path`          -> local store there
- `s3://bucket/prefix?endpoint=http://127.0.0.1:8333&region=eu-north-1`
                          -> S3 store; credentials from the URL's `key:secret@` part, else
                             boto3's own chain when it has something to find (AWS_ACCESS_KEY_ID /
                             AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE, ~/.aws), else
                             (with an explicit endpoint) dummy ones that anonymous SeaweedFS/MinIO
                             accept, else boto3's chain again (instance roles) for AWS proper
- `memory://`             -> a fresh in-memory store; `memory://name` -> one shared per process
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from databahn.storage.base import BlobStore
from databahn.storage.local import LocalBlobStore
from databahn.storage.memory import MemoryBlobStore

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_S3_PARAMS = {"endpoint", "endpoint_url", "region"}
_DUMMY_CREDENTIALS = ("databahn", "databahn-secret")
_named_memory: dict[str, MemoryBlobStore] = {}
_named_lock = threading.Lock()
_EXAMPLE = "s3://my-bucket/optional/prefix?endpoint=http://127.0.0.1:8333&region=us-east-1"


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def blob_store_from_url(url: str | None, home: Path) -> BlobStore:
    """Build the blob store a storage URL names (see the module docstring for the forms)."""
    if url is None or not url.strip():
        return LocalBlobStore(Path(home) / "files")
    url = url.strip()
    scheme_match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if scheme_match is None:
        # a plain path (also `C:\\...` on Windows, whose "scheme" would be one letter)
        return LocalBlobStore(_local_path(url, home))
    scheme = scheme_match.group(1).lower()
    if scheme == "file":
        return _file_store(url, home)
    if scheme == "s3":
        return _s3_store(url)
    if scheme == "memory":
        return _memory_store(url)
    raise ValueError(
        f"unsupported storage URL scheme {scheme!r} in {redact_url(url)!r}: "
        f"use a path, file:///path, memory:// or {_EXAMPLE}"
    )


def _local_path(raw: str, home: Path) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else Path(home) / path


def _file_store(url: str, home: Path) -> LocalBlobStore:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(
            f"file URL {url!r} names host {parts.netloc!r}; a local store needs file:///absolute/path"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"file URL {url!r} must not have a query or fragment; use file:///absolute/path")
    path = unquote(parts.path)
    if not path:
        raise ValueError(f"file URL {url!r} has no path; use file:///absolute/path")
    return LocalBlobStore(_local_path(path, home))


def _memory_store(url: str) -> MemoryBlobStore:
    parts = urlsplit(url)
    name = (parts.netloc + parts.path).strip("/")
    if parts.query:
        raise ValueError(f"memory URL {url!r} takes no options; use memory:// or memory://name")
    if not name:
        return MemoryBlobStore()
    with _named_lock:
        return _named_memory.setdefault(name, MemoryBlobStore())


def _aws_credentials_configured() -> bool:
    """Whether boto3's own chain has something to find (env incl. session token, profile, files).

    Then we leave credentials to boto3 so temporary credentials (AWS_SESSION_TOKEN) and profiles
    work; checked without contacting any metadata service.
    """
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return True
    files = [os.environ.get("AWS_SHARED_CREDENTIALS_FILE"), os.environ.get("AWS_CONFIG_FILE")]
    files += [str(Path.home() / ".aws" / "credentials")]
    return any(f and Path(f).is_file() for f in files)


def _param(params: dict[str, list[str]], key: str) -> str | None:
    values = params.get(key)
    return values[0] if values else None


def _s3_store(url: str) -> BlobStore:
    shown = redact_url(url)
    parts = urlsplit(url)
    bucket = parts.hostname or ""
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ValueError(
            f"storage URL {shown!r} has no valid bucket name ({bucket!r}): S3 bucket names are 3-63 "
            f"lowercase letters, digits, dots or hyphens, e.g. {_EXAMPLE}"
        )
    if parts.port is not None:
        raise ValueError(
            f"storage URL {shown!r} puts a port on the bucket; give the server as "
            f"?endpoint=http://host:port instead, e.g. {_EXAMPLE}"
        )
    if parts.fragment:
        raise ValueError(f"storage URL {shown!r} must not have a #fragment")
    try:
        params = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ValueError(f"storage URL {shown!r} has a malformed query string: {exc}") from None
    unknown = sorted(set(params) - _S3_PARAMS)
    if unknown:
        raise ValueError(
            f"storage URL {shown!r} has unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_S3_PARAMS))}"
        )
    for key, values in params.items():
        if len(values) != 1 or not values[0]:
            raise ValueError(f"storage URL {shown!r}: option {key!r} needs exactly one non-empty value")
    endpoint = _param(params, "endpoint") or _param(params, "endpoint_url")
    if endpoint is not None:
        ep = urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.hostname:
            raise ValueError(
                f"storage URL {shown!r}: endpoint {endpoint!r} must be http(s)://host[:port], "
                f"e.g. http://127.0.0.1:8333"
            )
    region = _param(params, "region")
    access_key = unquote(parts.username) if parts.username else None
    secret_key = unquote(parts.password) if parts.password is not None else None
    if (access_key is None) != (secret_key is None):
        raise ValueError(f"storage URL {shown!r}: give both access key and secret as s3://KEY:SECRET@bucket")
    if access_key is None and endpoint is not None and not _aws_credentials_configured():
        access_key, secret_key = _DUMMY_CREDENTIALS  # anonymous SeaweedFS/MinIO still want a signature
    try:
        from databahn.storage.s3 import S3BlobStore
    except ImportError as exc:
        raise ValueError(
            f"storage URL {shown!r} needs the S3 backend, which needs boto3: pip install 'databahn[s3]'"
        ) from exc
    return S3BlobStore(
        bucket,
        prefix=unquote(parts.path).strip("/"),
        endpoint_url=endpoint,
        region=region,
        access_key=access_key,
        secret_key=secret_key,
    )
