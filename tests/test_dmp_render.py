"""Highway SVG, the DMP document (HTML/PDF), version diff, the version archive and the `dmp` CLI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from databahn.dmp import cli as dmp_cli
from databahn.dmp.archive import DocumentArchive
from databahn.dmp.document import (
    diff_documents,
    document_text_lines,
    live_figures,
    render_document_html,
    render_document_pdf,
)
from databahn.dmp.highway import render_highway_svg, render_wp_svg
from databahn.dmp.loader import load_default_plan, load_plan
from databahn.dmp.model import SizeClass
from databahn.dmp.tracking import DatasetFacts, FlowDelivery, LiveState, track

DATA = Path(__file__).parent / "data" / "dmp"
NS = {"s": "http://www.w3.org/2000/svg"}
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def bigmap():
    return load_default_plan()


@pytest.fixture
def live():
    return LiveState(
        as_of=NOW,
        datasets=[
            DatasetFacts(
                pid="10.1/dft",
                title="DFT of LiPF6 decomposition",
                wp="WP2",
                formats=[".tar.gz"],
                license="CC-BY-4.0",
                bytes=3 * 10**12,
                battinfo_keywords=["Electrolyte"],
                repository="Materials Cloud",
            ),
            DatasetFacts(
                pid="hdl:2/xrd",
                title="Operando XRD",
                wp="WP5",
                formats=[".raw"],
                openness="restricted",
                embargo_until=date(2027, 1, 1),
            ),
        ],
        deliveries=[
            FlowDelivery(
                dataset_pid="10.1/dft",
                source="WP2",
                target="WP5",
                flow_id="WP2->WP5#1",
                bytes=3 * 10**12,
                delivered_at=datetime(2026, 10, 20, tzinfo=UTC),
            ),
            FlowDelivery(
                dataset_pid="hdl:2/xrd",
                source="WP5",
                target="WP1",
                bytes=10**6,
                delivered_at=datetime(2026, 5, 1, tzinfo=UTC),
            ),
        ],
    )


def _flows(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {
        g.get("data-flow"): g
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if g.get("class", "").startswith("flow")
    }


def test_highway_is_valid_svg_with_clickable_flows(bigmap):
    svg = render_highway_svg(bigmap, link="/dmp/flows/{source}/{target}")
    flows = _flows(svg)
    pairs = {f.pair for f in bigmap.flows if f.source != f.target}
    assert set(flows) == {f"{a}->{b}" for a, b in pairs}
    g = flows["WP2->WP5"]
    assert g.get("data-flows") == "WP2->WP5#1 WP2->WP5#2"
    assert "Computational predictions" in g.find("s:title", NS).text
    assert 'href="/dmp/flows/WP2/WP5"' in svg
    # WPs are labelled boxes; the management WP (no flows) is not on the highway
    root = ET.fromstring(svg)
    wps = {g.get("data-wp") for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-wp")}
    assert wps == {f"WP{n}" for n in range(2, 12)}
    # deterministic output
    assert render_highway_svg(bigmap, link="/dmp/flows/{source}/{target}") == svg


def test_arrow_width_follows_planned_size(bigmap):
    flows = _flows(render_highway_svg(bigmap))

    def width(pair):
        path = flows[pair].find("s:path[@class='planned']", NS)
        return float(path.get("stroke-width"))

    assert width("WP2->WP5") > width("WP2->WP6") > width("WP10->WP2")  # TB > GB > KB
    only_big = _flows(render_highway_svg(bigmap, min_size=SizeClass.TB))
    assert "WP2->WP5" in only_big and "WP10->WP2" not in only_big


def test_highway_overlays_delivered_volume_and_unplanned(bigmap, live):
    report = track(bigmap, live)
    flows = _flows(render_highway_svg(bigmap, report))
    delivered = flows["WP2->WP5"].find("s:path[@class='delivered']", NS)
    assert delivered is not None and float(delivered.get("stroke-width")) == 12.0  # TB delivered
    assert flows["WP2->WP5"].get("data-datasets") == "1"
    assert flows["WP2->WP3"].find("s:path[@class='delivered']", NS) is None
    assert "not in the plan" in flows["WP5->WP1"].find("s:title", NS).text


def test_wp_diagram(bigmap, live):
    svg = render_wp_svg(bigmap, "WP5", track(bigmap, live))
    flows = _flows(svg)
    assert set(flows) == {f"{p}->WP5" for p in ("WP2", "WP3", "WP4", "WP6", "WP8", "WP9", "WP10", "WP11")} | {
        f"WP5->{p}" for p in ("WP2", "WP3", "WP4", "WP6", "WP7", "WP8", "WP9", "WP10", "WP11")
    }
    assert "Domain knowledge" in svg
    with pytest.raises(KeyError):
        render_wp_svg(bigmap, "WP12")


def test_document_html_structure_and_live_figures(bigmap, live):
    html = render_document_html(bigmap, live, NOW, version=3)
    lines = document_text_lines(html)
    headings = [line for line in lines if line[:2] in ("1 ", "2 ", "3 ", "4 ", "5 ", "6 ")]
    assert headings == [
        "1 Data summary",
        "2 FAIR data",
        "3 Allocation of resources",
        "4 Data security",
        "5 Ethical aspects",
        "6 Other",
    ]
    text = "\n".join(lines)
    for sub in (
        "2.1 Making data findable",
        "2.2 Making data openly accessible",
        "2.3 Making data interoperable",
    ):
        assert sub in text
    assert "1.3 WP2 \u2013 Accelerated Atomic-scale Simulations" in text
    assert "document version 3" in text
    # live figures in the FAIR section
    assert "Live openness split: public 1, restricted 1." in text
    assert "Datasets under embargo now: 1." in text
    assert "licences in use: CC-BY-4.0 1; 1 dataset(s) without a licence" in text
    assert "repositories in use: Materials Cloud 1" in text
    # per-WP tables keep the paper's rows, with flow status
    assert any(
        line.startswith("WP5 | Computational predictions") and line.endswith("delivering (1)")
        for line in lines
    )
    assert "Electronic Structure: WFT, DFT, QMC | Structures, energy-related data" in text
    multi = [line for line in lines if line.startswith("WP2, WP3 | Experimental data (materials")]
    assert len(multi) == 1 and multi[0].endswith("| planned, planned")
    received = [
        line for line in lines if line.startswith("WP2 | Structures, energy-related data, wave functions")
    ]
    assert received and received[0].endswith("| planned")  # WP5's own row of the same pair: not delivered yet
    # compliance lists what is missing
    assert "Operando XRD (hdl:2/xrd): a BattINFO keyword" in text
    assert html.count("<svg") == 1 + sum(
        1 for w in bigmap.work_packages if bigmap.inflows(w.key) or bigmap.outflows(w.key)
    )


def test_live_figures(bigmap, live):
    fig = live_figures(bigmap, live)
    assert fig.datasets == 2 and fig.per_wp == {"WP2": 1, "WP5": 1}
    assert fig.open_format_share == 0.5
    assert dict(fig.formats) == {"tar.gz": 1, "raw": 1}


def test_document_pdf():
    pytest.importorskip("weasyprint")
    plan = load_plan(DATA / "small_plan.yaml")
    pdf = render_document_pdf(render_document_html(plan, LiveState(as_of=NOW)))
    assert pdf.startswith(b"%PDF-") and len(pdf) > 5000


def test_diff_documents(bigmap, live):
    a = render_document_html(bigmap, LiveState(as_of=NOW), NOW, version=1, diagrams=False)
    b = render_document_html(bigmap, live, NOW, version=2, diagrams=False)
    out = diff_documents(a, b, "version 1", "version 2")
    assert "version 1" in out and "version 2" in out
    assert "Operando" in out  # a changed line is shown
    assert "line(s) added" in out
    assert "No differences" in diff_documents(a, a)


def test_archive_keeps_every_version(tmp_path):
    arch = DocumentArchive(tmp_path / "docs")
    assert arch.versions() == []
    assert arch.save("<p>one</p>", plan_acronym="X", plan_version="1") == 1
    assert arch.save("<p>two</p>", plan_acronym="X", plan_version="1") == 2
    assert arch.get(1) == "<p>one</p>" and arch.get(2) == "<p>two</p>"
    assert [v.number for v in DocumentArchive(tmp_path / "docs").versions()] == [1, 2]
    with pytest.raises(KeyError, match="no DMP document version 7 \\(versions: 1, 2\\)"):
        arch.get(7)


runner = CliRunner()


def test_cli_load_show_export_highway(tmp_path):
    state = ["--state", str(tmp_path)]
    res = runner.invoke(dmp_cli.dmp_app, ["load", str(DATA / "small_plan.yaml"), *state])
    assert res.exit_code == 0, res.output
    assert "MINI: 2 work packages" in res.output
    res = runner.invoke(dmp_cli.dmp_app, ["show", "--json", *state])
    data = json.loads(res.stdout)
    assert data["project"]["acronym"] == "MINI" and len(data["flows"]) == 3
    out = tmp_path / "plan.madmp.json"
    res = runner.invoke(dmp_cli.dmp_app, ["export", "--format", "madmp", "-o", str(out), *state])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["dmp"]["contact"]["mbox"] == "steward@example.org"
    svg = tmp_path / "hw.svg"
    res = runner.invoke(dmp_cli.dmp_app, ["highway", "-o", str(svg), *state])
    assert res.exit_code == 0 and svg.read_text().startswith("<svg")
    res = runner.invoke(dmp_cli.dmp_app, ["highway", "-o", str(svg), "--wp", "WP9", *state])
    assert res.exit_code == 2 and "WP9 is not a work package" in res.output


def test_cli_refuses_bad_plan(tmp_path):
    res = runner.invoke(dmp_cli.dmp_app, ["load", str(DATA / "bad_plan.yaml"), "--state", str(tmp_path)])
    assert res.exit_code == 2
    assert "line 17: duplicate work package number 1" in res.output
    assert not (tmp_path / "plan.yaml").exists()
    res = runner.invoke(dmp_cli.dmp_app, ["load", str(DATA / "bad_madmp.json"), "--state", str(tmp_path)])
    assert res.exit_code == 2 and "is not a 'email'" in res.output


def test_cli_documents_versions_and_diff(tmp_path):
    state = ["--state", str(tmp_path)]
    runner.invoke(dmp_cli.dmp_app, ["load", str(DATA / "small_plan.yaml"), *state])
    first = tmp_path / "v1.html"
    res = runner.invoke(dmp_cli.dmp_app, ["document", "-o", str(first), *state])
    assert res.exit_code == 0 and "document version 1" in res.output
    dmp_cli.set_live_provider(
        lambda plan: LiveState(datasets=[DatasetFacts(pid="p1", title="New data", wp="WP1")])
    )
    try:
        res = runner.invoke(dmp_cli.dmp_app, ["document", "-o", str(tmp_path / "v2.html"), *state])
    finally:
        dmp_cli.set_live_provider(None)
    assert "document version 2" in res.output
    res = runner.invoke(
        dmp_cli.dmp_app, ["document", "-o", str(tmp_path / "again.html"), "--version", "1", *state]
    )
    assert (tmp_path / "again.html").read_text() == first.read_text()
    res = runner.invoke(dmp_cli.dmp_app, ["diff", "1", "2", *state])
    assert res.exit_code == 0 and "+" in res.stdout and "New data" in res.stdout
    res = runner.invoke(dmp_cli.dmp_app, ["diff", "1", "9", *state])
    assert res.exit_code == 2 and "no DMP document version 9" in res.output
    res = runner.invoke(dmp_cli.dmp_app, ["document", "-o", str(tmp_path / "x.docx"), *state])
    assert res.exit_code == 2 and ".html or .pdf" in res.output


def test_document_and_highway_for_an_imported_madmp():
    import json as _json

    from databahn.dmp.madmp import import_madmp
    from tests.shared import require_shared

    path = require_shared("schemas", "madmp", "examples", "ex9-dmp-long.json")
    original = _json.loads(path.read_text(encoding="utf-8"))
    plan = import_madmp(original)
    assert plan.project.acronym == "openEO"
    lines = document_text_lines(render_document_html(plan, LiveState(as_of=NOW)))
    assert original["dmp"]["ethical_issues_description"] in lines
    assert any(line.startswith(original["dmp"]["dataset"][0]["title"]) for line in lines)
    assert "no planned flows" in render_highway_svg(plan)
