"""`databahn export / catalog / fair` against a real hub: policy-filtered reads, files streamed from the store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from databahn.exporters import cli
from databahn.services.hub import Hub
from tests.conftest import FULL_METADATA, make_actor
from tests.shared import require_shared

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    cli.register(app)
    return app


@pytest.fixture
def published(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> tuple[Hub, str, str, str]:
    """Published versions, each with a real cycler file: open, metadata-only, and restricted."""
    monkeypatch.setattr(cli, "_open_hub", lambda: hub)
    alice = make_actor(hub, "alice")
    data = require_shared("realdata", "cycler", "biologic_yadg", "gcpl.issue_149.mpt").read_bytes()
    pids = []
    for access, metadata_only in (("public", False), ("public", True), ("restricted", False)):
        rec = hub.datasets.create(
            alice.principal, dict(FULL_METADATA), access=access, metadata_only=metadata_only
        )
        hub.files.put(alice.principal, rec.pid, "gcpl.mpt", [data], media_type="text/plain")
        pids.append(hub.datasets.publish(alice.principal, rec.pid).pid)
    return hub, pids[0], pids[1], pids[2]


def test_export_bagit_streams_files_and_validates(
    published: tuple[Hub, str, str, str], tmp_path: Path
) -> None:
    _, open_pid, _, _ = published
    result = runner.invoke(_app(), ["export", open_pid, "--format", "bagit", "-o", str(tmp_path / "bag")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bag" / "data" / "gcpl.mpt").stat().st_size > 10_000
    check = subprocess.run(
        [sys.executable, str(Path(sys.executable).parent / "bagit.py"), "--validate", str(tmp_path / "bag")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr


def test_export_metadata_only_has_no_files(published: tuple[Hub, str, str, str], tmp_path: Path) -> None:
    _, _, restricted_pid, _ = published
    out = tmp_path / "crate"
    result = runner.invoke(_app(), ["export", restricted_pid, "-f", "ro-crate", "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "ro-crate-metadata.json").read_text())
    assert not [e for e in doc["@graph"] if e.get("@type") == "File"]
    assert not (out / "gcpl.mpt").exists()
    admin = runner.invoke(
        _app(), ["export", restricted_pid, "-f", "ro-crate", "-o", str(tmp_path / "a"), "--as-admin"]
    )
    assert admin.exit_code == 0 and (tmp_path / "a" / "gcpl.mpt").exists()


def test_export_document_to_stdout(published: tuple[Hub, str, str, str]) -> None:
    _, open_pid, _, _ = published
    result = runner.invoke(_app(), ["export", open_pid, "--format", "csl"])
    assert result.exit_code == 0, result.output
    (item,) = json.loads(result.stdout)
    assert item["title"] == FULL_METADATA["title"] and item["id"] == open_pid


def test_export_errors_are_one_clear_line(published: tuple[Hub, str, str, str]) -> None:
    _, open_pid, _, _ = published
    bad = runner.invoke(_app(), ["export", open_pid, "--format", "marc"])
    assert (
        bad.exit_code == 1 and "unknown export format 'marc'" in bad.output and "Traceback" not in bad.output
    )
    missing = runner.invoke(_app(), ["export", "nope-0000.v1", "--format", "dc"])
    assert missing.exit_code == 1 and "error:" in missing.output and "--as-admin" in missing.output
    package = runner.invoke(_app(), ["export", open_pid, "--format", "bagit"])
    assert package.exit_code == 1 and "-o DIR" in package.output


def test_catalog_lists_published_datasets(published: tuple[Hub, str, str, str], tmp_path: Path) -> None:
    _, open_pid, metadata_only_pid, restricted_pid = published
    out = tmp_path / "catalog.ttl"
    result = runner.invoke(_app(), ["catalog", "--format", "dcat", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert open_pid in text and metadata_only_pid in text and "dcat:Catalog" in text
    assert restricted_pid not in text  # the public catalog never announces restricted datasets
    assert runner.invoke(_app(), ["catalog", "--format", "void"]).exit_code == 1


def test_fair_command_text_json_and_gate(published: tuple[Hub, str, str, str]) -> None:
    _, open_pid, _, _ = published
    text = runner.invoke(_app(), ["fair", open_pid])
    assert text.exit_code == 0 and "FsF-R1.1-01M" in text.output and "advice:" in text.output
    data = json.loads(runner.invoke(_app(), ["fair", open_pid, "--json"]).stdout)
    assert data["pid"] == open_pid and data["gate"]["allowed"] is True
    blocked = runner.invoke(_app(), ["fair", open_pid, "--minimum", "99"])
    assert blocked.exit_code == 2 and "BLOCKED" in blocked.output
