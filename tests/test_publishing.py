"""Publishing to trusted repositories: Zenodo (against zenodo-mock), InvenioRDM (contract tests of the
documented REST sequence) and DataCite (JSON:API), through the API, the service and the CLI."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from databahn.cli.main import app as cli_app
from databahn.interop.connectors import RepositoryConfigError, load_repositories
from databahn.interop.publishing import PublishingService
from databahn.services.hub import Hub
from tests.conftest import FULL_METADATA, Actor, LiveServer, free_port

FILES = {"raw/cell01.csv": b"t,V\n0,3.20\n1,3.31\n2,3.35\n", "notes.md": b"# Cell 01\nC/10, 25 C\n"}


# -- helpers -------------------------------------------------------------------------------------------
def deposit(
    api: TestClient, actor: Actor, *, access: str = "public", publish: bool = True, **meta: Any
) -> str:
    r = api.post(
        "/api/datasets", json={"metadata": {**FULL_METADATA, **meta}, "access": access}, headers=actor.headers
    )
    assert r.status_code == 201, r.text
    pid = str(r.json()["pid"])
    for key, data in FILES.items():
        up = api.put(f"/api/datasets/{pid}/files/{key}", content=data, headers=actor.headers)
        assert up.status_code == 201, up.text
    if publish:
        r = api.post(f"/api/datasets/{pid}/publish", headers=actor.headers)
        assert r.status_code == 200, r.text
    return pid


def dois(api: TestClient, actor: Actor, pid: str) -> list[str]:
    record = api.get(f"/api/datasets/{pid}", headers=actor.headers).json()
    return [i["value"] for i in record["identifiers"] if i["scheme"] == "doi"]


def configure(monkeypatch: pytest.MonkeyPatch, **repos: dict[str, Any]) -> None:
    monkeypatch.setenv("DATABAHN_REPOSITORIES", json.dumps(repos))


def publishing(hub: Hub) -> PublishingService:
    svc = hub.ext["publishing"]
    assert isinstance(svc, PublishingService)
    return svc


# -- zenodo-mock -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def zenodo_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real HTTP server speaking Zenodo's deposit API (zenodo-mock from PyPI), on a free port."""
    testing = pytest.importorskip("zenodo_mock.testing", reason="pip install zenodo-mock")
    storage = tmp_path_factory.mktemp("zenodo-deposits")
    with testing.spawn(storage) as base_url:
        yield base_url, storage


@pytest.fixture
def zenodo(zenodo_mock: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> str:
    base_url, _storage = zenodo_mock
    configure(monkeypatch, zenodo={"type": "zenodo", "url": base_url, "token": "not-needed-by-the-mock"})
    return base_url


def test_push_to_zenodo_records_doi_and_uploads_files(api: TestClient, alice: Actor, zenodo: str) -> None:
    pid = deposit(api, alice)
    r = api.post(f"/api/datasets/{pid}/publish-to/zenodo", headers=alice.headers)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["status"] == "published"
    assert result["doi"].startswith("10.5072/zenodo.")
    assert result["metadata_only"] is False and result["file_count"] == 2
    assert dois(api, alice, pid) == [result["doi"]]

    # the published record on the repository: metadata, and every file with the hub's checksum
    record = httpx.get(f"{zenodo}/api/records/{result['remote_id']}").json()
    assert record["doi"] == result["doi"]
    meta = record["metadata"]
    assert meta["title"] == FULL_METADATA["title"]
    assert meta["access_right"] == "open" and meta["license"] == "cc-by-4.0"
    assert (
        meta["creators"][0]["name"] == "Doe, Jane" and meta["creators"][0]["orcid"] == "0000-0002-1825-0097"
    )
    assert meta["upload_type"] == "dataset"
    assert any(
        rel["relation"] == "isIdenticalTo" and pid in rel["identifier"] for rel in meta["related_identifiers"]
    )
    got = {}
    for f in record["files"]:
        got[f["key"]] = hashlib.sha256(httpx.get(f["links"]["download"]).content).hexdigest()
    hub_files = api.get(f"/api/datasets/{pid}/files", headers=alice.headers).json()
    expected = {f["key"].replace("/", "%2F"): f["sha256"] for f in hub_files}
    assert got == expected

    # the log says where it went; the same version is pushed once, then refused with its DOI
    log = api.get(f"/api/datasets/{pid}/publications").json()
    assert [(e["repository"], e["status"], e["doi"]) for e in log] == [("zenodo", "published", result["doi"])]
    again = api.post(f"/api/datasets/{pid}/publish-to/zenodo", headers=alice.headers)
    assert again.status_code == 409
    assert result["doi"] in again.json()["detail"] and "new version" in again.json()["detail"]
    assert dois(api, alice, pid) == [result["doi"]]


def test_restricted_data_goes_to_zenodo_as_metadata_only(api: TestClient, alice: Actor, zenodo: str) -> None:
    pid = deposit(api, alice, access="restricted")
    r = api.post(f"/api/datasets/{pid}/publish-to/zenodo", headers=alice.headers)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["metadata_only"] is True and result["file_count"] == 0
    record = httpx.get(f"{zenodo}/api/records/{result['remote_id']}").json()
    assert record["files"] == []
    assert record["metadata"]["access_right"] == "closed"
    assert "kept at the hub" in record["metadata"]["notes"]
    assert dois(api, alice, pid) == [result["doi"]]


def test_push_refusals_are_clear(api: TestClient, alice: Actor, bob: Actor, zenodo: str) -> None:
    draft = deposit(api, alice, publish=False)
    r = api.post(f"/api/datasets/{draft}/publish-to/zenodo", headers=alice.headers)
    assert r.status_code == 409 and "publish it in the hub first" in r.json()["detail"]
    pid = deposit(api, alice)
    assert api.post(f"/api/datasets/{pid}/publish-to/zenodo", headers=bob.headers).status_code == 404
    assert api.post(f"/api/datasets/{pid}/publish-to/zenodo").status_code == 401
    r = api.post(f"/api/datasets/{pid}/publish-to/figshare", headers=alice.headers)
    assert r.status_code == 404
    assert "no repository named 'figshare'" in r.json()["detail"] and "zenodo" in r.json()["detail"]
    assert api.get("/api/repositories").json() == [
        {"name": "zenodo", "type": "zenodo", "url": zenodo, "prefix": None}
    ]
    # nobody else sees a failed or refused push
    assert api.get(f"/api/datasets/{pid}/publications", headers=bob.headers).json() == []


def test_unreachable_repository_is_a_502_and_nothing_is_recorded(
    api: TestClient, alice: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, zenodo={"type": "zenodo", "url": f"http://127.0.0.1:{free_port()}", "timeout": 3})
    pid = deposit(api, alice)
    r = api.post(f"/api/datasets/{pid}/publish-to/zenodo", headers=alice.headers)
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "could not reach zenodo" in r.json()["detail"]
    assert dois(api, alice, pid) == []
    (entry,) = api.get(f"/api/datasets/{pid}/publications", headers=alice.headers).json()
    assert entry["status"] == "failed" and "could not reach" in entry["error"]


def test_cli_publish_to_zenodo_against_live_server(
    hub: Hub, api: TestClient, live: LiveServer, alice: Actor, zenodo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = deposit(api, alice)
    monkeypatch.setenv("DATABAHN_URL", live.url)
    monkeypatch.setenv("DATABAHN_TOKEN", alice.token)
    runner = CliRunner()
    result = runner.invoke(cli_app, ["publish", pid, "--to", "zenodo"])
    assert result.exit_code == 0, result.stderr
    assert f"pushed {pid} to zenodo: 10.5072/zenodo." in result.stdout
    doi = result.stdout.split(": ", 1)[1].strip()
    assert [i.value for i in hub.datasets.get(alice.principal, pid).identifiers if i.scheme == "doi"] == [doi]
    again = runner.invoke(cli_app, ["publish", pid, "--to", "zenodo"])
    assert again.exit_code == 1 and "already pushed to zenodo" in again.stderr
    listed = runner.invoke(cli_app, ["publications", pid])
    assert listed.exit_code == 0 and f"zenodo\tpublished\t{doi}" in listed.stdout
    missing = runner.invoke(cli_app, ["publish", pid, "--to", "nowhere"])
    assert missing.exit_code == 1 and "no repository named 'nowhere'" in missing.stderr


# -- InvenioRDM: contract tests of the documented REST sequence ------------------------------------------------
class FakeInvenio:
    """Answers like InvenioRDM's records API and records every request; `fail` injects errors."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.bodies: dict[tuple[str, str], Any] = {}
        self.uploads: dict[str, bytes] = {}
        self.committed: dict[str, str] = {}
        self.published = False
        self.fail: Callable[[httpx.Request], httpx.Response | None] = lambda request: None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.raw_path.decode().split("?")[0], request.method  # as sent on the wire
        self.calls.append((method, path))
        assert request.headers["authorization"] == "Bearer invenio-token"
        injected = self.fail(request)
        if injected is not None:
            return injected
        body = (
            json.loads(request.content) if request.headers.get("content-type") == "application/json" else None
        )
        self.bodies[(method, path)] = body if body is not None else request.content
        rec = "/api/records/abcd-1234"
        links = {"self_html": "https://rdm.example/uploads/abcd-1234"}
        if (method, path) == ("POST", "/api/records"):
            return httpx.Response(201, json={"id": "abcd-1234", "links": links, **body})
        if (method, path) == ("GET", f"{rec}/draft"):
            return httpx.Response(200, json={"id": "abcd-1234", "links": links})
        if (method, path) == ("GET", rec):
            if self.published:
                return httpx.Response(200, json=self.record())
            return httpx.Response(
                404, json={"status": 404, "message": "The persistent identifier does not exist."}
            )
        if (method, path) == ("GET", f"{rec}/draft/files"):
            entries = [{"key": k, "status": "completed", "checksum": v} for k, v in self.committed.items()]
            return httpx.Response(200, json={"entries": entries})
        if (method, path) == ("POST", f"{rec}/draft/files"):
            return httpx.Response(
                201, json={"entries": [{"key": e["key"], "status": "pending"} for e in body]}
            )
        if method == "PUT" and path.endswith("/content"):
            key = unquote(path.split("/draft/files/")[1].rsplit("/content", 1)[0])
            self.uploads[key] = request.content
            return httpx.Response(200, json={"key": key, "status": "pending"})
        if method == "POST" and path.endswith("/commit"):
            key = unquote(path.split("/draft/files/")[1].rsplit("/commit", 1)[0])
            self.committed[key] = "md5:" + hashlib.md5(self.uploads[key]).hexdigest()
            return httpx.Response(
                200, json={"key": key, "status": "completed", "checksum": self.committed[key]}
            )
        if (method, path) == ("PUT", f"{rec}/draft"):
            return httpx.Response(200, json={"id": "abcd-1234", **body})
        if (method, path) == ("POST", f"{rec}/draft/actions/publish"):
            self.published = True
            return httpx.Response(202, json=self.record())
        return httpx.Response(404, json={"status": 404, "message": f"no route {method} {path}"})

    def record(self) -> dict[str, Any]:
        return {
            "id": "abcd-1234",
            "pids": {"doi": {"identifier": "10.1234/rdm.abcd-1234", "provider": "datacite"}},
            "links": {"self_html": "https://rdm.example/records/abcd-1234"},
        }


@pytest.fixture
def invenio(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> FakeInvenio:
    configure(
        monkeypatch, bigmap={"type": "inveniordm", "url": "https://rdm.example", "token": "invenio-token"}
    )
    fake = FakeInvenio()
    publishing(hub).transport = httpx.MockTransport(fake)
    return fake


def test_inveniordm_documented_sequence_and_payloads(
    api: TestClient, alice: Actor, invenio: FakeInvenio
) -> None:
    pid = deposit(api, alice)
    r = api.post(f"/api/datasets/{pid}/publish-to/bigmap", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["doi"] == "10.1234/rdm.abcd-1234"
    assert r.json()["url"] == "https://rdm.example/records/abcd-1234"
    rec = "/api/records/abcd-1234"
    keys = [f["key"] for f in api.get(f"/api/datasets/{pid}/files").json()]
    assert sorted(keys) == sorted(FILES)
    per_file = []
    for key in keys:
        per_file += [
            ("PUT", f"{rec}/draft/files/{quote(key, safe='')}/content"),
            ("POST", f"{rec}/draft/files/{quote(key, safe='')}/commit"),
        ]
    assert invenio.calls == [
        ("POST", "/api/records"),
        ("GET", f"{rec}/draft/files"),
        ("POST", f"{rec}/draft/files"),
        *per_file,
        ("PUT", f"{rec}/draft"),
        ("POST", f"{rec}/draft/actions/publish"),
    ]
    draft = invenio.bodies[("POST", "/api/records")]
    assert draft["access"] == {"record": "public", "files": "public"}
    assert draft["files"] == {"enabled": True}
    meta = draft["metadata"]
    assert meta["title"] == FULL_METADATA["title"] and meta["resource_type"] == {"id": "dataset"}
    assert meta["creators"][0]["person_or_org"] == {
        "type": "personal",
        "family_name": "Doe",
        "given_name": "Jane",
        "identifiers": [{"scheme": "orcid", "identifier": "0000-0002-1825-0097"}],
    }
    assert meta["rights"] == [{"id": "cc-by-4.0"}]
    assert {"subject": "cycling"} in meta["subjects"]
    assert invenio.bodies[("POST", f"{rec}/draft/files")] == [{"key": k} for k in keys]
    assert invenio.uploads == FILES
    assert set(invenio.committed) == set(FILES)
    assert invenio.bodies[("PUT", f"{rec}/draft")]["metadata"] == meta
    assert dois(api, alice, pid) == ["10.1234/rdm.abcd-1234"]


def test_inveniordm_restricted_is_a_metadata_only_record(
    api: TestClient, alice: Actor, invenio: FakeInvenio
) -> None:
    pid = deposit(api, alice, access="restricted")
    r = api.post(f"/api/datasets/{pid}/publish-to/bigmap", headers=alice.headers)
    assert r.status_code == 200, r.text
    draft = invenio.bodies[("POST", "/api/records")]
    assert draft["files"] == {"enabled": False}
    assert draft["access"] == {"record": "public", "files": "restricted"}
    assert "can be requested there" in draft["metadata"]["description"]
    assert not [c for c in invenio.calls if "/draft/files" in c[1]]
    assert invenio.uploads == {}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            httpx.Response(
                400,
                json={
                    "status": 400,
                    "message": "A validation error occurred.",
                    "errors": [
                        {"field": "metadata.creators", "messages": ["Missing data for required field."]}
                    ],
                },
            ),
            "answered 400 to POST https://rdm.example/api/records/abcd-1234/draft/actions/publish: "
            "A validation error occurred. — metadata.creators: Missing data for required field.",
        ),
        (httpx.Response(503, text="<html>Service Unavailable</html>"), "answered 503"),
        (None, "did not answer within 30 s"),
    ],
    ids=["4xx", "5xx", "timeout"],
)
def test_inveniordm_errors_are_clear_and_nothing_is_recorded(
    api: TestClient, alice: Actor, invenio: FakeInvenio, answer: httpx.Response | None, expected: str
) -> None:
    def fail(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/actions/publish"):
            if answer is None:
                raise httpx.ReadTimeout("timed out", request=request)
            return answer
        return None

    invenio.fail = fail
    pid = deposit(api, alice)
    r = api.post(f"/api/datasets/{pid}/publish-to/bigmap", headers=alice.headers)
    assert r.status_code == 502
    assert expected in r.json()["detail"]
    assert dois(api, alice, pid) == []
    (entry,) = api.get(f"/api/datasets/{pid}/publications", headers=alice.headers).json()
    assert entry["status"] == "failed" and expected in entry["error"] and entry["remote_id"] == "abcd-1234"

    # a retry resumes the same remote draft: no second record, committed files are not sent again
    invenio.fail = lambda request: None
    invenio.calls.clear()
    r = api.post(f"/api/datasets/{pid}/publish-to/bigmap", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert ("POST", "/api/records") not in invenio.calls
    assert not [c for c in invenio.calls if c[1].endswith("/content")]
    assert dois(api, alice, pid) == ["10.1234/rdm.abcd-1234"]
    (entry,) = api.get(f"/api/datasets/{pid}/publications").json()
    assert entry["status"] == "published" and entry["attempts"] == 2


def test_inveniordm_checksum_mismatch_is_refused(api: TestClient, alice: Actor, invenio: FakeInvenio) -> None:
    def corrupt(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/commit"):
            return httpx.Response(200, json={"status": "completed", "checksum": "md5:" + "0" * 32})
        return None

    invenio.fail = corrupt
    pid = deposit(api, alice)
    r = api.post(f"/api/datasets/{pid}/publish-to/bigmap", headers=alice.headers)
    assert r.status_code == 502 and "corrupted" in r.json()["detail"]
    assert ("POST", "/api/records/abcd-1234/draft/actions/publish") not in invenio.calls


# -- DataCite ---------------------------------------------------------------------------------------------------
def test_datacite_registration(
    api: TestClient, hub: Hub, alice: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(
        monkeypatch,
        datacite={
            "type": "datacite",
            "url": "https://api.test.datacite.org",
            "prefix": "10.5072",
            "username": "DEMO.DATABAHN",
            "password_env": "TEST_DATACITE_PASSWORD",
        },
    )
    monkeypatch.setenv("TEST_DATACITE_PASSWORD", "s3cret")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        return httpx.Response(201, json={"data": {"id": body["data"]["attributes"]["doi"], "type": "dois"}})

    publishing(hub).transport = httpx.MockTransport(handler)
    pid = deposit(api, alice)
    r = api.post(f"/api/datasets/{pid}/publish-to/datacite", headers=alice.headers)
    assert r.status_code == 200, r.text
    doi = f"10.5072/databahn.{pid}"
    assert r.json()["doi"] == doi and r.json()["url"] == f"https://doi.org/{doi}"
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/dois")
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"DEMO.DATABAHN:s3cret").decode()
    assert request.headers["content-type"] == "application/vnd.api+json"
    attrs = json.loads(request.content)["data"]["attributes"]
    assert attrs["event"] == "publish" and attrs["doi"] == doi
    assert attrs["url"] == f"{hub.settings.base_url}/datasets/{pid}"
    xml = base64.b64decode(attrs["xml"]).decode()
    assert f'<identifier identifierType="DOI">{doi}</identifier>' in xml
    assert FULL_METADATA["title"] in xml
    assert dois(api, alice, pid) == [doi]


def test_datacite_errors(api: TestClient, hub: Hub, alice: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(
        monkeypatch, dc={"type": "datacite", "url": "https://api.test.datacite.org", "prefix": "10.5072"}
    )
    pid = deposit(api, alice)
    r = api.post(f"/api/datasets/{pid}/publish-to/dc", headers=alice.headers)
    assert r.status_code == 400 and "needs DataCite credentials" in r.json()["detail"]

    configure(
        monkeypatch,
        dc={
            "type": "datacite",
            "url": "https://api.test.datacite.org",
            "prefix": "10.5072",
            "token": "A.B:pw",
        },
    )
    publishing(hub).transport = httpx.MockTransport(
        lambda request: httpx.Response(
            422, json={"errors": [{"source": "url", "title": "Is not a valid URL for this repository"}]}
        )
    )
    r = api.post(f"/api/datasets/{pid}/publish-to/dc", headers=alice.headers)
    assert r.status_code == 502
    assert "url: Is not a valid URL for this repository" in r.json()["detail"]
    assert dois(api, alice, pid) == []


# -- configuration ------------------------------------------------------------------------------------------------
def test_repositories_yaml_and_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABAHN_REPOSITORIES", raising=False)
    assert load_repositories(tmp_path) == {}
    (tmp_path / "repositories.yaml").write_text(
        "zenodo:\n  type: zenodo\n  url: https://sandbox.zenodo.org\n  token_env: TEST_ZENODO_TOKEN\n"
    )
    with pytest.raises(RepositoryConfigError, match="TEST_ZENODO_TOKEN"):
        load_repositories(tmp_path)
    monkeypatch.setenv("TEST_ZENODO_TOKEN", "tok")
    repo = load_repositories(tmp_path)["zenodo"]
    assert (repo.type, repo.url, repo.token) == ("zenodo", "https://sandbox.zenodo.org", "tok")
    assert "tok" not in json.dumps(repo.public())
    (tmp_path / "repositories.yaml").write_text("zenodo: {type: zenodo}\n")
    with pytest.raises(RepositoryConfigError, match="needs an http"):
        load_repositories(tmp_path)
    monkeypatch.setenv("DATABAHN_REPOSITORIES", "{not json")
    with pytest.raises(RepositoryConfigError, match="not valid JSON"):
        load_repositories(tmp_path)


def test_unknown_repository_type_is_a_clear_error(
    api: TestClient, alice: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, figshare={"type": "figshare", "url": "https://api.figshare.com"})
    pid = deposit(api, alice)
    r = api.post(f"/api/datasets/{pid}/publish-to/figshare", headers=alice.headers)
    assert r.status_code == 400
    assert "unknown type 'figshare'" in r.json()["detail"] and "zenodo" in r.json()["detail"]


# -- web page ---------------------------------------------------------------------------------------------------
def test_dataset_page_lists_publications_and_pushes(api: TestClient, hub: Hub, zenodo: str) -> None:
    from databahn.api.app import create_app
    from databahn.services.policy import Principal
    from tests.web.conftest import PASSWORD, csrf_of, login

    info = hub.users.add("carol", password=PASSWORD)
    carol = Actor(
        "carol", hub.users.create_token("carol").secret, Principal(user_id=info.id, username="carol")
    )
    pid = deposit(api, carol)
    assert "Trusted repositories" not in api.get(f"/datasets/{pid}", headers={"accept": "text/html"}).text
    with TestClient(create_app(hub)) as browser:
        login(browser, "carol")
        page = browser.get(f"/datasets/{pid}").text
        assert "Push this version to" in page and '<option value="zenodo">' in page
        forged = browser.post(
            f"/datasets/{pid}/publish-to", data={"repository": "zenodo", "csrf_token": "forged"}
        )
        assert forged.status_code == 403 and dois(api, carol, pid) == []
        r = browser.post(
            f"/datasets/{pid}/publish-to",
            data={"repository": "zenodo", "csrf_token": csrf_of(page)},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == f"/datasets/{pid}"
        (doi,) = dois(api, carol, pid)
        page = browser.get(f"/datasets/{pid}").text
        assert f"Pushed {pid} to zenodo: {doi}" in page
        assert "Push this version to" not in page  # the only repository already has it
        again = browser.post(
            f"/datasets/{pid}/publish-to", data={"repository": "zenodo", "csrf_token": csrf_of(page)}
        )
        assert (
            again.status_code == 200
            and "Could not push to zenodo" in again.text
            and "already pushed" in again.text
        )
    public = api.get(f"/datasets/{pid}", headers={"accept": "text/html"}).text
    assert f'href="https://doi.org/{doi}"' in public and "Push this version to" not in public


def test_migration_downgrades_and_upgrades_alone(tmp_path: Path) -> None:
    import sqlalchemy as sa
    from alembic import command

    from databahn.db.engine import alembic_config, make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        migrate(engine)
        before = set(sa.inspect(engine).get_table_names())
        assert "publications" in before
        command.downgrade(alembic_config(engine), "0006_publishing@-1")
        assert before - set(sa.inspect(engine).get_table_names()) == {"publications"}
        migrate(engine)
        assert set(sa.inspect(engine).get_table_names()) == before
    finally:
        engine.dispose()


def test_zenodo_retry_resumes_the_same_deposition(
    api: TestClient, hub: Hub, alice: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, zenodo={"type": "zenodo", "url": "https://sandbox.zenodo.org", "token": "tok"})
    calls: list[tuple[str, str]] = []
    state = {"fail_publish": True, "published": False}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        calls.append((request.method, path))
        assert request.headers["authorization"] == "Bearer tok"
        dep = {
            "id": 77,
            "state": "done" if state["published"] else "unsubmitted",
            "links": {"bucket": "https://sandbox.zenodo.org/api/files/b-77", "html": "https://z/deposit/77"},
        }
        if request.method == "POST" and path == "/api/deposit/depositions":
            return httpx.Response(201, json=dep)
        if request.method == "GET" and path == "/api/deposit/depositions/77":
            return httpx.Response(
                200, json=dep | ({"doi": "10.5072/zenodo.77"} if state["published"] else {})
            )
        if request.method == "PUT" and path.startswith("/api/files/b-77/"):
            assert request.headers["content-length"] == str(len(request.content))
            return httpx.Response(
                201,
                json={
                    "size": len(request.content),
                    "checksum": "md5:" + hashlib.md5(request.content).hexdigest(),
                },
            )
        if request.method == "PUT" and path == "/api/deposit/depositions/77":
            return httpx.Response(200, json=dep)
        if request.method == "POST" and path == "/api/deposit/depositions/77/actions/publish":
            if state["fail_publish"]:
                return httpx.Response(
                    400,
                    json={
                        "status": 400,
                        "message": "Validation error.",
                        "errors": [{"field": "metadata.license", "message": "Unknown license."}],
                    },
                )
            state["published"] = True
            return httpx.Response(
                202,
                json=dep
                | {
                    "state": "done",
                    "doi": "10.5072/zenodo.77",
                    "links": {"record_html": "https://z/records/77"},
                },
            )
        return httpx.Response(404, json={"status": 404, "message": "not found"})

    publishing(hub).transport = httpx.MockTransport(handler)
    pid = deposit(api, alice)
    r = api.post(f"/api/datasets/{pid}/publish-to/zenodo", headers=alice.headers)
    assert r.status_code == 502
    assert "Validation error. — metadata.license: Unknown license." in r.json()["detail"]
    assert dois(api, alice, pid) == []

    state["fail_publish"] = False
    calls.clear()
    r = api.post(f"/api/datasets/{pid}/publish-to/zenodo", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["doi"] == "10.5072/zenodo.77" and r.json()["url"] == "https://z/records/77"
    assert calls[0] == ("GET", "/api/deposit/depositions/77")
    assert ("POST", "/api/deposit/depositions") not in calls
    assert dois(api, alice, pid) == ["10.5072/zenodo.77"]
