"""W3C PROV exports of a :class:`ProvGraph`: PROV-JSON, and PROV-O as JSON-LD or Turtle.

Mapping (source -[link]-> target, in PROV terms):

- ``input_calc`` / ``input_work``: ``target prov:used source``
- ``create``: ``source-entity prov:wasGeneratedBy activity``
- ``return``: ``entity prov:wasInfluencedBy workflow`` (the workflow returned, but did not generate, it)
- ``call_calc`` / ``call_work``: ``callee prov:wasInformedBy caller``
- ``derived_from``: ``target prov:wasDerivedFrom source``; ``revision_of``: ``prov:wasRevisionOf``
- ``associated_with``: ``activity prov:wasAssociatedWith agent``; ``attributed_to``: ``prov:wasAttributedTo``
- ``delegated``: ``delegate prov:actedOnBehalfOf responsible``

Link labels become ``prov:hadRole`` / ``prov:role``. Node ids are appended, percent-encoded, to a base
namespace so any identifier (a DOI with slashes, an email) makes a valid IRI and qualified name.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

from rdflib import RDF, RDFS, XSD, BNode, Graph, Literal, Namespace, URIRef

from databahn.provenance.graph import ProvGraph
from databahn.provenance.model import (
    ENTITY_KINDS,
    ActivityNode,
    AgentNode,
    AgentType,
    Edge,
    LinkType,
    ModelNode,
    NodeKind,
    ProvNode,
    RestrictedNode,
    SampleNode,
    WorkflowNode,
)

PROV = Namespace("http://www.w3.org/ns/prov#")
DEFAULT_BASE = "urn:databahn:node:"
VOCAB = Namespace("https://w3id.org/databahn/prov#")
PREFIX = "node"

_AGENT_CLASS = {
    AgentType.PERSON: "Person",
    AgentType.SOFTWARE: "SoftwareAgent",
    AgentType.ORGANIZATION: "Organization",
    AgentType.INSTRUMENT: "Agent",
    AgentType.COMPUTER: "Agent",
}

_KIND_CLASS = {
    NodeKind.DATASET: "Dataset",
    NodeKind.SAMPLE: "Sample",
    NodeKind.MODEL: "Model",
    NodeKind.ACTIVITY: "Activity",
    NodeKind.WORKFLOW: "Workflow",
    NodeKind.AGENT: "Agent",
}


def _local(node_id: str) -> str:
    return quote(node_id, safe="-_.~")


def _prov_class(node: ProvNode) -> str:
    if node.kind in (NodeKind.ACTIVITY, NodeKind.WORKFLOW):
        return "Activity"
    if node.kind is NodeKind.AGENT:
        if isinstance(node, AgentNode):
            return _AGENT_CLASS[node.agent_type]
        return "Agent"
    return "Entity"


def _subtype(node: ProvNode) -> str | None:
    if isinstance(node, SampleNode):
        return node.sample_type.value
    if isinstance(node, ActivityNode):
        return node.activity_type.value
    if isinstance(node, AgentNode):
        return node.agent_type.value
    return None


def _flat_attributes(node: ProvNode) -> dict[str, str | int | float | bool]:
    """Node details as flat literals (containers become JSON text) for PROV attribute slots."""
    if isinstance(node, RestrictedNode):
        return {}
    out: dict[str, str | int | float | bool] = {}
    if node.description:
        out["description"] = node.description
    for key in ("version", "commit", "supplier", "lot", "source_identifier"):
        value = getattr(node, key, None)
        if value:
            out[key] = value
    if isinstance(node, ModelNode) and node.card is not None:
        out["modelCardHash"] = node.card.metadata_hash()
        out["modelCard"] = node.card.canonical_json()
    if isinstance(node, ActivityNode | WorkflowNode):
        for param in node.parameters:
            out[f"param.{param.name}"] = f"{param.value} {param.unit}" if param.unit else str(param.value)
    if isinstance(node, ActivityNode) and node.steps:
        out["steps"] = json.dumps([s.model_dump(mode="json") for s in node.steps], sort_keys=True)
    for key, value in node.attributes.items():
        safe_key = "attr." + quote(str(key), safe="-_.~")
        if isinstance(value, bool | int | float | str):
            out[safe_key] = value
        elif value is not None:
            out[safe_key] = json.dumps(value, sort_keys=True, default=str)
    return out


def _dt(value: datetime) -> Literal:
    return Literal(value.isoformat(), datatype=XSD.dateTime)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --------------------------------------------------------------------------------------- PROV-JSON


def to_prov_json(graph: ProvGraph, base: str = DEFAULT_BASE) -> dict[str, Any]:
    """The graph as a W3C PROV-JSON document (https://www.w3.org/submissions/prov-json/)."""
    doc: dict[str, Any] = {"prefix": {PREFIX: base, "databahn": str(VOCAB)}}

    def qn(node_id: str) -> str:
        return f"{PREFIX}:{_local(node_id)}"

    def put(section: str, key: str, record: dict[str, Any]) -> None:
        doc.setdefault(section, {})[key] = record

    for node in graph:
        record: dict[str, Any] = {}
        types = [{"$": f"databahn:{_KIND_CLASS[node.kind]}", "type": "prov:QUALIFIED_NAME"}]
        pclass = _prov_class(node)
        if pclass not in ("Entity", "Activity", "Agent"):
            types.append({"$": f"prov:{pclass}", "type": "prov:QUALIFIED_NAME"})
        record["prov:type"] = types if len(types) > 1 else types[0]
        record["prov:label"] = node.display
        if isinstance(node, RestrictedNode):
            record["databahn:restricted"] = True
        sub = _subtype(node)
        if sub:
            record["databahn:subtype"] = sub
        for key, value in _flat_attributes(node).items():
            record[f"databahn:{key}"] = value
        if isinstance(node, ActivityNode | WorkflowNode):
            if node.started_at:
                record["prov:startTime"] = _time(node.started_at)
            if node.ended_at:
                record["prov:endTime"] = _time(node.ended_at)
        section = {"Entity": "entity", "Activity": "activity"}.get(pclass, "agent")
        put(section, qn(node.id), record)

    created = {e.target for e in graph.edges if e.link_type is LinkType.CREATE}
    for node in graph:
        if (
            node.kind in ENTITY_KINDS
            and node.id not in created
            and not isinstance(node, RestrictedNode)
            and node.created_at
        ):
            put(
                "wasGeneratedBy",
                f"_:t{_local(node.id)}",
                {"prov:entity": qn(node.id), "prov:time": _time(node.created_at)},
            )
    for i, edge in enumerate(graph.edges):
        rel, record = _prov_json_relation(edge, qn)
        if edge.link_type is LinkType.CREATE:
            when = getattr(graph.node(edge.target), "created_at", None)
            if when:
                record["prov:time"] = _time(when)
        if edge.label:
            record["prov:role"] = edge.label
        record["databahn:linkType"] = edge.link_type.value
        put(rel, f"_:e{i}", record)
    return doc


def _prov_json_relation(edge: Edge, qn: Any) -> tuple[str, dict[str, Any]]:
    s, t, lt = qn(edge.source), qn(edge.target), edge.link_type
    if lt in (LinkType.INPUT_CALC, LinkType.INPUT_WORK):
        return "used", {"prov:activity": t, "prov:entity": s}
    if lt is LinkType.CREATE:
        return "wasGeneratedBy", {"prov:entity": t, "prov:activity": s}
    if lt is LinkType.RETURN:
        return "wasInfluencedBy", {"prov:influencee": t, "prov:influencer": s}
    if lt in (LinkType.CALL_CALC, LinkType.CALL_WORK):
        return "wasInformedBy", {"prov:informed": t, "prov:informant": s}
    if lt is LinkType.DERIVED_FROM:
        return "wasDerivedFrom", {"prov:generatedEntity": t, "prov:usedEntity": s}
    if lt is LinkType.REVISION_OF:
        return "wasDerivedFrom", {
            "prov:generatedEntity": t,
            "prov:usedEntity": s,
            "prov:type": {"$": "prov:Revision", "type": "prov:QUALIFIED_NAME"},
        }
    if lt is LinkType.ASSOCIATED_WITH:
        return "wasAssociatedWith", {"prov:activity": t, "prov:agent": s}
    if lt is LinkType.ATTRIBUTED_TO:
        return "wasAttributedTo", {"prov:entity": t, "prov:agent": s}
    return "actedOnBehalfOf", {"prov:delegate": t, "prov:responsible": s}


# ------------------------------------------------------------------------------------------ PROV-O

# link type -> (property, qualified property, qualified class, object slot); the subject is always the
# link's target and the object its source (e.g. "output wasGeneratedBy calculation").
_RDF_RELATIONS: dict[LinkType, tuple[str, str, str, str]] = {
    LinkType.INPUT_CALC: ("used", "qualifiedUsage", "Usage", "entity"),
    LinkType.INPUT_WORK: ("used", "qualifiedUsage", "Usage", "entity"),
    LinkType.CREATE: ("wasGeneratedBy", "qualifiedGeneration", "Generation", "activity"),
    LinkType.RETURN: ("wasInfluencedBy", "qualifiedInfluence", "Influence", "influencer"),
    LinkType.CALL_CALC: ("wasInformedBy", "qualifiedCommunication", "Communication", "activity"),
    LinkType.CALL_WORK: ("wasInformedBy", "qualifiedCommunication", "Communication", "activity"),
    LinkType.DERIVED_FROM: ("wasDerivedFrom", "qualifiedDerivation", "Derivation", "entity"),
    LinkType.REVISION_OF: ("wasRevisionOf", "qualifiedRevision", "Revision", "entity"),
    LinkType.ASSOCIATED_WITH: ("wasAssociatedWith", "qualifiedAssociation", "Association", "agent"),
    LinkType.ATTRIBUTED_TO: ("wasAttributedTo", "qualifiedAttribution", "Attribution", "agent"),
    LinkType.DELEGATED: ("actedOnBehalfOf", "qualifiedDelegation", "Delegation", "agent"),
}


def to_rdf(graph: ProvGraph, base: str = DEFAULT_BASE) -> Graph:
    """The graph as PROV-O triples in an rdflib :class:`Graph` (for SPARQL or any RDF serialisation)."""
    nodes = Namespace(base)
    g = Graph()
    g.bind("prov", PROV)
    g.bind("databahn", VOCAB)
    g.bind(PREFIX, nodes)

    def iri(node_id: str) -> URIRef:
        return nodes[_local(node_id)]

    for node in graph:
        subject = iri(node.id)
        pclass = _prov_class(node)
        g.add((subject, RDF.type, PROV[pclass]))
        if pclass not in ("Entity", "Activity", "Agent"):
            g.add((subject, RDF.type, PROV.Agent))
        g.add((subject, RDF.type, VOCAB[_KIND_CLASS[node.kind]]))
        g.add((subject, RDFS.label, Literal(node.display)))
        if isinstance(node, RestrictedNode):
            g.add((subject, VOCAB.restricted, Literal(True)))
            continue
        sub = _subtype(node)
        if sub:
            g.add((subject, VOCAB.subtype, Literal(sub)))
        for key, value in _flat_attributes(node).items():
            g.add((subject, VOCAB[quote(key, safe="-_.~")], Literal(value)))
        if isinstance(node, ActivityNode | WorkflowNode):
            if node.started_at:
                g.add((subject, PROV.startedAtTime, _dt(node.started_at)))
            if node.ended_at:
                g.add((subject, PROV.endedAtTime, _dt(node.ended_at)))
        elif pclass == "Entity" and node.created_at:
            g.add((subject, PROV.generatedAtTime, _dt(node.created_at)))

    for edge in graph.edges:
        prop, qprop, qclass, slot = _RDF_RELATIONS[edge.link_type]
        subject, obj = iri(edge.target), iri(edge.source)
        g.add((subject, PROV[prop], obj))
        if edge.label:
            qualified = BNode()
            g.add((subject, PROV[qprop], qualified))
            g.add((qualified, RDF.type, PROV[qclass]))
            g.add((qualified, PROV[slot], obj))
            role = VOCAB["role/" + quote(edge.label, safe="-_.~")]
            g.add((qualified, PROV.hadRole, role))
            g.add((role, RDF.type, PROV.Role))
            g.add((role, RDFS.label, Literal(edge.label)))
    return g


def to_prov_o_turtle(graph: ProvGraph, base: str = DEFAULT_BASE) -> str:
    """PROV-O in Turtle."""
    return to_rdf(graph, base).serialize(format="turtle")


def to_prov_o_jsonld(graph: ProvGraph, base: str = DEFAULT_BASE) -> dict[str, Any]:
    """PROV-O in JSON-LD, compacted with prefixes for ``prov``, ``databahn`` and the node namespace."""
    context = {
        "prov": str(PROV),
        "databahn": str(VOCAB),
        PREFIX: base,
        "rdfs": str(RDFS),
        "xsd": str(XSD),
    }
    text = to_rdf(graph, base).serialize(format="json-ld", context=context, auto_compact=True)
    result: dict[str, Any] = json.loads(text)
    return result
