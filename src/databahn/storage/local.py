"""Local-disk blob store: the embedded default.

Layout under the root: `blobs/ab/cd/<sha256>` (immutable, read-only files), `tmp/` for
in-flight writes (renamed into place only when complete and fsynced, so a crash leaves
at most an orphan temp file that `gc_tmp` removes) and `staging/<upload_id>` for chunked
uploads.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore(BlobStore):
    name = "local"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.tmp = self.root / "tmp"
        self.staging = self.root / "staging"
        for d in (self.blobs, self.tmp, self.staging):
            d.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.blobs / key[:2] / key[2:4] / key

    # -- blobs ---------------------------------------------------------------------------
    def _write_tmp(self, chunks: Iterable[bytes]) -> tuple[Path, BlobInfo]:
        tmp = self.tmp / f"{uuid.uuid4().hex}.part"
        hasher = Hasher()
        try:
            with open(tmp, "wb", buffering=0) as out:
                for block in chunks:
                    hasher.update(block)
                    view = memoryview(block)
                    while view:
                        written = out.write(view)
                        view = view[written:]
                os.fsync(out.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, hasher.info()

    def _publish_tmp(self, tmp: Path, info: BlobInfo) -> None:
        final = self._path(info.sha256)
        if final.exists():
            tmp.unlink(missing_ok=True)
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, final)
        _fsync_dir(final.parent)

    def put(
        self,
        stream: BinaryIO | Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        expected_md5: str | None = None,
    ) -> BlobInfo:
        tmp, info = self._write_tmp(iter_stream(stream))
        try:
            verify_digests(info, expected_sha256, expected_md5)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._publish_tmp(tmp, info)
        return info

    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        if start < 0 or (end is not None and end < 0):
            raise ValueError(f"byte range [{start}, {end}) must not be negative")
        path = self._path(key)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed by _iter_file
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc
        return self._iter_file(fh, start, end)

    @staticmethod
    def _iter_file(fh: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
        with fh:
            fh.seek(start)
            remaining = None if end is None else max(0, end - start)
            while remaining is None or remaining > 0:
                block = fh.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not block:
                    return
                if remaining is not None:
                    remaining -= len(block)
                yield block

    def local_path(self, key: str) -> Path:
        """Where a blob lives on disk (for zero-copy sendfile and extraction)."""
        path = self._path(key)
        if not path.exists():
            raise BlobNotFound(key)
        return path

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).exists()
        except BlobNotFound:
            return False

    def delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, 0o644)
            path.unlink()

    def keys(self) -> Iterator[str]:
        for path in self.blobs.glob("??/??/*"):
            if path.is_file() and len(path.name) == 64:
                yield path.name

    # -- staging ---------------------------------------------------------------------------
    def _stage_path(self, upload_id: str) -> Path:
        return self.staging / check_upload_id(upload_id)

    def stage_size(self, upload_id: str) -> int:
        path = self._stage_path(upload_id)
        return path.stat().st_size if path.exists() else 0

    def stage_append(self, upload_id: str, offset: int, stream: BinaryIO | Iterable[bytes]) -> int:
        path = self._stage_path(upload_id)
        current = path.stat().st_size if path.exists() else 0
        if offset != current:
            raise ValueError(f"chunk offset {offset} does not match the {current} bytes received so far")
        with open(path, "ab", buffering=0) as out:
            try:
                for block in iter_stream(stream):
                    out.write(block)
            except BaseException:
                # keep only what was there before this chunk: a half chunk is never kept
                out.truncate(current)
                raise
            os.fsync(out.fileno())
        return path.stat().st_size

    def stage_truncate(self, upload_id: str, size: int) -> None:
        """Roll a staged upload back to `size` bytes (a chunk that failed its checksum)."""
        path = self._stage_path(upload_id)
        if path.exists():
            with open(path, "r+b") as fh:
                fh.truncate(size)

    def stage_commit(
        self, upload_id: str, *, expected_sha256: str | None = None, expected_md5: str | None = None
    ) -> BlobInfo:
        path = self._stage_path(upload_id)
        if not path.exists():
            raise BlobNotFound(f"no staged upload {upload_id}")
        hasher = Hasher()
        with open(path, "rb") as fh:
            for block in iter_stream(fh):
                hasher.update(block)
        info = hasher.info()
        verify_digests(info, expected_sha256, expected_md5)
        final = self._path(info.sha256)
        if final.exists():
            path.unlink()
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o444)
            os.replace(path, final)
            _fsync_dir(final.parent)
        return info

    def stage_discard(self, upload_id: str) -> None:
        self._stage_path(upload_id).unlink(missing_ok=True)

    def gc_tmp(self, older_than_s: float = 3600) -> int:
        """Remove temp files left by interrupted writes; returns how many."""
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.tmp.iterdir():
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
