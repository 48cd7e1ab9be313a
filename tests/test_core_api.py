"""The core lifecycle over the REST API, on both deployments: draft → publish → new version."""

from __future__ import annotations

import contextlib
import hashlib
import os

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from databahn.db.models import Blob, FileEntry, Version
from databahn.services.hub import Hub
from tests.conftest import FULL_METADATA, Actor


def create_draft(api: TestClient, actor: Actor, metadata: dict | None = None, **kw: object) -> str:
    r = api.post("/api/datasets", json={"metadata": metadata or FULL_METADATA, **kw}, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["pid"])


def put(api: TestClient, actor: Actor, pid: str, key: str, data: bytes, **headers: str) -> dict:
    r = api.put(f"/api/datasets/{pid}/files/{key}", content=data, headers={**actor.headers, **headers})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_deposit_publish_download(api: TestClient, alice: Actor) -> None:
    pid = create_draft(api, alice)
    data = os.urandom(300_000)
    info = put(
        api, alice, pid, "raw/cell01.csv", data, **{"X-Checksum-Sha256": hashlib.sha256(data).hexdigest()}
    )
    assert info["sha256"] == hashlib.sha256(data).hexdigest()
    assert info["md5"] == hashlib.md5(data).hexdigest()
    assert info["size"] == len(data)
    assert info["media_type"] == "text/csv"

    # a draft is invisible to anyone but its owner
    assert api.get(f"/api/datasets/{pid}").status_code == 404
    r = api.post(f"/api/datasets/{pid}/publish", headers=alice.headers)
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["state"] == "published"
    assert record["metadata"]["version"] == "1.0.0"
    assert record["metadata"]["generated_on"] == "2024-03-14"
    assert {"scheme": "hub", "value": pid, "level": "version"} in record["identifiers"]

    anon = api.get(f"/api/datasets/{pid}")
    assert anon.status_code == 200
    got = api.get(f"/api/datasets/{pid}/files/raw/cell01.csv")
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == info["sha256"]
    assert got.headers["etag"] == f'"{info["sha256"]}"'
    assert "cell01.csv" in got.headers["content-disposition"]


def test_published_version_is_immutable(api: TestClient, alice: Actor) -> None:
    pid = create_draft(api, alice)
    put(api, alice, pid, "a.txt", b"hello")
    assert api.post(f"/api/datasets/{pid}/publish", headers=alice.headers).status_code == 200
    r = api.put(
        f"/api/datasets/{pid}/metadata", json={**FULL_METADATA, "title": "changed!"}, headers=alice.headers
    )
    assert r.status_code == 409
    assert "new version" in r.json()["detail"]
    r = api.put(f"/api/datasets/{pid}/files/b.txt", content=b"x", headers=alice.headers)
    assert r.status_code == 409
    r = api.delete(f"/api/datasets/{pid}/files/a.txt", headers=alice.headers)
    assert r.status_code == 409
    assert api.get(f"/api/datasets/{pid}").json()["metadata"]["title"] == FULL_METADATA["title"]


def test_new_version_shares_unchanged_files(api: TestClient, hub: Hub, alice: Actor) -> None:
    pid = create_draft(api, alice)
    big = os.urandom(200_000)
    put(api, alice, pid, "big.bin", big)
    put(api, alice, pid, "notes.txt", b"v1 notes")
    api.post(f"/api/datasets/{pid}/publish", headers=alice.headers)
    concept = pid.split(".")[0]

    r = api.post(f"/api/datasets/{concept}/versions", headers=alice.headers)
    assert r.status_code == 201, r.text
    v2 = r.json()["pid"]
    assert v2 == f"{concept}.v2"
    assert {f["key"] for f in r.json()["files"]} == {"big.bin", "notes.txt"}
    # a second draft of the same dataset is refused
    assert api.post(f"/api/datasets/{concept}/versions", headers=alice.headers).status_code == 409

    api.delete(f"/api/datasets/{v2}/files/notes.txt", headers=alice.headers)
    put(api, alice, v2, "notes.txt", b"v2 notes")
    api.post(f"/api/datasets/{v2}/publish", headers=alice.headers)

    with hub.read() as s:
        # big.bin is one blob referenced by two file rows; nothing was copied
        assert s.scalar(select(func.count()).select_from(Blob)) == 3
        rows = s.scalars(select(FileEntry).where(FileEntry.key == "big.bin")).all()
        assert len(rows) == 2 and rows[0].blob_sha256 == rows[1].blob_sha256
    assert len(list(hub.store.keys())) == 3

    # the concept PID resolves to the latest version; v1 keeps its own content
    latest = api.get(f"/api/datasets/{concept}").json()
    assert latest["pid"] == v2 and latest["is_latest"]
    assert api.get(f"/api/datasets/{pid}/files/notes.txt").content == b"v1 notes"
    assert api.get(f"/api/datasets/{v2}/files/notes.txt").content == b"v2 notes"

    versions = api.get(f"/api/datasets/{concept}/versions").json()
    assert [v["version_label"] for v in versions] == ["1.0.0", "2.0.0"]
    assert versions[1]["changes"] == ["changed notes.txt"]
    # search shows one hit per dataset: the latest version
    hits = api.get("/api/search", params={"q": "cycling"}).json()
    assert hits["total"] == 1 and hits["hits"][0]["pid"] == v2


def test_identifiers_resolve(api: TestClient, alice: Actor) -> None:
    pid = create_draft(api, alice)
    put(api, alice, pid, "a.txt", b"a")
    api.post(f"/api/datasets/{pid}/publish", headers=alice.headers)
    r = api.post(
        f"/api/datasets/{pid}/identifiers",
        json={"scheme": "doi", "value": "https://doi.org/10.5281/ZENODO.123456"},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    api.post(
        f"/api/datasets/{pid}/identifiers",
        json={"scheme": "lab", "value": "KIT-ODIN-0042", "level": "dataset"},
        headers=alice.headers,
    )
    for ident in (
        "10.5281/zenodo.123456",
        "doi:10.5281/Zenodo.123456",
        "KIT-ODIN-0042",
        pid,
        pid.split(".")[0],
    ):
        found = api.get("/api/resolve", params={"id": ident})
        assert found.status_code == 200, ident
        assert found.json()["pid"] == pid
    dup = api.post(
        f"/api/datasets/{pid}/identifiers",
        json={"scheme": "doi", "value": "10.5281/zenodo.123456"},
        headers=alice.headers,
    )
    assert dup.status_code == 409
    bad = api.post(
        f"/api/datasets/{pid}/identifiers", json={"scheme": "doi", "value": "nope"}, headers=alice.headers
    )
    assert bad.status_code == 422 and "not a DOI" in bad.json()["detail"]
    assert api.get("/api/resolve", params={"id": "10.9999/unknown"}).status_code == 404


def test_external_file(api: TestClient, alice: Actor) -> None:
    pid = create_draft(api, alice)
    r = api.post(
        f"/api/datasets/{pid}/external",
        json={"key": "tomography", "url": "10.15151/ESRF-ES-1234", "size": 2_000_000_000_000},
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["external_url"] == "https://doi.org/10.15151/ESRF-ES-1234"
    assert api.post(f"/api/datasets/{pid}/publish", headers=alice.headers).status_code == 200
    record = api.get(f"/api/datasets/{pid}").json()
    assert record["files"][0]["size"] == 2_000_000_000_000
    dl = api.get(f"/api/datasets/{pid}/files/tomography")
    assert dl.status_code == 404 and "outside the hub" in dl.json()["detail"]
    bad = api.post(
        f"/api/datasets/{pid}/external", json={"key": "x", "url": "ftp:/broken"}, headers=alice.headers
    )
    assert bad.status_code in (409, 422)


def test_ranges_and_etags(api: TestClient, alice: Actor) -> None:
    pid = create_draft(api, alice)
    data = bytes(range(256)) * 40
    info = put(api, alice, pid, "bytes.bin", data)
    api.post(f"/api/datasets/{pid}/publish", headers=alice.headers)
    url = f"/api/datasets/{pid}/files/bytes.bin"
    r = api.get(url, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(data)}"
    r = api.get(url, headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == data[-10:]
    r = api.get(url, headers={"Range": "bytes=10000-"})
    assert r.status_code == 206 and r.content == data[10000:]
    r = api.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
    r = api.get(url, headers={"If-None-Match": f'"{info["sha256"]}"'})
    assert r.status_code == 304
    r = api.head(url)
    assert r.status_code == 200 and r.headers["content-length"] == str(len(data))


def test_bad_input_is_refused_clearly(api: TestClient, alice: Actor) -> None:
    # invalid metadata names the field and why
    r = api.post(
        "/api/datasets",
        json={
            "metadata": {
                "title": "ok title",
                "license": "CC-BY-9",
                "creators": [{"name": "X", "orcid": "123"}],
            }
        },
        headers=alice.headers,
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert "license" in fields and "SPDX" in fields["license"]
    assert "creators.0.orcid" in fields
    r = api.post(
        "/api/datasets", json={"metadata": {"title": "ok title", "colour": "red"}}, headers=alice.headers
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "colour"
    r = api.post(
        "/api/datasets", json={"metadata": {"title": "ok title", "work_package": "W2"}}, headers=alice.headers
    )
    assert r.status_code == 422 and "WP2" in r.text

    pid = create_draft(api, alice)
    # publishing an empty draft
    r = api.post(f"/api/datasets/{pid}/publish", headers=alice.headers)
    assert r.status_code == 422 and any(e["field"] == "files" for e in r.json()["errors"])
    # path traversal and control characters in file names
    # (percent-encoded, so the HTTP client does not normalise them away before the server sees them)
    for key in ("%2E%2E/etc/passwd", "a/%2E%2E/%2E%2E/b", "bad%0Aname.txt", "a//b", "%2E/x", "tab%09.txt"):
        r = api.put(f"/api/datasets/{pid}/files/{key}", content=b"x", headers=alice.headers)
        assert r.status_code == 422, (key, r.status_code)
        assert "file name" in r.json()["detail"]
    # checksum mismatch: refused, nothing stored
    r = api.put(
        f"/api/datasets/{pid}/files/c.bin",
        content=b"abc",
        headers={**alice.headers, "X-Checksum-Sha256": "0" * 64},
    )
    assert r.status_code == 422 and "checksum mismatch" in r.json()["detail"]
    # duplicate file name
    put(api, alice, pid, "dup.txt", b"1")
    r = api.put(f"/api/datasets/{pid}/files/dup.txt", content=b"2", headers=alice.headers)
    assert r.status_code == 409 and "already has a file" in r.json()["detail"]
    files = api.get(f"/api/datasets/{pid}/files", headers=alice.headers).json()
    assert [f["key"] for f in files] == ["dup.txt"]
    # writes need a token; a wrong token is 401, not anonymous
    assert api.post("/api/datasets", json={"metadata": FULL_METADATA}).status_code == 401
    r = api.post(
        "/api/datasets", json={"metadata": FULL_METADATA}, headers={"Authorization": "Bearer dbn_wrong"}
    )
    assert r.status_code == 401 and "unknown API token" in r.json()["detail"]
    # unknown endpoints and methods answer problem+json, not HTML
    r = api.get("/api/nope")
    assert r.status_code == 404 and r.json()["status"] == 404
    # someone else's draft: as if it did not exist
    assert api.get(f"/api/datasets/{pid}/files", headers={}).status_code == 404


def test_interrupted_upload_leaves_nothing(hub: Hub, alice: Actor) -> None:
    pid = hub.datasets.create(alice.principal, FULL_METADATA).pid

    def broken_stream():  # type: ignore[no-untyped-def]
        yield os.urandom(1024 * 1024)
        yield os.urandom(1024 * 1024)
        raise ConnectionAbortedError("client went away")

    with contextlib.suppress(ConnectionAbortedError):
        hub.files.put(alice.principal, pid, "big.bin", broken_stream())
    record = hub.datasets.get(alice.principal, pid)
    assert record.files == []
    assert list(hub.store.keys()) == []
    with hub.read() as s:
        assert s.scalar(select(func.count()).select_from(Blob)) == 0
        assert s.scalar(select(func.count()).select_from(Version)) == 1


def test_schema_and_openapi(api: TestClient) -> None:
    schema = api.get("/api/schemas/metadata").json()
    assert "title" in schema["properties"] and "work_package" in schema["properties"]
    assert schema["required"] == ["title"]
    spec = api.get("/openapi.json").json()
    assert "/api/datasets/{pid}/publish" in spec["paths"]
    assert api.get("/api/health").json()["status"] == "ok"
