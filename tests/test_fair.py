"""FAIR self-assessment: scores follow what a record really has, reasons name what is missing."""

from __future__ import annotations

import json

import pytest

from databahn.domain.metadata import RelatedIdentifier
from databahn.domain.records import VersionRecord, VersionState
from databahn.fair import METRICS, FairConfig, Status, assess, gate, publication_problems
from tests.test_exporters_records import full_record, minimal_record, restricted_record


def _without_doi(r: VersionRecord) -> VersionRecord:
    return r.model_copy(update={"identifiers": [i for i in r.identifiers if i.scheme != "doi"]})


def test_every_metric_reported_with_fuji_ids() -> None:
    report = assess(full_record())
    assert [m.id for m in report.metrics] == [m[0] for m in METRICS]
    assert all(m.id.startswith("FsF-") and m.reason for m in report.metrics)
    assert {m.principle for m in report.metrics} == set("FAIR")


def test_rich_record_scores_higher_than_minimal() -> None:
    rich, restricted, minimal = assess(full_record()), assess(restricted_record()), assess(minimal_record())
    assert rich.score > restricted.score > minimal.score
    assert rich.score >= 90 and minimal.score < 30
    assert all(m.status == Status.passed for m in rich.metrics if m.principle in "FAI")
    assert rich.by_principle()["I"] == 100.0 and minimal.by_principle()["R"] == 0.0


def test_passed_metrics_carry_no_advice_and_failed_ones_do() -> None:
    for report in (assess(full_record()), assess(minimal_record())):
        for m in report.metrics:
            assert (m.advice == "") == (m.status == Status.passed), m
            assert 0 <= m.points <= m.max_points


def test_license_reason() -> None:
    r = full_record()
    r.metadata.license = None
    m = assess(r).metric("FsF-R1.1-01M")
    assert m.status == Status.failed and "no license" in m.reason and m.field == "license"
    r.metadata.license = "CC-BY-NC-ND-4.0"
    m = assess(r).metric("FsF-R1.1-01M")
    assert m.status == Status.partial and "CC-BY-NC-ND-4.0" in m.reason and "not an open" in m.reason


def test_persistent_identifier_reason_names_missing_doi() -> None:
    m = assess(_without_doi(full_record())).metric("FsF-F1-02D")
    assert m.status == Status.partial and "no DOI" in m.reason and "3k7q-m2x9.v2" in m.reason


def test_orcid_reason_names_the_person() -> None:
    r = full_record()
    r.metadata.creators[1].orcid = None
    m = assess(r).metric("FsF-I3-01M")
    assert m.status == Status.partial and "Østergaard, Ida" in m.reason
    assert "BIG-MAP Consortium" not in m.reason  # an organisation has no ORCID


def test_vocabulary_reasons() -> None:
    r = full_record()
    r.metadata.keywords = ["coin cell", "LiFePO4"]
    m = assess(r).metric("FsF-I2-01M")
    # the extractor's technique IRI still counts for something, but not as a keyword
    assert m.status == Status.partial and "no keyword is a BattINFO/EMMO term" in m.reason
    for f in r.files:
        f.extracted = None
    m = assess(r).metric("FsF-I2-01M")
    assert m.status == Status.failed and "plain-text keywords only" in m.reason and m.field == "keywords"


def test_provenance_reason_names_missing_protocol_and_source() -> None:
    r = full_record()
    assert r.metadata.method is not None
    r.metadata.method.protocol = None
    r.metadata.related_identifiers = [
        x for x in r.metadata.related_identifiers if x.relation.value != "IsDerivedFrom"
    ]
    r.metadata.data_level = None
    r = r.model_copy(update={"files": [f.model_copy(update={"derived_from": None}) for f in r.files]})
    m = assess(r).metric("FsF-R1.2-01M")
    assert m.status == Status.partial
    assert "protocol or SOP" in m.reason and "derived from" in m.reason and "instrument" not in m.reason


def test_community_standard_reason_lists_dmp_fields() -> None:
    r = full_record()
    r.metadata.work_package = None
    r.metadata.fidelity = None
    m = assess(r).metric("FsF-R1.3-01M")
    assert m.status == Status.partial and "work package, fidelity" in m.reason and m.field == "work_package"


def test_open_format_reasons() -> None:
    r = full_record()
    mpr_only = r.model_copy(update={"files": [f for f in r.files if f.key.endswith(".mpr")]})
    m = assess(mpr_only).metric("FsF-R1.3-02D")
    assert m.status == Status.partial and "raw/gcpl.issue_149.mpr" in m.reason and "EC-Lab 11.50" in m.reason
    mpr_only.metadata.software = []
    m = assess(mpr_only).metric("FsF-R1.3-02D")
    assert m.status == Status.failed and "no software named" in m.reason and m.field == "software"


def test_core_metadata_reason_short_description() -> None:
    r = minimal_record()
    r.metadata.description = "XRD."
    m = assess(r).metric("FsF-F2-01M")
    assert "fewer than 50 characters" in m.reason and "creators" in m.reason


def test_restricted_access_reason_and_advice() -> None:
    m = assess(restricted_record()).metric("FsF-A1-01M")
    assert m.status == Status.partial and "restricted" in m.reason and "ContactPerson" in m.advice
    r = restricted_record()
    r.metadata.contributors[0].role = "ContactPerson"
    assert assess(r).metric("FsF-A1-01M").status == Status.passed


def test_related_identifiers_add_points() -> None:
    r = full_record()
    before = assess(r).score
    r.metadata.related_identifiers = []
    after = assess(r)
    assert after.score < before and "related publications" in after.metric("FsF-I3-01M").reason
    r.metadata.related_identifiers = [RelatedIdentifier(identifier="10.1002/aenm.202102904")]
    assert assess(r).score > after.score


# -- gate ----------------------------------------------------------------------------------------
def test_gate_blocks_low_scores_with_advice() -> None:
    decision = gate(assess(minimal_record()))
    assert not decision.allowed and decision.minimum == 50.0
    assert "below the hub's minimum of 50.0%" in decision.message and "To fix:" in decision.message
    assert decision.blocking and all(m.status != Status.passed for m in decision.blocking)
    assert gate(assess(full_record())).allowed


def test_gate_minimum_is_configurable() -> None:
    report = assess(restricted_record())
    assert gate(report, 80).allowed and not gate(report, 95).allowed
    assert gate(report, config=FairConfig(minimum_score=95)).allowed is False
    with pytest.raises(ValueError, match="between 0 and 100"):
        gate(report, 120)


def test_gate_required_metrics_block_regardless_of_score() -> None:
    r = full_record()
    r.metadata.license = None
    cfg = FairConfig(minimum_score=10, required=frozenset({"FsF-R1.1-01M"}))
    report = assess(r, config=cfg)
    decision = gate(report, config=cfg)
    assert report.score > 80 and not decision.allowed
    assert "License (FsF-R1.1-01M) is required" in decision.message
    assert [m.id for m in decision.blocking] == ["FsF-R1.1-01M"]


def test_config_weights_and_disabled_metrics() -> None:
    cfg = FairConfig(weights={"FsF-R1.1-01M": 10}, disabled=frozenset({"FsF-I1-01M"}))
    r = full_record()
    r.metadata.license = None
    weighted = assess(r, config=cfg)
    assert "FsF-I1-01M" not in [m.id for m in weighted.metrics]
    assert weighted.metric("FsF-R1.1-01M").max_points == 10
    assert weighted.score < assess(r).score


def test_config_rejects_unknown_metric_ids() -> None:
    with pytest.raises(ValueError, match=r"unknown FAIR metric id\(s\) \['FsF-X'\]"):
        FairConfig(required=frozenset({"FsF-X"}))
    with pytest.raises(ValueError, match="between 0 and 100"):
        FairConfig(minimum_score=-1)


def test_report_serialises_to_json() -> None:
    data = json.loads(json.dumps(assess(full_record()).to_dict()))
    assert data["pid"] == "3k7q-m2x9.v2" and 0 <= data["score"] <= 100
    assert data["metrics"][0]["status"] in {"passed", "partial", "failed"}
    assert set(data["by_principle"]) == set("FAIR")


def test_publication_problems_judge_the_draft_as_published() -> None:
    draft = full_record().model_copy(update={"state": VersionState.draft, "published": None})
    assert assess(draft).metric("FsF-F4-01M").status == Status.failed  # drafts are not harvested...
    assert publication_problems(draft) == []  # ...which must not count against publishing them
    problems = publication_problems(minimal_record())
    assert problems[0][0] == "fair" and "below the hub's minimum" in problems[0][1]
    fields = {f for f, _ in problems[1:]}
    assert fields and fields <= {
        "license",
        "keywords",
        "related_identifiers",
        "creators",
        "files",
        "method",
        "work_package",
        "identifiers",
        "metadata",
    }
    cfg = FairConfig(minimum_score=0, required=frozenset({"FsF-R1.1-01M"}))
    no_license = full_record()
    no_license.metadata.license = None
    ((field, message),) = publication_problems(no_license, cfg)[1:]
    assert field == "license" and "no license" in message
