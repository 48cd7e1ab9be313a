"""Extraction inside the hub: after upload, on demand, in records, facets and open-format copies."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from databahn.api.app import create_app
from databahn.cli.main import app as cli_app
from databahn.config import Settings
from databahn.services.hub import Hub
from tests.conftest import FULL_METADATA, _truncate_all, make_actor
from tests.shared import require_shared


@pytest.fixture
def xhub(deployment: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.setenv("DATABAHN_EXTRACT_ON_UPLOAD", "1")
    deployment.background_jobs = False  # extract inline, so the test sees the result at once
    hub = Hub(deployment)
    if hub.engine.dialect.name == "postgresql":
        _truncate_all(hub)
    yield hub
    hub.close()


def test_upload_extracts_and_converts(xhub: Hub) -> None:
    gcpl = require_shared("realdata", "cycler", "biologic_yadg", "gcpl.issue_149.mpr")
    cif = require_shared("realdata", "structures", "chgnet", "mp-18767-LiMnO2.cif")
    alice = make_actor(xhub, "alice")
    pid = xhub.datasets.create(alice.principal, FULL_METADATA).pid
    with open(gcpl, "rb") as fh:
        xhub.files.put(alice.principal, pid, "raw/gcpl.mpr", fh)
    with open(cif, "rb") as fh:
        xhub.files.put(alice.principal, pid, "LiMnO2.cif", fh)
    xhub.files.put(alice.principal, pid, "broken.mpr", io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * 200))

    record = xhub.datasets.get(alice.principal, pid)
    by_key = {f.key: f for f in record.files}
    mpr = by_key["raw/gcpl.mpr"].extracted
    assert mpr is not None and mpr["ok"]
    assert mpr["result"]["technique"]
    assert mpr["result"]["n_points"] > 100
    assert any(q["unit"] == "V" for q in mpr["result"]["quantities"])
    # the open-format copies are derived files linked to their source, in the same folder
    derived = [f for f in record.files if f.derived_from == "raw/gcpl.mpr"]
    assert {Path(f.key).suffix for f in derived} == {".csv", ".parquet"}
    assert all(f.key.startswith("raw/") for f in derived)
    header = b"".join(xhub.store.open(next(f for f in derived if f.key.endswith(".csv")).sha256)).split(
        b"\n"
    )[0]
    assert b"voltage_volt" in header and b"test_time_second" in header  # BDF machine-readable names
    # the structure summary
    structure = by_key["LiMnO2.cif"].extracted["result"]["structures"][0]
    assert set(structure["elements"]) == {"Li", "Mn", "O"}
    # a mislabelled file: a clear reason, nothing crashes
    broken = by_key["broken.mpr"].extracted
    assert broken["ok"] is False and "PNG" in broken["error"]
    # summaries sit on the version, apart from the typed metadata
    assert record.extracted["raw/gcpl.mpr"]["ok"] is True
    assert "technique" not in record.metadata.model_dump()

    xhub.datasets.publish(alice.principal, pid)
    from databahn.search.index import SearchQuery

    page = xhub.datasets.search(alice.principal, SearchQuery())
    assert "technique" in page.facets
    elements = dict(page.facets["element"])
    assert elements["Mn"] == 1
    # the dataset page plots the extracted curves and summarises the structure
    html = TestClient(create_app(xhub)).get(f"/datasets/{pid}", headers={"Accept": "text/html"}).text
    assert "<svg" in html and "voltage" in html.lower()
    assert "LiMnO2.cif" in html


def test_extract_on_demand_and_cli(xhub: Hub, tmp_path: Path) -> None:
    mpt = require_shared("realdata", "cycler", "biologic_yadg", "cv.mpt")
    xhub.ext["extraction"].enabled = False  # upload without extraction, then ask for it
    alice = make_actor(xhub, "alice")
    bob = make_actor(xhub, "bob")
    pid = xhub.datasets.create(alice.principal, FULL_METADATA).pid
    with open(mpt, "rb") as fh:
        xhub.files.put(alice.principal, pid, "cv.mpt", fh)
    assert xhub.datasets.get(alice.principal, pid).files[0].extracted is None
    xhub.ext["extraction"].enabled = True
    api = TestClient(create_app(xhub))
    assert api.post(f"/api/datasets/{pid}/extract", headers=bob.headers).status_code == 404
    r = api.post(f"/api/datasets/{pid}/extract", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert "voltammetry" in r.json()["files"]["cv.mpt"]["technique"].lower()

    runner = CliRunner()
    result = runner.invoke(cli_app, ["inspect", str(mpt), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["ok"] is True
    out_dir = tmp_path / "open"
    result = runner.invoke(cli_app, ["convert", str(mpt), "-o", str(out_dir)])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.suffix for p in out_dir.iterdir()) == [".csv", ".parquet"]
    bad = tmp_path / "empty.mpr"
    bad.write_bytes(b"")
    result = runner.invoke(cli_app, ["inspect", str(bad)])
    assert result.exit_code == 1 and "empty" in result.stdout
