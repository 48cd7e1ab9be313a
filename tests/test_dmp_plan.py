"""The plan model, the shipped BIG-MAP plan (checked against the DMP paper) and the plan-file loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from databahn.dmp.loader import PlanError, dump_plan_yaml, load_default_plan, load_plan, parse_plan
from databahn.dmp.model import SizeClass, SizeRange
from tests.shared import require_shared

DATA = Path(__file__).parent / "data" / "dmp"

# Rows counted by hand in the paper's Supplementary Information, per WP:
# (types-and-formats rows, "collected from" rows, "delivered to" rows)
PAPER_COUNTS = {
    2: (4, 8, 6),  # Tables WP 1.1-1.3
    3: (15, 9, 9),  # Tables WP 1.4-1.6
    4: (23, 6, 8),  # Tables WP 1.7-1.9
    5: (24, 8, 9),  # Tables WP 1.10-1.12
    6: (33, 8, 9),  # Tables WP 1.13-1.15
    7: (5, 6, 4),  # Tables WP 1.16-1.18
    8: (3, 3, 5),  # Tables WP 1.20-1.22
    9: (4, 0, 0),  # Table WP 1.23 (WP9 has no inflow/outflow tables)
    10: (7, 9, 7),  # Tables WP 1.26-1.28
    11: (9, 7, 6),  # Tables WP 1.29-1.31
}


@pytest.fixture(scope="module")
def bigmap():
    return load_default_plan()


def test_bigmap_has_all_work_packages_with_paper_titles(bigmap):
    titles = {w.number: w.title for w in bigmap.work_packages}
    assert sorted(titles) == list(range(1, 12))
    assert titles[2] == "Accelerated Atomic-scale Simulations"
    assert titles[6] == "HTS and Testing"
    assert titles[10] == "AI-accelerated Materials Discovery"
    assert titles[11] == "Battery Interface Genome"


@pytest.mark.parametrize("wp", sorted(PAPER_COUNTS))
def test_bigmap_row_counts_match_the_paper(bigmap, wp):
    w = bigmap.wp(wp)
    assert (len(w.data_types), len(w.collected_from), len(w.delivered_to)) == PAPER_COUNTS[wp]


def test_bigmap_partner_list_is_the_papers(bigmap):
    abbrevs = [p.abbreviation for p in bigmap.partners]
    assert len(abbrevs) == 34 and len(set(abbrevs)) == 34
    assert bigmap.partner("ESRF").name == "European Synchrotron Radiation Facility"
    assert bigmap.partner("3DS").name == "Dassault Systems"
    # every WP partner is a known partner
    for w in bigmap.work_packages:
        assert set(w.partners) <= set(abbrevs), w.key


def test_bigmap_spot_check_rows(bigmap):
    wp2 = bigmap.wp(2)
    assert wp2.data_types[0].datatype == "Electronic Structure: WFT, DFT, QMC"
    assert wp2.data_types[0].size == SizeRange.parse("TB")
    # "As above" is resolved to the row above
    assert wp2.data_types[1].format.startswith(".tar.gz (an archive of input and output text")
    wp5 = bigmap.wp(5)
    lsf = [
        d
        for d in wp5.data_types
        if d.datatype == "Spatially-resolved structural/morphological data (large scale facilities)"
    ]
    assert lsf and str(lsf[0].size) == "GB-TB"
    wp6 = bigmap.wp(6)
    cycling = [d for d in wp6.data_types if d.datasets == "Galvanostatic cycling"]
    assert (
        cycling
        and cycling[0].section.endswith("Cell level")
        and cycling[0].datatype == "Electrochemical data"
    )
    assert cycling[0].merged  # the paper's merged datatype cell
    wp7 = bigmap.wp(7)
    assert wp7.data_types[2].format == ".owl, .ttl"
    assert wp7.collected_from[0].wp == ["WP2", "WP3", "WP4", "WP5", "WP6"]
    wp11 = bigmap.wp(11)
    assert (
        wp11.delivered_to[-1].format == "npy"
        and wp11.delivered_to[-1].what == "Dynamic interface descriptors"
    )
    wp4 = bigmap.wp(4)
    assert wp4.delivered_to[0].wp == ["WP2", "WP3"]
    assert wp4.data_types[-1].size_note == "g-kg / KB-MB"
    assert len(bigmap.wp(9).collected_examples) == 10


def test_bigmap_fair_policies(bigmap):
    fair = bigmap.fair
    assert fair.licenses.data == "CC-BY-4.0"
    assert "MIT" in fair.licenses.software
    assert fair.preservation_years == 10
    assert {e.kind: e.max_months for e in fair.embargo_rules}["publisher"] == 6
    assert {r.name for r in fair.repositories} >= {"Materials Cloud", "Zenodo", "GitHub"}
    assert len(fair.trusted_repository_criteria) == 5


def test_flows_are_derived_with_stable_ids(bigmap):
    ids = [f.id for f in bigmap.flows]
    assert len(ids) == len(set(ids))
    rows = sum(len(r.wp) for w in bigmap.work_packages for r in (*w.collected_from, *w.delivered_to))
    assert len(bigmap.flows) == rows
    wp2_wp5 = bigmap.flows_between("WP2", "WP5")
    assert [f.id for f in wp2_wp5] == ["WP2->WP5#1", "WP2->WP5#2"]
    assert wp2_wp5[0].declared_by == "WP2" and wp2_wp5[0].table == "delivered_to"
    assert wp2_wp5[1].declared_by == "WP5" and wp2_wp5[1].table == "collected_from"
    assert bigmap.flow("WP2->WP5#1").size.high is SizeClass.TB
    assert bigmap.flows_between(5, 2) and not bigmap.flows_between(1, 2)
    # reloading gives the same ids
    assert [f.id for f in load_default_plan().flows] == ids


def test_bigmap_yaml_is_faithful_to_paper_text(bigmap):
    """Spot-check wording against the paper itself (read from ../shared, never copied)."""
    paper = require_shared("seed", "000_bd99e52054664031.txt").read_text(encoding="utf-8")
    flat = " ".join(paper.split())
    for phrase in (
        "Suggestion of the next optimal experiment",
        "Latent space representation of materials and interfaces",
        "Uncertainty propagation scheme between scales",
        "Gradient coatings or combinatorial coatings",
    ):
        assert phrase in flat
        assert any(phrase in (f.what or "") for f in bigmap.flows), phrase


def test_small_plan_and_as_above():
    plan = load_plan(DATA / "small_plan.yaml")
    dft = plan.wp(1).data_types
    assert dft[1].type == "Tarball" and dft[1].datatype == "DFT" and dft[1].merged
    assert [f.id for f in plan.flows] == ["WP1->WP2#1", "WP1->WP2#2", "WP1->WP2#3"]
    assert plan.flow("WP1->WP2#2").size == SizeRange(low=SizeClass.KB, high=SizeClass.MB)


def test_bad_plan_is_refused_with_lines_and_reasons():
    with pytest.raises(PlanError) as info:
        load_plan(DATA / "bad_plan.yaml")
    msgs = [str(p) for p in info.value.problems]
    assert msgs == [
        "line 9: WP1 delivered_to row 1 names WP7, which is not a work package of this plan (known: WP1, WP2)",
        "line 16: WP2 data_types row 1: unknown size class 'XB' (use KB, MB, GB or TB, or a range like MB-GB)",
        "line 17: duplicate work package number 1 (already defined on line 6)",
    ]
    assert "bad_plan.yaml was refused" in info.value.report()


def test_json_plan_errors_have_lines_too():
    text = '{\n "project": {"acronym": "J", "title": "t"},\n "work_packages": [\n  {"number": 1, "title": "a",\n   "collected_from": [{"wp": "WP9", "size": "MB"}]}\n ]\n}\n'
    with pytest.raises(PlanError) as info:
        parse_plan(text, "plan.json")
    assert [p.line for p in info.value.problems] == [5]
    assert "names WP9" in info.value.problems[0].message


def test_type_errors_map_to_lines():
    text = (
        "project:\n  acronym: X\n  title: T\nwork_packages:\n  - number: 1\n    title: A\n    partners: 7\n"
    )
    with pytest.raises(PlanError) as info:
        parse_plan(text)
    assert info.value.problems[0].line == 7
    assert "partners" in info.value.problems[0].message


def test_not_yaml_and_missing_file():
    with pytest.raises(PlanError) as info:
        parse_plan("project: [unclosed\n")
    assert info.value.problems[0].line is not None and "not valid YAML" in info.value.problems[0].message
    with pytest.raises(PlanError, match="cannot read"):
        load_plan(DATA / "no-such-plan.yaml")
    with pytest.raises(PlanError, match="work_packages"):
        parse_plan("project: {acronym: X, title: T}\n")


def test_dump_and_reload_round_trip(bigmap, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(dump_plan_yaml(bigmap), encoding="utf-8")
    again = load_plan(path)
    assert again.model_dump() == bigmap.model_dump()
    assert [f.id for f in again.flows] == [f.id for f in bigmap.flows]


def test_size_parsing():
    assert str(SizeRange.parse("kB and MB")) == "KB-MB"
    assert str(SizeRange.parse("MB - GB")) == "MB-GB"
    assert SizeClass.for_bytes(5 * 10**9) is SizeClass.GB
    assert SizeClass.for_bytes(10) is SizeClass.KB
    with pytest.raises(ValueError, match="unknown size class 'PB'"):
        SizeRange.parse("PB")


def test_cells_keep_the_papers_wording(bigmap):
    """Nearly every transcribed cell occurs verbatim in the paper (modulo line breaks).

    The rest are cells the PDF-to-text dump interleaved with a neighbouring column or a page break,
    which the transcription reassembled; they must stay few.
    """
    import re

    import yaml

    paper = require_shared("seed", "000_bd99e52054664031.txt").read_text(encoding="utf-8")
    flat, nospace = " ".join(paper.split()), re.sub(r"\s+", "", paper)
    data = yaml.safe_load(
        (Path(__file__).parents[1] / "src/databahn/dmp/data/bigmap.yaml").read_text("utf-8")
    )
    total, missing = 0, []
    for w in data["work_packages"]:
        for table in ("data_types", "collected_examples", "collected_from", "delivered_to"):
            for row in w.get(table) or []:
                for key in ("datatype", "description", "datasets", "type", "format", "what", "used_for"):
                    value = row.get(key)
                    if not isinstance(value, str) or value.lower() == "as above":
                        continue
                    total += 1
                    if " ".join(value.split()) not in flat and re.sub(r"\s+", "", value) not in nospace:
                        missing.append(value)
    assert total > 900
    assert len(missing) <= 20, missing
