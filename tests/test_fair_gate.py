"""The FAIR gate before publication and the FAIR report in the API and on the web page."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from databahn.config import Settings
from databahn.errors import DatabahnError
from databahn.interop.fair_gate import FairGate, config_from_env
from databahn.services.hub import Hub
from tests.conftest import FULL_METADATA, Actor

#: enough to pass the core's publish rules, but thin on FAIR (no ontology terms, no ORCID, no method...)
THIN = {
    "title": "Some cycling data",
    "creators": [{"name": "Lab 3"}],
    "description": "cycling",
    "license": "CC-BY-4.0",
}


def draft(api: TestClient, actor: Actor, metadata: dict) -> str:
    r = api.post("/api/datasets", json={"metadata": metadata}, headers=actor.headers)
    assert r.status_code == 201, r.text
    pid = str(r.json()["pid"])
    up = api.put(f"/api/datasets/{pid}/files/data.csv", content=b"t,V\n0,3.2\n", headers=actor.headers)
    assert up.status_code == 201, up.text
    return pid


def set_gate(hub: Hub, **env: str) -> None:
    fair_gate = hub.ext["fair_gate"]
    assert isinstance(fair_gate, FairGate)
    fair_gate.config = config_from_env(env)


def test_gate_blocks_publishing_below_the_minimum(api: TestClient, hub: Hub, alice: Actor) -> None:
    set_gate(hub, DATABAHN_FAIR_MINIMUM="75")
    pid = draft(api, alice, THIN)
    r = api.post(f"/api/datasets/{pid}/publish", headers=alice.headers)
    assert r.status_code == 422
    problem = r.json()
    assert "below the hub's minimum of 75.0%" in problem["detail"]
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert "below the hub's minimum" in fields["fair"]
    # the costliest metrics are named, each on the metadata field to fix, with advice
    assert "Semantic resources (vocabularies)" in fields["keywords"]
    assert "BattINFO/EMMO" in fields["keywords"]
    assert api.get(f"/api/datasets/{pid}", headers=alice.headers).json()["state"] == "draft"

    # the same draft, once described well, passes the same gate
    better = {
        **FULL_METADATA,
        "keywords": ["https://w3id.org/emmo/domain/electrochemistry#electrochemistry_GalvanostaticCycling"],
    }
    assert api.put(f"/api/datasets/{pid}/metadata", json=better, headers=alice.headers).status_code == 200
    report = api.get(f"/api/datasets/{pid}/fair", headers=alice.headers).json()
    assert report["gate"]["active"] is True and report["gate"]["minimum"] == 75.0
    r = api.post(f"/api/datasets/{pid}/publish", headers=alice.headers)
    assert r.status_code == 200, r.text


def test_gate_required_metric_blocks_whatever_the_score(api: TestClient, hub: Hub, alice: Actor) -> None:
    set_gate(hub, DATABAHN_FAIR_REQUIRED="FsF-R1.3-01M")
    pid = draft(api, alice, THIN)  # none of the DMP minimum metadata: the metric fails
    r = api.post(f"/api/datasets/{pid}/publish", headers=alice.headers)
    assert r.status_code == 422
    messages = " ".join(e["message"] for e in r.json()["errors"])
    assert "Community metadata standard (BIG-MAP DMP) (FsF-R1.3-01M) is required" in r.json()["detail"]
    assert "work package" in messages


def test_gate_off_by_default(api: TestClient, hub: Hub, alice: Actor) -> None:
    set_gate(hub)
    pid = draft(api, alice, THIN)
    assert api.post(f"/api/datasets/{pid}/publish", headers=alice.headers).status_code == 200
    report = api.get(f"/api/datasets/{pid}/fair").json()
    assert report["gate"]["active"] is False and report["gate"]["allowed"] is True


def test_gate_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABAHN_FAIR_MINIMUM", "60")
    monkeypatch.setenv("DATABAHN_FAIR_REQUIRED", "FsF-R1.1-01M, FsF-F2-01M")
    hub = Hub(Settings(home=tmp_path / "home"))
    try:
        fair_gate = hub.ext["fair_gate"]
        assert fair_gate.config.minimum_score == 60
        assert fair_gate.config.required == {"FsF-R1.1-01M", "FsF-F2-01M"}
        assert fair_gate.publish_check in hub.hooks.publish_checks
    finally:
        hub.close()
    with pytest.raises(DatabahnError, match="DATABAHN_FAIR_MINIMUM='lots' is not a number"):
        config_from_env({"DATABAHN_FAIR_MINIMUM": "lots"})
    with pytest.raises(DatabahnError, match="between 0"):
        config_from_env({"DATABAHN_FAIR_MINIMUM": "120"})
    with pytest.raises(DatabahnError, match=r"unknown FAIR metric.*FsF-X"):
        config_from_env({"DATABAHN_FAIR_REQUIRED": "FsF-X"})


def test_fair_report_api_follows_the_policy(api: TestClient, hub: Hub, alice: Actor, bob: Actor) -> None:
    set_gate(hub, DATABAHN_FAIR_MINIMUM="50")
    pid = draft(api, alice, FULL_METADATA)
    assert api.get(f"/api/datasets/{pid}/fair").status_code == 404  # a draft is invisible to others
    assert api.get(f"/api/datasets/{pid}/fair", headers=bob.headers).status_code == 404
    r = api.get(f"/api/datasets/{pid}/fair", headers=alice.headers)
    assert r.status_code == 200
    report = r.json()
    assert report["pid"] == pid and 0 < report["score"] < 100
    assert set(report["by_principle"]) == {"F", "A", "I", "R"}
    ids = {m["id"] for m in report["metrics"]}
    assert {"FsF-F1-01D", "FsF-R1.1-01M", "FsF-I2-01M"} <= ids
    license_metric = next(m for m in report["metrics"] if m["id"] == "FsF-R1.1-01M")
    assert license_metric["status"] == "passed" and "CC-BY-4.0" in license_metric["reason"]
    vocab = next(a for a in report["advice"] if a["id"] == "FsF-I2-01M")
    assert "BattINFO/EMMO" in vocab["advice"] and vocab["field"] == "keywords"
    assert report["gate"]["allowed"] is True


def test_fair_page_and_dataset_panel(api: TestClient, alice: Actor) -> None:
    pid = draft(api, alice, THIN)
    assert api.post(f"/api/datasets/{pid}/publish", headers=alice.headers).status_code == 200
    score = api.get(f"/api/datasets/{pid}/fair").json()["score"]
    page = api.get(f"/datasets/{pid}/fair", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f'FAIR self-assessment: <span class="fair-score">{score}%</span>' in html
    assert "Semantic resources (vocabularies)" in html and "BattINFO/EMMO" in html
    assert "FsF-R1.1-01M" in html
    dataset = api.get(f"/datasets/{pid}", headers={"accept": "text/html"}).text
    assert f'<strong class="fair-score">{score}%</strong>' in dataset
    assert f'href="/datasets/{pid}/fair"' in dataset
    missing = api.get("/datasets/zzzz-zzzz.v1/fair", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "<html" in missing.text.lower()
