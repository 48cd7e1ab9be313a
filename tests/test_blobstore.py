"""The blob-store contract: one suite, run against the memory fake, local disk and S3 (SeaweedFS).

Every backend must behave identically for what callers rely on: content addressing, ranges,
verified digests, nothing visible after a failed write, resumable staging. The S3 cases start a
private SeaweedFS once per session (skipped without the `weed` binary unless
DATABAHN_REQUIRE_SCALEOUT=1) and give every test its own key prefix. The `seaweed` fixture comes
from tests/support/fixtures.py, loaded by tests/conftest.py.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from databahn.storage.base import CHUNK, BlobError, BlobNotFound, BlobStore, ChecksumMismatch
from databahn.storage.factory import blob_store_from_url, redact_url
from databahn.storage.local import LocalBlobStore
from databahn.storage.memory import MemoryBlobStore
from tests.support.seaweed import DUMMY_KEY, DUMMY_SECRET, SeaweedServer, free_ports

MIB = 1024 * 1024
S3_PART = 5 * MIB  # the smallest part S3 allows, so multipart paths run with little data
BIG = 3 * S3_PART + 12345  # four parts on S3


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def s3_store(seaweed: SeaweedServer, **kwargs: Any) -> Any:
    from databahn.storage.s3 import S3BlobStore

    kwargs.setdefault("bucket", "databahn-test")
    kwargs.setdefault("prefix", f"t-{uuid.uuid4().hex[:12]}")
    return S3BlobStore(
        endpoint_url=seaweed.endpoint,
        access_key=DUMMY_KEY,
        secret_key=DUMMY_SECRET,
        part_size=S3_PART,
        **kwargs,
    )


def s3_wipe(store: Any) -> None:
    """Remove every object under the store's prefix (tests share the session's bucket)."""
    keys = [o["Key"] for o in store._list(store.prefix)]
    if keys:
        store._delete_keys(keys)


@pytest.fixture(params=["memory", "local", pytest.param("s3", marks=pytest.mark.scaleout)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "memory":
        yield MemoryBlobStore()
    elif request.param == "local":
        yield LocalBlobStore(tmp_path / "files")
    else:
        s3 = s3_store(request.getfixturevalue("seaweed"))
        try:
            yield s3
        finally:
            s3_wipe(s3)
            s3.close()


def leftovers(store: BlobStore) -> list[str]:
    """Anything the store holds besides finished blobs: temp files, staging, open multipart uploads."""
    if isinstance(store, MemoryBlobStore):
        return store.staged_uploads()
    if isinstance(store, LocalBlobStore):
        return sorted(str(p) for d in (store.tmp, store.staging) for p in d.iterdir())
    objects = [o["Key"] for o in store._list(store.prefix)]  # type: ignore[attr-defined]
    found = [k for k in objects if not k.startswith(f"{store.prefix}blobs/")]  # type: ignore[attr-defined]
    uploads = store.client.list_multipart_uploads(  # type: ignore[attr-defined]
        Bucket=store.bucket,  # type: ignore[attr-defined]
        Prefix=store.prefix,  # type: ignore[attr-defined]
    )
    found += [f"multipart:{u['Key']}" for u in uploads.get("Uploads") or []]
    return sorted(found)


def failing_stream(data: bytes, fail_after: int) -> Iterator[bytes]:
    """Yields `data` in 64 KiB pieces, then dies like a dropped client connection."""
    sent = 0
    for i in range(0, len(data), 64 * 1024):
        if sent >= fail_after:
            raise ConnectionResetError("client went away")
        piece = data[i : i + 64 * 1024]
        sent += len(piece)
        yield piece
    raise ConnectionResetError("client went away")


# -- put / open ----------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 1000, CHUNK + 7, BIG])
def test_put_open_round_trip(store: BlobStore, size: int) -> None:
    data = os.urandom(size)
    info = store.put(io.BytesIO(data))
    assert (info.sha256, info.md5, info.size) == (sha(data), md5(data), size)
    assert info.key == sha(data)
    assert store.exists(info.key)
    assert store.size(info.key) == size
    assert store.read_bytes(info.key) == data
    assert all(len(block) <= CHUNK for block in store.open(info.key))
    assert store.verify(info.key) == info
    assert list(store.keys()) == [info.key]
    assert leftovers(store) == []


def test_put_accepts_iterables_of_any_chunking(store: BlobStore) -> None:
    data = os.urandom(300_000)
    pieces: list[Any] = [data[:1], b"", data[1:70_000], bytearray(data[70_000:])]  # bytearray is fine too
    info = store.put(pieces)
    assert info.sha256 == sha(data)
    assert store.read_bytes(info.key) == data


def test_same_content_is_stored_once(store: BlobStore) -> None:
    data = b"the same spectrum twice"
    first = store.put([data])
    second = store.put(io.BytesIO(data), expected_sha256=sha(data).upper(), expected_md5=md5(data))
    assert first == second
    assert list(store.keys()) == [first.key]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, None),
        (0, 10),
        (10, 20),
        (CHUNK - 1, CHUNK + 1),  # across a read-block boundary
        (5, None),
        (-5, None),  # marker: counted from the end below
        (-5, 10**9),  # end past the end is cut
        (0, 0),  # empty range at the start
        (500, 500),  # empty range in the middle
        (700, 300),  # end before start: empty
        (0, -1),  # marker: start == size
        (10**9, None),  # start past the end: empty
    ],
)
def test_ranges_match_python_slicing(store: BlobStore, start: int, end: int | None) -> None:
    data = os.urandom(CHUNK + 4096)
    key = store.put([data]).key
    if start < 0:
        start = len(data) + start
    if end == -1:
        start, end = len(data), None
    expected = data[start:end]
    got = b"".join(store.open(key, start, end))
    assert got == expected, f"range [{start}, {end}) returned {len(got)} bytes, expected {len(expected)}"


def test_ranges_of_an_empty_blob(store: BlobStore) -> None:
    key = store.put([b""]).key
    assert b"".join(store.open(key)) == b""
    assert b"".join(store.open(key, 0, 10)) == b""
    assert b"".join(store.open(key, 3)) == b""


def test_missing_and_malformed_keys(store: BlobStore) -> None:
    absent = sha(b"never stored")
    assert not store.exists(absent)
    assert not store.exists("../../etc/passwd")
    with pytest.raises(BlobNotFound):
        store.open(absent)  # raised at once, not on first iteration
    with pytest.raises(BlobNotFound):
        store.open(absent, 5, 5)
    with pytest.raises(BlobNotFound):
        store.size(absent)
    with pytest.raises(BlobNotFound):
        store.open("../../etc/passwd")
    with pytest.raises(BlobNotFound):
        store.read_bytes("ABC")
    store.delete(absent)  # no error


def test_delete(store: BlobStore) -> None:
    keep = store.put([b"keep"]).key
    gone = store.put([b"gone"]).key
    store.delete(gone)
    store.delete(gone)
    assert not store.exists(gone)
    assert list(store.keys()) == [keep]
    with pytest.raises(BlobNotFound):
        store.read_bytes(gone)
    assert store.put([b"gone"]).key == gone  # can be stored again
    assert store.read_bytes(gone) == b"gone"


def test_keys_lists_every_blob(store: BlobStore) -> None:
    if hasattr(store, "list_page_size"):
        store.list_page_size = 2  # force several ListObjects pages
    blobs = {store.put([f"blob {i}".encode()]).key for i in range(7)}
    assert set(store.keys()) == blobs
    assert len(list(store.keys())) == 7


# -- verification and failures -------------------------------------------------------------
@pytest.mark.parametrize("size", [100, BIG])
@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_digest_mismatch_stores_nothing(store: BlobStore, size: int, algorithm: str) -> None:
    data = os.urandom(size)
    wrong = sha(b"other") if algorithm == "sha256" else md5(b"other")
    kwargs = {f"expected_{algorithm}": wrong}
    with pytest.raises(ChecksumMismatch) as caught:
        store.put(io.BytesIO(data), **kwargs)
    assert caught.value.algorithm == algorithm
    assert caught.value.expected == wrong
    assert caught.value.actual == (sha(data) if algorithm == "sha256" else md5(data))
    assert not store.exists(sha(data))
    assert list(store.keys()) == []
    assert leftovers(store) == []


@pytest.mark.parametrize("size", [200_000, BIG])
def test_interrupted_put_leaves_nothing(store: BlobStore, size: int) -> None:
    data = os.urandom(size)
    with pytest.raises(ConnectionResetError):
        store.put(failing_stream(data, fail_after=size - 100_000))  # S3: after two parts went up
    assert list(store.keys()) == []
    assert not store.exists(sha(data))
    assert leftovers(store) == []
    # and the store still works afterwards
    assert store.put([data]).sha256 == sha(data)


# -- staging -------------------------------------------------------------------------------
def test_staged_upload_resumes_and_commits(store: BlobStore) -> None:
    data = os.urandom(CHUNK * 2 + 999)
    upload = uuid.uuid4().hex
    assert store.stage_size(upload) == 0
    assert store.stage_append(upload, 0, io.BytesIO(data[:1000])) == 1000
    # a client that lost track resends from the wrong place: refused, nothing changes
    with pytest.raises(ValueError, match="offset 0 does not match the 1000 bytes"):
        store.stage_append(upload, 0, [data[:1000]])
    with pytest.raises(ValueError, match="offset 5000"):
        store.stage_append(upload, 5000, [data[5000:]])
    # ... asks where to resume, and carries on
    resume = store.stage_size(upload)
    assert resume == 1000
    assert store.stage_append(upload, resume, [data[1000:CHUNK]]) == CHUNK
    assert store.stage_append(upload, CHUNK, [b""]) == CHUNK  # empty chunk changes nothing
    assert store.stage_append(upload, CHUNK, [data[CHUNK:]]) == len(data)
    info = store.stage_commit(upload, expected_sha256=sha(data), expected_md5=md5(data))
    assert (info.sha256, info.size) == (sha(data), len(data))
    assert store.read_bytes(info.key) == data
    assert store.stage_size(upload) == 0
    assert leftovers(store) == []
    with pytest.raises(BlobNotFound):
        store.stage_commit(upload)


def test_staged_chunk_larger_than_a_part(store: BlobStore) -> None:
    data = os.urandom(BIG)
    upload = uuid.uuid4().hex
    assert store.stage_append(upload, 0, io.BytesIO(data[:10])) == 10
    assert store.stage_append(upload, 10, io.BytesIO(data[10:])) == len(data)
    assert store.stage_size(upload) == len(data)
    info = store.stage_commit(upload)
    assert info.sha256 == sha(data)
    assert store.read_bytes(info.key) == data
    assert leftovers(store) == []


def test_interrupted_chunk_is_not_kept(store: BlobStore) -> None:
    upload = uuid.uuid4().hex
    head = os.urandom(4000)
    store.stage_append(upload, 0, [head])
    chunk = os.urandom(BIG)
    with pytest.raises(ConnectionResetError):
        store.stage_append(upload, 4000, failing_stream(chunk, fail_after=len(chunk) - 100_000))
    assert store.stage_size(upload) == 4000
    store.stage_append(upload, 4000, [chunk])
    assert store.stage_commit(upload).sha256 == sha(head + chunk)


def test_commit_mismatch_keeps_the_staging(store: BlobStore) -> None:
    upload = uuid.uuid4().hex
    store.stage_append(upload, 0, [b"abc"])
    with pytest.raises(ChecksumMismatch):
        store.stage_commit(upload, expected_sha256=sha(b"abd"))
    assert list(store.keys()) == []
    assert store.stage_size(upload) == 3  # the client may still fix it or discard it
    store.stage_discard(upload)
    store.stage_discard(upload)  # idempotent
    assert store.stage_size(upload) == 0
    with pytest.raises(BlobNotFound):
        store.stage_commit(upload)
    assert leftovers(store) == []


def test_empty_and_duplicate_staged_uploads(store: BlobStore) -> None:
    empty = uuid.uuid4().hex
    assert store.stage_append(empty, 0, [b""]) == 0
    assert store.stage_commit(empty).sha256 == sha(b"")
    existing = store.put([b"already here"])
    dup = uuid.uuid4().hex
    store.stage_append(dup, 0, [b"already "])
    store.stage_append(dup, 8, [b"here"])
    assert store.stage_commit(dup) == existing
    assert sorted(store.keys()) == sorted([sha(b""), existing.key])
    assert leftovers(store) == []


def test_empty_first_chunk_then_data(store: BlobStore) -> None:
    upload = uuid.uuid4().hex
    assert store.stage_append(upload, 0, [b""]) == 0
    with pytest.raises(ConnectionResetError):
        store.stage_append(upload, 0, failing_stream(os.urandom(300_000), fail_after=100_000))
    assert store.stage_size(upload) == 0
    assert store.stage_append(upload, 0, [b"\x00"]) == 1
    assert store.stage_append(upload, 1, [b"\x01"]) == 2
    assert store.stage_commit(upload).sha256 == sha(b"\x00\x01")
    assert leftovers(store) == []


def test_bad_upload_ids_are_refused(store: BlobStore) -> None:
    for bad in ("../x", "short", "a" * 65, "has space!"):
        with pytest.raises(BlobNotFound):
            store.stage_size(bad)
        with pytest.raises(BlobNotFound):
            store.stage_append(bad, 0, [b"x"])


def test_racing_appends_at_one_offset_keep_one_chunk(store: BlobStore) -> None:
    """A client retry racing its own first attempt: one wins, the other is refused, nothing doubles."""
    upload = uuid.uuid4().hex
    store.stage_append(upload, 0, [b"head:"])
    first, second = b"A" * 70_000, b"B" * 70_000
    other_done = threading.Event()
    results: dict[str, Any] = {}

    def slow_stream() -> Iterator[bytes]:
        yield first[:1000]
        other_done.wait(timeout=1.5)  # let the other request run while this one is mid-chunk
        yield first[1000:]

    def append(name: str, stream: Any) -> None:
        try:
            results[name] = store.stage_append(upload, 5, stream)
        except ValueError as exc:
            results[name] = exc
        finally:
            if name == "second":
                other_done.set()

    slow = threading.Thread(target=append, args=("first", slow_stream()))
    slow.start()
    time.sleep(0.2)
    fast = threading.Thread(target=append, args=("second", [second]))
    fast.start()
    fast.join()
    slow.join()
    refused = [name for name, value in results.items() if isinstance(value, ValueError)]
    assert len(refused) == 1, f"exactly one of the racing appends must be refused, got {results}"
    winner = second if refused == ["first"] else first
    assert store.stage_size(upload) == 5 + len(winner)
    assert store.stage_commit(upload).sha256 == sha(b"head:" + winner)


def test_concurrent_puts_from_threads(store: BlobStore) -> None:
    payloads = [os.urandom(50_000 + i) for i in range(8)]
    errors: list[BaseException] = []

    def work(data: bytes) -> None:
        try:
            for _ in range(2):
                store.put([data])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(store.keys()) == {sha(p) for p in payloads}


# -- bounded memory ------------------------------------------------------------------------
def test_64mb_stream_uses_bounded_memory(store: BlobStore) -> None:
    if isinstance(store, MemoryBlobStore):
        pytest.skip("the in-memory fake keeps blobs in RAM by design")
    total = 64 * MIB
    block = os.urandom(MIB)
    expected = hashlib.sha256()

    def stream() -> Iterator[bytes]:
        for i in range(total // MIB):
            piece = i.to_bytes(8, "big") + block[8:]  # distinct blocks, no dedupe shortcuts
            expected.update(piece)
            yield piece

    tracemalloc.start()
    try:
        info = store.put(stream())
        _, peak_put = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        reread = hashlib.sha256()
        for chunk in store.open(info.key):
            reread.update(chunk)
        _, peak_read = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == total
    assert info.sha256 == expected.hexdigest() == reread.hexdigest()
    # S3: the parts in flight plus the one filling plus slack; local: a few read blocks
    limit = (store.upload_concurrency + 2) * S3_PART if store.name == "s3" else 8 * MIB  # type: ignore[attr-defined]
    assert peak_put < limit, f"put peaked at {peak_put / MIB:.1f} MiB"
    assert peak_read < 8 * MIB, f"open peaked at {peak_read / MIB:.1f} MiB"
    assert leftovers(store) == []


# -- property: any chunking of any bytes ---------------------------------------------------
@st.composite
def chunked_bytes(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    data = draw(st.binary(max_size=20_000))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    bounds = [0, *cuts, len(data)]
    return data, [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=chunked_bytes())
def test_any_chunking_hashes_like_hashlib(store: BlobStore, case: tuple[bytes, list[bytes]]) -> None:
    data, pieces = case
    info = store.put(iter(pieces))
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.md5 == md5(data)
    assert info.size == len(data)
    assert store.read_bytes(info.key) == data
    upload = uuid.uuid4().hex
    offset = 0
    for piece in pieces:
        offset = store.stage_append(upload, offset, [piece])
    if not pieces:
        store.stage_append(upload, 0, [])
    assert store.stage_commit(upload, expected_sha256=info.sha256) == info


# -- S3 specifics ----------------------------------------------------------------------------
@pytest.mark.scaleout
def test_s3_multipart_copy_above_the_copy_threshold(seaweed: SeaweedServer) -> None:
    store = s3_store(seaweed, copy_threshold=6 * MIB, copy_part_size=S3_PART)
    try:
        data = os.urandom(BIG)
        info = store.put(io.BytesIO(data))
        assert store.read_bytes(info.key) == data
        assert store.size(info.key) == len(data)
        assert leftovers(store) == []
    finally:
        s3_wipe(store)


@pytest.mark.scaleout
def test_s3_creates_its_bucket_and_collects_crash_litter(seaweed: SeaweedServer) -> None:
    bucket = f"databahn-new-{uuid.uuid4().hex[:8]}"
    store = s3_store(seaweed, bucket=bucket, prefix="")
    client = store.client
    client.head_bucket(Bucket=bucket)  # created on construction
    # what a crashed writer leaves behind: an open multipart upload and a tmp object
    client.create_multipart_upload(Bucket=bucket, Key="tmp/crashed-upload")
    client.put_object(Bucket=bucket, Key="tmp/crashed-copy", Body=b"x")
    assert len(leftovers(store)) == 2
    assert store.gc_tmp(older_than_s=3600) == 0  # too young to be litter
    assert store.gc_tmp(older_than_s=-60) == 2
    assert leftovers(store) == []


@pytest.mark.scaleout
def test_s3_staging_truncate(seaweed: SeaweedServer) -> None:
    store = s3_store(seaweed)
    try:
        upload = uuid.uuid4().hex
        store.stage_append(upload, 0, [b"0123"])
        store.stage_append(upload, 4, [b"4567"])
        store.stage_truncate(upload, 6)
        assert store.stage_size(upload) == 6
        assert store.stage_commit(upload).sha256 == sha(b"012345")
    finally:
        s3_wipe(store)


def test_s3_unreachable_endpoint_is_a_clear_blob_error() -> None:
    pytest.importorskip("boto3")
    from databahn.storage.s3 import S3BlobStore

    (port,) = free_ports(1)
    with pytest.raises(BlobError, match=f"cannot reach S3 at http://127.0.0.1:{port}"):
        S3BlobStore("databahn-test", endpoint_url=f"http://127.0.0.1:{port}", access_key="a", secret_key="b")


def test_s3_errors_map_onto_the_store_errors() -> None:
    """Missing things become BlobNotFound; every other S3 failure a BlobError, never a botocore trace."""
    pytest.importorskip("boto3")
    import boto3
    from botocore.stub import Stubber

    from databahn.storage.s3 import S3BlobStore

    client = boto3.session.Session().client(
        "s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    store = S3BlobStore("databahn-test", prefix="p", create_bucket=False, client=client)
    key = sha(b"x")
    with Stubber(client) as stub:
        stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
        stub.add_client_error("head_object", service_error_code="AccessDenied", http_status_code=403)
        stub.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)
        stub.add_client_error("get_object", service_error_code="InternalError", http_status_code=500)
        with pytest.raises(BlobNotFound):
            store.size(key)
        with pytest.raises(BlobError, match="AccessDenied") as denied:
            store.size(key)
        assert not isinstance(denied.value, BlobNotFound)
        with pytest.raises(BlobNotFound):
            store.open(key)
        with pytest.raises(BlobError, match="InternalError"):
            store.open(key, 3)
        stub.assert_no_pending_responses()


def test_s3_refuses_parts_below_the_s3_minimum() -> None:
    pytest.importorskip("boto3")
    from databahn.storage.s3 import S3BlobStore

    with pytest.raises(ValueError, match="at least 5 MiB"):
        S3BlobStore("databahn-test", part_size=MIB, create_bucket=False, client=object())


# -- factory ---------------------------------------------------------------------------------
def test_factory_local_forms(tmp_path: Path) -> None:
    default = blob_store_from_url(None, tmp_path)
    assert isinstance(default, LocalBlobStore) and default.root == tmp_path / "files"
    assert isinstance(blob_store_from_url("  ", tmp_path), LocalBlobStore)
    relative = blob_store_from_url("blobdata", tmp_path)
    assert isinstance(relative, LocalBlobStore) and relative.root == tmp_path / "blobdata"
    absolute = blob_store_from_url(str(tmp_path / "abs"), tmp_path / "home")
    assert isinstance(absolute, LocalBlobStore) and absolute.root == tmp_path / "abs"
    url = blob_store_from_url(f"file://{tmp_path}/with%20space", tmp_path / "home")
    assert isinstance(url, LocalBlobStore) and url.root == tmp_path / "with space"


def test_factory_memory_forms(tmp_path: Path) -> None:
    a, b = blob_store_from_url("memory://", tmp_path), blob_store_from_url("memory://", tmp_path)
    assert isinstance(a, MemoryBlobStore) and a is not b
    name = f"shared-{uuid.uuid4().hex}"
    assert blob_store_from_url(f"memory://{name}", tmp_path) is blob_store_from_url(
        f"memory://{name}", tmp_path
    )


@pytest.mark.scaleout
def test_factory_s3_url(seaweed: SeaweedServer, tmp_path: Path) -> None:
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    store = blob_store_from_url(f"s3://databahn-test/{prefix}/sub?endpoint={seaweed.endpoint}", tmp_path)
    try:
        assert store.name == "s3"
        key = store.put([b"via the factory"]).key
        listed = seaweed.client().list_objects_v2(Bucket="databahn-test", Prefix=prefix)  # type: ignore[attr-defined]
        assert [o["Key"] for o in listed["Contents"]] == [f"{prefix}/sub/blobs/{key}"]
    finally:
        s3_wipe(store)


@pytest.mark.scaleout
def test_factory_s3_credentials(
    seaweed: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws here

    def credentials(url: str) -> tuple[str, str]:
        store = blob_store_from_url(url, tmp_path)
        creds = store.client._request_signer._credentials  # type: ignore[attr-defined]
        return creds.access_key, creds.secret_key

    endpoint = f"?endpoint={seaweed.endpoint}"
    assert credentials(f"s3://KEY1:se%2Fcret@databahn-test/p{endpoint}") == ("KEY1", "se/cret")
    assert credentials(f"s3://databahn-test/p{endpoint}") == (DUMMY_KEY, DUMMY_SECRET)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
    assert credentials(f"s3://databahn-test/p{endpoint}") == ("ENVKEY", "envsecret")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/x", "unsupported storage URL scheme 'ftp'"),
        ("s3://", "no valid bucket name"),
        ("s3://Bad_Bucket/x", "no valid bucket name"),
        ("s3://bucket:9000/x", "give the server as"),
        ("s3://bucket?foo=1", "unknown option"),
        ("s3://bucket?endpoint=", "exactly one non-empty value"),
        ("s3://bucket?endpoint=localhost:8333", "must be http"),
        ("s3://keyonly@bucket", "both access key and secret"),
        ("file://otherhost/data", "names host 'otherhost'"),
        ("memory://x?y=1", "takes no options"),
    ],
)
def test_factory_rejects_bad_urls(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        blob_store_from_url(url, tmp_path)


def test_factory_error_messages_hide_secrets(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as caught:
        blob_store_from_url("s3://AKIA:topsecret@bucket?nope=1", tmp_path)
    assert "topsecret" not in str(caught.value)
    assert redact_url("s3://AKIA:topsecret@bucket/p?endpoint=x") == "s3://AKIA:***@bucket/p?endpoint=x"
