"""The blob-store port: a flat, content-addressed store of immutable bytes.

Why so narrow: the file hierarchy, names and versions live in the database; the store only
knows blobs by the sha256 of their content (so unchanged files are shared between versions
for free) plus a staging area for uploads that arrive in chunks. Two implementations ship
(local disk, S3); an in-memory fake serves tests. All of them pass `tests/test_blobstore.py`.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1024 * 1024  # read/write granularity: bounded memory whatever the file size

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class BlobError(Exception):
    """A storage failure that is not the client's fault (disk full, S3 unreachable)."""


class BlobNotFound(BlobError):
    """No blob (or staged upload) under that key."""


class ChecksumMismatch(Exception):
    """The bytes received do not hash to what the client announced."""

    def __init__(self, algorithm: str, expected: str, actual: str) -> None:
        super().__init__(f"{algorithm} mismatch: expected {expected}, received data hashes to {actual}")
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class BlobInfo:
    """What the store learnt while writing a blob; the key is the sha256."""

    sha256: str
    md5: str
    size: int

    @property
    def key(self) -> str:
        return self.sha256


_MD5_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="databahn-md5")
_PARALLEL_MIN = 256 * 1024


class Hasher:
    """sha256 + md5 + byte count, fed while streaming so nothing is read twice.

    For large blocks md5 runs on a helper thread while the caller hashes sha256 and writes the
    block (hashlib releases the GIL), so both digests cost about as much time as the slower one."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._pending: Future[None] | None = None
        self.size = 0

    def _settle(self) -> None:
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Hash `data`; for large blocks md5 may still be running when this returns (see `settle`)."""
        self._settle()
        if len(data) >= _PARALLEL_MIN:
            self._pending = _MD5_POOL.submit(self._md5.update, data)
        else:
            self._md5.update(data)
        self._sha.update(data)
        self.size += len(data)

    def info(self) -> BlobInfo:
        self._settle()
        return BlobInfo(sha256=self._sha.hexdigest(), md5=self._md5.hexdigest(), size=self.size)


def iter_stream(stream: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    """Yield non-empty chunks from a file object or an iterable of bytes-like blocks.

    Blocks are passed on without copying; producers must not modify a block after yielding it."""
    if hasattr(stream, "read"):
        reader = stream
        while True:
            block = reader.read(CHUNK)
            if not block:
                return
            yield block
    else:
        for block in stream:
            if block:
                yield block


def check_key(key: str) -> str:
    if not _SHA256.match(key):
        raise BlobNotFound(f"not a blob key: {key!r}")
    return key


def check_upload_id(upload_id: str) -> str:
    if not _UPLOAD_ID.match(upload_id):
        raise BlobNotFound(f"not an upload id: {upload_id!r}")
    return upload_id


class BlobStore(ABC):
    """Content-addressed blobs plus a staging area for resumable uploads.

    Contract (checked by the shared test-suite):
    - `put` streams, hashes and stores; the blob becomes visible only once complete and its
      hash verified (an interrupted `put` leaves nothing visible). Storing existing content
      again is a no-op that returns the same info.
    - `open` streams bytes `[start, end)`; `end=None` means to the end.
    - staging: `stage_append(upload_id, offset, data)` appends at exactly `offset` (the
      current staged size, else ValueError) and returns the new size; `stage_commit` hashes
      the staged bytes into a blob and removes the staging; `stage_discard` removes it.
    """

    name: str = "abstract"

    # -- blobs -------------------------------------------------------------------------
    @abstractmethod
    def put(
        self,
        stream: BinaryIO | Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        expected_md5: str | None = None,
    ) -> BlobInfo:
        """Store a stream; raise ChecksumMismatch (and store nothing) if a digest differs."""

    @abstractmethod
    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stream a blob's bytes [start, end)."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Size in bytes; BlobNotFound if absent."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove a blob (no error if absent). Callers make sure no file row refers to it."""

    @abstractmethod
    def keys(self) -> Iterator[str]:
        """Every blob key, for fixity checks and backups."""

    # -- staging (chunked, resumable uploads) ------------------------------------------
    @abstractmethod
    def stage_size(self, upload_id: str) -> int:
        """Bytes staged so far (0 for a new upload)."""

    @abstractmethod
    def stage_append(self, upload_id: str, offset: int, stream: BinaryIO | Iterable[bytes]) -> int:
        """Append a chunk at `offset`; return the new staged size."""

    @abstractmethod
    def stage_commit(
        self, upload_id: str, *, expected_sha256: str | None = None, expected_md5: str | None = None
    ) -> BlobInfo:
        """Turn the staged bytes into a blob (verifying digests) and drop the staging."""

    @abstractmethod
    def stage_discard(self, upload_id: str) -> None: ...

    # -- helpers -------------------------------------------------------------------------
    def read_bytes(self, key: str) -> bytes:
        """Whole blob in memory: only for small blobs (metadata, tests)."""
        return b"".join(self.open(key))

    def verify(self, key: str) -> BlobInfo:
        """Re-hash a stored blob (fixity)."""
        hasher = Hasher()
        for block in self.open(key):
            hasher.update(block)
        return hasher.info()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def verify_digests(info: BlobInfo, expected_sha256: str | None, expected_md5: str | None) -> None:
    if expected_sha256 and expected_sha256.lower() != info.sha256:
        raise ChecksumMismatch("sha256", expected_sha256.lower(), info.sha256)
    if expected_md5 and expected_md5.lower() != info.md5:
        raise ChecksumMismatch("md5", expected_md5.lower(), info.md5)
