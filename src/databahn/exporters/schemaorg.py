"""schema.org `Dataset` in JSON-LD, for Google Dataset Search and the landing page's <script> tag.

The context is inline (`@vocab` http://schema.org/) so the document means the same offline as online,
and so the science-on-schema.org SHACL shapes (written against http://schema.org/) apply to it.
`to_jsonld` returns the dict for embedding; `export` serialises it.
"""

from __future__ import annotations

import json
from typing import Any

from databahn.domain.metadata import DateType, Person, RelationType
from databahn.domain.records import VersionRecord
from databahn.exporters import common as c
from databahn.exporters.base import DocumentExporter, ExportContext

SDO = "http://schema.org/"
CONTEXT: dict[str, Any] = {
    "@vocab": SDO,
    "url": {"@type": "@id"},
    "sameAs": {"@type": "@id"},
    "contentUrl": {"@type": "@id"},
}

#: Relations that schema.org can say directly; everything else becomes `citation`/`isRelatedTo`.
_CITATION_RELATIONS = {
    RelationType.cites,
    RelationType.is_supplement_to,
    RelationType.is_described_by,
    RelationType.is_documented_by,
    RelationType.references,
}


def _person(p: Person) -> dict[str, Any]:
    n = c.split_name(p)
    out: dict[str, Any] = {"@type": "Person" if n.is_person else "Organization", "name": c.display_name(p)}
    if n.is_person and n.given:
        out["givenName"] = n.given
    if n.is_person and n.family:
        out["familyName"] = n.family
    if p.orcid:
        out["@id"] = c.ORCID_BASE + p.orcid
        out["identifier"] = c.ORCID_BASE + p.orcid
    if p.affiliation:
        out["affiliation"] = [
            {
                "@type": "Organization",
                "name": a.name,
                **({"@id": a.ror, "identifier": a.ror} if a.ror else {}),
            }
            for a in p.affiliation
        ]
    return out


def _variables(record: VersionRecord) -> list[dict[str, Any]]:
    """Measured quantities found by the extractors, once each, as PropertyValues."""
    seen: dict[str, dict[str, Any]] = {}
    infos = [f.extracted for f in record.files if f.extracted] + list(record.extracted.values())
    for info in infos:
        if not isinstance(info, dict):
            continue
        for q in info.get("quantities") or []:
            if not isinstance(q, dict) or not q.get("name") or q["name"] in seen:
                continue
            pv: dict[str, Any] = {"@type": "PropertyValue", "name": q["name"]}
            if q.get("unit"):
                pv["unitText"] = q["unit"]
            if q.get("iri"):
                pv["propertyID"] = q["iri"]
            seen[q["name"]] = pv
    return list(seen.values())


def _temporal(record: VersionRecord) -> str | None:
    for d in record.metadata.dates:
        if d.type in (DateType.collected, DateType.created):
            return d.date
    return record.metadata.generated_on.isoformat() if record.metadata.generated_on else None


def to_jsonld(record: VersionRecord, ctx: ExportContext) -> dict[str, Any]:
    md = record.metadata
    landing = c.landing_url(record, ctx)
    level = c.access_level(record, ctx)
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "Dataset",
        "@id": c.persistent_url(record, ctx),
        "name": md.title,
        "description": c.description(record, ctx),
        "url": landing,
        "identifier": c.persistent_url(record, ctx),
        "version": c.version_label(record),
        "datePublished": c.issued(record, ctx).isoformat(),
        "dateModified": record.updated.date().isoformat(),
        "publisher": {"@type": "Organization", "name": c.publisher(record, ctx)},
        "provider": {"@type": "Organization", "name": ctx.hub_name, "url": ctx.root + "/"},
        "includedInDataCatalog": {"@type": "DataCatalog", "name": ctx.hub_name, "url": ctx.root + "/"},
        "isAccessibleForFree": level == "open",
        "conditionsOfAccess": c.access_statement(record, ctx),
    }
    # Google's shape allows one sameAs: the landing page when @id is the DOI, else the dataset (concept).
    doc["sameAs"] = landing if record.doi else c.concept_url(record, ctx)
    if md.creators:
        doc["creator"] = [_person(p) for p in md.creators]
    if md.contributors:
        doc["contributor"] = [_person(p) for p in md.contributors]
    keywords = [c.keyword_label(k, ctx) for k in md.keywords] + list(md.subjects)
    if md.interface_aspect:
        keywords.append(md.interface_aspect)
    if keywords:
        doc["keywords"] = list(dict.fromkeys(keywords))
    terms = c.keyword_iris(record)
    if terms:
        doc["about"] = [{"@type": "DefinedTerm", "@id": t, "name": c.keyword_label(t, ctx)} for t in terms]
    lic = c.license_links(md.license)
    if lic:
        doc["license"] = lic[1]
    if md.language:
        doc["inLanguage"] = md.language
    if md.generated_on:
        doc["dateCreated"] = md.generated_on.isoformat()
    temporal = _temporal(record)
    if temporal:
        doc["temporalCoverage"] = temporal
    variables = _variables(record)
    if variables:
        doc["variableMeasured"] = variables
    if md.method:
        doc["measurementTechnique"] = md.method.name
        if md.method.protocol:
            doc["measurementMethod"] = md.method.protocol
    citations = [r.identifier for r in md.related_identifiers if r.relation in _CITATION_RELATIONS]
    if citations:
        doc["citation"] = [c.doi_url(i) if i.startswith("10.") else i for i in citations]
    based_on = [r.identifier for r in md.related_identifiers if r.relation == RelationType.is_derived_from]
    if based_on:
        doc["isBasedOn"] = [c.doi_url(i) if i.startswith("10.") else i for i in based_on]
    if md.funding:
        doc["funding"] = [
            {
                "@type": "Grant",
                "name": fu.award_title or fu.award_number or fu.funder,
                **({"identifier": fu.award_number} if fu.award_number else {}),
                "funder": {
                    "@type": "Organization",
                    "name": fu.funder,
                    **({"@id": fu.funder_id} if fu.funder_id else {}),
                },
            }
            for fu in md.funding
        ]
    if c.include_files(record) and record.files and level == "open":
        doc["distribution"] = [
            {
                "@type": "DataDownload",
                "name": f.key,
                "contentUrl": c.file_url(record, f, ctx),
                **({"encodingFormat": f.media_type} if f.media_type else {}),
                **({"contentSize": f"{f.size} B"} if f.size is not None else {}),
                **({"sha256": f.sha256} if f.sha256 else {}),
            }
            for f in record.files
        ]
    return doc


class SchemaOrgExporter(DocumentExporter):
    name = "schemaorg"
    label = "schema.org JSON-LD"
    media_type = "application/ld+json"
    suffix = ".jsonld"

    def export(self, record: VersionRecord, ctx: ExportContext) -> bytes:
        return json.dumps(to_jsonld(record, ctx), indent=2, ensure_ascii=False).encode("utf-8")
