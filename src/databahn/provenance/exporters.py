"""PROV exporters ("prov-o" Turtle, "prov-json") for `databahn export PID --format prov-o`.

They read only `record.extras["provenance"]`, which the plugin fills with the version's direct
inputs and outputs already redacted for the reader, so an export never shows more than the page.
"""

from __future__ import annotations

import json
from typing import ClassVar

from databahn.domain.records import VersionRecord
from databahn.exporters.base import DocumentExporter, ExportContext, ExportError
from databahn.provenance.graph import ProvGraph
from databahn.provenance.model import DatasetNode, ModelNode, ProvenanceError


def record_graph(record: VersionRecord) -> ProvGraph:
    """The record's provenance graph; a version with nothing recorded is a lone entity."""
    summary = (record.extras or {}).get("provenance") or {}
    data = summary.get("graph")
    if not data:
        graph = ProvGraph()
        cls = ModelNode if record.metadata.resource_type == "Model" else DatasetNode
        graph.add_node(cls(id=record.pid, label=record.metadata.title))
        return graph
    try:
        return ProvGraph.from_dict(data)
    except ProvenanceError as exc:
        raise ExportError(f"the provenance of {record.pid} cannot be exported: {exc}") from None


def _base(ctx: ExportContext) -> str:
    return f"{ctx.root}/provenance/node/"


class ProvOExporter(DocumentExporter):
    name: ClassVar[str] = "prov-o"
    label: ClassVar[str] = "W3C PROV-O (Turtle)"
    media_type: ClassVar[str] = "text/turtle"
    suffix: ClassVar[str] = ".ttl"

    def export(self, record: VersionRecord, ctx: ExportContext) -> bytes:
        from databahn.provenance.export import to_prov_o_turtle

        return to_prov_o_turtle(record_graph(record), base=_base(ctx)).encode("utf-8")


class ProvJsonExporter(DocumentExporter):
    name: ClassVar[str] = "prov-json"
    label: ClassVar[str] = "W3C PROV-JSON"
    media_type: ClassVar[str] = "application/json"
    suffix: ClassVar[str] = ".json"

    def export(self, record: VersionRecord, ctx: ExportContext) -> bytes:
        from databahn.provenance.export import to_prov_json

        doc = to_prov_json(record_graph(record), base=_base(ctx))
        return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")
