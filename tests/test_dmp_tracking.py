"""Tracking planned flows against deliveries, flow suggestions and per-WP compliance."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from databahn.dmp.loader import load_default_plan, load_plan
from databahn.dmp.tracking import (
    DatasetFacts,
    FlowDelivery,
    LiveState,
    compliance,
    deliveries_for_deposit,
    resolve_delivers,
    suggest_flows,
    track,
)

DATA = Path(__file__).parent / "data" / "dmp"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def small():
    return load_plan(DATA / "small_plan.yaml")


@pytest.fixture(scope="module")
def bigmap():
    return load_default_plan()


def _delivery(pid, src, dst, flow_id, when, size=1000):
    return FlowDelivery(
        dataset_pid=pid, source=src, target=dst, flow_id=flow_id, bytes=size, delivered_at=when
    )


def test_status_rules(small):
    live = LiveState(
        as_of=NOW,
        deliveries=[
            # WP1->WP2#2 delivered recently and earlier: delivering
            _delivery("a", "WP1", "WP2", "WP1->WP2#2", datetime(2026, 10, 20, tzinfo=UTC), 2_000_000),
            _delivery("b", "WP1", "WP2", "WP1->WP2#2", datetime(2026, 3, 1, tzinfo=UTC), 3_000_000),
            # WP1->WP2#3 delivered only long ago: started
            _delivery("c", "WP1", "WP2", "WP1->WP2#3", datetime(2026, 1, 5, tzinfo=UTC)),
        ],
    )
    report = track(small, live)
    # WP1->WP2#1 has due 2026-06-30 and nothing delivered: overdue
    assert report.status("WP1->WP2#1").status == "overdue"
    s2 = report.status("WP1->WP2#2")
    assert s2.status == "delivering"
    assert s2.datasets == ["a", "b"] and s2.bytes == 5_000_000
    assert s2.first_delivery == datetime(2026, 3, 1, tzinfo=UTC)
    assert s2.last_delivery == datetime(2026, 10, 20, tzinfo=UTC)
    assert report.status("WP1->WP2#3").status == "started"
    assert report.undelivered == ["WP1->WP2#1"]
    assert report.counts() == {"planned": 0, "started": 1, "delivering": 1, "overdue": 1}
    assert report.undelivered_pairs == []  # the WP1->WP2 pair has deliveries
    # before the due date the same flow is merely planned
    early = track(small, LiveState(as_of=datetime(2026, 6, 30, tzinfo=UTC)))
    assert early.status("WP1->WP2#1").status == "planned"


def test_unplanned_flows_and_wp_traffic(small):
    live = LiveState(
        as_of=NOW,
        deliveries=[
            _delivery("x", "WP2", "WP1", None, datetime(2026, 10, 1, tzinfo=UTC), 500),
            _delivery("y", "WP2", "WP1", None, datetime(2026, 10, 2, tzinfo=UTC), 700),
            _delivery("a", "WP1", "WP2", "WP1->WP2#1", datetime(2026, 10, 3, tzinfo=UTC), 100),
        ],
    )
    report = track(small, live)
    assert len(report.unplanned) == 1
    actual = report.unplanned[0]
    assert (actual.source, actual.target, actual.datasets, actual.bytes) == ("WP2", "WP1", ["x", "y"], 1200)
    traffic = {t.wp: t for t in report.per_wp}
    assert traffic["WP1"].planned_out == 3 and traffic["WP1"].planned_in == 0
    assert traffic["WP1"].datasets_in == 2 and traffic["WP1"].bytes_in == 1200
    assert traffic["WP2"].datasets_in == 1 and traffic["WP2"].bytes_out == 1200
    assert report.datasets_between("WP2", "WP1") == ["x", "y"]
    assert report.datasets_between("wp1", "wp2") == ["a"]
    assert report.datasets_between("WP2", "WP2") == []


def test_unknown_flow_id_counts_as_unplanned(small):
    live = LiveState(as_of=NOW, deliveries=[_delivery("z", "WP1", "WP2", "WP1->WP2#99", NOW)])
    report = track(small, live)
    assert report.unplanned[0].datasets == ["z"]
    assert all(not s.datasets for s in report.flows)


def test_suggest_flows_ranks_by_content(bigmap):
    onto = suggest_flows(bigmap, "WP7", "battery interface ontology")
    assert onto and all(f.source == "WP7" for f in onto)
    assert "ontology" in (onto[0].what or "").lower()
    latent = suggest_flows(bigmap, 11, ["latent space", "encoder"])
    assert latent[0].id.startswith("WP11->WP10#")
    assert "Latent space" in (latent[0].what or "")
    # naming one of the WP's data types uses that row's words too
    atomistic = suggest_flows(bigmap, "WP2", "Atomistic simulations")
    assert atomistic and any("trajector" in (f.what or "").lower() for f in atomistic[:3])
    assert suggest_flows(bigmap, "WP2", "zzzz qqqq") == []
    with pytest.raises(KeyError, match="WP42 is not a work package"):
        suggest_flows(bigmap, "WP42", "x")


def test_resolve_delivers(bigmap):
    spec = resolve_delivers(bigmap, "WP2", "WP2:WP5")
    assert spec.flow_id == "WP2->WP5#1"
    # keywords choose among several planned flows of one pair
    spec = resolve_delivers(bigmap, "WP10", "WP10:WP4", ["FOM extraction", "data analysis"])
    assert bigmap.flow(spec.flow_id).what == "Data analysis"
    # a pair nobody planned is accepted as an actual, unplanned flow
    spec = resolve_delivers(bigmap, "WP2", "WP2:WP8")
    assert spec.flow_id is None and (spec.source, spec.target) == ("WP2", "WP8")
    assert resolve_delivers(bigmap, "WP2", "WP2->WP5#2").flow_id == "WP2->WP5#2"
    with pytest.raises(ValueError, match="can only deliver flows leaving WP2"):
        resolve_delivers(bigmap, "WP2", "WP3:WP5")
    with pytest.raises(ValueError, match="WP99 is not a work package"):
        resolve_delivers(bigmap, "WP2", "WP2:WP99")
    with pytest.raises(ValueError, match="write SOURCE:TARGET"):
        resolve_delivers(bigmap, "WP2", "WP5")
    with pytest.raises(ValueError, match="that flow leaves WP3"):
        resolve_delivers(bigmap, "WP2", "WP3->WP5#1")


def test_deliveries_for_deposit_and_pairs(bigmap):
    ds = deliveries_for_deposit(
        bigmap, "WP2", ["WP2:WP5", "WP2:WP8"], dataset_pid="10.1/a", size_bytes=42, delivered_at=NOW
    )
    assert [(d.source, d.target, d.flow_id, d.bytes) for d in ds] == [
        ("WP2", "WP5", "WP2->WP5#1", 42),
        ("WP2", "WP8", None, 42),
    ]
    report = track(bigmap, LiveState(as_of=NOW, deliveries=ds))
    assert ("WP2", "WP5") not in report.undelivered_pairs and ("WP2", "WP3") in report.undelivered_pairs
    assert "WP2->WP5#2" in report.undelivered  # the receiver's own row of the same pair
    assert report.datasets_between("WP2", "WP8") == ["10.1/a"]
    with pytest.raises(ValueError, match="WP2 can only deliver"):
        deliveries_for_deposit(bigmap, "WP2", ["WP5:WP2"], dataset_pid="x", size_bytes=1, delivered_at=NOW)


def test_compliance_per_wp(bigmap):
    complete = DatasetFacts(
        pid="10.1/ok",
        title="Complete",
        wp="WP5",
        battinfo_keywords=["Electrolyte"],
        method="XPS",
        protocol="SOP-12",
        fidelity="high",
        provenance="beamline log",
        license="CC-BY-4.0",
        formats=["text/csv"],
    )
    proprietary = complete.model_copy(
        update={"pid": "10.1/prop", "title": "Proprietary", "formats": [".mpr"]}
    )
    with_software = proprietary.model_copy(update={"pid": "10.1/sw", "software": "EC-Lab 11.50"})
    bare = DatasetFacts(pid="10.1/bare", title="Bare", wp="WP2", formats=[".tar.gz"])
    result = {c.wp: c for c in compliance(bigmap, [complete, proprietary, with_software, bare])}
    assert result["WP5"].datasets == 3 and result["WP5"].complete == 2
    assert [(f.pid, f.missing) for f in result["WP5"].findings] == [
        ("10.1/prop", ["open_format_or_software"])
    ]
    bare_finding = result["WP2"].findings[0]
    assert bare_finding.missing == [
        "battinfo_keyword",
        "method",
        "protocol",
        "fidelity",
        "provenance",
        "license",
    ]
    assert "a BattINFO keyword" in bare_finding.messages()
    assert result["WP3"].datasets == 0 and result["WP3"].findings == []


def test_live_state_groups_by_wp():
    live = LiveState(
        datasets=[
            DatasetFacts(pid="1", wp="wp2"),
            DatasetFacts(pid="2", wp="WP2", embargo_until=date(2030, 1, 1)),
            DatasetFacts(pid="3", wp="WP 5"),
        ]
    )
    assert {k: len(v) for k, v in live.datasets_by_wp().items()} == {"WP2": 2, "WP5": 1}
