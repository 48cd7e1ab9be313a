"""Access and trust flows (issue 3) on both deployments: groups and roles, sharing on deposit,
embargoes (and their scheduled lifting), access requests and grants, share links, notifications
(in-app and SMTP), the audit log, and bad input answered with a clear 4xx that changes nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from databahn.access.models import AccessRequest, Group, Notification
from databahn.access.plugin import lift_expired_embargoes
from databahn.db.models import AuditEvent, Dataset, SearchDoc, Version
from databahn.services.hub import Hub
from tests.conftest import FULL_METADATA, Actor, make_actor

CONTENT = b"t,v\n0,3.4\n"


def _future(days: int) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


def deposit(
    api: TestClient, actor: Actor, *, title: str = "Cycling", publish: bool = True, **body: Any
) -> str:
    r = api.post(
        "/api/datasets", headers=actor.headers, json={"metadata": {**FULL_METADATA, "title": title}, **body}
    )
    assert r.status_code == 201, r.text
    pid = str(r.json()["pid"])
    r = api.put(f"/api/datasets/{pid}/files/data.csv", headers=actor.headers, content=CONTENT)
    assert r.status_code == 201, r.text
    if publish:
        r = api.post(f"/api/datasets/{pid}/publish", headers=actor.headers)
        assert r.status_code == 200, r.text
    return pid


@pytest.fixture
def admin(hub: Hub) -> Actor:
    return make_actor(hub, "adam", admin=True)


def count(hub: Hub, model: Any) -> int:
    with hub.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# -- groups and roles -------------------------------------------------------------------------------
def test_groups_and_roles(api: TestClient, hub: Hub, admin: Actor, alice: Actor, bob: Actor) -> None:
    r = api.post(
        "/api/groups",
        headers=admin.headers,
        json={"name": "WP2", "kind": "work_package", "members": ["alice"]},
    )
    assert r.status_code == 201 and r.json()["members"] == ["alice"]
    # unknown member: clear 404, no group created
    before = count(hub, Group)
    r = api.post("/api/groups", headers=admin.headers, json={"name": "WP3", "members": ["nobody"]})
    assert r.status_code == 404 and "no user named 'nobody'" in r.json()["detail"]
    assert count(hub, Group) == before
    # duplicates and bad kinds are refused
    assert api.post("/api/groups", headers=admin.headers, json={"name": "wp2"}).status_code == 409
    r = api.post("/api/groups", headers=admin.headers, json={"name": "X", "kind": "club"})
    assert r.status_code == 422 and "stakeholder" in r.json()["detail"]
    # a plain user may not create groups; a WP leader may add members to their group
    r = api.post("/api/groups", headers=bob.headers, json={"name": "mine"})
    assert r.status_code == 403 and "data managers" in r.json()["detail"]
    assert (
        api.post("/api/groups/WP2/members", headers=bob.headers, json={"username": "bob"}).status_code == 403
    )
    r = api.post("/api/groups/WP2/members", headers=admin.headers, json={"username": "alice", "leader": True})
    assert r.json()["leaders"] == ["alice"]
    r = api.post("/api/groups/WP2/members", headers=alice.headers, json={"username": "bob"})
    assert r.status_code == 200 and r.json()["members"] == ["alice", "bob"]
    # roles: admins only, known roles only
    assert api.put("/api/users/bob/roles/data_manager", headers=alice.headers).status_code == 403
    r = api.put("/api/users/bob/roles/overlord", headers=admin.headers)
    assert r.status_code == 422 and "data_manager" in r.json()["detail"]
    assert api.put("/api/users/bob/roles/data_manager", headers=admin.headers).json()["roles"] == [
        "data_manager"
    ]
    me = api.get("/api/access/me", headers=alice.headers).json()
    assert me["roles"] == ["wp_leader"] and me["groups"] == ["WP2"]
    names = [g["name"] for g in api.get("/api/groups", headers=bob.headers).json()]
    assert names == ["WP2", "consortium"]
    # organisations (partners) with an optional ROR id; partner groups point at them
    r = api.post("/api/organisations", headers=admin.headers, json={"name": "DTU", "ror": "not-a-ror"})
    assert r.status_code == 422 and "ROR" in r.json()["detail"]
    r = api.post(
        "/api/organisations", headers=admin.headers, json={"name": "DTU", "ror": "https://ror.org/04qtj9h94"}
    )
    assert r.status_code == 201
    r = api.post(
        "/api/groups", headers=admin.headers, json={"name": "DTU", "kind": "partner", "organisation": "DTU"}
    )
    assert r.status_code == 201 and r.json()["organisation"] == "DTU"
    r = api.post(
        "/api/groups", headers=admin.headers, json={"name": "KIT", "kind": "partner", "organisation": "KIT"}
    )
    assert r.status_code == 404 and "no organisation named 'KIT'" in r.json()["detail"]


# -- deposit options -----------------------------------------------------------------------------------
def test_deposit_bad_access_options_change_nothing(api: TestClient, hub: Hub, alice: Actor) -> None:
    before = count(hub, Dataset)
    cases = [
        (
            {"access": "restricted", "options": {"share_with": ["ghost-group"]}},
            "no group or user named 'ghost-group'",
        ),
        (
            {"access": "public", "options": {"embargo_until": "2001-01-01", "embargo_reason": "IPR"}},
            "not in the future",
        ),
        ({"access": "public", "options": {"embargo_until": _future(30)}}, "needs a reason"),
        ({"access": "public", "options": {"embargo_reason": "IPR"}}, "needs an end date"),
        (
            {"access": "public", "options": {"embargo_until": "next year", "embargo_reason": "IPR"}},
            "YYYY-MM-DD",
        ),
        ({"access": "secret"}, "public, restricted or confidential"),
        ({"access": "public", "options": {"share_with": ["alice"]}}, "restricted or confidential"),
    ]
    for body, message in cases:
        r = api.post("/api/datasets", headers=alice.headers, json={"metadata": FULL_METADATA, **body})
        assert r.status_code == 422, (body, r.text)
        assert message in r.json()["detail"], (body, r.json())
    assert count(hub, Dataset) == before


def test_confidential_is_for_named_people_only(
    api: TestClient, hub: Hub, admin: Actor, alice: Actor, bob: Actor
) -> None:
    api.post("/api/groups", headers=admin.headers, json={"name": "WP2", "members": ["bob"]})
    r = api.post(
        "/api/datasets",
        headers=alice.headers,
        json={"metadata": FULL_METADATA, "access": "confidential", "options": {"share_with": ["WP2"]}},
    )
    assert r.status_code == 422 and "named people only" in r.json()["detail"]
    pid = deposit(api, alice, access="confidential", options={"share_with": ["user:bob"]})
    assert api.get(f"/api/datasets/{pid}/files/data.csv", headers=bob.headers).content == CONTENT
    carol = make_actor(hub, "carol")
    assert api.get(f"/api/datasets/{pid}", headers=carol.headers).status_code == 404
    shared = api.get(f"/api/datasets/{pid}", headers=alice.headers).json()["extras"]["access"]["shared_with"]
    assert shared == ["user:bob"]
    # the audience is not shown to readers who do not govern the dataset
    assert (
        "shared_with" not in api.get(f"/api/datasets/{pid}", headers=bob.headers).json()["extras"]["access"]
    )


def test_restricted_defaults_to_consortium_and_new_versions_keep_audience(
    api: TestClient, hub: Hub, admin: Actor, alice: Actor, bob: Actor
) -> None:
    carol = make_actor(hub, "carol")
    api.put("/api/users/bob/roles/member", headers=admin.headers)  # bob joins the consortium
    pid = deposit(api, alice, access="restricted")
    assert api.get(f"/api/datasets/{pid}/files/data.csv", headers=bob.headers).status_code == 200
    assert api.get(f"/api/datasets/{pid}", headers=carol.headers).status_code == 404
    concept = pid.split(".")[0]
    r = api.post(f"/api/datasets/{concept}/versions", headers=alice.headers)
    v2 = r.json()["pid"]
    assert api.post(f"/api/datasets/{v2}/publish", headers=alice.headers).status_code == 200
    assert api.get(f"/api/datasets/{v2}/files/data.csv", headers=bob.headers).status_code == 200
    assert api.get(f"/api/datasets/{v2}", headers=carol.headers).status_code == 404


def test_journal_embargo_over_six_months_warns(api: TestClient, alice: Actor) -> None:
    pid = deposit(
        api,
        alice,
        options={
            "embargo_until": _future(300),
            "embargo_reason": "journal supplementary data (Nature Energy)",
        },
    )
    info = api.get(f"/api/datasets/{pid}", headers=alice.headers).json()["extras"]["access"]
    assert info["embargo_reason"].startswith("journal")
    assert info["warnings"] and "6 months" in info["warnings"][0]
    short = deposit(api, alice, options={"embargo_until": _future(120), "embargo_reason": "journal paper"})
    assert (
        api.get(f"/api/datasets/{short}", headers=alice.headers).json()["extras"]["access"]["warnings"] == []
    )
    # anonymous readers see the metadata and the embargo, not the files
    anon = api.get(f"/api/datasets/{pid}").json()
    assert anon["files"] == [] and anon["extras"]["access"]["embargo_until"] == _future(300)


# -- embargo lifting ---------------------------------------------------------------------------------------
def test_lift_expired_embargoes_job(api: TestClient, hub: Hub, alice: Actor, bob: Actor) -> None:
    pid = deposit(api, alice, options={"embargo_until": _future(10), "embargo_reason": "IPR evaluation"})
    assert api.get(f"/api/datasets/{pid}/files/data.csv").status_code == 404
    assert lift_expired_embargoes(hub) == {"embargoes_lifted": 0, "grants_expired": 0}
    yesterday = dt.date.today() - dt.timedelta(days=1)
    with hub.write() as s:
        s.execute(update(Version).where(Version.pid == pid).values(embargo_until=yesterday))
    assert lift_expired_embargoes(hub) == {"embargoes_lifted": 1, "grants_expired": 0}
    with hub.read() as s:
        version = s.scalar(select(Version).where(Version.pid == pid))
        assert version is not None and version.embargo_until is None
        assert s.scalar(select(SearchDoc.embargo_until).where(SearchDoc.version_id == version.id)) is None
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "embargo.lift"))
        assert event is not None and event.target == pid and event.detail["until"] == str(yesterday)
    assert api.get(f"/api/datasets/{pid}/files/data.csv").content == CONTENT
    notes = api.get("/api/notifications", headers=alice.headers).json()
    assert notes[0]["subject"] == f"Embargo lifted: {pid}"
    assert lift_expired_embargoes(hub)["embargoes_lifted"] == 0  # idempotent


def test_background_job_runs_when_asked(
    hub: Hub, alice: Actor, api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from databahn.access import plugin

    pid = deposit(api, alice, options={"embargo_until": _future(10), "embargo_reason": "IPR evaluation"})
    with hub.write() as s:
        s.execute(update(Version).where(Version.pid == pid).values(embargo_until=dt.date.today()))
    job = plugin._start_job(hub, interval=0.05)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with hub.read() as s:
                if s.scalar(select(Version.embargo_until).where(Version.pid == pid)) is None:
                    break
            time.sleep(0.05)
        assert job.thread.daemon and job.thread.is_alive()
    finally:
        job.stop()
    assert not job.thread.is_alive()
    with hub.read() as s:
        assert s.scalar(select(Version.embargo_until).where(Version.pid == pid)) is None


# -- access requests ------------------------------------------------------------------------------------------
def test_request_grant_decline_flow(
    api: TestClient, hub: Hub, admin: Actor, alice: Actor, bob: Actor
) -> None:
    pid = deposit(
        api, alice, access="restricted", metadata_only=True, options={"contact": "alice@example.org"}
    )
    record = api.get(f"/api/datasets/{pid}", headers=bob.headers).json()
    assert record["files"] == [] and record["extras"]["access"]["can_request"] is True
    assert record["extras"]["access"]["contact"] == "alice@example.org"
    r = api.post(f"/api/datasets/{pid}/access-requests", headers=bob.headers, json={"reason": "short"})
    assert r.status_code == 422 and "at least 10" in r.json()["detail"]
    r = api.post(
        f"/api/datasets/{pid}/access-requests",
        headers=bob.headers,
        json={"reason": "to compare with our LFP cells"},
    )
    assert r.status_code == 201, r.text
    req_id = r.json()["id"]
    again = api.post(
        f"/api/datasets/{pid}/access-requests", headers=bob.headers, json={"reason": "please, again!"}
    )
    assert again.status_code == 409 and f"request {req_id}" in again.json()["detail"]
    # the owner is notified and sees the request; bob may not answer his own request
    assert (
        api.get("/api/notifications", headers=alice.headers).json()[0]["subject"].startswith("Access request")
    )
    assert [q["id"] for q in api.get("/api/access/requests", headers=alice.headers).json()] == [req_id]
    r = api.post(f"/api/access/requests/{req_id}/grant", headers=bob.headers, json={})
    assert r.status_code == 403 and "owner" in r.json()["detail"]
    carol = make_actor(hub, "carol")
    assert api.post(f"/api/access/requests/{req_id}/grant", headers=carol.headers, json={}).status_code == 403
    assert api.post("/api/access/requests/9999/grant", headers=alice.headers, json={}).status_code == 404
    r = api.post(f"/api/access/requests/{req_id}/grant", headers=alice.headers, json={"until": "2001-01-01"})
    assert r.status_code == 422 and "not in the future" in r.json()["detail"]
    r = api.post(
        f"/api/access/requests/{req_id}/grant",
        headers=alice.headers,
        json={"until": _future(30), "conditions": "cite the dataset"},
    )
    assert r.status_code == 200 and r.json()["state"] == "granted" and r.json()["until"] == _future(30)
    assert api.get(f"/api/datasets/{pid}/files/data.csv", headers=bob.headers).content == CONTENT
    note = api.get("/api/notifications", headers=bob.headers).json()[0]
    assert note["subject"] == f"Access granted: {pid}" and "cite the dataset" in note["body"]
    # a decided request cannot be decided again; nothing changes
    for answer in ("grant", "decline"):
        r = api.post(f"/api/access/requests/{req_id}/{answer}", headers=alice.headers, json={})
        assert r.status_code == 409 and "already granted" in r.json()["detail"]
    # the grant expires by itself (the policy checks the date; the job marks it and tells bob)
    with hub.write() as s:
        s.execute(
            update(AccessRequest)
            .where(AccessRequest.id == req_id)
            .values(until=dt.date.today() - dt.timedelta(1))
        )
    assert api.get(f"/api/datasets/{pid}/files/data.csv", headers=bob.headers).status_code == 404
    assert lift_expired_embargoes(hub)["grants_expired"] == 1
    assert api.get("/api/access/requests", headers=bob.headers).json()[0]["state"] == "expired"
    # decline path, answered by a data manager
    dora = make_actor(hub, "dora")
    api.put("/api/users/dora/roles/data_manager", headers=admin.headers)
    r = api.post(
        f"/api/datasets/{pid}/access-requests", headers=carol.headers, json={"reason": "for my thesis work"}
    )
    r = api.post(
        f"/api/access/requests/{r.json()['id']}/decline", headers=dora.headers, json={"note": "not yet"}
    )
    assert r.status_code == 200 and r.json()["state"] == "declined"
    assert api.get(f"/api/datasets/{pid}/files/data.csv", headers=carol.headers).status_code == 404


def test_hidden_data_cannot_be_requested(api: TestClient, alice: Actor, bob: Actor) -> None:
    pid = deposit(api, alice, access="restricted")  # not announced: hidden entirely
    r = api.post(
        f"/api/datasets/{pid}/access-requests", headers=bob.headers, json={"reason": "I guessed the PID"}
    )
    assert r.status_code == 404
    r2 = api.post(
        "/api/datasets/zzzz-zzzz.v1/access-requests",
        headers=bob.headers,
        json={"reason": "I guessed the PID"},
    )
    assert r2.status_code == 404
    assert r.json()["detail"].replace(pid, "X") == r2.json()["detail"].replace("zzzz-zzzz.v1", "X")


def test_guest_request_by_email_gets_a_link(api: TestClient, alice: Actor) -> None:
    pid = deposit(api, alice, metadata_only=True)
    r = api.post(f"/api/datasets/{pid}/access-requests", json={"reason": "industry evaluation of the cells"})
    assert r.status_code == 422 and "e-mail" in r.json()["detail"]
    r = api.post(
        f"/api/datasets/{pid}/access-requests",
        json={"reason": "industry evaluation of the cells", "email": "guest@example.com"},
    )
    assert r.status_code == 201
    granted = api.post(f"/api/access/requests/{r.json()['id']}/grant", headers=alice.headers, json={}).json()
    link = granted["share_url"]
    assert link and granted["until"] == _future(180)
    assert api.get(f"/api/datasets/{pid}/files/data.csv").status_code == 404
    secret = link.rsplit("/", 1)[1]
    assert api.get(f"/api/datasets/{pid}/files/data.csv", params={"share": secret}).content == CONTENT


# -- share links ---------------------------------------------------------------------------------------------
def test_share_link_for_reviewers(api: TestClient, hub: Hub, alice: Actor, bob: Actor) -> None:
    pid = deposit(api, alice, access="confidential", publish=False)  # a draft under review
    r = api.post(f"/api/datasets/{pid}/share-links", headers=bob.headers, json={"days": 7})
    assert r.status_code == 404  # bob cannot even know it exists
    r = api.post(f"/api/datasets/{pid}/share-links", headers=alice.headers, json={"days": 0})
    assert r.status_code == 422
    link = api.post(
        f"/api/datasets/{pid}/share-links", headers=alice.headers, json={"days": 7, "label": "referees"}
    )
    assert link.status_code == 201
    url, link_id = link.json()["url"], link.json()["id"]
    with TestClient(api.app) as reviewer:
        opened = reviewer.get(url.replace("http://testserver", ""), follow_redirects=False)
        assert opened.status_code == 303 and opened.headers["location"] == f"/datasets/{pid}"
        assert reviewer.get(f"/api/datasets/{pid}/files/data.csv").content == CONTENT
        # revoked: the remembered link stops working at once
        assert api.delete(f"/api/share-links/{link_id}", headers=alice.headers).status_code == 204
        assert reviewer.get(f"/api/datasets/{pid}").status_code == 404
        gone = reviewer.get(url.replace("http://testserver", ""), follow_redirects=False)
        assert gone.status_code == 401 and "revoked" in gone.json()["detail"]
        page = reviewer.get(url.replace("http://testserver", ""), headers={"accept": "text/html"})
        assert page.status_code == 401 and "This link no longer works" in page.text


def test_expired_token_and_tampered_session(api: TestClient, hub: Hub, alice: Actor) -> None:
    token = hub.users.create_token("alice", expires_in_days=1)
    from databahn.db.models import ApiToken

    with hub.write() as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.id == token.id)
            .values(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        )
    before = count(hub, Dataset)
    r = api.post(
        "/api/datasets", headers={"Authorization": f"Bearer {token.secret}"}, json={"metadata": FULL_METADATA}
    )
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    assert count(hub, Dataset) == before
    api.cookies.set("databahn_session", "eyJ1c2VyX2lkIjogMX0=.forged.signature")
    assert api.get("/api/me").json() == {"anonymous": True}
    r = api.post("/api/datasets", json={"metadata": FULL_METADATA})
    assert r.status_code == 401 and count(hub, Dataset) == before


# -- openness after publication ----------------------------------------------------------------------
def test_owner_changes_openness_of_published_version(
    api: TestClient, hub: Hub, alice: Actor, bob: Actor
) -> None:
    pid = deposit(api, alice, title="Zqopenness study", access="restricted")
    assert api.get("/api/search", params={"q": "Zqopenness"}).json()["total"] == 0
    assert (
        api.patch(f"/api/datasets/{pid}/openness", headers=bob.headers, json={"access": "public"}).status_code
        == 404
    )
    r = api.patch(f"/api/datasets/{pid}/openness", headers=alice.headers, json={"access": "public"})
    assert r.status_code == 200 and r.json()["access"] == "public"
    assert api.get("/api/search", params={"q": "Zqopenness"}).json()["total"] == 1
    r = api.patch(
        f"/api/datasets/{pid}/openness",
        headers=alice.headers,
        json={"access": "restricted", "share_with": ["nobody"]},
    )
    assert r.status_code == 422
    assert api.get(f"/api/datasets/{pid}").json()["access"] == "public"  # nothing changed
    with hub.read() as s:
        change = s.scalar(select(AuditEvent).where(AuditEvent.action == "access.change"))
        assert change is not None and change.detail["before"]["access"] == "restricted"


# -- audit ------------------------------------------------------------------------------------------------
def test_audit_log_records_reads_and_is_for_curators(
    api: TestClient, hub: Hub, admin: Actor, alice: Actor, bob: Actor
) -> None:
    api.put("/api/users/bob/roles/member", headers=admin.headers)
    pid = deposit(api, alice, access="restricted")
    assert api.get(f"/api/datasets/{pid}/files/data.csv", headers=bob.headers).status_code == 200
    assert api.get("/api/audit", headers=bob.headers).status_code == 403
    rows = api.get("/api/audit", headers=admin.headers, params={"action": "read.", "actor": "bob"}).json()
    assert [(r["action"], r["target"]) for r in rows] == [("read.files", pid)]
    everything = api.get("/api/audit", headers=admin.headers, params={"target": pid}).json()
    assert {"dataset.create", "dataset.publish", "read.files"} <= {r["action"] for r in everything}
    csv_text = api.get("/api/audit", headers=admin.headers, params={"q": "bob", "format": "csv"}).text
    assert csv_text.splitlines()[0] == "id,at,actor,action,target,detail" and "role.add" in csv_text
    assert api.get("/api/audit", headers=admin.headers, params={"format": "xml"}).status_code == 422


# -- notifications by e-mail --------------------------------------------------------------------------
@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    pytest.importorskip("aiosmtpd")
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    from tests.conftest import free_port

    received: list[Any] = []

    class Handler(Message):  # type: ignore[misc]
        def handle_message(self, message: Any) -> None:
            received.append(message)

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("DATABAHN_SMTP_URL", f"smtp://127.0.0.1:{port}?from=hub@example.org")
    try:
        yield received
    finally:
        controller.stop()


def test_notifications_are_mailed_when_smtp_is_configured(
    api: TestClient, hub: Hub, alice: Actor, bob: Actor, smtp_server: list[Any]
) -> None:
    pid = deposit(api, alice, metadata_only=True)
    r = api.post(
        f"/api/datasets/{pid}/access-requests", headers=bob.headers, json={"reason": "benchmarking our model"}
    )
    api.post(f"/api/access/requests/{r.json()['id']}/grant", headers=alice.headers, json={})
    assert [(m["To"], m["Subject"]) for m in smtp_server] == [
        ("alice@example.org", f"Access request {r.json()['id']} for {pid}"),
        ("bob@example.org", f"Access granted: {pid}"),
    ]
    assert smtp_server[0]["From"] == "hub@example.org"
    with hub.read() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 2


def test_unreachable_smtp_does_not_break_requests(
    api: TestClient, alice: Actor, bob: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("DATABAHN_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    pid = deposit(api, alice, metadata_only=True)
    r = api.post(
        f"/api/datasets/{pid}/access-requests", headers=bob.headers, json={"reason": "benchmarking our model"}
    )
    assert r.status_code == 201 and os.environ["DATABAHN_SMTP_URL"]
