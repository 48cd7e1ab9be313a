"""Files of a version: streaming upload, chunked resumable upload, external references, download.

Bytes go to the blob store first (content-addressed, invisible until a row points at them), then
one database transaction makes the file visible. So an interrupted upload never leaves a partial
file in a version, and a crash between the two steps leaves only an unreferenced blob for GC.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import secrets
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from databahn.db.models import Blob, FileEntry, Upload, Version, utcnow
from databahn.domain.records import FileRecord
from databahn.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RangeNotSatisfiable,
)
from databahn.services.policy import Action, Principal, can
from databahn.services.users import require_user
from databahn.storage.base import BlobInfo, ChecksumMismatch, iter_stream

if TYPE_CHECKING:
    from databahn.services.hub import Hub

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
MAX_KEY = 1024


def validate_key(key: str) -> str:
    """A file name/path inside a version: relative, no '..', no control characters."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput("a file needs a name", errors=[FieldError("key", "empty file name")])
    key = unicodedata.normalize("NFC", key)
    problem = None
    if _CONTROL.search(key):
        problem = "control characters are not allowed in file names"
    elif "\\" in key:
        problem = "use '/' to separate folders, not '\\'"
    elif key.startswith("/"):
        problem = "file names must be relative (no leading '/')"
    elif any(part in ("", ".", "..") for part in key.split("/")):
        problem = "file names may not contain '..', '.' or empty path segments"
    elif len(key.encode()) > MAX_KEY:
        problem = f"file names are limited to {MAX_KEY} bytes"
    if problem:
        raise InvalidInput(f"invalid file name {key!r}: {problem}", errors=[FieldError("key", problem)])
    return key


def _check_digest(value: str | None, pattern: re.Pattern[str], name: str) -> str | None:
    if value is None or value == "":
        return None
    if not pattern.match(value):
        raise InvalidInput(
            f"{name} must be hex ({'64' if name == 'sha256' else '32'} characters)",
            errors=[FieldError(name, "not a hex digest")],
        )
    return value.lower()


def guess_media_type(key: str, given: str | None) -> str:
    if given and given not in ("application/octet-stream", "") and "/" in given:
        return given.split(";")[0].strip()
    guessed, _ = mimetypes.guess_type(key)
    return guessed or "application/octet-stream"


@dataclass(frozen=True)
class UploadState:
    id: str
    version_pid: str
    key: str
    size: int
    received: int
    state: str
    chunk_size: int

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "version": self.version_pid,
            "key": self.key,
            "size": self.size,
            "offset": self.received,
            "state": self.state,
            "chunk_size": self.chunk_size,
        }


@dataclass
class Download:
    record: FileRecord
    start: int
    end: int  # exclusive
    total: int
    chunks: Iterator[bytes]
    partial: bool


def parse_range(header: str | None, total: int) -> tuple[int, int, bool]:
    """HTTP Range (a single bytes range) -> (start, end_exclusive, partial)."""
    if not header:
        return 0, total, False
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not m or (m.group(1) == "" and m.group(2) == ""):
        raise RangeNotSatisfiable(f"unsupported Range header {header!r}: use a single 'bytes=START-END'")
    first, last = m.group(1), m.group(2)
    if first == "":
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable("empty suffix range", total=total)
        start = max(0, total - length)
        end = total
    else:
        start = int(first)
        end = min(total, int(last) + 1) if last else total
        if start >= total or (last and int(last) < start):
            raise RangeNotSatisfiable(f"range {header!r} is outside the file's {total} bytes", total=total)
    return start, end, True


class FileService:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    # -- helpers ---------------------------------------------------------------------------------
    def _draft(self, principal: Principal, pid: str) -> Version:
        with self.hub.read() as s:
            return self.hub.datasets._editable_draft(s, pid, principal)

    def _record_blob_and_file(
        self,
        principal: Principal,
        pid: str,
        key: str,
        info: BlobInfo,
        media_type: str,
        *,
        derived_from: str | None = None,
        replace: bool = False,
    ) -> FileRecord:
        with self.hub.write() as s:
            version = self.hub.datasets._editable_draft(s, pid, principal)
            s.execute(
                self.hub.insert_ignore(Blob),
                [{"sha256": info.sha256, "md5": info.md5, "size": info.size, "created": utcnow()}],
            )
            existing = s.scalar(
                select(FileEntry).where(FileEntry.version_id == version.id, FileEntry.key == key)
            )
            if existing is not None:
                if not replace:
                    raise Conflict(
                        f"{version.pid} already has a file named {key!r}; delete it first or choose another name",
                        errors=[FieldError("key", "duplicate file name")],
                    )
                s.delete(existing)
                s.flush()
            entry = FileEntry(
                version_id=version.id,
                key=key,
                blob_sha256=info.sha256,
                size=info.size,
                sha256=info.sha256,
                md5=info.md5,
                media_type=media_type,
                derived_from_key=derived_from,
            )
            s.add(entry)
            version.updated = utcnow()
            try:
                s.flush()
            except IntegrityError:
                raise Conflict(f"{version.pid} already has a file named {key!r}") from None
            self.hub.datasets.audit(s, principal, "file.add", version.pid, key=key, sha256=info.sha256)
            return FileRecord(
                key=key,
                size=info.size,
                sha256=info.sha256,
                md5=info.md5,
                media_type=media_type,
                derived_from=derived_from,
                created=entry.created,
            )

    def _ensure_free_name(self, principal: Principal, pid: str, key: str) -> Version:
        with self.hub.read() as s:
            version = self.hub.datasets._editable_draft(s, pid, principal)
            if s.scalar(select(FileEntry.id).where(FileEntry.version_id == version.id, FileEntry.key == key)):
                raise Conflict(
                    f"{version.pid} already has a file named {key!r}; delete it first or choose another name",
                    errors=[FieldError("key", "duplicate file name")],
                )
            return version

    # -- one-shot streaming upload ------------------------------------------------------------------
    def put(
        self,
        principal: Principal,
        pid: str,
        key: str,
        stream: BinaryIO | Iterable[bytes],
        *,
        sha256: str | None = None,
        md5: str | None = None,
        media_type: str | None = None,
        derived_from: str | None = None,
        replace: bool = False,
    ) -> FileRecord:
        key = validate_key(key)
        sha256 = _check_digest(sha256, _HEX64, "sha256")
        md5 = _check_digest(md5, _HEX32, "md5")
        if not replace:
            self._ensure_free_name(principal, pid, key)
        else:
            self._draft(principal, pid)
        try:
            info = self.hub.store.put(stream, expected_sha256=sha256, expected_md5=md5)
        except ChecksumMismatch as exc:
            raise InvalidInput(
                f"checksum mismatch for {key!r}: {exc}; nothing was stored, upload the file again",
                errors=[FieldError(exc.algorithm, str(exc))],
            ) from None
        record = self._record_blob_and_file(
            principal,
            pid,
            key,
            info,
            guess_media_type(key, media_type),
            derived_from=derived_from,
            replace=replace,
        )
        self._after_added(pid, key)
        return record

    def _after_added(self, pid: str, key: str) -> None:
        """Tell plugins (extraction, ...) about a new file, after its transaction committed."""
        for hook in self.hub.hooks.after_file_added:
            hook(pid, key)

    def add_external(
        self,
        principal: Principal,
        pid: str,
        key: str,
        url: str,
        *,
        size: int | None = None,
        sha256: str | None = None,
        md5: str | None = None,
        media_type: str | None = None,
    ) -> FileRecord:
        """Reference data that stays where it is (a TB synchrotron dataset at its facility)."""
        key = validate_key(key)
        url = (url or "").strip()
        if re.match(r"^10\.\d{4,9}/\S+$", url) or url.lower().startswith("doi:"):
            url = "https://doi.org/" + url.removeprefix("doi:").removeprefix("DOI:")
        if not re.match(r"^(https?|ftp|s3|globus)://\S+$", url):
            raise InvalidInput(
                f"{url!r} is not a URL or DOI", errors=[FieldError("url", "expected http(s)://..., or a DOI")]
            )
        if size is not None and size < 0:
            raise InvalidInput("size must be >= 0", errors=[FieldError("size", "negative")])
        sha256 = _check_digest(sha256, _HEX64, "sha256")
        md5 = _check_digest(md5, _HEX32, "md5")
        with self.hub.write() as s:
            version = self.hub.datasets._editable_draft(s, pid, principal)
            if s.scalar(select(FileEntry.id).where(FileEntry.version_id == version.id, FileEntry.key == key)):
                raise Conflict(f"{version.pid} already has a file named {key!r}")
            entry = FileEntry(
                version_id=version.id,
                key=key,
                blob_sha256=None,
                size=size,
                sha256=sha256,
                md5=md5,
                media_type=guess_media_type(key, media_type),
                external_url=url,
            )
            s.add(entry)
            version.updated = utcnow()
            s.flush()
            self.hub.datasets.audit(s, principal, "file.add_external", version.pid, key=key, url=url)
            return FileRecord(
                key=key, size=size, sha256=sha256, md5=md5, media_type=entry.media_type, external_url=url
            )

    def delete(self, principal: Principal, pid: str, key: str) -> None:
        with self.hub.write() as s:
            version = self.hub.datasets._editable_draft(s, pid, principal)
            entry = s.scalar(
                select(FileEntry).where(FileEntry.version_id == version.id, FileEntry.key == key)
            )
            if entry is None:
                raise NotFound(f"{version.pid} has no file named {key!r}")
            s.delete(entry)
            version.updated = utcnow()
            self.hub.datasets.audit(s, principal, "file.delete", version.pid, key=key)

    # -- chunked, resumable upload ---------------------------------------------------------------
    def start_upload(
        self,
        principal: Principal,
        pid: str,
        key: str,
        size: int,
        *,
        sha256: str | None = None,
        md5: str | None = None,
        media_type: str | None = None,
    ) -> UploadState:
        key = validate_key(key)
        if not isinstance(size, int) or size < 0:
            raise InvalidInput(
                "size must be the file's total size in bytes", errors=[FieldError("size", "invalid")]
            )
        sha256 = _check_digest(sha256, _HEX64, "sha256")
        md5 = _check_digest(md5, _HEX32, "md5")
        version = self._ensure_free_name(principal, pid, key)
        upload_id = secrets.token_urlsafe(18)
        with self.hub.write() as s:
            assert principal.user_id is not None
            # a second upload of the same name in the same draft resumes the first one
            existing = s.scalar(
                select(Upload).where(
                    Upload.version_id == version.id, Upload.key == key, Upload.state == "open"
                )
            )
            if existing is not None and existing.size == size and existing.sha256 == sha256:
                return self._state(existing, version.pid)
            upload = Upload(
                id=upload_id,
                version_id=version.id,
                key=key,
                size=size,
                sha256=sha256,
                md5=md5,
                media_type=guess_media_type(key, media_type),
                owner_id=principal.user_id,
            )
            s.add(upload)
            s.flush()
            return self._state(upload, version.pid)

    def _state(self, upload: Upload, version_pid: str) -> UploadState:
        return UploadState(
            id=upload.id,
            version_pid=version_pid,
            key=upload.key,
            size=upload.size,
            received=upload.received,
            state=upload.state,
            chunk_size=self.hub.settings.upload_chunk_bytes,
        )

    def _load_upload(self, principal: Principal, upload_id: str) -> tuple[Upload, Version]:
        require_user(principal)
        with self.hub.read() as s:
            upload = s.get(Upload, upload_id)
            if upload is None or (upload.owner_id != principal.user_id and not principal.is_admin):
                raise NotFound(f"no upload {upload_id!r}")
            version = s.scalar(
                select(Version).where(Version.id == upload.version_id).options(selectinload(Version.dataset))
            )
            assert version is not None
            return upload, version

    def upload_status(self, principal: Principal, upload_id: str) -> UploadState:
        upload, version = self._load_upload(principal, upload_id)
        if upload.state == "open":
            # the store is the truth about bytes received (a crash may have lost the last DB update)
            upload.received = self.hub.store.stage_size(upload.id)
        return self._state(upload, version.pid)

    def append_chunk(
        self,
        principal: Principal,
        upload_id: str,
        offset: int,
        stream: BinaryIO | Iterable[bytes],
        *,
        chunk_sha256: str | None = None,
    ) -> UploadState:
        upload, version = self._load_upload(principal, upload_id)
        if upload.state != "open":
            raise Conflict(f"upload {upload_id} is {upload.state}")
        chunk_sha256 = _check_digest(chunk_sha256, _HEX64, "chunk sha256")
        received = self.hub.store.stage_size(upload.id)
        if offset != received:
            raise Conflict(
                f"chunk offset {offset} does not match the {received} bytes received so far; "
                f"resume from offset {received}",
                offset=received,
            )
        limit = self.hub.settings.max_chunk_bytes
        # Spool the chunk (bounded: at most max_chunk_bytes) so its checksum can be verified
        # before it joins the staged file: a corrupted chunk is refused whole.
        hasher = hashlib.sha256()
        length = 0
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
            for block in iter_stream(stream):
                length += len(block)
                if length > limit:
                    raise PayloadTooLarge(f"chunks are limited to {limit} bytes")
                if received + length > upload.size:
                    raise InvalidInput(
                        f"this chunk would make the file larger than the announced {upload.size} bytes"
                    )
                hasher.update(block)
                spool.write(block)
            if chunk_sha256 and hasher.hexdigest() != chunk_sha256:
                raise InvalidInput(
                    f"chunk checksum mismatch at offset {offset}: expected {chunk_sha256}, "
                    f"got {hasher.hexdigest()}; the chunk was discarded, send it again",
                    offset=received,
                )
            spool.seek(0)
            try:
                new_size = self.hub.store.stage_append(upload.id, offset, spool)
            except ValueError as exc:
                raise Conflict(str(exc), offset=self.hub.store.stage_size(upload.id)) from None
        with self.hub.write() as s:
            row = s.get(Upload, upload.id)
            assert row is not None
            row.received = new_size
            row.updated = utcnow()
            return self._state(row, version.pid)

    def complete_upload(self, principal: Principal, upload_id: str) -> FileRecord:
        upload, version = self._load_upload(principal, upload_id)
        if upload.state != "open":
            raise Conflict(f"upload {upload_id} is {upload.state}")
        received = self.hub.store.stage_size(upload.id)
        if received != upload.size:
            raise Conflict(
                f"upload incomplete: {received} of {upload.size} bytes received; resume from offset {received}",
                offset=received,
            )
        try:
            info = self.hub.store.stage_commit(
                upload.id, expected_sha256=upload.sha256, expected_md5=upload.md5
            )
        except ChecksumMismatch as exc:
            self.hub.store.stage_discard(upload.id)
            with self.hub.write() as s:
                row = s.get(Upload, upload.id)
                if row is not None:
                    row.state = "failed"
            raise InvalidInput(
                f"checksum mismatch for {upload.key!r}: {exc}; the upload was discarded, start again",
                errors=[FieldError(exc.algorithm, str(exc))],
            ) from None
        record = self._record_blob_and_file(principal, version.pid, upload.key, info, upload.media_type or "")
        with self.hub.write() as s:
            row = s.get(Upload, upload.id)
            if row is not None:
                row.state = "complete"
                row.received = info.size
        self._after_added(version.pid, upload.key)
        return record

    def abort_upload(self, principal: Principal, upload_id: str) -> None:
        upload, _version = self._load_upload(principal, upload_id)
        self.hub.store.stage_discard(upload.id)
        with self.hub.write() as s:
            row = s.get(Upload, upload.id)
            if row is not None:
                row.state = "aborted"

    # -- download -----------------------------------------------------------------------------------
    def open(self, principal: Principal, pid: str, key: str, range_header: str | None = None) -> Download:
        with self.hub.read() as s:
            version = self.hub.datasets._load_version(s, pid, principal)
            if not can(principal, Action.read_files, version):
                raise NotFound(
                    f"the files of {version.pid} are not available to you"
                    + ("" if not principal.anonymous else " (sign in or pass an API token)")
                )
            entry = next((f for f in version.files if f.key == key), None)
            if entry is None:
                raise NotFound(f"{version.pid} has no file named {key!r}")
            if entry.blob_sha256 is None:
                raise NotFound(
                    f"{key!r} is stored outside the hub: {entry.external_url}", location=entry.external_url
                )
            total = int(entry.size or 0)
            record = FileRecord(
                key=entry.key,
                size=entry.size,
                sha256=entry.sha256,
                md5=entry.md5,
                media_type=entry.media_type,
                created=entry.created,
            )
            blob = entry.blob_sha256
        start, end, partial = parse_range(range_header, total)
        chunks = self.hub.store.open(blob, start, end) if end > start else iter(())
        return Download(record=record, start=start, end=end, total=total, chunks=chunks, partial=partial)
