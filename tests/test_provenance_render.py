"""SVG provenance drawing: structure a page relies on, layering, escaping, redaction, and a real
rasterisation (rsvg-convert) when the tool is installed."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree

from databahn.provenance import (
    ActivityNode,
    ActivityType,
    DatasetNode,
    ProvenanceError,
    ProvGraph,
    UnknownNodeError,
    redact,
)
from databahn.provenance.aiida_archive import aiida_to_prov, read_archive
from databahn.provenance.render import MAX_NODES, render_svg
from tests.shared import require_shared
from tests.test_provenance_model import battery_graph

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> Any:
    return ElementTree.fromstring(svg)


def _node_groups(root: Any) -> dict[str, Any]:
    return {el.get("data-node-id"): el for el in root.iter() if el.get("data-node-id")}


def _centre_y(el: Any) -> float:
    shape = next(iter(el))
    for candidate in el.iter():
        if candidate.tag in (f"{SVG}ellipse", f"{SVG}rect", f"{SVG}polygon"):
            shape = candidate
            break
    if shape.tag == f"{SVG}ellipse":
        return float(shape.get("cy"))
    if shape.tag == f"{SVG}rect":
        return float(shape.get("y")) + float(shape.get("height")) / 2
    ys = [float(p.split(",")[1]) for p in shape.get("points").split()]
    return (min(ys) + max(ys)) / 2


def test_every_node_is_a_link_with_a_prov_shape() -> None:
    graph = battery_graph()
    svg = render_svg(graph, highlight="ds:raw-cycling", href=lambda i: f"/datasets/{i}")
    root = _parse(svg)
    groups = _node_groups(root)
    assert set(groups) == set(graph.nodes)
    for node_id, el in groups.items():
        assert el.tag == f"{SVG}a" and el.get("href") == f"/datasets/{node_id}"
    shapes = {nid: {c.tag.removeprefix(SVG) for c in el.iter()} for nid, el in groups.items()}
    assert "ellipse" in shapes["ds:raw-cycling"] and "ellipse" in shapes["cell:C5"]
    assert "rect" in shapes["act:cycle"]
    assert "polygon" in shapes["agent:alice"]
    highlighted = [c for c in groups["ds:raw-cycling"].iter() if c.get("stroke") == "#D62728"]
    assert len(highlighted) == 1
    assert sum(1 for el in root.iter() if el.get("stroke") == "#D62728") == 1
    edge_groups = [el for el in root.iter() if el.get("class") == "edge"]
    assert len(edge_groups) == len(graph.edges)
    titles = {el.find(f"{SVG}title").text for el in edge_groups}
    assert "used (cathode)" in titles and "wasGeneratedBy (raw)" in titles and "wasRevisionOf" in titles


def test_layers_run_top_down_by_derivation() -> None:
    graph = battery_graph()
    groups = _node_groups(_parse(render_svg(graph)))
    y = {nid: _centre_y(el) for nid, el in groups.items()}
    chain = [
        "lot:NMC811-A7",
        "act:coat",
        "electrode:E12",
        "act:assemble",
        "cell:C5",
        "act:cycle",
        "ds:raw-cycling",
        "act:analyse",
        "ds:capacity-v1",
        "act:train1",
        "model:soh-v1",
    ]
    assert [y[a] < y[b] for a, b in itertools.pairwise(chain)] == [True] * (len(chain) - 1)
    assert y["agent:alice"] < y["act:cycle"]  # agents sit just above what they did
    assert y["act:cycle"] - y["agent:alice"] < 150


def test_labels_are_escaped_and_restricted_nodes_are_not_links() -> None:
    graph = ProvGraph()
    graph.add_node(DatasetNode(id="ds:a", label='<script>alert("x")</script> & co'))
    graph.add_node(ActivityNode(id="act:b", activity_type=ActivityType.ANALYSIS))
    graph.add_node(DatasetNode(id="ds:secret", label="embargoed results"))
    graph.add_edge("ds:a", "input_calc", "act:b", label="<in>")
    graph.add_edge("act:b", "create", "ds:secret")
    svg = render_svg(redact(graph, lambda i: i != "ds:secret"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    root = _parse(svg)
    texts = " ".join(el.text or "" for el in root.iter())
    assert "restricted dataset" in texts
    assert "embargoed" not in svg and "ds:secret" not in svg
    restricted = [el for el in root.iter() if "restricted" in (el.get("class") or "")]
    assert len(restricted) == 1 and restricted[0].tag == f"{SVG}g" and restricted[0].get("href") is None


def test_bad_requests_get_clear_errors() -> None:
    graph = battery_graph()
    with pytest.raises(UnknownNodeError, match="ds:nope"):
        render_svg(graph, highlight="ds:nope")
    big = ProvGraph()
    for i in range(MAX_NODES + 1):
        big.add_node(DatasetNode(id=f"d{i}"))
    with pytest.raises(ProvenanceError, match="neighbourhood"):
        render_svg(big)
    assert len(ElementTree.fromstring(render_svg(ProvGraph())).findall(f".//{SVG}a")) == 0


def test_real_archive_renders_to_png(tmp_path: Path) -> None:
    folder = require_shared("realdata", "aiida", "aiida-core")
    prov = aiida_to_prov(read_archive(folder / "graph1.aiida"))
    svg = render_svg(prov, highlight="779636a5-bc18-4c76-8f8c-2c54bcb4868c")
    groups = _node_groups(_parse(svg))
    assert len(groups) == len(prov)
    # return/call links loop back over the workflow; the layout must still place every node
    y = {nid: _centre_y(el) for nid, el in groups.items()}
    assert y["b23e692e-4e01-48dd-b515-4c63877d73a4"] < y["33c97bcd-dc91-4a25-9874-11e519cb5a8e"]
    tool = shutil.which("rsvg-convert")
    if tool is None:
        pytest.skip("rsvg-convert (Debian librsvg2-bin) is not installed; SVG structure was checked")
    source = tmp_path / "graph1.svg"
    source.write_text(svg)
    png = tmp_path / "graph1.png"
    subprocess.run([tool, str(source), "-o", str(png)], check=True, timeout=60)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 300 and height > 400
