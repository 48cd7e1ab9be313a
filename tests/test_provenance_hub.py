"""Provenance inside the hub, on both deployments: deposits with --derived-from, lineage, impact,
refusals (cycles, unknown ids, steps without units), AiiDA import, model cards, samples, redaction
of restricted ancestors in JSON, PROV and SVG, exports and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rdflib
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from databahn.exporters.cli import export_version
from databahn.services.hub import Hub
from databahn.services.policy import ANONYMOUS
from tests.conftest import FULL_METADATA, Actor, LiveServer
from tests.shared import require_shared


def deposit(
    api: TestClient,
    actor: Actor,
    title: str,
    *,
    publish: bool = True,
    access: str = "public",
    expect: int = 201,
    **options: Any,
) -> Any:
    meta = {**FULL_METADATA, "title": title, **options.pop("meta", {})}
    r = api.post(
        "/api/datasets",
        json={"metadata": meta, "access": access, "options": options},
        headers=actor.headers,
    )
    assert r.status_code == expect, r.text
    if expect != 201:
        return r.json()
    pid = str(r.json()["pid"])
    put = api.put(f"/api/datasets/{pid}/files/data.csv", content=b"t,V\n0,3.3\n", headers=actor.headers)
    assert put.status_code == 201, put.text
    if publish:
        assert api.post(f"/api/datasets/{pid}/publish", headers=actor.headers).status_code == 200
    return pid


def lineage(api: TestClient, pid: str, actor: Actor | None = None, **params: Any) -> dict[str, Any]:
    r = api.get(f"/api/datasets/{pid}/lineage", params=params, headers=actor.headers if actor else {})
    assert r.status_code == 200, r.text
    return dict(r.json())


def ids(result: dict[str, Any]) -> set[str]:
    return {n["id"] for n in result["nodes"]}


def test_derived_from_chain_lineage_and_impact(api: TestClient, alice: Actor) -> None:
    raw = deposit(api, alice, "Raw cycling data")
    processed = deposit(
        api,
        alice,
        "Capacity fade table",
        derived_from=[raw],
        activity="analysis",
        software=["galvani==0.4.1@abc123"],
    )
    figure = deposit(api, alice, "Fade figure", derived_from=[processed])
    unrelated = deposit(api, alice, "Other data")

    up = lineage(api, figure, direction="up")
    assert {raw, processed} <= ids(up)
    assert unrelated not in ids(up)
    kinds = {n["id"]: n for n in up["nodes"]}
    assert kinds[processed]["distance"] == 1  # direct derived_from
    assert kinds[raw]["distance"] == 3  # processed <- analysis activity <- raw
    activity = next(n for n in up["nodes"] if n["kind"] == "activity")
    assert activity["activity_type"] == "analysis"
    software = [n for n in up["nodes"] if n["kind"] == "agent" and n["agent_type"] == "software"]
    assert software and software[0]["label"] == "galvani" and software[0]["version"] == "0.4.1"
    assert software[0]["commit"] == "abc123"

    shallow = lineage(api, figure, direction="up", depth=2)
    assert processed in ids(shallow) and raw not in ids(shallow)

    down = lineage(api, raw, direction="down")
    assert {processed, figure} <= ids(down)
    assert all(n["distance"] is None or n["distance"] >= 0 for n in down["nodes"])
    assert raw not in {n["id"] for n in lineage(api, raw, direction="down", depth=0)["nodes"]} - {raw}

    impact = api.get(f"/api/datasets/{raw}/impact").json()
    assert [h["id"] for h in impact["derived"]] == [processed, figure]
    assert impact["count"] == 2

    record = api.get(f"/api/datasets/{processed}").json()
    summary = record["extras"]["provenance"]
    assert [i["id"] for i in summary["inputs"]] == [raw]
    assert [o["id"] for o in summary["outputs"]] == [figure]
    assert summary["activities"][0]["kind"] == "analysis"


def test_software_agents_are_not_duplicated(hub: Hub, api: TestClient, alice: Actor) -> None:
    raw = deposit(api, alice, "Raw")
    deposit(api, alice, "Analysis A", derived_from=[raw], software=["galvani==0.4.1"])
    deposit(api, alice, "Analysis B", derived_from=[raw], software=["galvani==0.4.1"])
    graph, _root, _ = hub.ext["provenance"].neighbourhood(alice.principal, raw, "down", None)
    agents = [n for n in graph if n.kind.value == "agent" and n.label == "galvani"]
    assert len(agents) == 1


def test_cycle_unknown_pid_and_units_refused(api: TestClient, alice: Actor) -> None:
    raw = deposit(api, alice, "Raw")
    processed = deposit(api, alice, "Processed", derived_from=[raw])
    r = api.post(
        "/api/provenance/activities",
        json={"kind": "analysis", "inputs": [processed], "outputs": [raw]},
        headers=alice.headers,
    )
    assert r.status_code == 422
    assert "cycle" in r.json()["detail"]
    assert raw in r.json()["detail"] and processed in r.json()["detail"]

    bad = deposit(api, alice, "Ghost child", derived_from=["zzzz-zzzz"], expect=404)
    assert "unknown identifier 'zzzz-zzzz'" in bad["detail"]
    # the refused deposit left nothing behind
    drafts = api.get("/api/me/drafts", headers=alice.headers)
    if drafts.status_code == 200:
        assert all(d["metadata"]["title"] != "Ghost child" for d in drafts.json())

    r = api.post(
        "/api/provenance/activities",
        json={
            "kind": "measurement",
            "inputs": [raw],
            "steps": [
                {
                    "kind": "constant_current",
                    "action": "charge",
                    "parameters": {"current": -1, "duration": "30 s"},
                }
            ],
        },
        headers=alice.headers,
    )
    assert r.status_code == 422
    assert "current" in r.json()["detail"] and "unit" in r.json()["detail"]

    r = api.post(
        "/api/provenance/activities", json={"kind": "baking", "inputs": [raw]}, headers=alice.headers
    )
    assert r.status_code == 422 and "synthesis" in r.json()["detail"]
    assert deposit(api, alice, "Broken software", derived_from=[raw], software=["galvani=="], expect=422)


def test_activity_with_steps_and_samples(api: TestClient, alice: Actor, bob: Actor) -> None:
    lot = api.post(
        "/api/provenance/samples",
        json={"name": "NMC811 powder", "kind": "material", "supplier": "Umicore", "lot": "L-2024-17"},
        headers=alice.headers,
    )
    assert lot.status_code == 201, lot.text
    lot_id = lot.json()["id"]
    assert lot_id.startswith("smp-")
    electrode = api.post(
        "/api/provenance/samples",
        json={"name": "Cathode sheet 7", "kind": "electrode", "made_from": [lot_id]},
        headers=alice.headers,
    ).json()
    electrolyte = api.post(
        "/api/provenance/samples",
        json={"name": "LP57", "kind": "electrolyte", "commercial": True, "source_identifier": "Sigma 809357"},
        headers=alice.headers,
    ).json()
    cell = api.post(
        "/api/provenance/samples", json={"name": "Coin cell 12", "kind": "cell"}, headers=alice.headers
    ).json()
    assembly = api.post(
        "/api/provenance/activities",
        json={"kind": "assembly", "inputs": [electrode["id"], electrolyte["id"]], "outputs": [cell["id"]]},
        headers=alice.headers,
    )
    assert assembly.status_code == 201, assembly.text
    raw = deposit(api, alice, "Cycling of coin cell 12", publish=False)
    steps = [
        {"kind": "rest", "action": "rest", "parameters": {"duration": "1 h"}},
        {
            "kind": "constant_current",
            "action": "charge",
            "parameters": {"current": "0.5 mA", "cutoff_voltage": "4.3 V"},
        },
    ]
    r = api.post(
        "/api/provenance/activities",
        json={
            "kind": "measurement",
            "inputs": [cell["id"]],
            "outputs": [raw],
            "steps": steps,
            "instrument": "Biologic VMP-300",
        },
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    act = r.json()
    assert [s["kind"] for s in act["steps"]] == ["rest", "constant_current"]
    assert act["steps"][1]["parameters"][0] == {"name": "current", "value": 0.5, "unit": "mA"}
    # bob may not claim alice's dataset as his activity's output
    r = api.post(
        "/api/provenance/activities",
        json={"kind": "analysis", "inputs": [cell["id"]], "outputs": [raw]},
        headers=bob.headers,
    )
    assert r.status_code == 404
    r = api.post(
        "/api/provenance/activities",
        json={"kind": "assembly", "inputs": [electrode["id"]], "outputs": [cell["id"]]},
        headers=bob.headers,
    )
    assert r.status_code == 404 and "not yours" in r.json()["detail"]
    # the cell's page and API name the components, each with an identifier
    got = api.get(f"/api/provenance/samples/{cell['id']}").json()
    assert got["sample_type"] == "cell"
    page = api.get(f"/samples/{electrode['id']}")
    assert page.status_code == 200 and "Cathode sheet 7" in page.text and "NMC811 powder" in page.text
    lineage_up = lineage(api, raw, alice, direction="up")
    assert {cell["id"], electrode["id"], electrolyte["id"], lot_id} <= ids(lineage_up)
    licensed = next(n for n in lineage_up["nodes"] if n["id"] == electrolyte["id"])
    assert licensed["source_identifier"] == "Sigma 809357" and licensed["attributes"] == {}
    assert api.get("/api/provenance/samples/smp-0000-0000").status_code == 404
    listing = api.get("/samples")
    assert listing.status_code == 200 and f'href="/samples/{cell["id"]}"' in listing.text
    assert "Coin cell 12" in listing.text
    r = api.post("/api/provenance/samples", json={"name": "x", "kind": "potato"}, headers=alice.headers)
    assert r.status_code == 422 and "electrode" in r.json()["detail"]


def test_restricted_and_draft_ancestors_are_redacted(
    hub: Hub, api: TestClient, alice: Actor, bob: Actor
) -> None:
    secret = deposit(api, alice, "Secret precursor run", access="confidential")
    draft = deposit(api, alice, "Unfinished calibration", publish=False)
    public = deposit(api, alice, "Public result", derived_from=[secret, draft], activity="analysis")

    mine = lineage(api, public, alice, direction="up")
    assert {secret, draft} <= ids(mine)

    for who in (bob, None):
        theirs = lineage(api, public, who, direction="up")
        text = json.dumps(theirs)
        for hidden in (secret, draft, "Secret precursor run", "Unfinished calibration"):
            assert hidden not in text
        restricted = [n for n in theirs["nodes"] if n.get("restricted")]
        assert len(restricted) == 2 and {n["kind"] for n in restricted} == {"dataset"}
        assert all(n["label"] == "restricted dataset" for n in restricted)

        record = api.get(f"/api/datasets/{public}", headers=who.headers if who else {}).json()
        assert secret not in json.dumps(record) and "Secret precursor" not in json.dumps(record)

        svg = api.get(f"/api/datasets/{public}/provenance.svg", headers=who.headers if who else {})
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert "restricted dataset" in svg.text and "Public result" in svg.text
        assert secret not in svg.text and "Secret precursor" not in svg.text and draft not in svg.text

        for fmt in ("prov-o", "prov-json", "prov-o-jsonld"):
            doc = api.get(
                f"/api/datasets/{public}/provenance",
                params={"format": fmt},
                headers=who.headers if who else {},
            )
            assert doc.status_code == 200
            assert secret not in doc.text and "Secret precursor" not in doc.text and draft not in doc.text

    # the exporter plugins (databahn export --format prov-o) read the redacted record extras
    ttl = export_version(hub, public, "prov-o", None, ANONYMOUS)
    assert isinstance(ttl, bytes)
    assert secret.encode() not in ttl and b"Secret precursor" not in ttl
    owner_ttl = export_version(hub, public, "prov-o", None, alice.principal)
    assert isinstance(owner_ttl, bytes) and secret.encode() in owner_ttl

    # the restricted dataset itself is still not found for bob
    assert api.get(f"/api/datasets/{secret}/lineage", headers=bob.headers).status_code == 404


def test_prov_o_turtle_parses_with_rdflib(hub: Hub, api: TestClient, alice: Actor) -> None:
    raw = deposit(api, alice, "Raw")
    processed = deposit(
        api, alice, "Processed", derived_from=[raw], activity="analysis", software=["numpy==2.0"]
    )
    ttl = export_version(hub, processed, "prov-o", None, ANONYMOUS)
    assert isinstance(ttl, bytes)
    g = rdflib.Graph().parse(data=ttl.decode(), format="turtle")
    prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
    generated = list(g.subject_objects(prov.wasGeneratedBy))
    assert len(generated) == 1
    used = list(g.subject_objects(prov.used))
    assert len(used) == 1
    assert any(str(o).endswith(raw) for _s, o in used)
    assert list(g.subject_objects(prov.wasAssociatedWith))

    data = json.loads(export_version(hub, processed, "prov-json", None, ANONYMOUS))  # type: ignore[arg-type]
    assert {"entity", "activity", "wasGeneratedBy", "used"} <= set(data)
    # a version without recorded provenance still exports as one entity
    lone = deposit(api, alice, "Lonely")
    lone_doc = json.loads(export_version(hub, lone, "prov-json", None, ANONYMOUS))  # type: ignore[arg-type]
    assert len(lone_doc["entity"]) == 1


def test_model_card_and_active_learning_versions(api: TestClient, alice: Actor) -> None:
    data = deposit(api, alice, "DFT training set")
    model = deposit(api, alice, "Capacity model", publish=False, meta={"resource_type": "Model"})
    card = {
        "training_data": [data],
        "init_parameters": {"layers": 3, "lr": 0.001},
        "seeds": {"torch": 42},
        "hardware": "CPU, 2 cores",
        "framework_versions": {"torch": "2.3.1"},
        "timestamp": "2024-05-01T12:00:00Z",
    }
    r = api.put(f"/api/datasets/{model}/model-card", json=card, headers=alice.headers)
    assert r.status_code == 200, r.text
    digest = r.json()["metadata_hash"]
    assert digest.startswith("sha256:") and len(digest) == 71
    assert api.post(f"/api/datasets/{model}/publish", headers=alice.headers).status_code == 200
    got = api.get(f"/api/datasets/{model}/model-card").json()
    assert got["metadata_hash"] == digest and got["card"]["seeds"] == {"torch": 42}
    assert got["verified"] is True

    # the next active-learning step is the next version, linked as a revision of the first
    v2 = api.post(f"/api/datasets/{model}/versions", json={"options": {}}, headers=alice.headers)
    assert v2.status_code in (200, 201), v2.text
    v2pid = v2.json()["pid"]
    r = api.put(
        f"/api/datasets/{v2pid}/model-card", json={**card, "seeds": {"torch": 43}}, headers=alice.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["metadata_hash"] != digest
    up = lineage(api, v2pid, alice, direction="up")
    assert model in ids(up) and data in ids(up)
    revisions = [e for e in up["edges"] if e["link_type"] == "revision_of"]
    assert revisions == [{"source": model, "target": v2pid, "link_type": "revision_of", "label": ""}]

    bad = api.put(f"/api/datasets/{v2pid}/model-card", json={"training_data": []}, headers=alice.headers)
    assert bad.status_code == 422
    plain = deposit(api, alice, "Not a model", publish=False)
    r = api.put(f"/api/datasets/{plain}/model-card", json=card, headers=alice.headers)
    assert r.status_code == 422 and "resource_type" in r.json()["detail"]


@pytest.fixture
def aiida_dir() -> Path:
    return require_shared("realdata", "aiida", "aiida-core")


def test_aiida_import_creates_activities_and_datasets(api: TestClient, alice: Actor, aiida_dir: Path) -> None:
    archive = aiida_dir / "arithmetic.add.aiida"
    r = api.post(
        "/api/provenance/import/aiida",
        params={"filename": archive.name},
        content=archive.read_bytes(),
        headers={**alice.headers, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["by_kind"].get("activity", 0) >= 1
    assert result["by_kind"].get("dataset", 0) >= 2
    assert result["new_nodes"] == result["nodes"]
    activities = api.get("/api/provenance/activities").json()
    calc = next(a for a in activities if a["id"] in result["node_ids"])
    detail = api.get(f"/api/provenance/activities/{calc['id']}").json()
    assert {i["link"] for i in detail["incoming"]} >= {"input_calc", "associated_with"}
    assert any(o["link"] == "create" for o in detail["outgoing"])
    again = api.post(
        "/api/provenance/import/aiida",
        content=archive.read_bytes(),
        headers={**alice.headers, "Content-Type": "application/octet-stream"},
    ).json()
    assert again["new_nodes"] == 0
    # a hub dataset can name an imported AiiDA node as its source
    out = next(o["id"] for o in detail["outgoing"] if o["link"] == "create")
    pid = deposit(api, alice, "Sum, re-analysed", derived_from=[out])
    assert out in ids(lineage(api, pid, alice, direction="up"))

    broken = api.post("/api/provenance/import/aiida", content=b"not a zip", headers=alice.headers)
    assert broken.status_code == 422
    assert api.post("/api/provenance/import/aiida", content=archive.read_bytes()).status_code == 401


def test_dataset_page_shows_graph(api: TestClient, alice: Actor) -> None:
    raw = deposit(api, alice, "Raw for the page")
    processed = deposit(api, alice, "Processed for the page", derived_from=[raw])
    page = api.get(f"/datasets/{processed}")
    assert page.status_code == 200
    assert "<svg" in page.text and f'href="/datasets/{raw}"' in page.text
    assert "Raw for the page" in page.text


def test_cli_lineage_activity_sample(
    hub: Hub, live: LiveServer, alice: Actor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from databahn.cli.main import app as cli_app

    monkeypatch.setenv("DATABAHN_URL", live.url)
    monkeypatch.setenv("DATABAHN_TOKEN", alice.token)
    monkeypatch.setenv("DATABAHN_HOME", str(hub.settings.home))
    if hub.settings.database_url:
        monkeypatch.setenv("DATABAHN_DATABASE_URL", hub.settings.database_url)
    if hub.settings.storage_url:
        monkeypatch.setenv("DATABAHN_STORAGE_URL", hub.settings.storage_url)
    runner = CliRunner()
    with TestClient(live_app(hub)) as api:
        raw = deposit(api, alice, "CLI raw")
        child = deposit(api, alice, "CLI child", publish=False)
    res = runner.invoke(cli_app, ["sample", "add", "LFP powder", "--kind", "material", "--supplier", "ACME"])
    assert res.exit_code == 0, res.output
    sample = res.stdout.strip()
    assert sample.startswith("smp-")
    steps = tmp_path / "steps.yaml"
    steps.write_text("- kind: rest\n  action: rest\n  parameters:\n    duration: 2 h\n")
    res = runner.invoke(
        cli_app,
        [
            "activity",
            "add",
            "--kind",
            "measurement",
            "--input",
            sample,
            "--input",
            raw,
            "--output",
            child,
            "--steps",
            str(steps),
            "--param",
            "temperature=25 degC",
            "--start",
            "2024-05-01T09:00:00Z",
            "--end",
            "2024-05-01T11:00:00Z",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    made = json.loads(res.stdout)
    assert made["steps"][0]["parameters"][0]["unit"] == "h"
    assert made["parameters"] == [{"name": "temperature", "value": 25, "unit": "degC"}]
    assert made["started_at"].startswith("2024-05-01T09:00")
    res = runner.invoke(cli_app, ["lineage", child, "--up", "--json"])
    assert res.exit_code == 0, res.output
    assert {raw, sample} <= {n["id"] for n in json.loads(res.stdout)["nodes"]}
    res = runner.invoke(cli_app, ["lineage", raw, "--down"])
    assert res.exit_code == 0, res.output
    assert "measurement" in res.stdout and child in res.stdout
    ttl = tmp_path / "raw.ttl"
    res = runner.invoke(cli_app, ["export", raw, "--format", "prov-o", "-o", str(ttl)])
    assert res.exit_code == 0, res.output
    graph = rdflib.Graph().parse(ttl, format="turtle")
    assert len(list(graph.subject_objects(rdflib.URIRef("http://www.w3.org/ns/prov#used")))) == 2
    assert child not in ttl.read_text()  # a draft output: hidden from the public export
    res = runner.invoke(cli_app, ["lineage", "zzzz-zzzz"])
    assert res.exit_code == 1 and "zzzz-zzzz" in res.stderr and "Traceback" not in res.output
    steps.write_text("- kind: constant_current\n  action: charge\n  parameters:\n    current: 5\n")
    res = runner.invoke(
        cli_app, ["activity", "add", "--kind", "measurement", "--input", raw, "--steps", str(steps)]
    )
    assert res.exit_code == 1 and "unit" in res.stderr


def live_app(hub: Hub) -> Any:
    from databahn.api.app import create_app

    return create_app(hub)


def test_refusal_messages_do_not_name_restricted_datasets(api: TestClient, alice: Actor, bob: Actor) -> None:
    mine = deposit(api, bob, "Bob's cell data")
    hidden = deposit(api, alice, "Alice's confidential fit", access="confidential", derived_from=[mine])
    shown = deposit(api, alice, "Alice's public summary", derived_from=[hidden])
    r = api.post(
        "/api/provenance/activities",
        json={"kind": "analysis", "inputs": [shown], "outputs": [mine]},
        headers=bob.headers,
    )
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "cycle" in detail and "a restricted dataset" in detail
    assert hidden not in r.text and mine in detail


def test_cli_import_aiida(
    hub: Hub, live: LiveServer, alice: Actor, aiida_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from databahn.cli.main import app as cli_app

    monkeypatch.setenv("DATABAHN_URL", live.url)
    monkeypatch.setenv("DATABAHN_TOKEN", alice.token)
    runner = CliRunner()
    res = runner.invoke(
        cli_app, ["import", "aiida", str(aiida_dir / "export_main_0001_simple.aiida"), "--json"]
    )
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    assert result["by_kind"]["activity"] >= 1 and result["by_kind"]["dataset"] >= 1
    assert result["new_nodes"] == result["nodes"]
    res = runner.invoke(cli_app, ["import", "aiida", str(aiida_dir / "graph1.aiida")])
    assert res.exit_code == 0 and res.stdout.startswith("imported graph1.aiida")


def test_new_version_with_derived_from_is_a_revision(api: TestClient, alice: Actor) -> None:
    raw = deposit(api, alice, "Raw data")
    calib = deposit(api, alice, "Calibration")
    first = deposit(api, alice, "Processed", derived_from=[raw])
    r = api.post(
        f"/api/datasets/{first}/versions",
        json={"options": {"derived_from": [calib], "activity": "analysis"}},
        headers=alice.headers,
    )
    assert r.status_code in (200, 201), r.text
    second = r.json()["pid"]
    up = lineage(api, second, alice, direction="up")
    assert {first, raw, calib} <= ids(up)
    assert {"source": first, "target": second, "link_type": "revision_of", "label": ""} in up["edges"]
    # the first version's lineage is unchanged: it did not use the calibration
    assert calib not in ids(lineage(api, first, alice, direction="up"))
    assert second in ids(lineage(api, raw, alice, direction="down"))
