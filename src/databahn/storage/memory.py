"""In-memory blob store: a fast fake with the full contract, for tests and demos.

Everything lives in dicts guarded by one lock, so several threads (e.g. a test server and the
test) can share an instance. Nothing survives the process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from databahn.storage.base import (
    CHUNK,
    BlobInfo,
    BlobNotFound,
    BlobStore,
    Hasher,
    check_key,
    check_upload_id,
    iter_stream,
    verify_digests,
)


class MemoryBlobStore(BlobStore):
    name = "memory"

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._staging: dict[str, bytearray] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryBlobStore({len(self._blobs)} blobs)"

    # -- blobs ---------------------------------------------------------------------------
    def put(
        self,
        stream: BinaryIO | Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        expected_md5: str | None = None,
    ) -> BlobInfo:
        hasher = Hasher()
        data = bytearray()
        for block in iter_stream(stream):
            hasher.update(block)
            data += block
        info = hasher.info()
        verify_digests(info, expected_sha256, expected_md5)
        with self._lock:
            self._blobs.setdefault(info.sha256, bytes(data))
        return info

    def _get(self, key: str) -> bytes:
        check_key(key)
        with self._lock:
            try:
                return self._blobs[key]
            except KeyError:
                raise BlobNotFound(key) from None

    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        if start < 0 or (end is not None and end < 0):
            raise ValueError(f"byte range must not be negative, got start={start}, end={end}")
        data = self._get(key)
        stop = len(data) if end is None else min(end, len(data))
        return (data[i : min(i + CHUNK, stop)] for i in range(start, stop, CHUNK))

    def size(self, key: str) -> int:
        return len(self._get(key))

    def exists(self, key: str) -> bool:
        try:
            self._get(key)
        except BlobNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        check_key(key)
        with self._lock:
            self._blobs.pop(key, None)

    def keys(self) -> Iterator[str]:
        with self._lock:
            snapshot = list(self._blobs)
        return iter(snapshot)

    # -- staging ---------------------------------------------------------------------------
    def stage_size(self, upload_id: str) -> int:
        check_upload_id(upload_id)
        with self._lock:
            return len(self._staging.get(upload_id, b""))

    def stage_append(self, upload_id: str, offset: int, stream: BinaryIO | Iterable[bytes]) -> int:
        check_upload_id(upload_id)
        current = self.stage_size(upload_id)
        if offset != current:
            raise ValueError(f"chunk offset {offset} does not match the {current} bytes received so far")
        chunk = bytearray()
        for block in iter_stream(stream):  # a chunk that fails midway is never kept
            chunk += block
        with self._lock:
            staged = self._staging.setdefault(upload_id, bytearray())
            if len(staged) != offset:  # another thread appended meanwhile
                raise ValueError(f"chunk offset {offset} does not match the {len(staged)} bytes staged now")
            staged += chunk
            return len(staged)

    def stage_truncate(self, upload_id: str, size: int) -> None:
        """Roll a staged upload back to `size` bytes (a chunk that failed its checksum)."""
        check_upload_id(upload_id)
        with self._lock:
            staged = self._staging.get(upload_id)
            if staged is not None:
                del staged[size:]

    def stage_commit(
        self, upload_id: str, *, expected_sha256: str | None = None, expected_md5: str | None = None
    ) -> BlobInfo:
        check_upload_id(upload_id)
        with self._lock:
            staged = self._staging.get(upload_id)
            if staged is None:
                raise BlobNotFound(f"no staged upload {upload_id}")
            data = bytes(staged)
        info = self.put([data], expected_sha256=expected_sha256, expected_md5=expected_md5)
        with self._lock:
            self._staging.pop(upload_id, None)
        return info

    def stage_discard(self, upload_id: str) -> None:
        check_upload_id(upload_id)
        with self._lock:
            self._staging.pop(upload_id, None)

    def staged_uploads(self) -> list[str]:
        """Upload ids with staged bytes (lets tests check that nothing is left behind)."""
        with self._lock:
            return sorted(self._staging)
