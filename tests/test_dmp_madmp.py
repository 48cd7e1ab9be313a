"""maDMP 1.2 export/import, validated against the official schema in ../shared."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from databahn.dmp.loader import load_any, load_default_plan, load_plan
from databahn.dmp.madmp import (
    FALLBACK_SCHEMA,
    MadmpError,
    export_madmp,
    import_madmp,
    madmp_schema,
    validation_errors,
)
from databahn.dmp.tracking import DatasetFacts, FlowDelivery, LiveState
from tests.shared import require_shared

DATA = Path(__file__).parent / "data" / "dmp"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def schema():
    path = require_shared("schemas", "madmp", "maDMP-schema-1.2.json")
    return json.loads(path.read_text(encoding="utf-8"))


def _examples():
    folder = require_shared("schemas", "madmp", "examples")
    files = sorted(folder.glob("*.json"))
    assert len(files) == 10
    return files


def test_finds_the_official_schema(schema):
    found, where = madmp_schema()
    assert where != "fallback" and found["$defs"].keys() == schema["$defs"].keys()


def test_bigmap_plan_exports_valid(schema):
    plan = load_default_plan()
    data = export_madmp(plan, generated_at=NOW, contact_email="dmp-steward@example.org")
    assert validation_errors(data, schema) == []
    dmp = data["dmp"]
    assert dmp["modified"] == "2026-11-01T12:00:00Z"
    assert dmp["project"][0]["funding"][0]["grant_id"]["identifier"] == "957189"
    # one maDMP dataset per planned data type, tagged with its WP
    assert len(dmp["dataset"]) == sum(len(w.data_types) for w in plan.work_packages)
    assert {d["x_databahn_wp"] for d in dmp["dataset"]} == {f"WP{n}" for n in range(2, 12)}
    ext = dmp["x_databahn_plan"]
    assert len(ext["work_packages"]) == 11 and ext["fair"]["licenses"]["data"] == "CC-BY-4.0"


def test_plan_survives_madmp_round_trip(schema):
    plan = load_default_plan()
    again = import_madmp(export_madmp(plan, generated_at=NOW, contact_email="a@example.org"), schema)
    assert again.model_dump(exclude={"madmp"}) == plan.model_dump(exclude={"madmp"})
    assert [f.id for f in again.flows] == [f.id for f in plan.flows]


def test_export_with_live_datasets(schema):
    plan = load_plan(DATA / "small_plan.yaml")
    live = LiveState(
        as_of=NOW,
        datasets=[
            DatasetFacts(
                pid="10.5281/zenodo.1",
                title="Spectra",
                wp="WP1",
                license="CC-BY-4.0",
                formats=["application/json"],
                bytes=2048,
                embargo_until=date(2027, 1, 1),
                battinfo_keywords=["XPS"],
            )
        ],
        deliveries=[
            FlowDelivery(
                dataset_pid="10.5281/zenodo.1",
                source="WP1",
                target="WP2",
                flow_id="WP1->WP2#1",
                bytes=2048,
                delivered_at=NOW,
            )
        ],
    )
    data = export_madmp(plan, live)
    assert validation_errors(data, schema) == []
    live_ds = [d for d in data["dmp"]["dataset"] if d.get("x_databahn_live")]
    assert len(live_ds) == 1
    ds = live_ds[0]
    assert ds["dataset_id"] == {"identifier": "10.5281/zenodo.1", "type": "doi"}
    lic = ds["distribution"][0]["license"][0]
    assert lic == {"license_ref": "https://spdx.org/licenses/CC-BY-4.0.html", "start_date": "2027-01-01"}
    assert ds["x_databahn_delivers"] == ["WP1->WP2#1"]
    # live datasets are state, not plan: importing the export does not turn them into data types
    assert len(import_madmp(data, schema).wp(1).data_types) == 2


def test_export_needs_a_contact_email():
    plan = load_default_plan()
    with pytest.raises(MadmpError, match="contact e-mail"):
        export_madmp(plan)


@pytest.mark.parametrize("index", range(10))
def test_examples_import_and_reexport_valid(schema, index):
    path = _examples()[index]
    original = json.loads(path.read_text(encoding="utf-8"))
    plan = import_madmp(original, schema)
    assert len(plan.work_packages[0].data_types) == len(original["dmp"]["dataset"])
    out = export_madmp(plan, generated_at=NOW)
    assert validation_errors(out, schema) == []
    # narrative and identity are kept verbatim
    for key in ("title", "dmp_id", "contact", "created", "description", "ethical_issues_description"):
        if key in original["dmp"]:
            assert out["dmp"][key] == original["dmp"][key], key
    titles = [d["title"] for d in out["dmp"]["dataset"]]
    assert titles == [d["title"] for d in original["dmp"]["dataset"]]
    # and a second round trip is stable
    again = import_madmp(out, schema)
    assert again.model_dump(exclude={"madmp"}) == plan.model_dump(exclude={"madmp"})


def test_invalid_madmp_is_refused_with_schema_message(schema):
    data = json.loads((DATA / "bad_madmp.json").read_text(encoding="utf-8"))
    with pytest.raises(MadmpError) as info:
        import_madmp(data, schema)
    problems = info.value.problems
    assert problems[0].startswith("not valid against the RDA DMP Common Standard 1.2")
    assert "at $.dmp.contact.mbox: 'not-an-email' is not a 'email'" in problems
    assert "at $.dmp.ethical_issues_exist: 'maybe' is not one of ['yes', 'no', 'unknown']" in problems
    assert "at $.dmp.dataset[0]: 'sensitive_data' is a required property" in problems


def test_fallback_schema_catches_the_same_basics():
    data = json.loads((DATA / "bad_madmp.json").read_text(encoding="utf-8"))
    problems = validation_errors(data, FALLBACK_SCHEMA)
    assert any("sensitive_data" in p for p in problems)
    assert any("'maybe'" in p for p in problems)


def test_load_any_recognises_madmp(tmp_path):
    example = _examples()[0]
    plan = load_any(example)
    assert plan.madmp is not None and plan.work_packages[0].title.startswith("Whole project")
    bad = tmp_path / "bad.json"
    bad.write_text((DATA / "bad_madmp.json").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(MadmpError):
        load_any(bad)
