"""The access commands against a live hub, and the access card and /access page of the web UI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from databahn.api.app import create_app
from databahn.cli.main import app
from databahn.services.hub import Hub
from tests.conftest import FULL_METADATA, Actor, LiveServer, make_actor
from tests.web.conftest import PASSWORD, csrf_of, login

runner = CliRunner()


def invoke(token: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"DATABAHN_TOKEN": token})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def cli_env(hub: Hub, live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    monkeypatch.setenv("DATABAHN_URL", live.url)
    monkeypatch.setenv("DATABAHN_HOME", str(hub.settings.home))
    if hub.settings.database_url:
        monkeypatch.setenv("DATABAHN_DATABASE_URL", hub.settings.database_url)
    if hub.settings.storage_url:
        monkeypatch.setenv("DATABAHN_STORAGE_URL", hub.settings.storage_url)
    return live


def test_cli_access_round_trip(
    hub: Hub, cli_env: LiveServer, alice: Actor, bob: Actor, tmp_path: Path
) -> None:
    admin = make_actor(hub, "adam", admin=True)
    # groups: unknown member and missing rights exit non-zero with the reason
    code, _, err = invoke(admin.token, "group", "add", "WP9", "--member", "ghost")
    assert code == 1 and "no user named 'ghost'" in err
    code, _, err = invoke(bob.token, "group", "add", "WP9")
    assert code == 1 and "only administrators and data managers" in err
    code, out, _ = invoke(admin.token, "group", "add", "WP9", "--kind", "work_package", "--member", "bob")
    assert code == 0 and "created group WP9" in out
    # deposit restricted to WP9, announced metadata-only, under embargo
    data = tmp_path / "cell.csv"
    data.write_bytes(b"t,v\n0,3.4\n")
    (tmp_path / "meta.json").write_text(json.dumps(FULL_METADATA))
    until = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    args = ["deposit", str(data), "--meta", str(tmp_path / "meta.json"), "--access", "restricted"]
    args += ["--share-with", "WP9", "--embargo-until", until, "--embargo-reason", "IPR evaluation"]
    code, out, err = invoke(alice.token, *args, "--metadata-only", "--publish")
    assert code == 0, err
    pid = out.strip().splitlines()[-1]
    carol = make_actor(hub, "carol")
    code, out, err = invoke(carol.token, "access", "request", pid, "--reason", "to reproduce Fig. 3")
    assert code == 0, err
    req_id = out.strip()
    assert req_id.isdigit()
    code, out, _ = invoke(alice.token, "access", "list", "--json")
    rows = json.loads(out)
    assert [(r["id"], r["requester"], r["state"]) for r in rows] == [(int(req_id), "carol", "pending")]
    code, _, err = invoke(carol.token, "access", "grant", req_id)
    assert code == 1 and "only the owner" in err
    grant_until = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    code, out, _ = invoke(alice.token, "access", "grant", req_id, "--until", grant_until)
    assert code == 0 and f"until {grant_until}" in out
    code, _, err = invoke(alice.token, "access", "decline", req_id)
    assert code == 1 and "already granted" in err
    code, _, err = invoke(alice.token, "access", "grant", "999")
    assert code == 1 and "no access request 999" in err
    # audit: curators only
    code, _, err = invoke(bob.token, "audit", "--json")
    assert code == 1 and "administrators and data managers" in err
    code, out, _ = invoke(admin.token, "audit", "--json", "--action", "request.")
    assert code == 0 and {r["action"] for r in json.loads(out)} == {"request.create", "request.grant"}
    code, out, _ = invoke(admin.token, "audit", "--csv", "--target", pid)
    assert code == 0 and out.startswith("id,at,actor,action,target,detail")
    # a share link for reviewers, printed once
    code, out, err = invoke(alice.token, "access", "link", pid, "--days", "3")
    assert code == 0 and out.strip().startswith(cli_env.url + "/s/dbs_")
    code, out, err = invoke(alice.token, "access", "set", pid, "--share-with", "nobody")
    assert code == 1 and "no group or user named 'nobody'" in err


def test_cli_lift_embargoes_server_side(hub: Hub, cli_env: LiveServer) -> None:
    code, out, err = invoke("", "access", "lift-embargoes")
    assert code == 0, err
    assert "lifted 0 embargo(es), expired 0 grant(s)" in out


def test_web_access_card_request_button_and_answer_page(hub: Hub, alice: Actor) -> None:
    hub.users.set_password("alice", PASSWORD)
    hub.users.add("bob", password=PASSWORD, email="bob@example.org")
    owner = alice.principal
    draft = hub.datasets.create(owner, FULL_METADATA, access="restricted", metadata_only=True)
    hub.files.put(owner, draft.pid, "data.csv", iter([b"x,y\n"]))
    hub.datasets.publish(owner, draft.pid)
    with TestClient(create_app(hub)) as bob_web:
        login(bob_web, "bob")
        page = bob_web.get(f"/datasets/{draft.pid}")
        assert page.status_code == 200 and "Request access" in page.text
        # without the CSRF token nothing is sent
        r = bob_web.post(f"/access/request/{draft.pid}", data={"reason": "for a benchmark study"})
        assert r.status_code == 403
        token = csrf_of(page.text)
        r = bob_web.post(
            f"/access/request/{draft.pid}",
            data={"reason": "for a benchmark study", "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert "was sent" in bob_web.get(f"/datasets/{draft.pid}").text
    with TestClient(create_app(hub)) as alice_web:
        login(alice_web, "alice")
        page = alice_web.get("/access")
        assert page.status_code == 200 and "for a benchmark study" in page.text and "Grant" in page.text
        req_id = hub.ext["access"].requests.list(owner)[0].id
        r = alice_web.post(
            f"/access/requests/{req_id}/grant",
            data={"csrf_token": csrf_of(page.text), "until": "", "conditions": "cite us"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert "granted until" in alice_web.get("/access").text
    bob = hub.users.principal_for_user(hub.users.get("bob").id)
    assert hub.datasets.get(bob, draft.pid).files_visible is True
