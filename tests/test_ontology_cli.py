"""`databahn ontology ...` commands, driven through Typer's CliRunner on the mini fixture."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from databahn.cli.ontology_cmd import app

DATA = Path(__file__).parent / "data" / "ontology"
MINI = "https://example.org/mini#"
runner = CliRunner()


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    source = tmp_path / "mini"
    shutil.copytree(DATA / "mini", source)
    monkeypatch.setenv("DATABAHN_ONTOLOGY_DIR", str(source))
    monkeypatch.setenv("DATABAHN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DATABAHN_VOCABULARIES", raising=False)
    return source


def test_show_human(env: Path) -> None:
    result = runner.invoke(app, ["show", "negative electrode"])
    assert result.exit_code == 0, result.output
    assert "NegativeElectrode" in result.output
    assert MINI + "NegativeElectrode" in result.output
    assert "GraphiteNegativeElectrode" in result.output  # children
    assert "NegativePlate" in result.output  # synonyms


def test_show_json(env: Path) -> None:
    result = runner.invoke(app, ["show", "CV", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["iri"] == MINI + "CyclicVoltammetry"
    assert data["label"] == "CyclicVoltammetry"
    assert data["synonyms"] == ["CV"]
    assert data["parents"] == [{"iri": MINI + "Voltammetry", "label": "Voltammetry"}]
    assert data["children"] == []
    assert data["deprecated"] is False


def test_show_unknown_and_ambiguous(env: Path) -> None:
    result = runner.invoke(app, ["show", "Electrod"])
    assert result.exit_code == 1
    assert "unknown ontology term 'Electrod'" in result.output and "Electrode" in result.output
    result = runner.invoke(app, ["show", "ElectrodeCoating", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert "ambiguous" in data["error"]
    assert {c["iri"] for c in data["candidates"]} == {MINI + "Coating1", MINI + "Coating2"}


def test_search_json_and_human(env: Path) -> None:
    result = runner.invoke(app, ["search", "volt", "--json", "--limit", "3"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows[0]["label"] == "Voltammetry"
    assert len(rows) <= 3
    human = runner.invoke(app, ["search", "electrode"])
    assert human.exit_code == 0 and "Electrode" in human.output
    nothing = runner.invoke(app, ["search", "qqqqzzzz"])
    assert nothing.exit_code == 1 and "no term matches" in nothing.output


def test_suggest(env: Path) -> None:
    result = runner.invoke(app, ["suggest", "coin_cell_CV.csv", "--json"])
    assert result.exit_code == 0, result.output
    assert {"CoinCell", "CyclicVoltammetry"} <= {r["label"] for r in json.loads(result.output)}


def test_compile_reports_problems(env: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["compile"])
    assert result.exit_code == 0, result.output
    assert "terms" in result.output and "from 3 files" in result.output
    assert "not-in-the-catalog" in result.output
    assert list((tmp_path / "home" / "cache" / "ontology").glob("ontology-*.json"))


def test_reference(env: Path, tmp_path: Path) -> None:
    out = tmp_path / "ref"
    result = runner.invoke(app, ["reference", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file() and (out / "alphabetical.html").is_file()


def test_without_ontology_semantic_features_are_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABAHN_ONTOLOGY_DIR", str(tmp_path / "absent"))
    monkeypatch.setenv("DATABAHN_HOME", str(tmp_path / "home"))
    for args in (["show", "Electrode"], ["search", "x"], ["compile"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert "semantic features are off" in result.output
        assert "Traceback" not in result.output


def test_fetch_offline_gives_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Name or service not known", request=request)

    real_client = httpx.Client

    def client_factory(**kwargs: object) -> httpx.Client:
        return real_client(transport=httpx.MockTransport(offline))

    monkeypatch.setattr("databahn.ontology.fetch.httpx.Client", client_factory)
    result = runner.invoke(app, ["fetch", "--dest", str(tmp_path / "onto")])
    assert result.exit_code == 1
    assert "offline" in result.output and "https://w3id.org/emmo/domain/battery" in result.output
    assert not (tmp_path / "onto").exists()


def test_show_deprecated_points_to_current_class(env: Path) -> None:
    deprecated = "https://w3id.org/emmo/domain/battery#battery_17591da0_34ec_41b9_b3c1_3a4446dc6f0a"
    result = runner.invoke(app, ["show", deprecated])
    assert result.exit_code == 0, result.output
    assert "deprecated" in result.output
    assert "use instead: StateOfCharge <https://example.org/mini#StateOfCharge>" in result.output
