"""OPTIMADE v1.2 at /optimade/v1 over extracted crystal structures, with access and the validator."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from databahn.db.models import FileEntry, Version
from databahn.services.hub import Hub
from tests.conftest import Actor, LiveServer
from tests.shared import require_shared
from tests.test_oai import deposit

CIFS = ("LiFePO4.cif", "Li10GeP2S12.cif")


@cache
def extracted(name: str) -> dict[str, Any]:
    from databahn.extractors.runner import inspect_file

    path = require_shared("realdata", "structures", "matterviz", name)
    report = inspect_file(Path(path))
    assert report.ok and report.result is not None, report.error
    return report.result.model_dump(mode="json")


def deposit_structure(api: TestClient, hub: Hub, actor: Actor, cif: str, **fields: Any) -> str:
    """A published dataset whose file carries the extraction result of a real CIF."""
    pid = deposit(api, actor, title=f"Structure {cif}", **fields)
    with hub.write() as s:
        entry = s.scalar(select(FileEntry).join(Version).where(Version.pid == pid, FileEntry.key == "a.csv"))
        assert entry is not None
        entry.extracted = extracted(cif)
    return pid


@pytest.fixture
def structures(api: TestClient, hub: Hub, alice: Actor) -> dict[str, str]:
    return {
        "lfp": deposit_structure(api, hub, alice, CIFS[0]),
        "lgps": deposit_structure(api, hub, alice, CIFS[1], work_package="WP2"),
        "secret": deposit_structure(api, hub, alice, CIFS[0], access="restricted"),
        "announced": deposit_structure(api, hub, alice, CIFS[1], metadata_only=True),
    }


def get(api: TestClient, path: str, **kw: Any) -> dict[str, Any]:
    r = api.get(f"/optimade/v1{path}", **kw)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_info_endpoints(api: TestClient) -> None:
    info = get(api, "/info")["data"]["attributes"]
    assert info["api_version"] == "1.2.0" and info["entry_types_by_format"] == {"json": ["structures"]}
    props = get(api, "/info/structures")["data"]["properties"]
    assert props["_databahn_dataset"]["sortable"] and not props["elements"]["sortable"]
    assert api.get("/optimade/versions").text.splitlines() == ["version", "1"]
    assert get(api, "/links")["data"] == []


def test_structures_respect_access(api: TestClient, alice: Actor, structures: dict[str, str]) -> None:
    body = get(api, "/structures")
    datasets = sorted(e["attributes"]["_databahn_dataset"] for e in body["data"])
    assert datasets == sorted(
        [structures["lfp"], structures["lgps"]]
    )  # no restricted, no metadata-only files
    assert body["meta"]["data_returned"] == 2 and body["meta"]["more_data_available"] is False
    owner = api.get("/optimade/v1/structures", headers=alice.headers).json()
    assert len(owner["data"]) == 4
    entry = next(e for e in body["data"] if e["attributes"]["_databahn_dataset"] == structures["lfp"])
    attrs = entry["attributes"]
    assert attrs["chemical_formula_reduced"] == "FeLiO4P" and attrs["elements"] == ["Fe", "Li", "O", "P"]
    assert attrs["nsites"] == 28 and len(attrs["cartesian_site_positions"]) == 28
    assert attrs["chemical_formula_anonymous"] == "A4BCD"
    assert attrs["_databahn_url"] == f"http://testserver/datasets/{structures['lfp']}"
    assert attrs["_databahn_file"] == "a.csv"
    one = get(api, f"/structures/{entry['id']}")["data"]
    assert one["id"] == entry["id"]
    secret_id = next(
        e["id"] for e in owner["data"] if e["attributes"]["_databahn_dataset"] == structures["secret"]
    )
    for bogus in ("nothing-here", f"{structures['lfp']}.f99999999999.s0"):
        assert api.get(f"/optimade/v1/structures/{bogus}").status_code == 404
    hidden = api.get(f"/optimade/v1/structures/{secret_id}")
    assert hidden.status_code == 404 and hidden.json()["errors"][0]["status"] == "404"


def test_filters_paging_and_errors(api: TestClient, structures: dict[str, str]) -> None:
    def ids(flt: str) -> list[str]:
        return [
            e["attributes"]["_databahn_dataset"]
            for e in get(api, "/structures", params={"filter": flt})["data"]
        ]

    assert ids('elements HAS "S"') == [structures["lgps"]]
    assert ids('elements HAS ALL "Li","O","P"') == [structures["lfp"]]
    assert ids("nelements=4 AND nsites>=28") == sorted([structures["lfp"], structures["lgps"]])
    assert ids('chemical_formula_reduced="FeLiO4P"') == [structures["lfp"]]
    assert ids(f'_databahn_dataset="{structures["lgps"]}"') == [structures["lgps"]]
    assert ids('NOT elements HAS "Fe"') == [structures["lgps"]]
    assert ids('chemical_formula_descriptive CONTAINS "Ge"') == [structures["lgps"]]
    assert ids("elements LENGTH 4") == sorted([structures["lfp"], structures["lgps"]])
    page = get(api, "/structures", params={"page_limit": "1", "sort": "-nsites", "response_fields": "nsites"})
    assert page["meta"]["more_data_available"] is True and page["links"]["next"]
    assert set(page["data"][0]["attributes"]) == {"nsites"}
    follow = api.get(page["links"]["next"].replace("http://testserver", "")).json()
    assert follow["data"][0]["id"] != page["data"][0]["id"] and follow["meta"]["more_data_available"] is False
    bad = api.get("/optimade/v1/structures", params={"filter": "elements HAS"})
    assert bad.status_code == 400 and "filter" in bad.json()["errors"][0]["detail"]
    assert api.get("/optimade/v1/structures", params={"sort": "elements"}).status_code == 400
    assert api.get("/optimade/v1/structures", params={"page_limit": "100000"}).status_code == 403
    assert api.get("/optimade/v1/structures", params={"response_format": "xml"}).status_code == 400


def test_optimade_validator_passes_on_live_server(structures: dict[str, str], live: LiveServer) -> None:
    import shutil

    validator = shutil.which("optimade-validator")
    if validator is None:
        pytest.skip("optimade-validator is not installed (pip install optimade)")
    done = subprocess.run(
        [validator, "--json", f"{live.url}/optimade/v1"], capture_output=True, text=True, timeout=300
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(done.stdout[-3000:] + done.stderr[-3000:])
    summary = {k: report.get(k) for k in ("success_count", "failure_count", "internal_failure_count")}
    assert report["failure_count"] == 0 and report["internal_failure_count"] == 0, (
        summary,
        report.get("failure_messages"),
        report.get("internal_failure_messages"),
    )
    assert report["success_count"] > 20
    assert done.returncode == 0
