"""PROV exports: PROV-JSON read back by the ``prov`` package and checked against its schema,
PROV-O Turtle/JSON-LD parsed by rdflib and queried with SPARQL."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic

from databahn.provenance import ProvGraph, redact
from databahn.provenance.aiida_archive import aiida_to_prov, read_archive
from databahn.provenance.export import DEFAULT_BASE, PROV, to_prov_json, to_prov_o_jsonld, to_prov_o_turtle
from tests.shared import require_shared
from tests.test_provenance_model import battery_graph


def _prov_model() -> Any:
    """The ``prov`` package (MIT, a test dependency) reads PROV-JSON back; only its tests skip without it."""
    return pytest.importorskip("prov.model", reason="the 'prov' package (MIT) reads PROV-JSON back")


def _node(node_id: str) -> URIRef:
    return URIRef(DEFAULT_BASE + node_id.replace(":", "%3A"))


def _prov_schema() -> dict[str, Any]:
    _prov_model()
    path = resources.files("prov") / "tests" / "schemas" / "prov-json.schema.json"
    if not path.is_file():
        pytest.skip("this 'prov' release does not ship prov-json.schema.json")
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def _read_prov_json(doc: dict[str, Any]) -> Any:
    return _prov_model().ProvDocument.deserialize(content=json.dumps(doc), format="json")


def test_prov_json_validates_and_reads_back() -> None:
    graph = battery_graph()
    doc = to_prov_json(graph)
    jsonschema.validate(doc, _prov_schema())
    parsed = _read_prov_json(doc)
    records = parsed.get_records()
    by_type: dict[str, int] = {}
    for record in records:
        by_type[type(record).__name__] = by_type.get(type(record).__name__, 0) + 1
    assert by_type["ProvEntity"] == 8  # 4 samples, 2 datasets, 2 models
    assert by_type["ProvActivity"] == 6
    assert by_type["ProvAgent"] == 3
    assert by_type["ProvUsage"] == 7
    assert by_type["ProvGeneration"] == 6  # one per create link
    assert by_type["ProvAssociation"] == 3
    assert by_type["ProvDerivation"] == 1  # the model revision
    cycling = parsed.get_record("node:act%3Acycle")[0]
    assert str(cycling.get_startTime().isoformat()) == "2024-03-01T09:00:00+00:00"
    usage_roles = {
        str(next(iter(r.get_attribute("prov:role"))))
        for r in records
        if type(r).__name__ == "ProvUsage" and r.get_attribute("prov:role")
    }
    assert {"cathode", "electrolyte", "warm start"} <= usage_roles


def test_prov_json_of_every_real_aiida_archive_reads_back() -> None:
    folder = require_shared("realdata", "aiida", "aiida-core")
    schema = _prov_schema()
    for archive in sorted(folder.glob("*.aiida")):
        prov = aiida_to_prov(read_archive(archive))
        doc = to_prov_json(prov)
        jsonschema.validate(doc, schema)
        parsed = _read_prov_json(doc)
        names = {type(r).__name__ for r in parsed.get_records()}
        assert {"ProvEntity", "ProvActivity", "ProvAgent", "ProvUsage", "ProvGeneration"} <= names, (
            archive.name
        )


def test_turtle_parses_back_and_sparql_finds_derivations() -> None:
    folder = require_shared("realdata", "aiida", "aiida-core")
    prov = aiida_to_prov(read_archive(folder / "arithmetic.add.aiida"))
    rdf = Graph().parse(data=to_prov_o_turtle(prov), format="turtle")
    rows = rdf.query(
        """
        PREFIX prov: <http://www.w3.org/ns/prov#>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?out ?in WHERE {
            ?out prov:wasGeneratedBy ?calc .
            ?calc prov:used ?in .
        }"""
    )
    pairs = {(str(row[0]).rsplit(":", 1)[-1], str(row[1]).rsplit(":", 1)[-1]) for row in rows}  # type: ignore[index]
    outputs = {
        "6ab73adc-625c-4158-aad4-4d67ea9b57b8",
        "2f8fe6c7-1312-4908-9fa0-0dac95c1823d",
        "2b216c5e-951b-43d5-b66f-5469efac5374",
    }
    inputs = {"becfc71f-fa63-433f-9919-1493f2e1cc76", "4ab65a6b-d784-44d7-9739-498a1dc1d062"}
    assert pairs == {(o, i) for o in outputs for i in inputs}  # the code is an agent, not an input
    calc = _node("9d3fda4f-6782-4441-a276-b8965aa3f97f")
    started = rdf.value(calc, PROV.startedAtTime)
    assert isinstance(started, Literal)
    assert started.toPython().isoformat() == "2019-04-09T14:31:49.024479+00:00"
    agents = {
        str(rdf.value(a, URIRef("http://www.w3.org/2000/01/rdf-schema#label")))
        for a in rdf.objects(calc, PROV.wasAssociatedWith)
    }
    assert agents == {"arithmetic.add", "localhost", "Casper Andersen"}
    roles = set(
        rdf.query(
            """PREFIX prov: <http://www.w3.org/ns/prov#>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?label WHERE { ?calc prov:qualifiedUsage ?u . ?u prov:hadRole ?r . ?r rdfs:label ?label }"""
        )
    )
    assert {str(r[0]) for r in roles} == {"x", "y"}  # type: ignore[index]


def test_lineage_query_over_turtle_matches_graph_ancestors() -> None:
    graph = battery_graph()
    rdf = Graph().parse(data=to_prov_o_turtle(graph), format="turtle")
    rows = rdf.query(
        """PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT DISTINCT ?a WHERE { ?m (prov:wasGeneratedBy|prov:used|prov:wasRevisionOf|prov:wasDerivedFrom)+ ?a }""",
        initBindings={"m": _node("model:soh-v2")},
    )
    found = {str(r[0])[len(DEFAULT_BASE) :].replace("%3A", ":") for r in rows}  # type: ignore[index]
    assert found == set(graph.ancestors("model:soh-v2"))
    assert "lot:NMC811-A7" in found


def test_jsonld_is_the_same_graph_as_turtle() -> None:
    graph = battery_graph()
    jsonld = to_prov_o_jsonld(graph)
    assert jsonld["@context"]["prov"] == "http://www.w3.org/ns/prov#"
    from_ld = Graph().parse(data=json.dumps(jsonld), format="json-ld")
    from_ttl = Graph().parse(data=to_prov_o_turtle(graph), format="turtle")
    assert len(from_ld) == len(from_ttl) > 50
    assert isomorphic(from_ld, from_ttl)


def test_exports_of_a_redacted_graph_leak_nothing() -> None:
    graph = battery_graph()
    hidden = redact(graph, lambda i: i != "ds:raw-cycling")
    texts = [json.dumps(to_prov_json(hidden)), to_prov_o_turtle(hidden), json.dumps(to_prov_o_jsonld(hidden))]
    for text in texts:
        assert "raw-cycling" not in text and "C5_formation" not in text and "123456" not in text
        assert "restricted dataset" in text


def test_awkward_identifiers_make_valid_names(tmp_path: Path) -> None:
    from databahn.provenance import DatasetNode

    graph = ProvGraph()
    graph.add_node(DatasetNode(id="doi:10.5281/zenodo.123#v2", label='quote " and <angle>'))
    graph.add_node(DatasetNode(id="https://example.org/a?b=c&d=é"))
    graph.add_edge("doi:10.5281/zenodo.123#v2", "derived_from", "https://example.org/a?b=c&d=é")
    jsonschema.validate(to_prov_json(graph), _prov_schema())
    parsed = _read_prov_json(to_prov_json(graph))
    assert len(parsed.get_records()) == 3
    rdf = Graph().parse(data=to_prov_o_turtle(graph), format="turtle")
    assert len(list(rdf.subject_objects(PROV.wasDerivedFrom))) == 1
