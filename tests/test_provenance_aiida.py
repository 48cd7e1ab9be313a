"""AiiDA export archives: read the real ones in ../shared, map them to PROV, refuse unsafe ones.

The expected counts were checked by opening each archive's db.sqlite3 / data.json directly
(sqlite3 and json), not by running this reader.
"""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
import time
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from databahn.provenance import (
    ActivityNode,
    AgentNode,
    AgentType,
    DatasetNode,
    LinkType,
    NodeKind,
    WorkflowNode,
)
from databahn.provenance.aiida_archive import (
    AiidaArchiveError,
    aiida_to_prov,
    computer_agent_id,
    read_archive,
    user_agent_id,
)
from tests.shared import require_shared

pytestmark = pytest.mark.shared

# archive -> (export version, nodes, link type counts, code label, computer label, user email, groups)
EXPECTED = {
    "arithmetic.add.aiida": (
        "main_0001",
        7,
        {"input_calc": 3, "create": 3},
        "arithmetic.add",
        "localhost",
        "casper.andersen@epfl.ch",
        0,
    ),
    "export_0.13_simple.aiida": (
        "0.13",
        10,
        {"input_calc": 4, "create": 4},
        "pw.x",
        "bellatrix",
        "aiida@localhost",
        4,
    ),
    "export_main_0001_simple.aiida": (
        "main_0001",
        10,
        {"input_calc": 4, "create": 4},
        "pw.x",
        "bellatrix",
        "aiida@localhost",
        4,
    ),
    "graph1.aiida": (
        "1.0",
        10,
        {"input_work": 3, "input_calc": 5, "create": 3, "return": 2, "call_calc": 2},
        "example_code",
        "example_computer",
        "chrisj_sewell@hotmail.com",
        0,
    ),
}


@pytest.fixture(scope="module")
def aiida_dir() -> Path:
    return require_shared("realdata", "aiida", "aiida-core")


def test_every_shared_archive_is_covered(aiida_dir: Path) -> None:
    assert sorted(p.name for p in aiida_dir.glob("*.aiida")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_read_real_archive_counts(aiida_dir: Path, name: str) -> None:
    version, n_nodes, link_counts, code, computer, email, n_groups = EXPECTED[name]
    start = time.perf_counter()
    graph = read_archive(aiida_dir / name)
    assert time.perf_counter() - start < 1.0
    assert graph.export_version == version
    assert len(graph.nodes) == n_nodes
    assert Counter(link.type for link in graph.links) == link_counts
    assert [c.label for c in graph.codes] == [code]
    assert [c.label for c in graph.computers.values()] == [computer]
    assert list(graph.users) == [email]
    assert len(graph.groups) == n_groups
    for link in graph.links:
        assert link.input in graph.nodes and link.output in graph.nodes
    for node in graph.nodes.values():
        assert node.ctime is not None and node.ctime.tzinfo is not None
        assert node.user == email


def test_arithmetic_add_details(aiida_dir: Path) -> None:
    graph = read_archive(aiida_dir / "arithmetic.add.aiida")
    calc = graph.nodes["9d3fda4f-6782-4441-a276-b8965aa3f97f"]
    assert calc.node_type == "process.calculation.calcjob.CalcJobNode."
    assert calc.process_type == "aiida.calculations:core.arithmetic.add"
    assert calc.attributes["exit_status"] == 0 and calc.attributes["process_state"] == "finished"
    assert calc.ctime == datetime(2019, 4, 9, 14, 31, 49, 24479, tzinfo=UTC)
    assert calc.computer == "b20faf4c-1475-42a4-bac7-cf9ff0eb6799"
    assert graph.nodes["6ab73adc-625c-4158-aad4-4d67ea9b57b8"].attributes == {"value": 5}
    inputs = {
        (link.label, graph.nodes[link.input].attributes.get("value"))
        for link in graph.links
        if link.output == calc.uuid and link.type == "input_calc"
    }
    assert inputs == {("code", None), ("x", 2), ("y", 3)}
    code = graph.codes[0]
    assert code.executable and code.executable.endswith("/.ci/add.sh")
    assert graph.users["casper.andersen@epfl.ch"].name == "Casper Andersen"


def test_old_json_and_new_sqlite_formats_agree(aiida_dir: Path) -> None:
    """export_0.13 (data.json) and export_main_0001 (db.sqlite3) hold the same QE calculation."""
    old = read_archive(aiida_dir / "export_0.13_simple.aiida")
    new = read_archive(aiida_dir / "export_main_0001_simple.aiida")
    assert old.nodes.keys() == new.nodes.keys()
    for uuid, node in old.nodes.items():
        twin = new.nodes[uuid]
        assert (node.label, node.ctime, node.mtime, node.user, node.computer, node.attributes) == (
            twin.label,
            twin.ctime,
            twin.mtime,
            twin.user,
            twin.computer,
            twin.attributes,
        )
    # the two exports spell one type differently (migration history); the reader keeps what is stored
    kpoints = "c03f49a0-f1b4-4792-bf7b-7a5330074dc1"
    assert old.nodes[kpoints].node_type.endswith("KpointsData.")
    assert new.nodes[kpoints].node_type == "data.array.kpoints.KpointsData."
    assert sorted(map(repr, old.links)) == sorted(map(repr, new.links))
    assert (
        {g.label for g in old.groups}
        == {g.label for g in new.groups}
        == {"testing1", "testing2", "testing3", "testing4"}
    )
    pw = old.nodes["3b429fd4-601c-4473-add5-7cbb76cf38cb"]
    assert pw.label == "Test QE pw.x" and pw.process_type == "aiida.calculations:quantumespresso.pw"


def test_graph1_to_prov(aiida_dir: Path) -> None:
    prov = aiida_to_prov(read_archive(aiida_dir / "graph1.aiida"))
    workflow = prov.node("0a8223e7-fc7f-490f-8c99-962c1e3e17af")
    assert isinstance(workflow, WorkflowNode)
    calc1 = prov.node("b23e692e-4e01-48dd-b515-4c63877d73a4")
    assert isinstance(calc1, ActivityNode) and calc1.label == "calc1"
    assert calc1.started_at == datetime(2019, 7, 8, 9, 22, 0, 604745, tzinfo=UTC)
    assert calc1.ended_at == datetime(2019, 7, 8, 9, 22, 0, 733468, tzinfo=UTC)
    code = prov.node("beeeb810-c694-4fee-aeca-d49a233b832b")
    assert isinstance(code, AgentNode) and code.agent_type is AgentType.SOFTWARE
    kinds = Counter(n.kind for n in prov)
    # 6 data nodes (+ the code), 2 calculations, 1 workflow; code + computer + user as agents
    assert kinds == {NodeKind.DATASET: 6, NodeKind.ACTIVITY: 2, NodeKind.WORKFLOW: 1, NodeKind.AGENT: 3}
    assoc = {(e.source, e.label) for e in prov.in_edges(calc1.id) if e.link_type is LinkType.ASSOCIATED_WITH}
    assert assoc == {
        (code.id, "code"),
        (computer_agent_id("2322adaf-acbb-4bea-83b7-23eaed8399e8"), "computer"),
        (user_agent_id("chrisj_sewell@hotmail.com"), "user"),
    }
    calls = {e.target for e in prov.out_edges(workflow.id) if e.link_type is LinkType.CALL_CALC}
    assert calls == {calc1.id, "79e2417a-5aa5-4787-bd7c-74152cd8a729"}
    returned = {e.target for e in prov.out_edges(workflow.id) if e.link_type is LinkType.RETURN}
    assert returned == {"779636a5-bc18-4c76-8f8c-2c54bcb4868c", "387faed6-46a8-4a3c-a998-f60cd097086a"}
    # lineage: pd3 comes from calcf1, which used rd1 (made by calc1 from pd0 and pd1) and pd2
    anc = prov.ancestors("779636a5-bc18-4c76-8f8c-2c54bcb4868c")
    assert set(anc) == {
        "79e2417a-5aa5-4787-bd7c-74152cd8a729",
        "4ac72b6c-ce4c-4cb2-8053-9164c8f81437",
        "33c97bcd-dc91-4a25-9874-11e519cb5a8e",
        calc1.id,
        "0ea79a16-501f-408a-8c84-a2704a778e4b",
        "6b413465-37b0-4064-ac52-65f560b42194",
    }
    impact = [n.label for n in prov.impact("0ea79a16-501f-408a-8c84-a2704a778e4b")]
    assert impact == ["rd1", "fd1", "pd3"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_archive_maps_to_a_valid_prov_graph(aiida_dir: Path, name: str) -> None:
    graph = read_archive(aiida_dir / name)
    prov = aiida_to_prov(graph)
    non_code = [n for n in graph.nodes.values() if not n.is_code]
    assert sum(isinstance(n, DatasetNode | ActivityNode | WorkflowNode) for n in prov) == len(non_code)
    # each archive link becomes exactly one edge (code inputs become agent associations)
    mapped = [
        e
        for e in prov.edges
        if e.label not in ("user", "computer") and e.link_type is not LinkType.ATTRIBUTED_TO
    ]
    assert len(mapped) == len(graph.links)


# ------------------------------------------------------------------------------- bad archives


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _sqlite_bytes(statements: list[str]) -> bytes:
    conn = sqlite3.connect(":memory:")
    for stmt in statements:
        conn.execute(stmt)
    conn.commit()
    data = conn.serialize()
    conn.close()
    return data


META = json.dumps({"export_version": "main_0001", "aiida_version": "2.6.0"}).encode()


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_tar_export_of_the_json_kind_reads_like_the_zip(aiida_dir: Path, tmp_path: Path) -> None:
    """Old AiiDA could export data.json archives as tar.gz; same content, same graph."""
    source = aiida_dir / "export_0.13_simple.aiida"
    with zipfile.ZipFile(source) as zf:
        content = {name: zf.read(name) for name in ("metadata.json", "data.json")}
    tarred = _tar(tmp_path / "export.tar.gz", {"./" + k: v for k, v in content.items()})
    from_tar, from_zip = read_archive(tarred), read_archive(source)
    assert from_tar.nodes == from_zip.nodes and from_tar.links == from_zip.links
    evil = _tar(tmp_path / "evil.tar.gz", {**content, "../../outside": b"x"})
    with pytest.raises(AiidaArchiveError, match="points outside the archive"):
        read_archive(evil)
    with pytest.raises(AiidaArchiveError, match="over the 100-byte cap"):
        read_archive(tarred, max_member_bytes=100)


def test_refuses_path_traversal_members(tmp_path: Path) -> None:
    for evil in ("../../etc/cron.d/x", "/etc/passwd", "repo/../../x", "C:/Windows/x"):
        archive = _zip(tmp_path / "evil.aiida", {"metadata.json": META, evil: b"x"})
        with pytest.raises(AiidaArchiveError, match="points outside the archive"):
            read_archive(archive)


def test_refuses_oversized_members(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "bomb.aiida", {"metadata.json": META, "data.json": b"{" + b" " * 5_000_000 + b"}"}
    )
    assert archive.stat().st_size < 100_000  # compresses well: a small file that inflates a lot
    with pytest.raises(AiidaArchiveError, match="over the 1000000-byte cap"):
        read_archive(archive, max_member_bytes=1_000_000)


def test_clear_errors_for_wrong_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(AiidaArchiveError, match="does not exist"):
        read_archive(tmp_path / "missing.aiida")
    (tmp_path / "plain.aiida").write_text("hello")
    with pytest.raises(AiidaArchiveError, match="neither a zip nor a tar file"):
        read_archive(tmp_path / "plain.aiida")
    with pytest.raises(AiidaArchiveError, match=r"no metadata\.json"):
        read_archive(_zip(tmp_path / "a.aiida", {"data.json": b"{}"}))
    with pytest.raises(AiidaArchiveError, match=r"neither db\.sqlite3 nor data\.json"):
        read_archive(_zip(tmp_path / "b.aiida", {"metadata.json": META}))
    with pytest.raises(AiidaArchiveError, match="invalid JSON"):
        read_archive(_zip(tmp_path / "c.aiida", {"metadata.json": b"{nope"}))
    with pytest.raises(AiidaArchiveError, match="not a readable AiiDA database"):
        read_archive(_zip(tmp_path / "d.aiida", {"metadata.json": META, "db.sqlite3": b"x" * 4096}))
    other_db = _sqlite_bytes(["CREATE TABLE t (x INTEGER)"])
    with pytest.raises(
        AiidaArchiveError, match="lacks AiiDA tables: db_dbcomputer, db_dblink, db_dbnode, db_dbuser"
    ):
        read_archive(_zip(tmp_path / "e.aiida", {"metadata.json": META, "db.sqlite3": other_db}))
    truncated = io.BytesIO()
    with zipfile.ZipFile(truncated, "w") as zf:
        zf.writestr("metadata.json", META)
    (tmp_path / "f.aiida").write_bytes(truncated.getvalue()[:-10])
    with pytest.raises(AiidaArchiveError):
        read_archive(tmp_path / "f.aiida")


def test_data_json_with_dangling_link_or_unknown_link_type(tmp_path: Path) -> None:
    node = {"uuid": "u1", "node_type": "data.core.int.Int.", "user": 1, "ctime": "2020-01-01T00:00:00"}
    base = {"export_data": {"Node": {"1": node}, "User": {"1": {"email": "a@b"}}}, "node_attributes": {}}
    dangling = {**base, "links_uuid": [{"input": "u1", "output": "u2", "label": "x", "type": "create"}]}
    meta = json.dumps({"export_version": "0.9"}).encode()
    with pytest.raises(AiidaArchiveError, match="refers to a node not in the archive"):
        read_archive(
            _zip(tmp_path / "g.aiida", {"metadata.json": meta, "data.json": json.dumps(dangling).encode()})
        )
    weird = {**base, "links_uuid": [{"input": "u1", "output": "u1", "label": "x", "type": "teleport"}]}
    with pytest.raises(AiidaArchiveError, match="unknown AiiDA link type 'teleport'"):
        read_archive(
            _zip(tmp_path / "h.aiida", {"metadata.json": meta, "data.json": json.dumps(weird).encode()})
        )
    ok = read_archive(
        _zip(tmp_path / "i.aiida", {"metadata.json": meta, "data.json": json.dumps(base).encode()})
    )
    assert ok.export_version == "0.9" and ok.nodes["u1"].user == "a@b"


def test_mapping_refuses_links_that_break_the_vocabulary(tmp_path: Path) -> None:
    """A 'create' link out of a data node is not provenance AiiDA can produce: clear refusal."""
    nodes = {
        "1": {"uuid": "d1", "node_type": "data.core.int.Int.", "user": 1},
        "2": {"uuid": "d2", "node_type": "data.core.int.Int.", "user": 1},
    }
    data = {
        "export_data": {"Node": nodes, "User": {"1": {"email": "a@b"}}},
        "links_uuid": [{"input": "d1", "output": "d2", "label": "x", "type": "create"}],
    }
    meta = json.dumps({"export_version": "0.9"}).encode()
    graph = read_archive(
        _zip(tmp_path / "j.aiida", {"metadata.json": meta, "data.json": json.dumps(data).encode()})
    )
    with pytest.raises(
        AiidaArchiveError,
        match=r"cannot be mapped to provenance: d1 -\[create:x\]-> d2: a 'create' link cannot go from a dataset",
    ):
        aiida_to_prov(graph)
