"""The CLI and the Python client against a live server on 127.0.0.1, on both deployments."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from databahn.cli.main import app
from databahn.client import Client, ClientError
from databahn.services.hub import Hub
from tests.conftest import Actor, LiveServer

runner = CliRunner()


@pytest.fixture
def env(hub: Hub, live: LiveServer, alice: Actor, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "DATABAHN_URL": live.url,
        "DATABAHN_TOKEN": alice.token,
        "DATABAHN_HOME": str(hub.settings.home),
    }
    if hub.settings.database_url:
        values["DATABAHN_DATABASE_URL"] = hub.settings.database_url
    if hub.settings.storage_url:
        values["DATABAHN_STORAGE_URL"] = hub.settings.storage_url
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_deposit_folder_publish_get_search(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "run1"
    (folder / "raw").mkdir(parents=True)
    (folder / "raw" / "cell01.csv").write_text("t,V\n0,3.2\n1,3.3\n")
    (folder / "notes.md").write_text("# notes\n")
    meta = tmp_path / "meta.yaml"
    meta.write_text(
        "creators:\n  - name: Doe, Jane\n    orcid: 0000-0002-1825-0097\n"
        "description: Cycling of LFP cells\nwork_package: WP6\ndata_level: raw\n"
    )
    code, out, err = invoke(
        "deposit",
        str(folder),
        "--title",
        "LFP cycling run 1",
        "--meta",
        str(meta),
        "--keyword",
        "cycling",
        "--license",
        "CC-BY-4.0",
        "--publish",
    )
    assert code == 0, err
    pid = out.strip().splitlines()[-1]
    assert pid.endswith(".v1")

    code, out, _ = invoke("search", "LFP", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["total"] == 1 and result["hits"][0]["pid"] == pid
    code, out, _ = invoke("search", "--facet", "work_package=WP6", "--json")
    assert json.loads(out)["total"] == 1
    code, out, _ = invoke("search", "--facet", "work_package=WP9", "--json")
    assert json.loads(out)["total"] == 0

    dest = tmp_path / "download"
    code, _, err = invoke("get", pid, "-o", str(dest))
    assert code == 0, err
    assert (dest / "raw" / "cell01.csv").read_text() == "t,V\n0,3.2\n1,3.3\n"
    assert (dest / "notes.md").exists()

    # a new version: one changed file, one unchanged (kept, not re-uploaded)
    (folder / "notes.md").write_text("# notes v2\n")
    code, out, err = invoke("deposit", str(folder), "--new-version-of", pid.split(".")[0], "--publish")
    assert code == 0, err
    assert "unchanged, kept" in err
    v2 = out.strip().splitlines()[-1]
    assert v2.endswith(".v2")
    code, out, _ = invoke("versions", pid.split(".")[0], "--json")
    rows = json.loads(out)
    assert [r["version_label"] for r in rows] == ["1.0.0", "2.0.0"]
    assert rows[1]["changes"] == ["changed notes.md"]


def test_cli_errors_are_clear(env: dict[str, str], tmp_path: Path) -> None:
    code, _, err = invoke("deposit", str(tmp_path / "missing.csv"), "--title", "x")
    assert code == 1 and "no such file" in err
    f = tmp_path / "a.csv"
    f.write_text("1\n")
    code, _, err = invoke("deposit", str(f), "--title", "Some title", "--license", "Bogus-1.0")
    assert code == 1 and "SPDX" in err
    code, _, err = invoke("deposit", str(f), "--title", "Some title", "--publish")
    assert code == 1 and "cannot publish yet" in err and "creators" in err
    code, _, err = invoke("get", "zzzz-zzzz")
    assert code == 1 and "no dataset" in err
    code, _, err = invoke("deposit", str(f), "--title", "A title", "--token", "dbn_not-a-token")
    assert code == 1 and "unknown API token" in err
    code, _, err = invoke("search", "--facet", "nonsense")
    assert code == 1 and "KEY=VALUE" in err


def test_server_side_user_and_token_commands(env: dict[str, str]) -> None:
    code, out, err = invoke("user", "add", "carol", "--email", "carol@example.org")
    assert code == 0, err
    code, out, err = invoke("token", "create", "carol")
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    assert token.startswith("dbn_")
    with Client(env["DATABAHN_URL"], token) as client:
        assert client.me()["username"] == "carol"
    code, _, err = invoke("user", "add", "carol")
    assert code == 1 and "already exists" in err
    code, _, err = invoke("token", "create", "nobody")
    assert code == 1 and "no user named" in err


class FlakyTransport(httpx.BaseTransport):
    """Drops the connection on the 2nd chunk PUT, once — as a flaky network would."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.chunk_puts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and request.url.path.startswith("/api/uploads/"):
            self.chunk_puts += 1
            if self.chunk_puts == 2:
                request.read()
                raise httpx.ReadError("connection reset by peer")
        return self.inner.handle_request(request)


def test_client_resumes_chunked_upload(env: dict[str, str], tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    transport = FlakyTransport()
    with Client(env["DATABAHN_URL"], env["DATABAHN_TOKEN"], transport=transport) as client:
        draft = client.create({"title": "A large file"})
        info = client.upload(draft["pid"], path, simple_limit=1024, chunk_size=1024 * 1024)
        assert info["sha256"] == hashlib.sha256(data).hexdigest()
        assert transport.chunk_puts >= 5  # one failed and was retried
        out = client.download(draft["pid"], "big.bin", tmp_path / "back.bin")
        assert out.read_bytes() == data
        with pytest.raises(ClientError) as exc:
            client.upload(draft["pid"], path)
        assert exc.value.status == 409
