"""S3 blob store: the scale-out backend (AWS S3, SeaweedFS, MinIO, Ceph RGW, ...).

Several server processes share one bucket, so nothing may become visible before it is complete
and verified. Layout under the optional prefix:

- `blobs/<sha256>`: immutable blobs;
- `tmp/<uuid>`: a large `put` in flight (a multipart upload, hashed while streaming, then copied
  server-side to `blobs/<sha256>` once its digest is known and verified, then deleted);
- `staging/<upload_id>/<offset:020d>`: the chunks of a resumable upload, one object per chunk
  (so chunks smaller than S3's 5 MiB multipart minimum work), written with If-None-Match so two
  requests racing for the same offset cannot both win.

Memory stays bounded by a few parts whatever the object size. One boto3 client is shared by
all threads (boto3 clients are thread-safe; sessions and resources are not). A crashed process
may leave objects or open multipart uploads under tmp/: `gc_tmp()` removes them (or configure a
bucket lifecycle rule that aborts incomplete uploads).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
except ImportError as _exc:  # pragma: no cover - depends on the installation
    raise ImportError("the S3 blob store needs boto3: install it with `pip install 'databahn[s3]'`") from _exc

from databahn.storage.base import (
    CHUNK,
    BlobError,
    BlobInfo,
    BlobNotFound,
    BlobStore,
    Hasher,
    check_key,
    check_upload_id,
    iter_stream,
    verify_digests,
)

MIB = 1024 * 1024
GIB = 1024 * MIB
MIN_PART = 5 * MIB  # S3's floor for every multipart part but the last
MAX_PARTS = 10_000  # S3's ceiling on parts per multipart upload
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NoSuchUpload", "NotFound", "NoSuchBucket"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_T = TypeVar("_T")


@dataclass(frozen=True)
class _Chunk:
    """One staged chunk object: where it starts in the upload and how long it is."""

    key: str
    offset: int
    size: int


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code or str(status or "")


class S3CallError(BlobError):
    """A failed S3 call, keeping the S3 error code for callers that branch on it."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class S3BlobStore(BlobStore):
    """Content-addressed blobs in an S3 bucket (created if missing)."""

    name = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        *,
        part_size: int = 8 * MIB,
        copy_threshold: int = 5 * GIB,
        copy_part_size: int = 512 * MIB,
        upload_concurrency: int = 4,
        create_bucket: bool = True,
        client: Any = None,
    ) -> None:
        if part_size < MIN_PART:
            raise ValueError(f"part_size must be at least 5 MiB (S3's minimum), got {part_size}")
        if not MIN_PART <= copy_part_size <= 5 * GIB:
            raise ValueError(f"copy_part_size must be between 5 MiB and 5 GiB, got {copy_part_size}")
        self.bucket = bucket
        clean = prefix.strip("/")
        self.prefix = f"{clean}/" if clean else ""
        self.endpoint_url = endpoint_url
        self.part_size = part_size
        self.copy_threshold = copy_threshold
        self.copy_part_size = copy_part_size
        if upload_concurrency < 1:
            raise ValueError(f"upload_concurrency must be at least 1, got {upload_concurrency}")
        self.upload_concurrency = upload_concurrency
        self.list_page_size = 1000  # S3's maximum; tests lower it to exercise pagination
        self._conditional_writes = True
        if client is None:
            config = Config(
                # custom endpoints mostly ignore the region but sign with one; AWS proper falls
                # back to AWS_DEFAULT_REGION / the profile (and follows bucket-region redirects)
                region_name=region or ("us-east-1" if endpoint_url else None),
                signature_version="s3v4",
                retries={"max_attempts": 5, "mode": "standard"},
                # custom endpoints (SeaweedFS, MinIO) rarely do virtual-host buckets
                s3={"addressing_style": "path" if endpoint_url else "auto"},
                # many S3-compatible servers predate the flexible-checksum headers; we send
                # Content-MD5 ourselves and verify sha256 end to end anyway
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                max_pool_connections=32,
            )
            session = boto3.session.Session()
            client = session.client(
                "s3",
                endpoint_url=endpoint_url,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                config=config,
            )
        self.client = client
        if create_bucket:
            self._ensure_bucket(region)

    def __repr__(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"S3BlobStore(s3://{self.bucket}/{self.prefix}{where})"

    # -- plumbing --------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., _T], /, **kwargs: Any) -> _T:
        """Run one client call, mapping botocore's exceptions onto the store's."""
        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = _error_code(exc)
            target = f"s3://{self.bucket}/{kwargs.get('Key', '')}"
            if code in _NOT_FOUND_CODES:
                raise BlobNotFound(f"{what}: {target} not found ({code})") from exc
            raise S3CallError(f"{what} on {target} failed: {code} {exc}", code) from exc
        except BotoCoreError as exc:
            raise BlobError(
                f"{what} failed: cannot talk to S3 at {self.endpoint_url or 'AWS'}: {exc}"
            ) from exc

    def _ensure_bucket(self, region: str | None) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if _error_code(exc) not in _NOT_FOUND_CODES:
                raise BlobError(f"cannot access bucket {self.bucket!r}: {_error_code(exc)} {exc}") from exc
        except ParamValidationError as exc:
            raise BlobError(f"bucket {self.bucket!r} is not usable: {exc}") from exc
        except BotoCoreError as exc:
            raise BlobError(f"cannot reach S3 at {self.endpoint_url or 'AWS'}: {exc}") from exc
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**kwargs)
        except ClientError as exc:
            if _error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise BlobError(f"cannot create bucket {self.bucket!r}: {_error_code(exc)} {exc}") from exc
        except ParamValidationError as exc:
            raise BlobError(f"bucket {self.bucket!r} is not usable: {exc}") from exc
        except BotoCoreError as exc:
            raise BlobError(f"cannot reach S3 at {self.endpoint_url or 'AWS'}: {exc}") from exc

    def _blob_key(self, key: str) -> str:
        return f"{self.prefix}blobs/{check_key(key)}"

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Every object under a prefix, page by page (S3 returns at most 1000 per call)."""
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": self.list_page_size}
        )
        try:
            for page in pages:
                yield from page.get("Contents", [])
        except ClientError as exc:
            raise BlobError(f"listing s3://{self.bucket}/{prefix} failed: {_error_code(exc)} {exc}") from exc
        except BotoCoreError as exc:
            raise BlobError(f"listing s3://{self.bucket}/{prefix} failed: {exc}") from exc

    def _delete_keys(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            result = self._call(
                "delete",
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": batch, "Quiet": True},
            )
            errors = result.get("Errors") or []
            if errors:
                first = errors[0]
                raise BlobError(
                    f"deleting {first.get('Key')} failed: {first.get('Code')} {first.get('Message')}"
                )

    def _head(self, s3_key: str) -> dict[str, Any]:
        return self._call("head", self.client.head_object, Bucket=self.bucket, Key=s3_key)

    def _object_exists(self, s3_key: str) -> bool:
        try:
            self._head(s3_key)
        except BlobNotFound:
            return False
        return True

    # -- blobs -----------------------------------------------------------------------------
    def _parts(self, chunks: Iterable[bytes], hasher: Hasher) -> Iterator[io.BytesIO]:
        """Regroup a stream into parts (rewound BytesIO buffers), hashing as it goes.

        Memory stays about one part whatever the stream size. The part size doubles every
        2000 parts so that S3's 10 000-part ceiling allows objects of ~500 GB with 8 MiB parts.
        Always yields at least one (possibly empty) part.
        """
        buf = io.BytesIO()
        produced = 0
        for block in chunks:
            hasher.update(block)
            view = memoryview(block)
            while view:
                limit = self.part_size * 2 ** (produced // 2000)
                take = min(len(view), limit - buf.tell())
                buf.write(view[:take])
                view = view[take:]
                if buf.tell() >= limit:
                    buf.seek(0)
                    produced += 1
                    yield buf
                    buf = io.BytesIO()
        if buf.tell() or produced == 0:
            buf.seek(0)
            yield buf

    def _upload(self, what: str, key: str, part: io.BytesIO, **extra: Any) -> dict[str, Any]:
        """put_object / upload_part of one buffer, with Content-MD5 so the server checks transit."""
        with part.getbuffer() as view:
            md5 = base64.b64encode(hashlib.md5(view, usedforsecurity=False).digest()).decode()
        part.seek(0)  # a retried call must send the buffer from its start again
        fn = self.client.upload_part if "UploadId" in extra else self.client.put_object
        return self._call(what, fn, Bucket=self.bucket, Key=key, Body=part, ContentMD5=md5, **extra)

    def put(
        self,
        stream: BinaryIO | Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        expected_md5: str | None = None,
    ) -> BlobInfo:
        hasher = Hasher()
        parts = self._parts(iter_stream(stream), hasher)
        first = next(parts)
        second = next(parts, None)
        if second is None:
            # the whole blob fits in one part: verify first, then write it straight into place
            info = hasher.info()
            verify_digests(info, expected_sha256, expected_md5)
            final = self._blob_key(info.sha256)
            if not self._object_exists(final):
                self._upload("put", final, first, ContentType="application/octet-stream")
            return info
        pending = [first, second]
        del first, second

        def feed() -> Iterator[io.BytesIO]:
            while pending:
                yield pending.pop(0)
            yield from parts

        return self._put_multipart(feed(), hasher, expected_sha256, expected_md5)

    def _put_multipart(
        self,
        parts: Iterator[io.BytesIO],
        hasher: Hasher,
        expected_sha256: str | None,
        expected_md5: str | None,
    ) -> BlobInfo:
        tmp = f"{self.prefix}tmp/{uuid.uuid4().hex}"
        created = self._call("put", self.client.create_multipart_upload, Bucket=self.bucket, Key=tmp)
        upload_id = created["UploadId"]
        try:
            done = self._upload_parts(tmp, upload_id, parts)
            self._call(
                "put",
                self.client.complete_multipart_upload,
                Bucket=self.bucket,
                Key=tmp,
                UploadId=upload_id,
                MultipartUpload={"Parts": done},
            )
        except BaseException:
            # nothing visible was written; drop the parts the server holds for us
            self._abort(tmp, upload_id)
            raise
        try:
            info = hasher.info()
            verify_digests(info, expected_sha256, expected_md5)
            final = self._blob_key(info.sha256)
            if not self._object_exists(final):
                self._copy(tmp, final, info.size)
        finally:
            with contextlib.suppress(BlobError):
                # an orphan in tmp/ is harmless and gc_tmp() removes it
                self._call("delete", self.client.delete_object, Bucket=self.bucket, Key=tmp)
        return info

    def _upload_parts(self, key: str, upload_id: str, parts: Iterator[io.BytesIO]) -> list[dict[str, Any]]:
        """Upload parts with a few in flight at once; memory stays ~ (in flight + 1) parts.

        The stream is read and hashed in this thread while earlier parts travel, so reading,
        hashing and the network overlap.
        """
        in_flight: dict[Future[dict[str, Any]], int] = {}
        etags: dict[int, str] = {}
        pool = ThreadPoolExecutor(max_workers=self.upload_concurrency, thread_name_prefix="s3-put")
        try:
            for number, part in enumerate(parts, start=1):
                if number > MAX_PARTS:
                    raise BlobError("blob too large: more than 10 000 multipart parts")
                future = pool.submit(self._upload, "put", key, part, UploadId=upload_id, PartNumber=number)
                in_flight[future] = number
                del part  # the future holds the only reference; it goes once sent
                while len(in_flight) >= self.upload_concurrency:
                    finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for f in finished:
                        etags[in_flight.pop(f)] = f.result()["ETag"]
            for f in list(in_flight):
                etags[in_flight.pop(f)] = f.result()["ETag"]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]

    def _abort(self, key: str, upload_id: str) -> None:
        """Best effort: the original error matters more than a failed abort."""
        with contextlib.suppress(Exception):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def _copy(self, source: str, target: str, size: int) -> None:
        """Server-side copy; above 5 GB S3 requires a multipart copy."""
        copy_source = {"Bucket": self.bucket, "Key": source}
        if size <= self.copy_threshold:
            self._call(
                "copy", self.client.copy_object, Bucket=self.bucket, Key=target, CopySource=copy_source
            )
            return
        part_size = max(self.copy_part_size, -(-size // MAX_PARTS))
        created = self._call("copy", self.client.create_multipart_upload, Bucket=self.bucket, Key=target)
        upload_id = created["UploadId"]
        try:
            done = []
            for number, start in enumerate(range(0, size, part_size), start=1):
                end = min(size, start + part_size) - 1
                result = self._call(
                    "copy",
                    self.client.upload_part_copy,
                    Bucket=self.bucket,
                    Key=target,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=copy_source,
                    CopySourceRange=f"bytes={start}-{end}",
                )
                done.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})
            self._call(
                "copy",
                self.client.complete_multipart_upload,
                Bucket=self.bucket,
                Key=target,
                UploadId=upload_id,
                MultipartUpload={"Parts": done},
            )
        except BaseException:
            self._abort(target, upload_id)
            raise

    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        s3_key = self._blob_key(key)
        if start < 0 or (end is not None and end < 0):
            raise ValueError(f"byte range must not be negative, got start={start}, end={end}")
        if end is not None and end <= start:
            self._head(s3_key)  # still report a missing blob
            return iter(())
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": s3_key}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            response = self._call("get", self.client.get_object, **kwargs)
        except S3CallError as exc:
            if exc.code != "InvalidRange":
                raise
            self._head(s3_key)  # the range starts past the end: empty, if the blob exists
            return iter(())
        return self._iter_body(response["Body"], s3_key)

    def _iter_body(self, body: Any, s3_key: str) -> Iterator[bytes]:
        try:
            for block in body.iter_chunks(CHUNK):
                if block:
                    yield block
        except (BotoCoreError, OSError) as exc:
            raise BlobError(f"reading s3://{self.bucket}/{s3_key} was interrupted: {exc}") from exc
        finally:
            body.close()

    def size(self, key: str) -> int:
        return int(self._head(self._blob_key(key))["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            return self._object_exists(self._blob_key(key))
        except BlobNotFound:
            return False

    def delete(self, key: str) -> None:
        self._call("delete", self.client.delete_object, Bucket=self.bucket, Key=self._blob_key(key))

    def keys(self) -> Iterator[str]:
        base = f"{self.prefix}blobs/"
        for obj in self._list(base):
            name = obj["Key"][len(base) :]
            if _SHA256.match(name):
                yield name

    # -- staging ---------------------------------------------------------------------------
    def _stage_prefix(self, upload_id: str) -> str:
        return f"{self.prefix}staging/{check_upload_id(upload_id)}/"

    def _chunks(self, upload_id: str) -> list[_Chunk]:
        """The staged chunks in order, up to the first gap (a gap is never trusted)."""
        base = self._stage_prefix(upload_id)
        found = []
        for obj in self._list(base):
            name = obj["Key"][len(base) :]
            if name.isdigit():
                found.append(_Chunk(obj["Key"], int(name), int(obj["Size"])))
        found.sort(key=lambda c: c.offset)
        chunks: list[_Chunk] = []
        expected = 0
        for chunk in found:
            if chunk.offset != expected:
                break
            chunks.append(chunk)
            expected += chunk.size
        return chunks

    def _chunk_key(self, upload_id: str, offset: int) -> str:
        return f"{self._stage_prefix(upload_id)}{offset:020d}"

    def stage_size(self, upload_id: str) -> int:
        return sum(c.size for c in self._chunks(upload_id))

    def stage_append(self, upload_id: str, offset: int, stream: BinaryIO | Iterable[bytes]) -> int:
        chunks = self._chunks(upload_id)
        current = sum(c.size for c in chunks)
        if offset != current:
            raise ValueError(f"chunk offset {offset} does not match the {current} bytes received so far")
        # an upload that so far got only empty chunks is an empty object at offset 0
        marker = chunks[0].key if current == 0 and chunks else None
        written: list[str] = []
        position = current
        try:
            for piece in self._parts(iter_stream(stream), Hasher()):
                length = len(piece.getbuffer())
                if not length and (position > 0 or chunks):
                    continue  # an empty chunk adds nothing (but an empty upload gets a marker)
                key = self._chunk_key(upload_id, position)
                if key == marker:
                    self._upload("stage", key, piece)  # the marker gives way to real bytes
                    written.append(key)
                elif self._put_new(key, piece):
                    written.append(key)
                position += length
        except BaseException:
            # keep only what was there before this chunk: a half chunk is never kept
            with contextlib.suppress(BlobError):
                if written:
                    self._delete_keys(written)
                if marker in written:
                    self._upload("stage", marker, io.BytesIO())
            raise
        return position

    def _put_new(self, key: str, piece: io.BytesIO) -> bool:
        """Write a chunk object only if nobody else has (If-None-Match: *).

        Two requests appending at the same offset at once would otherwise both "succeed" and
        the later one silently replace the earlier. Returns False if an empty marker already
        existed; servers without conditional writes get a plain put.
        """
        if self._conditional_writes:
            try:
                self._upload("stage", key, piece, IfNoneMatch="*")
                return True
            except S3CallError as exc:
                if exc.code in {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}:
                    if not len(piece.getbuffer()):
                        return False
                    raise ValueError(
                        "another request is appending to this upload at the same offset; "
                        "ask for the staged size and resume from there"
                    ) from exc
                if exc.code not in {"NotImplemented", "501", "InvalidArgument", "InvalidRequest"}:
                    raise
                self._conditional_writes = False  # an older S3 clone: fall back to plain writes
        self._upload("stage", key, piece)
        return True

    def stage_truncate(self, upload_id: str, size: int) -> None:
        """Roll a staged upload back to `size` bytes (a chunk that failed its checksum)."""
        drop = []
        for chunk in self._chunks(upload_id):
            if chunk.offset >= size and not (size == 0 and chunk.offset == 0):
                drop.append(chunk.key)
            elif chunk.offset + chunk.size > size:
                keep = size - chunk.offset
                head = b""
                if keep:
                    body = self._call(
                        "stage",
                        self.client.get_object,
                        Bucket=self.bucket,
                        Key=chunk.key,
                        Range=f"bytes=0-{keep - 1}",
                    )["Body"]
                    head = body.read()
                self._call("stage", self.client.put_object, Bucket=self.bucket, Key=chunk.key, Body=head)
        if drop:
            self._delete_keys(drop)

    def _iter_staged(self, chunks: list[_Chunk]) -> Iterator[bytes]:
        for chunk in chunks:
            if chunk.size:
                response = self._call("stage", self.client.get_object, Bucket=self.bucket, Key=chunk.key)
                yield from self._iter_body(response["Body"], chunk.key)

    def stage_commit(
        self, upload_id: str, *, expected_sha256: str | None = None, expected_md5: str | None = None
    ) -> BlobInfo:
        chunks = self._chunks(upload_id)
        if not chunks:
            raise BlobNotFound(f"no staged upload {upload_id}")
        info = self.put(self._iter_staged(chunks), expected_sha256=expected_sha256, expected_md5=expected_md5)
        self.stage_discard(upload_id)
        return info

    def stage_discard(self, upload_id: str) -> None:
        keys = [obj["Key"] for obj in self._list(self._stage_prefix(upload_id))]
        if keys:
            self._delete_keys(keys)

    # -- housekeeping ----------------------------------------------------------------------
    def gc_tmp(self, older_than_s: float = 3600) -> int:
        """Remove what crashed writers left in tmp/ (objects and open multipart uploads)."""
        cutoff = time.time() - older_than_s
        base = f"{self.prefix}tmp/"
        stale = [o["Key"] for o in self._list(base) if o["LastModified"].timestamp() < cutoff]
        if stale:
            self._delete_keys(stale)
        removed = len(stale)
        paginator = self.client.get_paginator("list_multipart_uploads")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
                for upload in page.get("Uploads", []) or []:
                    if upload["Initiated"].timestamp() < cutoff:
                        self._call(
                            "abort",
                            self.client.abort_multipart_upload,
                            Bucket=self.bucket,
                            Key=upload["Key"],
                            UploadId=upload["UploadId"],
                        )
                        removed += 1
        except ClientError as exc:
            raise BlobError(f"listing multipart uploads failed: {_error_code(exc)} {exc}") from exc
        return removed

    def close(self) -> None:
        """Release the connection pool."""
        closer = getattr(self.client, "close", None)
        if callable(closer):
            closer()
