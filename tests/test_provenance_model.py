"""Provenance vocabulary, steps with units, model cards, and lineage on a battery-lab graph."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from databahn.provenance import (
    ALLOWED_LINKS,
    ActivityNode,
    ActivityType,
    AgentNode,
    AgentType,
    CycleError,
    DatasetNode,
    LinkNotAllowedError,
    LinkType,
    ModelCard,
    ModelNode,
    NodeKind,
    Parameter,
    ProvenanceError,
    ProvGraph,
    ProvNode,
    RestrictedNode,
    SampleNode,
    SampleType,
    Step,
    StepKind,
    UnknownNodeError,
    record_training_step,
    redact,
    validate_link,
)

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def card(seed: int = 42, **overrides: object) -> ModelCard:
    data: dict[str, object] = {
        "training_data": ["ds:capacity-v1"],
        "init_parameters": {"hidden": [64, 64], "lr": 0.001},
        "seeds": {"torch": seed, "numpy": 0},
        "hardware": "CPU, 2 cores",
        "framework_versions": {"torch": "2.3.1", "python": "3.11.9"},
        "timestamp": T0,
    }
    data.update(overrides)
    return ModelCard.model_validate(data)


def battery_graph() -> ProvGraph:
    """Material lot -> electrode -> cell -> cycling raw file -> capacity table -> model v1 -> v2."""
    g = ProvGraph()
    nodes: list[ProvNode] = [
        SampleNode(
            id="lot:NMC811-A7",
            sample_type=SampleType.MATERIAL,
            supplier="Acme Cathodes",
            lot="A7",
            commercial=True,
            source_identifier="acme:cat/NMC811#A7",
        ),
        SampleNode(id="el:LP57-3", sample_type=SampleType.ELECTROLYTE, label="LP57 batch 3"),
        SampleNode(id="electrode:E12", sample_type=SampleType.ELECTRODE, label="NMC811 electrode E12"),
        SampleNode(id="cell:C5", sample_type=SampleType.CELL, label="coin cell C5"),
        ActivityNode(id="act:coat", activity_type=ActivityType.SYNTHESIS, label="slurry coating"),
        ActivityNode(id="act:assemble", activity_type=ActivityType.ASSEMBLY, label="cell assembly"),
        ActivityNode(
            id="act:cycle",
            activity_type=ActivityType.MEASUREMENT,
            label="formation cycling",
            started_at=T0,
            ended_at=datetime(2024, 3, 3, 9, 0, tzinfo=UTC),
            steps=(
                Step(
                    order=2,
                    kind=StepKind.CONSTANT_CURRENT,
                    action="discharge",
                    parameters=(Parameter.parse("current", "-1 mA"), Parameter.parse("duration", "30 s")),
                ),
                Step(order=1, kind=StepKind.LOAD_SAMPLE, action="load cell C5 into channel 3"),
            ),
        ),
        DatasetNode(id="ds:raw-cycling", label="C5_formation.mpr", attributes={"size": 123456}),
        ActivityNode(id="act:analyse", activity_type=ActivityType.ANALYSIS, label="capacity extraction"),
        DatasetNode(id="ds:capacity-v1", label="capacity table"),
        ActivityNode(id="act:train1", activity_type=ActivityType.TRAINING, label="AL step 1"),
        ModelNode(id="model:soh-v1", label="SoH model", version="1", card=card()),
        ActivityNode(id="act:train2", activity_type=ActivityType.TRAINING, label="AL step 2"),
        ModelNode(id="model:soh-v2", label="SoH model", version="2", card=card(seed=43)),
        AgentNode(id="agent:alice", agent_type=AgentType.PERSON, label="Alice"),
        AgentNode(id="agent:biologic", agent_type=AgentType.INSTRUMENT, label="VMP3", version="11.50"),
        AgentNode(
            id="agent:galvani",
            agent_type=AgentType.SOFTWARE,
            label="galvani",
            version="0.4.1",
            commit="a1b2c3d",
        ),
    ]
    for node in nodes:
        g.add_node(node)
    links = [
        ("lot:NMC811-A7", "input_calc", "act:coat", "active material"),
        ("act:coat", "create", "electrode:E12", "electrode"),
        ("electrode:E12", "input_calc", "act:assemble", "cathode"),
        ("el:LP57-3", "input_calc", "act:assemble", "electrolyte"),
        ("act:assemble", "create", "cell:C5", "cell"),
        ("cell:C5", "input_calc", "act:cycle", "sample"),
        ("act:cycle", "create", "ds:raw-cycling", "raw"),
        ("ds:raw-cycling", "input_calc", "act:analyse", ""),
        ("act:analyse", "create", "ds:capacity-v1", ""),
        ("ds:capacity-v1", "input_calc", "act:train1", "training data"),
        ("act:train1", "create", "model:soh-v1", ""),
        ("model:soh-v1", "input_calc", "act:train2", "warm start"),
        ("act:train2", "create", "model:soh-v2", ""),
        ("model:soh-v1", "revision_of", "model:soh-v2", ""),
        ("agent:alice", "associated_with", "act:cycle", "operator"),
        ("agent:biologic", "associated_with", "act:cycle", "instrument"),
        ("agent:galvani", "associated_with", "act:analyse", "parser"),
    ]
    for source, link, target, label in links:
        g.add_edge(source, link, target, label)
    return g


# ------------------------------------------------------------------------------------ link table


def test_link_table_allows_the_documented_links_and_refuses_the_rest() -> None:
    validate_link(NodeKind.DATASET, LinkType.INPUT_CALC, NodeKind.ACTIVITY)
    validate_link("activity", "create", "model")
    validate_link("workflow", "call_work", "workflow")
    validate_link("agent", "associated_with", "workflow")
    with pytest.raises(LinkNotAllowedError, match=r"'create' link cannot go from a sample to a dataset"):
        validate_link("sample", "create", "dataset")
    with pytest.raises(LinkNotAllowedError, match=r"allowed for: .*activity -> dataset"):
        validate_link("dataset", "create", "dataset")
    with pytest.raises(LinkNotAllowedError, match="unknown link type 'made_of'"):
        validate_link("sample", "made_of", "sample")
    with pytest.raises(LinkNotAllowedError, match="unknown node kind"):
        validate_link("spaceship", "create", "dataset")
    # revision_of only joins versions of the same kind of thing
    validate_link("model", "revision_of", "model")
    with pytest.raises(LinkNotAllowedError):
        validate_link("dataset", "revision_of", "model")
    assert set(ALLOWED_LINKS) == set(LinkType)


def test_add_edge_refuses_kind_mismatch_unknown_ids_and_second_generator() -> None:
    g = battery_graph()
    with pytest.raises(LinkNotAllowedError):
        g.add_edge("agent:alice", "create", "ds:raw-cycling")
    with pytest.raises(UnknownNodeError, match="unknown node id 'ds:nope'"):
        g.add_edge("ds:nope", "input_calc", "act:analyse")
    with pytest.raises(ProvenanceError, match=r"already has 'act:analyse' via 'create'.*one generating"):
        g.add_edge("act:cycle", "create", "ds:capacity-v1")
    with pytest.raises(ProvenanceError, match="input label 'cathode' is already taken by 'electrode:E12'"):
        g.add_edge("el:LP57-3", "input_calc", "act:assemble", "cathode")
    with pytest.raises(ProvenanceError, match="one direct predecessor"):
        g.add_edge("model:soh-v1", "revision_of", "model:soh-v2", "again")
    with pytest.raises(ProvenanceError, match="already used by another sample"):
        g.add_node(DatasetNode(id="cell:C5"))
    before = len(g.edges)
    g.add_edge("ds:raw-cycling", "input_calc", "act:analyse")  # identical edge: no-op
    assert len(g.edges) == before


def test_cycle_is_refused_with_the_cycle_path() -> None:
    g = battery_graph()
    with pytest.raises(CycleError) as info:
        g.add_edge("model:soh-v2", "derived_from", "electrode:E12")
    path = info.value.path
    assert path[0] == path[-1] == "model:soh-v2"
    assert path[1] == "electrode:E12"
    assert "act:assemble" in path and "ds:raw-cycling" in path
    assert " -> ".join(path) in str(info.value)
    with pytest.raises(CycleError, match="cannot derive from itself"):
        g.add_edge("ds:raw-cycling", "derived_from", "ds:raw-cycling")
    # logical (non-derivation) links may loop, as AiiDA workflows returning their input do
    assert "model:soh-v2" not in g.ancestors("electrode:E12")


# ------------------------------------------------------------------------------------- lineage


def test_ancestors_descendants_and_impact() -> None:
    g = battery_graph()
    anc = g.ancestors("model:soh-v1")
    assert anc["act:train1"] == 1 and anc["ds:capacity-v1"] == 2
    assert {"ds:raw-cycling", "cell:C5", "electrode:E12", "lot:NMC811-A7", "el:LP57-3"} <= set(anc)
    assert anc["lot:NMC811-A7"] == 10
    assert not any(i.startswith("agent:") for i in anc)  # agents are not lineage
    assert set(g.ancestors("model:soh-v1", depth=2)) == {"act:train1", "ds:capacity-v1"}
    assert g.ancestors("model:soh-v1", depth=0) == {}

    desc = g.descendants("ds:raw-cycling")
    assert desc == {
        "act:analyse": 1,
        "ds:capacity-v1": 2,
        "act:train1": 3,
        "model:soh-v1": 4,
        "act:train2": 5,
        "model:soh-v2": 5,
    }
    impact = g.impact("ds:raw-cycling")
    assert [n.id for n in impact] == ["ds:capacity-v1", "model:soh-v1", "model:soh-v2"]
    assert [n.id for n in g.impact("lot:NMC811-A7")] == [
        "ds:raw-cycling",
        "ds:capacity-v1",
        "model:soh-v1",
        "model:soh-v2",
    ]
    assert g.impact("model:soh-v2") == []
    # agent links can be followed on request
    assert "act:cycle" in g.descendants("agent:alice", links=[LinkType.ASSOCIATED_WITH])
    with pytest.raises(UnknownNodeError):
        g.ancestors("ds:missing")
    with pytest.raises(ProvenanceError, match="depth must be 0 or more"):
        g.descendants("ds:raw-cycling", depth=-1)


def test_active_learning_versions_form_a_chain() -> None:
    g = battery_graph()
    g.add_node(ActivityNode(id="act:train3", activity_type=ActivityType.TRAINING))
    g.add_node(ModelNode(id="model:soh-v3", version="3", card=card(seed=44)))
    g.add_edge("model:soh-v2", "input_calc", "act:train3")
    g.add_edge("act:train3", "create", "model:soh-v3")
    g.add_edge("model:soh-v2", "revision_of", "model:soh-v3")
    assert g.version_chain("model:soh-v2") == ["model:soh-v1", "model:soh-v2", "model:soh-v3"]
    hashes = {g.node(i).metadata_hash for i in g.version_chain("model:soh-v1")}  # type: ignore[union-attr]
    assert len(hashes) == 3  # each step keeps its own card


def test_bulk_add_checks_cycles_once_and_rolls_back() -> None:
    g = ProvGraph()
    for i in range(4):
        g.add_node(DatasetNode(id=f"d{i}"))
    g.add_node(ActivityNode(id="a", activity_type=ActivityType.ANALYSIS))
    before = g.edges
    with pytest.raises(CycleError) as info:
        g.add_edges(
            [
                ("d0", "input_calc", "a", "in"),
                ("a", "create", "d1", "out"),
                ("d1", "derived_from", "d2", ""),
                ("d2", "derived_from", "d0", ""),
                ("d2", "derived_from", "d3", ""),
            ]
        )
    path = info.value.path
    assert path[0] == path[-1] and set(path) == {"d0", "a", "d1", "d2"}
    assert " -> ".join(path) in str(info.value)
    assert g.edges == before and g.out_edges("d0") == [] and g.in_edges("d3") == []  # all or nothing
    with pytest.raises(LinkNotAllowedError, match=r"^d0 -\[create:\]-> d1: a 'create' link"):
        g.add_edges([("d0", "derived_from", "d1", ""), ("d0", "create", "d1", "")])
    assert g.edges == before
    added = g.add_edges([("d0", "derived_from", "d1", ""), ("d0", "derived_from", "d1", "")])
    assert len(added) == 1 and g.descendants("d0") == {"d1": 1}


def test_training_steps_keep_card_and_lineage_in_agreement() -> None:
    g = battery_graph()
    g.add_node(DatasetNode(id="ds:capacity-v2", label="capacity table, batch 2"))
    g.add_node(AgentNode(id="agent:torch", agent_type=AgentType.SOFTWARE, version="2.3.1"))
    step3 = ModelNode(
        id="model:soh-v3", version="3", card=card(seed=44, training_data=["ds:capacity-v1", "ds:capacity-v2"])
    )
    record_training_step(
        g,
        ActivityNode(id="act:train3", activity_type=ActivityType.TRAINING),
        step3,
        previous="model:soh-v2",
        agents=[("agent:torch", "framework")],
    )
    assert g.version_chain("model:soh-v3") == ["model:soh-v1", "model:soh-v2", "model:soh-v3"]
    inputs = {(e.source, e.label) for e in g.in_edges("act:train3")}
    assert inputs == {
        ("ds:capacity-v1", "training data 1"),
        ("ds:capacity-v2", "training data 2"),
        ("model:soh-v2", "initial model"),
        ("agent:torch", "framework"),
    }
    assert [n.id for n in g.impact("ds:capacity-v2")] == ["model:soh-v3"]
    size, n_edges = len(g), len(g.edges)
    with pytest.raises(UnknownNodeError, match="names training data not in the graph: ds:ghost"):
        record_training_step(
            g,
            ActivityNode(id="act:train4", activity_type=ActivityType.TRAINING),
            ModelNode(id="model:soh-v4", card=card(training_data=["ds:ghost"])),
        )
    with pytest.raises(ProvenanceError, match="has no model card"):
        record_training_step(
            g, ActivityNode(id="act:train4", activity_type=ActivityType.TRAINING), ModelNode(id="model:x")
        )
    with pytest.raises(ProvenanceError, match="already has 'model:soh-v3' after it"):
        record_training_step(
            g,
            ActivityNode(id="act:train4", activity_type=ActivityType.TRAINING),
            ModelNode(id="model:soh-v3b", card=card()),
            previous="model:soh-v2",
        )
    assert (len(g), len(g.edges)) == (size, n_edges)  # refused steps leave nothing behind


def test_deep_lineage_is_iterative() -> None:
    g = ProvGraph()
    g.add_node(DatasetNode(id="d0"))
    n = 3000
    for i in range(1, n + 1):
        g.add_node(DatasetNode(id=f"d{i}"))
        g.add_edge(f"d{i - 1}", "derived_from", f"d{i}")
    assert len(g.ancestors(f"d{n}")) == n
    assert g.descendants("d0")[f"d{n}"] == n
    with pytest.raises(CycleError):
        g.add_edge(f"d{n}", "derived_from", "d0")


def test_neighbourhood_is_the_dataset_page_view() -> None:
    g = battery_graph()
    near = g.neighbourhood("ds:raw-cycling", depth=2)
    assert set(near.nodes) == {
        "cell:C5",
        "act:cycle",
        "ds:raw-cycling",
        "act:analyse",
        "ds:capacity-v1",
        "agent:alice",
        "agent:biologic",
        "agent:galvani",
    }
    # edges are kept only between kept nodes, and keep their labels
    assert {(e.source, e.label) for e in near.in_edges("act:cycle")} == {
        ("cell:C5", "sample"),
        ("agent:alice", "operator"),
        ("agent:biologic", "instrument"),
    }
    # at any depth every node of this single lineage is in view, the electrolyte included
    assert set(g.neighbourhood("ds:raw-cycling").nodes) == set(g.nodes)


def test_round_trip_through_dict_keeps_everything() -> None:
    g = battery_graph()
    data = json.loads(json.dumps(g.to_dict()))
    again = ProvGraph.from_dict(data)
    assert again.nodes == g.nodes
    assert again.edges == g.edges
    cycled = data["nodes"][6]
    assert cycled["id"] == "act:cycle" and [s["order"] for s in cycled["steps"]] == [1, 2]
    bad = {
        "nodes": data["nodes"],
        "edges": [
            *data["edges"],
            {"source": "ds:capacity-v1", "target": "cell:C5", "link_type": "derived_from"},
        ],
    }
    with pytest.raises(CycleError):
        ProvGraph.from_dict(bad)
    with pytest.raises(
        ProvenanceError, match=r"node 0 \('x'\) is invalid: bogus: Extra inputs are not permitted"
    ):
        ProvGraph.from_dict({"nodes": [{"id": "x", "kind": "dataset", "bogus": 1}]})
    with pytest.raises(ProvenanceError, match=r"node 0 \('y'\) is invalid: sample_type: Input should be"):
        ProvGraph.from_dict({"nodes": [{"id": "y", "kind": "sample", "sample_type": "rock"}]})
    with pytest.raises(ProvenanceError, match="edge 0 is invalid: link_type"):
        ProvGraph.from_dict({"nodes": [], "edges": [{"source": "a", "target": "b", "link_type": "eats"}]})
    with pytest.raises(ProvenanceError, match="'nodes' and 'edges'"):
        ProvGraph.from_dict({"graph": []})


# ------------------------------------------------------------------------------------ redaction


def test_redact_hides_identity_and_metadata_but_keeps_lineage_shape() -> None:
    g = battery_graph()
    hidden = {"ds:raw-cycling", "lot:NMC811-A7"}
    r = redact(g, lambda node_id: node_id not in hidden, salt=b"site-secret")
    placeholders = [n for n in r if isinstance(n, RestrictedNode)]
    assert len(placeholders) == 2
    labels = sorted(p.label for p in placeholders)
    assert labels == ["restricted dataset", "restricted sample"]
    dumped = json.dumps(r.to_dict())
    for secret in ("ds:raw-cycling", "C5_formation.mpr", "123456", "NMC811-A7", "Acme", "acme:cat"):
        assert secret not in dumped
    # the model still descends from the cell, through the restricted dataset
    assert "cell:C5" in r.ancestors("model:soh-v1")
    raw_placeholder = next(p.id for p in placeholders if p.kind is NodeKind.DATASET)
    assert r.ancestors("ds:capacity-v1")[raw_placeholder] == 2
    assert all(e.label == "" for e in r.edges if raw_placeholder in (e.source, e.target))
    # a different salt gives different opaque ids; the same salt is stable
    again = redact(g, lambda node_id: node_id not in hidden, salt=b"site-secret")
    other = redact(g, lambda node_id: node_id not in hidden, salt=b"other")
    assert set(again.nodes) == set(r.nodes) != set(other.nodes)
    assert redact(g, lambda _: True).nodes == g.nodes


# ---------------------------------------------------------------------------- steps and units


def test_steps_require_units_where_the_kind_needs_them() -> None:
    step = Step(
        order=0,
        kind=StepKind.CONSTANT_CURRENT,
        action="after loading a sample, -1 mA for 30 s",
        parameters=(Parameter.parse("current", "-1 mA"), Parameter(name="duration", value=30, unit="s")),
    )
    assert step.parameters[0].quantity().to("A").magnitude == pytest.approx(-0.001)
    with pytest.raises(ValidationError, match=r"duration need a unit"):
        Step(order=1, kind=StepKind.REST, action="rest", parameters=(Parameter(name="duration", value=600),))
    # handling steps may carry plain numbers
    Step(order=2, kind=StepKind.LOAD_SAMPLE, action="load", parameters=(Parameter(name="channel", value=3),))
    with pytest.raises(ValidationError, match="unknown unit 'mAA'"):
        Parameter(name="current", value=1, unit="mAA")
    with pytest.raises(ValidationError, match=r"a current must be \[current\]"):
        Parameter(name="current", value=1, unit="s")
    with pytest.raises(ValidationError, match="only makes sense on a number"):
        Parameter(name="mode", value="galvanostatic", unit="mA")
    with pytest.raises(ValidationError, match="finite"):
        Parameter(name="voltage", value=float("nan"), unit="V")
    with pytest.raises(ProvenanceError, match="does not start with a number"):
        Parameter.parse("current", "minus one mA")
    with pytest.raises(ValidationError, match="given twice"):
        Step(
            order=3,
            kind=StepKind.REST,
            action="rest",
            parameters=(Parameter.parse("duration", "1 h"), Parameter.parse("duration", "2 h")),
        )
    with pytest.raises(ValidationError, match="share order 1"):
        ActivityNode(
            id="a",
            activity_type=ActivityType.MEASUREMENT,
            steps=(
                Step(order=1, kind=StepKind.NOTE, action="x"),
                Step(order=1, kind=StepKind.NOTE, action="y"),
            ),
        )
    with pytest.raises(ValidationError, match=r"c_rate must be dimensionless \(unit='1'\)"):
        Parameter.parse("c_rate", "1 C")  # 'C' is coulomb to pint, not a C-rate
    with pytest.raises(ValidationError, match="need a unit"):
        Step(
            order=4,
            kind=StepKind.REST,
            action="rest",
            parameters=(Parameter(name="duration", value=1, unit=" "),),
        )
    assert Parameter.parse("temperature", "25 degC").quantity().to("K").magnitude == pytest.approx(298.15)


def test_node_validation_messages() -> None:
    with pytest.raises(ValidationError, match="must carry source_identifier"):
        SampleNode(id="lot:x", sample_type=SampleType.MATERIAL, commercial=True)
    with pytest.raises(ValidationError, match="keeps only its source_identifier"):
        DatasetNode(id="ds:x", commercial=True, source_identifier="v:1", attributes={"composition": "secret"})
    with pytest.raises(ValidationError, match=r"ends .* before it starts"):
        ActivityNode(
            id="a",
            activity_type=ActivityType.SYNTHESIS,
            started_at=T0,
            ended_at=datetime(2024, 1, 1, tzinfo=UTC),
        )
    with pytest.raises(ValidationError, match="must not contain whitespace"):
        DatasetNode(id="my dataset")
    with pytest.raises(ValidationError, match="only software and instruments"):
        AgentNode(id="p", agent_type=AgentType.PERSON, version="2")
    with pytest.raises(ValidationError):
        SampleNode(id="s", sample_type="spaceship")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- model card


def test_model_card_hash_is_canonical_and_sensitive() -> None:
    a = card()
    expected = json.dumps(
        a.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert a.metadata_hash() == "sha256:" + hashlib.sha256(expected.encode()).hexdigest()
    reordered = card(
        seeds={"numpy": 0, "torch": 42}, framework_versions={"python": "3.11.9", "torch": "2.3.1"}
    )
    assert reordered.metadata_hash() == a.metadata_hash()
    assert card(seed=7).metadata_hash() != a.metadata_hash()
    assert card(hardware="1x A100").metadata_hash() != a.metadata_hash()
    with pytest.raises(ValidationError, match="time zone"):
        card(timestamp=datetime(2024, 1, 1))
    with pytest.raises(ValidationError):
        card(training_data=[])
    with pytest.raises(ValidationError):
        card(framework_versions={})
    with pytest.raises(ValidationError, match="NaN"):
        card(init_parameters={"layers": [{"dropout": float("nan")}]})
