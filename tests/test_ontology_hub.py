"""BattINFO wired into the hub (issue 4): IRIs in metadata, deposit rules, semantic search, term pages.

Runs on both deployments with the real BattINFO closure in ../shared/ontology.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from databahn.ontology.plugin import OntologyService
from databahn.search.index import SearchQuery
from databahn.services.hub import Hub
from tests.conftest import FULL_METADATA, Actor
from tests.shared import require_shared

ECHEM = "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_"
CHAMEO = "https://w3id.org/emmo/domain/characterisation-methodology/chameo#"
ELECTRODE = ECHEM + "0f007072_a8dd_4798_b865_1bf9363be627"
NEGATIVE = ECHEM + "c94c041b_8ea6_43e7_85cc_d2bce7785b4c"
POSITIVE = ECHEM + "aff732a9_238a_4734_977c_b2ba202af126"
INTERPHASE = ECHEM + "54e0c2bd_1bb2_4f9c_9b55_5b6cc34651ec"
GALVANOSTATIC = ECHEM + "79a8802e_8296_459a_b65d_6e5c79e1bf37"
CV = CHAMEO + "CyclicVoltammetry"
LEGACY_NEGATIVE = "http://emmo.info/electrochemistry#electrochemistry_c94c041b_8ea6_43e7_85cc_d2bce7785b4c"


@pytest.fixture
def battinfo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the hub at the shared BattINFO (listed first in a test's arguments: set before the hub)."""
    source = require_shared("ontology")
    monkeypatch.setenv("DATABAHN_ONTOLOGY_DIR", str(source))
    monkeypatch.delenv("DATABAHN_TERM_RULES", raising=False)
    monkeypatch.delenv("DATABAHN_VOCABULARIES", raising=False)
    return source


def meta(**changes: Any) -> dict[str, Any]:
    return {**FULL_METADATA, **changes}


def deposit(
    api: TestClient, actor: Actor, metadata: dict[str, Any], *, publish: bool = True, **kw: Any
) -> str:
    r = api.post("/api/datasets", json={"metadata": metadata, **kw}, headers=actor.headers)
    assert r.status_code == 201, r.text
    pid = str(r.json()["pid"])
    r = api.put(f"/api/datasets/{pid}/files/raw/cell01.csv", content=b"t,U\n0,3.4\n", headers=actor.headers)
    assert r.status_code == 201, r.text
    if publish:
        r = api.post(f"/api/datasets/{pid}/publish", headers=actor.headers)
        assert r.status_code == 200, r.text
    return pid


def search_terms(api: TestClient, *terms: str, actor: Actor | None = None) -> dict[str, Any]:
    r = api.get("/api/search", params=[("term", t) for t in terms], headers=actor.headers if actor else {})
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.shared
def test_labels_are_stored_as_iris_and_shown_as_labels(battinfo: Path, api: TestClient, alice: Actor) -> None:
    metadata = meta(
        keywords=["negative electrode", "my lab notebook 42", LEGACY_NEGATIVE, "Electrode"],
        interface_aspect="Interphase",
        method={"name": "CV", "protocol": "SOP-6.1"},
    )
    r = api.post("/api/datasets", json={"metadata": metadata}, headers=alice.headers)
    assert r.status_code == 201, r.text
    record = r.json()
    stored = record["metadata"]
    # label and legacy IRI both become today's IRI (and are deduplicated); free text stays
    assert stored["keywords"] == [NEGATIVE, "my lab notebook 42", ELECTRODE]
    assert stored["interface_aspect"] == INTERPHASE
    assert stored["method"]["name"] == CV and stored["method"]["protocol"] == "SOP-6.1"
    terms = record["extras"]["terms"]
    assert terms["available"] is True and terms["mode"] == "warn"
    assert terms["labels"] == {
        NEGATIVE: "NegativeElectrode",
        ELECTRODE: "Electrode",
        INTERPHASE: "Interphase",
        CV: "CyclicVoltammetry",
    }
    assert terms["findings"] == []  # keyword, interface aspect and method are all valid terms
    # the dataset page shows labels that link to the class pages
    html = api.get(f"/datasets/{record['pid']}", headers=alice.headers).text
    assert (
        ">NegativeElectrode</a>" in html
        and "/ontology/term?iri=" + urllib.parse.quote(NEGATIVE, safe="") in html
    )
    assert "<dd>Interphase</dd>" in html and "<dd>CyclicVoltammetry<br>" in html  # labels, not IRIs


@pytest.mark.shared
def test_searching_a_class_finds_its_subclasses(
    battinfo: Path, api: TestClient, hub: Hub, alice: Actor
) -> None:
    neg = deposit(api, alice, meta(title="Graphite anode", keywords=["NegativeElectrode"]))
    pos = deposit(api, alice, meta(title="NMC cathode", keywords=["PositiveElectrode", "NMC811"]))
    cv = deposit(api, alice, meta(title="CV only", keywords=["CyclicVoltammetry"], method={"name": "CV"}))

    electrode = search_terms(api, "Electrode")
    assert electrode["total"] == 2
    assert {h["pid"] for h in electrode["hits"]} == {neg, pos}
    assert search_terms(api, NEGATIVE)["total"] == 1  # by IRI
    assert [h["pid"] for h in search_terms(api, "negative electrode")["hits"]] == [neg]
    assert [h["pid"] for h in search_terms(api, "Electrode", "CV")["hits"]] == []  # several terms: AND
    assert [h["pid"] for h in search_terms(api, "Voltammetry")["hits"]] == [cv]  # method tagged via parent
    # the same search without expansion finds nothing: nobody tagged "Electrode" itself
    plain = hub.datasets.search(alice.principal, SearchQuery(facets={"term": [ELECTRODE]}))
    assert plain.total == 0
    # facets by ontology term; the counts match the hits
    assert dict((f["value"], f["count"]) for f in electrode["facets"]["term"])[NEGATIVE] == 1

    # the web search page: a term filter is subclass-aware, and facets show labels, not IRIs
    html = api.get("/search", params={"facet": f"term:{ELECTRODE}"}).text
    assert "2 results" in html and "Graphite anode" in html and "CV only" not in html
    assert "Ontology term: Electrode" in html  # the active filter, by label
    assert '<span class="facet-value">NegativeElectrode</span>' in html

    page = api.get("/api/ontology/terms/Electrode").json()
    assert page["iri"] == ELECTRODE
    assert page["datasets"]["total"] == electrode["total"] == 2
    assert page["datasets"]["direct"] == 0
    children = {c["label"]: c.get("datasets") for c in page["children"]}
    assert (
        children["NegativeElectrode"] == 1 and children["PositiveElectrode"] == 1 and children["Anode"] == 0
    )
    assert any(p["label"] for p in page["parents"])


@pytest.mark.shared
def test_unknown_and_ambiguous_terms_are_refused_with_candidates(
    battinfo: Path, api: TestClient, alice: Actor
) -> None:
    r = api.post("/api/datasets", json={"metadata": meta(keywords=["Welding"])}, headers=alice.headers)
    assert r.status_code == 422, r.text
    body = r.json()
    assert "ambiguous" in body["detail"] and "keywords.0" in body["detail"] and "IRI" in body["detail"]
    assert {e["field"] for e in body["errors"]} == {"keywords.0"}
    assert len(body["candidates"]["keywords.0"]) >= 2
    assert all(c["label"] == "Welding" for c in body["candidates"]["keywords.0"])

    r = api.get("/api/search", params={"term": "Electrod"})
    assert r.status_code == 422
    assert "unknown ontology term 'Electrod'" in r.json()["detail"]
    assert "Electrode" in {c["label"] for c in r.json()["candidates"]}
    r = api.get("/api/search", params={"term": "Powder"})
    assert r.status_code == 422 and "ambiguous" in r.json()["detail"] and len(r.json()["candidates"]) >= 2
    r = api.get("/api/ontology/terms/Electrod")
    assert r.status_code == 404 and "Electrode" in r.json()["detail"]
    # an IRI in BattINFO's namespaces that names no class is a typo, not free text
    typo = ECHEM + "0f007072_a8dd_4798_b865_000000000000"
    r = api.post("/api/datasets", json={"metadata": meta(keywords=["LFP", typo])}, headers=alice.headers)
    assert r.status_code == 422 and "unknown ontology term" in r.json()["detail"]
    assert [e["field"] for e in r.json()["errors"]] == ["keywords.1"]
    # free text that is no term at all is fine: supplementary keywords (DMP 2.1.7)
    pid = deposit(api, alice, meta(keywords=["beamtime 2024 run 7"]), publish=False)
    assert api.get(f"/api/datasets/{pid}", headers=alice.headers).json()["metadata"]["keywords"] == [
        "beamtime 2024 run 7"
    ]


@pytest.mark.shared
def test_require_mode_blocks_publishing_warn_mode_does_not(
    battinfo: Path, api: TestClient, alice: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    incomplete = meta(
        title="CV of NMC811 coin cell", keywords=["beamtime"], method={"name": "Galvanostatic cycling"}
    )
    monkeypatch.setenv("DATABAHN_TERM_RULES", "require")
    pid = deposit(api, alice, incomplete, publish=False)
    r = api.post(f"/api/datasets/{pid}/publish", headers=alice.headers)
    assert r.status_code == 422, r.text
    fields = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert set(fields) == {"keywords", "interface_aspect"}  # the method is a valid term
    assert "no keyword is a BattINFO ontology term" in fields["keywords"]
    assert (
        "CyclicVoltammetry" in fields["keywords"] or "CoinCell" in fields["keywords"]
    )  # suggested from title
    assert "interface_aspect is missing" in fields["interface_aspect"]

    # fixing the draft lets it through
    fixed = {**incomplete, "keywords": ["CoinCell"], "interface_aspect": "Electrode"}
    assert api.put(f"/api/datasets/{pid}/metadata", json=fixed, headers=alice.headers).status_code == 200
    assert api.post(f"/api/datasets/{pid}/publish", headers=alice.headers).status_code == 200

    # a method from the wrong branch is refused in require mode
    wrong = {**fixed, "method": {"name": "NegativeElectrode"}}
    pid = deposit(api, alice, wrong, publish=False)
    r = api.post(f"/api/datasets/{pid}/publish", headers=alice.headers)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["method"]

    # warn mode: the same incomplete deposit publishes, and the record says what is missing
    monkeypatch.setenv("DATABAHN_TERM_RULES", "warn")
    pid = deposit(api, alice, incomplete)
    terms = api.get(f"/api/datasets/{pid}", headers=alice.headers).json()["extras"]["terms"]
    assert {f["field"] for f in terms["findings"]} == {"keywords", "interface_aspect"}
    assert all(f["severity"] == "warning" for f in terms["findings"])
    assert "CyclicVoltammetry" in {s["label"] for s in terms["suggestions"]}
    # findings are advice for whoever can act on them; readers get the labels only
    public = api.get(f"/api/datasets/{pid}").json()["extras"]["terms"]
    assert "findings" not in public and public["labels"] == {GALVANOSTATIC: "GalvanostaticCycling"}

    monkeypatch.setenv("DATABAHN_TERM_RULES", "requier")
    pid = deposit(api, alice, incomplete, publish=False)
    r = api.post(f"/api/datasets/{pid}/publish", headers=alice.headers)
    assert r.status_code == 422 and "DATABAHN_TERM_RULES must be 'warn' or 'require'" in r.text


@pytest.mark.shared
def test_term_counts_respect_access(battinfo: Path, api: TestClient, alice: Actor, bob: Actor) -> None:
    deposit(api, alice, meta(title="Alice public anode", keywords=["NegativeElectrode"]))
    deposit(
        api, bob, meta(title="Bob confidential anode", keywords=["NegativeElectrode"]), access="confidential"
    )
    deposit(api, bob, meta(title="Bob draft anode", keywords=["NegativeElectrode"]), publish=False)
    deposit(api, alice, meta(title="Alice draft anode", keywords=["NegativeElectrode"]), publish=False)

    def total(actor: Actor | None) -> int:
        r = api.get("/api/ontology/term", params={"iri": "Electrode"}, headers=actor.headers if actor else {})
        assert r.status_code == 200, r.text
        return int(r.json()["datasets"]["total"])

    assert total(None) == 1  # only the public, published one
    assert total(alice) == 1  # not bob's confidential dataset, nor anyone's drafts
    assert total(bob) == 2  # bob sees his own confidential one
    assert search_terms(api, "Electrode", actor=alice)["total"] == 1
    html = api.get("/ontology/term", params={"iri": "Electrode"}, headers=alice.headers).text
    assert '<strong data-count="total">1</strong>' in html
    assert "Alice public anode" in html and "Bob confidential anode" not in html
    html = api.get("/ontology/term", params={"iri": "Electrode"}, headers=bob.headers).text
    assert '<strong data-count="total">2</strong>' in html and "Bob confidential anode" in html


@pytest.mark.shared
def test_ontology_api_and_pages(battinfo: Path, api: TestClient) -> None:
    status = api.get("/api/ontology/status").json()
    assert status["available"] is True and status["problems"] == []
    assert status["stats"]["classes"] > 4000 and status["deposit_rules"] == "warn"
    hits = api.get("/api/ontology/search", params={"q": "galvanostatic cyc"}).json()["terms"]
    assert hits[0]["iri"] == GALVANOSTATIC
    assert api.get("/api/ontology/search", params={"q": "CV"}).json()["terms"][0]["iri"] == CV  # synonym
    suggested = api.get("/api/ontology/suggest", params={"text": "NMC811_cyclic-voltammetry_coin cell.csv"})
    assert {"CyclicVoltammetry", "CoinCell"} <= {t["label"] for t in suggested.json()["terms"]}
    labels = api.get("/api/ontology/labels", params=[("iri", NEGATIVE), ("iri", "urn:x")]).json()["labels"]
    assert labels == {NEGATIVE: "NegativeElectrode", "urn:x": "urn:x"}
    by_path = api.get("/api/ontology/terms/" + urllib.parse.quote(LEGACY_NEGATIVE, safe=""))
    assert by_path.status_code == 200 and by_path.json()["iri"] == NEGATIVE

    browser = api.get("/ontology", params={"q": "negative electrode"})
    assert (
        browser.status_code == 200
        and "NegativeElectrode" in browser.text
        and 'href="/ontology"' in browser.text
    )
    page = api.get("/ontology/term", params={"iri": NEGATIVE})
    assert page.status_code == 200 and "Electrode</a>" in page.text and NEGATIVE in page.text
    missing = api.get("/ontology/term", params={"iri": "Electrod"})
    assert missing.status_code == 404 and "Electrode" in missing.text
    index = api.get("/ontology/reference/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert api.get("/ontology/reference/../../secret.key").status_code == 404


def test_hub_without_ontology_still_serves(
    api: TestClient, hub: Hub, alice: Actor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABAHN_ONTOLOGY_DIR", str(tmp_path / "nowhere"))
    svc = hub.ext["ontology"]
    assert isinstance(svc, OntologyService)
    svc.reload()
    status = api.get("/api/ontology/status").json()
    assert status["available"] is False
    assert "semantic features are off" in status["message"] and str(tmp_path / "nowhere") in status["message"]
    # deposits work and keep what was typed; publishing works in warn mode
    pid = deposit(api, alice, meta(keywords=["NegativeElectrode"]))
    assert api.get(f"/api/datasets/{pid}").json()["metadata"]["keywords"] == ["NegativeElectrode"]
    assert api.get("/api/search", params={"q": "cycling"}).json()["total"] == 1
    r = api.get("/api/search", params={"term": "Electrode"})
    assert r.status_code == 503 and "semantic features are off" in r.json()["detail"]
    assert api.get("/api/ontology/search", params={"q": "elec"}).status_code == 503
    assert "Semantic features are off" in api.get("/ontology").text

    # a broken ontology file is named, and the hub keeps serving
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "battery.ttl").write_text("this is not turtle <<<", encoding="utf-8")
    monkeypatch.setenv("DATABAHN_ONTOLOGY_DIR", str(broken))
    svc.reload()
    status = api.get("/api/ontology/status").json()
    assert status["available"] is False and "battery.ttl" in status["message"]
    assert api.get(f"/api/datasets/{pid}").status_code == 200


@pytest.mark.shared
def test_cli_deposit_keyword_and_search_term(
    battinfo: Path, hub: Hub, live: Any, alice: Actor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`databahn deposit --keyword LABEL` stores the IRI; `databahn search --term CLASS` finds subclasses."""
    from typer.testing import CliRunner

    from databahn.cli.main import app

    monkeypatch.setenv("DATABAHN_URL", live.url)
    monkeypatch.setenv("DATABAHN_TOKEN", alice.token)
    folder = tmp_path / "run1"
    folder.mkdir()
    (folder / "cell01.csv").write_text("t,V\n0,3.2\n")
    metafile = tmp_path / "meta.yaml"
    metafile.write_text(
        "creators:\n  - name: Doe, Jane\ndescription: anode study\nwork_package: WP6\ndata_level: raw\n"
    )
    runner = CliRunner()
    common = ["--meta", str(metafile), "--license", "CC-BY-4.0", "--publish"]
    result = runner.invoke(
        app, ["deposit", str(folder), "--title", "Anode run", "--keyword", "negative electrode", *common]
    )
    assert result.exit_code == 0, result.output
    pid = result.stdout.strip().splitlines()[-1]
    result = runner.invoke(app, ["search", "--term", "Electrode", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["total"] == 1 and found["hits"][0]["pid"] == pid
    assert found["hits"][0]["keywords"] == [NEGATIVE]

    result = runner.invoke(app, ["search", "--term", "Electrod"])
    assert result.exit_code != 0 and "Electrode" in result.output  # a clear message with candidates
    result = runner.invoke(app, ["deposit", str(folder), "--title", "Welds", "--keyword", "Welding", *common])
    assert result.exit_code != 0 and "ambiguous" in result.output
