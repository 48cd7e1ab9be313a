"""The DMP inside the hub (issue 6), on both deployments: declared flows, tracking through the access
policy, plan and document versions, maDMP export of the live hub, the API, the CLI and the web pages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from databahn.dmp.store import DmpPlanVersion
from databahn.services.hub import Hub
from databahn.services.policy import SYSTEM
from tests.conftest import FULL_METADATA, Actor, make_actor
from tests.shared import require_shared

DATA = Path(__file__).parent / "data" / "dmp"


def deposit(
    api: TestClient,
    actor: Actor,
    *,
    wp: str = "WP6",
    delivers: Any = "WP6:WP5",
    publish: bool = True,
    access: str = "public",
    title: str = "Galvanostatic cycling of LFP coin cells",
    payload: bytes = b"cycle,voltage\n1,3.4\n",
) -> str:
    meta = {**FULL_METADATA, "work_package": wp, "title": title}
    options = {"delivers": delivers} if delivers else {}
    r = api.post(
        "/api/datasets",
        json={"metadata": meta, "access": access, "options": options},
        headers=actor.headers,
    )
    assert r.status_code == 201, r.text
    pid = str(r.json()["pid"])
    r = api.put(f"/api/datasets/{pid}/files/cycling.csv", content=payload, headers=actor.headers)
    assert r.status_code == 201, r.text
    if publish:
        r = api.post(f"/api/datasets/{pid}/publish", headers=actor.headers)
        assert r.status_code == 200, r.text
    return pid


def statuses(api: TestClient, actor: Actor | None, source: str, target: str) -> list[str]:
    r = api.get("/api/dmp", headers=actor.headers if actor else {})
    assert r.status_code == 200, r.text
    flows = r.json()["tracking"]["flows"]
    return [f["status"] for f in flows if f["flow"]["source"] == source and f["flow"]["target"] == target]


def flow_pids(api: TestClient, actor: Actor | None, source: str, target: str) -> list[str]:
    r = api.get(f"/api/dmp/flows/{source}/{target}", headers=actor.headers if actor else {})
    assert r.status_code == 200, r.text
    return [d["concept_pid"] for d in r.json()["datasets"]]


def test_delivering_after_publish_and_record_extras(api: TestClient, alice: Actor) -> None:
    assert set(statuses(api, None, "WP6", "WP5")) == {"planned"}
    pid = deposit(api, alice, publish=False)
    # a draft is not a delivery, not even for its owner
    assert set(statuses(api, alice, "WP6", "WP5")) == {"planned"}
    record = api.get(f"/api/datasets/{pid}", headers=alice.headers).json()
    declared = record["extras"]["dmp"]["delivers"]
    assert declared == [{"source": "WP6", "target": "WP5", "flow_id": "WP6->WP5#1", "planned": True}]

    assert api.post(f"/api/datasets/{pid}/publish", headers=alice.headers).status_code == 200
    assert "delivering" in statuses(api, None, "WP6", "WP5")
    concept = pid.split(".")[0]
    assert flow_pids(api, None, "WP6", "WP5") == [concept]
    tracking = api.get("/api/dmp").json()["tracking"]
    wp6 = next(t for t in tracking["per_wp"] if t["wp"] == "WP6")
    assert wp6["datasets_out"] == 1 and wp6["bytes_out"] > 0
    assert "WP6->WP5#1" not in tracking["undelivered"]


def test_suggested_flows_without_declaration(api: TestClient, alice: Actor) -> None:
    pid = deposit(api, alice, delivers=None, publish=False)
    extras = api.get(f"/api/datasets/{pid}", headers=alice.headers).json()["extras"]
    suggested = extras["dmp"]["suggested_flows"]
    assert suggested and all(s["source"] == "WP6" for s in suggested)


def test_unplanned_flow_is_recorded_as_unplanned(api: TestClient, alice: Actor) -> None:
    pid = deposit(api, alice, delivers=["WP6:WP1"])
    tracking = api.get("/api/dmp").json()["tracking"]
    unplanned = [(u["source"], u["target"], u["datasets"]) for u in tracking["unplanned"]]
    assert unplanned == [("WP6", "WP1", [pid.split(".")[0]])]
    body = api.get("/api/dmp/flows/WP6/WP1").json()
    assert body["planned"] is False and len(body["datasets"]) == 1


def test_bad_delivers_refused_with_reason(api: TestClient, alice: Actor) -> None:
    meta = {**FULL_METADATA, "work_package": "WP6"}
    cases = {
        "WP6:WP42": "WP42 is not a work package",
        "WP2:WP5": "can only deliver flows leaving WP6",
        "nonsense": "write SOURCE:TARGET",
    }
    for spec, reason in cases.items():
        r = api.post(
            "/api/datasets", json={"metadata": meta, "options": {"delivers": spec}}, headers=alice.headers
        )
        assert r.status_code == 422, r.text
        assert reason in r.json()["detail"], r.json()["detail"]
    no_wp = {k: v for k, v in FULL_METADATA.items() if k != "work_package"}
    r = api.post(
        "/api/datasets", json={"metadata": no_wp, "options": {"delivers": "WP6:WP5"}}, headers=alice.headers
    )
    assert r.status_code == 422 and "--wp" in r.json()["detail"]
    # nothing half-created
    assert api.get("/api/drafts", headers=alice.headers).json() == []


def test_drafts_and_restricted_data_do_not_count_for_others(
    api: TestClient, hub: Hub, alice: Actor, bob: Actor
) -> None:
    deposit(api, alice, access="restricted", title="Restricted cycling data")
    deposit(api, bob, publish=False, title="Bob's draft")
    # bob and anonymous see nothing delivered; alice (owner) and the system see her restricted dataset
    assert set(statuses(api, None, "WP6", "WP5")) == {"planned"}
    assert set(statuses(api, bob, "WP6", "WP5")) == {"planned"}
    assert flow_pids(api, bob, "WP6", "WP5") == []
    assert "delivering" in statuses(api, alice, "WP6", "WP5")
    assert len(flow_pids(api, alice, "WP6", "WP5")) == 1
    dmp = hub.ext["dmp"]
    assert len(dmp.live_state(SYSTEM).deliveries) == 1  # the draft never counts
    comp = {c["wp"]: c for c in api.get("/api/dmp/compliance", headers=bob.headers).json()}
    assert comp["WP6"]["datasets"] == 0
    comp = {c["wp"]: c for c in api.get("/api/dmp/compliance", headers=alice.headers).json()}
    assert comp["WP6"]["datasets"] == 1
    missing = comp["WP6"]["findings"][0]["missing"]
    assert "battinfo_keyword" in missing and "method" not in missing and "license" not in missing


def test_document_versions_kept_and_diffable(api: TestClient, hub: Hub, alice: Actor, bob: Actor) -> None:
    admin = make_actor(hub, "root", admin=True)
    assert api.post("/api/dmp/documents", headers=bob.headers).status_code == 403
    r = api.post("/api/dmp/documents", headers=admin.headers)
    assert r.status_code == 201, r.text
    assert r.json()["number"] == 1
    deposit(api, alice, title="Cycling data that changes the document")
    assert api.post("/api/dmp/documents", headers=admin.headers).json()["number"] == 2
    docs = api.get("/api/dmp/documents", headers=admin.headers).json()
    assert [d["number"] for d in docs] == [1, 2]
    v1 = api.get("/api/dmp/documents/1", headers=admin.headers)
    assert v1.status_code == 200 and "<html" in v1.text.lower()
    diff = api.get("/api/dmp/documents/diff?a=1&b=2", headers=admin.headers)
    assert diff.status_code == 200
    assert "No differences" not in diff.text
    assert re.search(r"[1-9]\d* line\(s\) added", diff.text) and "delivering" in diff.text
    # internal versions are not for everyone; a public one is
    assert api.get("/api/dmp/documents", headers=bob.headers).json() == []
    assert api.get("/api/dmp/documents/1", headers=bob.headers).status_code == 404
    assert api.post("/api/dmp/documents?public=true", headers=admin.headers).json()["number"] == 3
    assert [d["number"] for d in api.get("/api/dmp/documents").json()] == [3]
    r = api.get("/api/dmp/documents/9", headers=admin.headers)
    assert r.status_code == 404 and "versions you may see: 1, 2, 3" in r.json()["detail"]


def test_bad_plan_refused_with_lines_and_nothing_changed(api: TestClient, hub: Hub, bob: Actor) -> None:
    admin = make_actor(hub, "root", admin=True)
    before = api.get("/api/dmp/plans").json()
    assert [p["number"] for p in before] == [1] and before[0]["acronym"] == "BIG-MAP"
    bad = (DATA / "bad_plan.yaml").read_bytes()
    r = api.post("/api/dmp/plans?source=bad_plan.yaml", content=bad, headers=admin.headers)
    assert r.status_code == 422, r.text
    problems = r.json()["errors"]
    assert problems and all(re.fullmatch(r"line \d+", p["field"]) for p in problems)
    assert api.get("/api/dmp/plans").json() == before
    r = api.post("/api/dmp/plans", content=(DATA / "bad_madmp.json").read_bytes(), headers=admin.headers)
    assert r.status_code == 422 and "maDMP" in r.json()["detail"]
    assert api.post("/api/dmp/plans", content=bad, headers=bob.headers).status_code == 403
    # a good plan becomes the current one; the old one is kept
    r = api.post(
        "/api/dmp/plans?source=small_plan.yaml",
        content=(DATA / "small_plan.yaml").read_bytes(),
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    plans = api.get("/api/dmp/plans").json()
    assert [(p["number"], p["current"]) for p in plans] == [(1, False), (2, True)]
    assert api.get("/api/dmp").json()["plan_version"] == 2
    with hub.read() as s:
        assert s.scalar(select(func.count()).select_from(DmpPlanVersion)) == 2


def test_madmp_export_of_live_hub_validates(api: TestClient, alice: Actor) -> None:
    schema_dir = require_shared("schemas", "madmp")
    from jsonschema import Draft202012Validator

    schema = json.loads((schema_dir / "maDMP-schema-1.2.json").read_text(encoding="utf-8"))
    pid = deposit(api, alice)
    r = api.get("/api/dmp/madmp")
    assert r.status_code == 422 and "contact" in r.json()["detail"]
    r = api.get("/api/dmp/madmp?contact_email=dmp@example.org")
    assert r.status_code == 200, r.text
    data = r.json()
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(data)]
    assert errors == []
    live = [d for d in data["dmp"]["dataset"] if d.get("x_databahn_live")]
    assert [d["dataset_id"]["identifier"] for d in live] == [pid.split(".")[0]]


def test_svgs_and_web_dashboard_arrow_lists_dataset(api: TestClient, alice: Actor) -> None:
    deposit(api, alice, title="Dataset behind the arrow")
    svg = api.get("/api/dmp/highway.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert api.get("/api/dmp/wp/WP6.svg").status_code == 200
    r = api.get("/api/dmp/wp/WP42.svg")
    assert r.status_code == 404 and "WP42" in r.json()["detail"]
    assert api.get("/api/dmp/highway.svg?min_size=XB").status_code == 422

    page = api.get("/dmp")
    assert page.status_code == 200
    assert '<a href="/dmp">DMP</a>' in page.text or 'href="/dmp"' in page.text
    assert 'href="/dmp/flows/WP6/WP5"' in page.text  # the arrow is a link
    flow = api.get("/dmp/flows/WP6/WP5")
    assert flow.status_code == 200 and "Dataset behind the arrow" in flow.text
    assert api.get("/dmp/wp/WP6").status_code == 200
    assert "WP6" in api.get("/dmp/compliance").text
    assert api.get("/dmp/documents").status_code == 200
    missing = api.get("/dmp/wp/WP99", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "WP99" in missing.text


def test_cli_uses_the_hub(hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from databahn.dmp import cli as dmp_cli

    monkeypatch.setattr(dmp_cli, "_open_hub", lambda: hub)
    runner = CliRunner()
    res = runner.invoke(dmp_cli.dmp_app, ["load", str(DATA / "bad_plan.yaml")])
    assert res.exit_code != 0 and "line" in res.output
    res = runner.invoke(dmp_cli.dmp_app, ["show"])
    assert res.exit_code == 0, res.output
    assert "BIG-MAP" in res.output
    res = runner.invoke(dmp_cli.dmp_app, ["document", "-o", str(tmp_path / "a.html")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(dmp_cli.dmp_app, ["load", str(DATA / "small_plan.yaml")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(dmp_cli.dmp_app, ["document", "-o", str(tmp_path / "b.html")])
    assert res.exit_code == 0 and "version 2" in res.output
    assert [d.number for d in hub.ext["dmp"].documents(SYSTEM)] == [1, 2]
    res = runner.invoke(dmp_cli.dmp_app, ["diff", "1", "2"])
    assert res.exit_code == 0 and res.output.startswith("--- version 1")
    res = runner.invoke(dmp_cli.dmp_app, ["document", "-o", str(tmp_path / "again.html"), "--version", "1"])
    assert res.exit_code == 0
    assert (tmp_path / "again.html").read_text() == (tmp_path / "a.html").read_text()
    res = runner.invoke(dmp_cli.dmp_app, ["highway", "-o", str(tmp_path / "h.svg")])
    assert res.exit_code == 0 and (tmp_path / "h.svg").read_text().startswith("<svg")


def test_cli_deposit_delivers_then_dmp_show(
    hub: Hub, live: Any, alice: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`databahn deposit ... --wp WP6 --delivers WP6:WP5 --publish` over HTTP, then `databahn dmp show`."""
    from databahn.cli.main import app

    monkeypatch.setenv("DATABAHN_URL", live.url)
    monkeypatch.setenv("DATABAHN_TOKEN", alice.token)
    monkeypatch.setenv("DATABAHN_HOME", str(hub.settings.home))
    monkeypatch.delenv("DATABAHN_DMP_STATE", raising=False)
    for key, value in (
        ("DATABAHN_DATABASE_URL", hub.settings.database_url),
        ("DATABAHN_STORAGE_URL", hub.settings.storage_url),
    ):
        if value:
            monkeypatch.setenv(key, value)
    data = tmp_path / "cycling.csv"
    data.write_text("cycle,capacity\n1,160\n")
    common = [
        "--title",
        "Cycling for WP5",
        "--license",
        "CC-BY-4.0",
        "--creator",
        "Doe, Jane",
        "--description",
        "C/10",
    ]
    runner = CliRunner()
    bad = runner.invoke(app, ["deposit", str(data), *common, "--wp", "WP6", "--delivers", "WP6:WP77"])
    assert bad.exit_code != 0 and "WP77 is not a work package" in bad.stderr
    res = runner.invoke(
        app, ["deposit", str(data), *common, "--wp", "WP6", "--delivers", "WP6:WP5", "--publish"]
    )
    assert res.exit_code == 0, res.stderr
    res = runner.invoke(app, ["dmp", "show", "--json"])
    assert res.exit_code == 0, res.output
    flows = json.loads(res.stdout)["tracking"]["flows"]
    assert next(f for f in flows if f["flow"]["id"] == "WP6->WP5#1")["status"] == "delivering"
    res = runner.invoke(app, ["dmp", "show"])
    assert res.exit_code == 0 and "1 delivering" in res.stdout


def test_pdf_and_dataset_page_panel(api: TestClient, hub: Hub, alice: Actor) -> None:
    pid = deposit(api, alice, delivers=["WP6:WP5", "WP6:WP1"])
    page = api.get(f"/datasets/{pid}")
    assert page.status_code == 200
    assert 'href="/dmp/flows/WP6/WP5"' in page.text and "not in the plan" in page.text
    dmp = hub.ext["dmp"]
    dmp.load(SYSTEM, (DATA / "small_plan.yaml").read_bytes(), "small_plan.yaml")  # a short PDF
    dmp.generate_document(SYSTEM, public=True)
    pdf = api.get("/api/dmp/documents/1.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert api.get("/api/dmp/documents/1.pdf").content == pdf.content  # cached, identical
    assert api.get("/api/dmp/documents/2.pdf").status_code == 404


def test_new_version_keeps_declared_flows_and_counts_only_new_bytes(api: TestClient, alice: Actor) -> None:
    pid = deposit(api, alice, payload=b"a" * 5000)
    concept = pid.split(".")[0]
    r = api.post(f"/api/datasets/{concept}/versions", headers=alice.headers)
    assert r.status_code == 201, r.text
    v2 = r.json()["pid"]
    assert r.json()["extras"]["dmp"]["delivers"][0]["flow_id"] == "WP6->WP5#1"  # inherited
    assert (
        api.put(f"/api/datasets/{v2}/files/more.csv", content=b"b" * 700, headers=alice.headers).status_code
        == 201
    )
    assert api.post(f"/api/datasets/{v2}/publish", headers=alice.headers).status_code == 200
    status = next(
        f for f in api.get("/api/dmp").json()["tracking"]["flows"] if f["flow"]["id"] == "WP6->WP5#1"
    )
    assert status["datasets"] == [concept] and status["bytes"] == 5700  # the shared file is not counted twice
    # changing the work package of a draft that declared flows is caught before publication
    r = api.post(f"/api/datasets/{concept}/versions", headers=alice.headers)
    v3 = r.json()["pid"]
    meta = {**api.get(f"/api/datasets/{v3}", headers=alice.headers).json()["metadata"], "work_package": "WP3"}
    api.put(f"/api/datasets/{v3}/metadata", json=meta, headers=alice.headers)
    r = api.post(f"/api/datasets/{v3}/publish", headers=alice.headers)
    assert r.status_code == 422 and "work package is now WP3" in r.json()["detail"]
    # a new version may declare flows of the work package it is about to get (checked at publication)
    api.delete(f"/api/datasets/{v3}", headers=alice.headers)
    r = api.post(
        f"/api/datasets/{concept}/versions", json={"options": {"delivers": "WP3:WP5"}}, headers=alice.headers
    )
    assert r.status_code == 201, r.text
    v3 = r.json()["pid"]
    assert api.post(f"/api/datasets/{v3}/publish", headers=alice.headers).status_code == 422
    api.put(f"/api/datasets/{v3}/metadata", json={**meta, "work_package": "WP3"}, headers=alice.headers)
    r = api.post(f"/api/datasets/{v3}/publish", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert "delivering" in statuses(api, None, "WP3", "WP5")


def _signed_in(hub: Hub, username: str, *, admin: bool = False) -> TestClient:
    from databahn.api.app import create_app

    hub.users.add(username, password="correct horse battery", is_admin=admin)
    client = TestClient(create_app(hub))
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    r = client.post(
        "/login",
        data={
            "username": username,
            "password": "correct horse battery",
            "csrf_token": token.group(1),
            "next": "/dmp",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def test_web_manager_loads_plan_and_generates_documents(hub: Hub) -> None:
    admin = _signed_in(hub, "root", admin=True)
    page = admin.get("/dmp")
    assert 'action="/dmp/plans"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    csrf = token.group(1)
    bad = admin.post(
        "/dmp/plans",
        data={"csrf_token": csrf},
        files={"plan": ("bad_plan.yaml", (DATA / "bad_plan.yaml").read_bytes(), "application/yaml")},
    )
    assert bad.status_code == 422 and "line 17" in bad.text and "Nothing was changed" in bad.text
    forged = admin.post(
        "/dmp/plans", data={"csrf_token": "x" * 30}, files={"plan": ("p.yaml", b"x", "text/plain")}
    )
    assert forged.status_code == 403
    good = admin.post(
        "/dmp/plans",
        data={"csrf_token": csrf},
        files={"plan": ("small_plan.yaml", (DATA / "small_plan.yaml").read_bytes(), "application/yaml")},
    )
    assert good.status_code == 200 and "Loaded MINI as plan version 2" in good.text
    r = admin.post("/dmp/documents", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dmp/documents/1"
    assert "MINI" in admin.get("/dmp/documents/1").text
    # someone who is not a manager gets no form and cannot load
    user = _signed_in(hub, "carol")
    page = user.get("/dmp")
    assert 'action="/dmp/plans"' not in page.text
    csrf_user = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf_user
    r = user.post(
        "/dmp/plans",
        data={"csrf_token": csrf_user.group(1)},
        files={"plan": ("small_plan.yaml", (DATA / "small_plan.yaml").read_bytes(), "application/yaml")},
    )
    assert r.status_code == 403
    assert user.get("/dmp/documents").text.count("/dmp/documents/1") == 0  # internal version


def test_data_manager_may_manage_the_plan(api: TestClient, hub: Hub, bob: Actor) -> None:
    access = hub.ext.get("access")
    if access is None or not hasattr(access, "set_role"):
        pytest.skip("the access plugin (data manager role) is not installed")
    assert api.post("/api/dmp/documents", headers=bob.headers).status_code == 403
    access.set_role(make_actor(hub, "root", admin=True).principal, "bob", "data_manager")
    r = api.post("/api/dmp/documents", headers=bob.headers)
    assert r.status_code == 201, r.text
    assert [d["number"] for d in api.get("/api/dmp/documents", headers=bob.headers).json()] == [1]
