"""Chunked, resumable uploads with per-chunk checksums, on both deployments."""

from __future__ import annotations

import hashlib
import os

from fastapi.testclient import TestClient

from databahn.services.hub import Hub
from tests.conftest import FULL_METADATA, Actor

CHUNK = 256 * 1024


def start(
    api: TestClient, actor: Actor, pid: str, data: bytes, key: str = "big.bin", **extra: object
) -> dict:
    body = {"key": key, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), **extra}
    r = api.post(f"/api/datasets/{pid}/uploads", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def send(api: TestClient, actor: Actor, upload_id: str, offset: int, chunk: bytes, sha: str | None = None):  # type: ignore[no-untyped-def]
    headers = {**actor.headers, "X-Chunk-Sha256": sha or hashlib.sha256(chunk).hexdigest()}
    return api.put(f"/api/uploads/{upload_id}", params={"offset": offset}, content=chunk, headers=headers)


def test_resumable_upload_survives_interruption(api: TestClient, hub: Hub, alice: Actor) -> None:
    pid = hub.datasets.create(alice.principal, FULL_METADATA).pid
    data = os.urandom(5 * CHUNK + 123)
    state = start(api, alice, pid, data)
    assert state["offset"] == 0
    for i in range(3):
        r = send(api, alice, state["id"], i * CHUNK, data[i * CHUNK : (i + 1) * CHUNK])
        assert r.status_code == 200 and r.json()["offset"] == (i + 1) * CHUNK
    # the client "crashes"; a new one asks where to resume, even by starting the same upload again
    again = start(api, alice, pid, data)
    assert again["id"] == state["id"] and again["offset"] == 3 * CHUNK
    status = api.get(f"/api/uploads/{state['id']}", headers=alice.headers).json()
    assert status["offset"] == 3 * CHUNK
    # not yet complete: completing is refused and says where to resume
    r = api.post(f"/api/uploads/{state['id']}/complete", headers=alice.headers)
    assert r.status_code == 409 and r.json()["offset"] == 3 * CHUNK
    # the file is not visible in the version while incomplete
    assert hub.datasets.get(alice.principal, pid).files == []
    offset = status["offset"]
    while offset < len(data):
        r = send(api, alice, state["id"], offset, data[offset : offset + CHUNK])
        assert r.status_code == 200, r.text
        offset = r.json()["offset"]
    r = api.post(f"/api/uploads/{state['id']}/complete", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["sha256"] == hashlib.sha256(data).hexdigest()
    got = api.get(f"/api/datasets/{pid}/files/big.bin", headers=alice.headers)
    assert got.content == data


def test_bad_chunks_are_refused_and_lose_nothing(api: TestClient, hub: Hub, alice: Actor, bob: Actor) -> None:
    pid = hub.datasets.create(alice.principal, FULL_METADATA).pid
    data = os.urandom(3 * CHUNK)
    state = start(api, alice, pid, data)
    assert send(api, alice, state["id"], 0, data[:CHUNK]).status_code == 200
    # corrupted chunk: refused whole, offset unchanged
    r = send(api, alice, state["id"], CHUNK, data[CHUNK : 2 * CHUNK], sha="f" * 64)
    assert r.status_code == 422 and "chunk checksum mismatch" in r.json()["detail"]
    assert api.get(f"/api/uploads/{state['id']}", headers=alice.headers).json()["offset"] == CHUNK
    # wrong offset: 409 with the offset to resume from
    r = send(api, alice, state["id"], 2 * CHUNK, data[2 * CHUNK :])
    assert r.status_code == 409 and r.json()["offset"] == CHUNK
    # more bytes than announced
    r = send(api, alice, state["id"], CHUNK, data[CHUNK:] + b"extra")
    assert r.status_code == 422 and "larger than the announced" in r.json()["detail"]
    # someone else's upload does not exist for them
    assert api.get(f"/api/uploads/{state['id']}", headers=bob.headers).status_code == 404
    assert send(api, bob, state["id"], CHUNK, data[CHUNK:]).status_code == 404
    assert send(api, alice, state["id"], CHUNK, data[CHUNK:]).status_code == 200
    assert api.post(f"/api/uploads/{state['id']}/complete", headers=alice.headers).status_code == 200


def test_final_checksum_mismatch_discards_upload(api: TestClient, hub: Hub, alice: Actor) -> None:
    pid = hub.datasets.create(alice.principal, FULL_METADATA).pid
    data = os.urandom(CHUNK)
    r = api.post(
        f"/api/datasets/{pid}/uploads",
        json={"key": "x.bin", "size": len(data), "sha256": "a" * 64},
        headers=alice.headers,
    )
    upload_id = r.json()["id"]
    assert send(api, alice, upload_id, 0, data).status_code == 200
    r = api.post(f"/api/uploads/{upload_id}/complete", headers=alice.headers)
    assert r.status_code == 422 and "checksum mismatch" in r.json()["detail"]
    assert hub.datasets.get(alice.principal, pid).files == []
    assert list(hub.store.keys()) == []


def test_abort_upload(api: TestClient, hub: Hub, alice: Actor) -> None:
    pid = hub.datasets.create(alice.principal, FULL_METADATA).pid
    data = os.urandom(CHUNK)
    state = start(api, alice, pid, data)
    send(api, alice, state["id"], 0, data[:1000])
    assert api.delete(f"/api/uploads/{state['id']}", headers=alice.headers).status_code == 204
    assert hub.store.stage_size(state["id"]) == 0
    r = send(api, alice, state["id"], 1000, data[1000:])
    assert r.status_code == 409 and "aborted" in r.json()["detail"]
