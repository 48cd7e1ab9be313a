"""Simple Dublin Core as `oai_dc` XML: the lowest common denominator every OAI-PMH harvester reads.

`to_element` is public so the OAI-PMH server can embed the record in its `<metadata>` element.
"""

from __future__ import annotations

from lxml import etree

from databahn.domain.records import VersionRecord
from databahn.exporters import common as c
from databahn.exporters.base import DocumentExporter, ExportContext

OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{OAI_DC} http://www.openarchives.org/OAI/2.0/oai_dc.xsd"

#: DataCite resourceTypeGeneral → DCMI Type vocabulary (what DC's <type> recommends).
_DCMI_TYPES = {
    "Dataset": "Dataset",
    "Software": "Software",
    "Image": "StillImage",
    "Audiovisual": "MovingImage",
    "Sound": "Sound",
    "Text": "Text",
    "Collection": "Collection",
    "Event": "Event",
    "InteractiveResource": "InteractiveResource",
    "PhysicalObject": "PhysicalObject",
    "Service": "Service",
}


def to_element(record: VersionRecord, ctx: ExportContext) -> etree._Element:
    md = record.metadata
    root = etree.Element(f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)

    def add(tag: str, text: str | None) -> None:
        if text:
            etree.SubElement(root, f"{{{DC}}}{tag}").text = text

    add("title", md.title)
    for p in md.creators:
        add("creator", p.name)
    for k in md.keywords:
        add("subject", k)
    for s in md.subjects:
        add("subject", s)
    add("description", md.description)
    if md.method:
        add(
            "description",
            f"Method: {md.method.name}" + (f" (protocol {md.method.protocol})" if md.method.protocol else ""),
        )
    add("publisher", c.publisher(record, ctx))
    for p in md.contributors:
        add("contributor", p.name)
    add("date", c.issued(record, ctx).isoformat())
    add("type", _DCMI_TYPES.get(md.resource_type, "Dataset"))
    if c.include_files(record):
        for t in sorted({f.media_type for f in record.files if f.media_type}):
            add("format", t)
    if record.doi:
        add("identifier", c.doi_url(record.doi))
    add("identifier", c.landing_url(record, ctx))
    add("language", md.language)
    for r in md.related_identifiers:
        add("relation", c.doi_url(r.identifier) if r.identifier.startswith("10.") else r.identifier)
    add("rights", c.ACCESS_RIGHTS[c.access_level(record, ctx)])
    lic = c.license_links(md.license)
    if lic:
        add("rights", lic[1])
    return root


class DublinCoreExporter(DocumentExporter):
    name = "dc"
    label = "Dublin Core (oai_dc)"
    media_type = "application/xml"
    suffix = ".dc.xml"

    def export(self, record: VersionRecord, ctx: ExportContext) -> bytes:
        return etree.tostring(
            to_element(record, ctx), xml_declaration=True, encoding="UTF-8", pretty_print=True
        )
