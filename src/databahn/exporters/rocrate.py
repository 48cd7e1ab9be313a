"""RO-Crate 1.2 packages: the version's files plus `ro-crate-metadata.json` describing them.

RO-Crate is how workflow systems and other repositories pick up a dataset with its context, so the
crate carries the same facts as the DataCite record, plus per-file sha256, size and format.
Withheld versions (restricted, metadata-only) become a crate with no files and a clear access note.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from databahn.domain.metadata import Person, RelationType
from databahn.domain.records import FileRecord, VersionRecord
from databahn.exporters import common as c
from databahn.exporters.base import ExportContext, PackageExporter
from databahn.exporters.package import copy_file, materialise

CONTEXT = "https://w3id.org/ro/crate/1.2/context"
PROFILE = "https://w3id.org/ro/crate/1.2"
METADATA_FILE = "ro-crate-metadata.json"


def _ref(iri: str) -> dict[str, str]:
    return {"@id": iri}


class _Graph:
    """Entities by @id, so contextual entities (people, organisations) are written once."""

    def __init__(self) -> None:
        self.entities: dict[str, dict[str, Any]] = {}

    def add(self, entity: dict[str, Any]) -> dict[str, str]:
        self.entities.setdefault(entity["@id"], entity)
        return _ref(entity["@id"])

    def person(self, p: Person) -> dict[str, str]:
        n = c.split_name(p)
        if not n.is_person:
            return self.organisation(p.name, next((a.ror for a in p.affiliation if a.ror), None))
        iri = c.ORCID_BASE + p.orcid if p.orcid else "#" + "-".join(p.name.lower().replace(",", "").split())
        entity: dict[str, Any] = {
            "@id": iri,
            "@type": "Person" if n.is_person else "Organization",
            "name": c.display_name(p),
        }
        if n.is_person and n.given:
            entity["givenName"] = n.given
        if n.is_person and n.family:
            entity["familyName"] = n.family
        if p.affiliation:
            entity["affiliation"] = [self.organisation(a.name, a.ror) for a in p.affiliation]
        return self.add(entity)

    def organisation(self, name: str, iri: str | None = None, url: str | None = None) -> dict[str, str]:
        ident = iri or "#org-" + "-".join(name.lower().split())
        entity: dict[str, Any] = {"@id": ident, "@type": "Organization", "name": name}
        url = url or (iri if iri and iri.startswith("https://ror.org/") else None)
        if url:
            entity["url"] = url
        return self.add(entity)


def crate_metadata(
    record: VersionRecord, ctx: ExportContext, file_facts: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The JSON-LD document; `file_facts` maps packaged file paths to their measured size/sha256."""
    md = record.metadata
    g = _Graph()
    g.add({"@id": METADATA_FILE, "@type": "CreativeWork", "conformsTo": _ref(PROFILE), "about": _ref("./")})
    root: dict[str, Any] = {
        "@id": "./",
        "@type": "Dataset",
        "name": md.title,
        "description": c.description(record, ctx),
        "datePublished": c.issued(record, ctx).isoformat(),
        "dateModified": record.updated.isoformat(),
        "version": c.version_label(record),
        "identifier": g.add(_identifier(record, ctx)),
        "url": c.landing_url(record, ctx),
        "publisher": _publisher(g, record, ctx),
        "isAccessibleForFree": c.is_public(record, ctx),
        "conditionsOfAccess": c.access_statement(record, ctx),
    }
    if record.doi:
        root["cite-as"] = c.doi_url(record.doi)
    lic = c.license_links(md.license)
    if lic:
        root["license"] = g.add(
            {
                "@id": lic[1],
                "@type": "CreativeWork",
                "name": lic[0],
                "identifier": md.license,
                "description": f"The SPDX license {md.license}; full text at {lic[1]}",
            }
        )
    else:  # RO-Crate requires a license: say plainly that none was granted
        root["license"] = "No license was given: all rights reserved by the creators unless agreed otherwise."
    if md.creators:
        root["author"] = [g.person(p) for p in md.creators]
    if md.contributors:
        root["contributor"] = [g.person(p) for p in md.contributors]
    if md.keywords or md.subjects:
        root["keywords"] = [c.keyword_label(k, ctx) for k in md.keywords] + list(md.subjects)
    terms = c.keyword_iris(record)
    if terms:
        root["about"] = [
            g.add({"@id": t, "@type": "DefinedTerm", "name": c.keyword_label(t, ctx)}) for t in terms
        ]
    if md.language:
        root["inLanguage"] = md.language
    if md.funding:
        root["funder"] = [g.organisation(fu.funder, fu.funder_id) for fu in md.funding]
    derived = [r.identifier for r in md.related_identifiers if r.relation == RelationType.is_derived_from]
    if derived:
        root["isBasedOn"] = [
            g.add({"@id": c.doi_url(i) if i.startswith("10.") else i, "@type": "CreativeWork", "name": i})
            for i in derived
        ]
    if md.method:
        root["measurementTechnique"] = md.method.name
        if md.method.protocol:
            root["measurementMethod"] = md.method.protocol

    parts: list[dict[str, str]] = []
    if c.include_files(record):
        ids = {
            f.key: c.safe_relpath(f.key)
            if c.safe_relpath(f.key) in file_facts
            else c.file_url(record, f, ctx)
            for f in record.files
        }
        for f in record.files:
            path = c.safe_relpath(f.key)
            facts = file_facts.get(path)
            entity: dict[str, Any] = {
                "@type": "File",
                "name": f.key,
                "description": _file_description(record, f),
            }
            if facts is not None:
                entity["@id"] = path
                entity["contentSize"] = str(facts["size"])
                entity["sha256"] = facts["sha256"]
            else:  # not copied (external, or no file reader): a web-based data entity
                entity["@id"] = c.file_url(record, f, ctx)
                entity["sdDatePublished"] = ctx.now.isoformat()
                if f.size is not None:
                    entity["contentSize"] = str(f.size)
                if f.sha256:
                    entity["sha256"] = f.sha256
            if f.media_type:
                entity["encodingFormat"] = f.media_type
            if f.derived_from and f.derived_from in ids:
                entity["isBasedOn"] = _ref(ids[f.derived_from])
            parts.append(g.add(entity))
    root["hasPart"] = parts
    g.add(root)
    ordered = [g.entities[METADATA_FILE], g.entities["./"]]
    ordered += [e for k, e in g.entities.items() if k not in (METADATA_FILE, "./")]
    return {"@context": CONTEXT, "@graph": [_unpack_singletons(e) for e in ordered]}


def _publisher(g: _Graph, record: VersionRecord, ctx: ExportContext) -> dict[str, str]:
    ref = g.organisation(c.publisher(record, ctx), url=ctx.root + "/")
    if ctx.contact_email:
        point = g.add(
            {
                "@id": "mailto:" + ctx.contact_email,
                "@type": "ContactPoint",
                "name": f"{ctx.hub_name} data desk",
                "contactType": "data access requests",
                "email": ctx.contact_email,
            }
        )
        g.entities[ref["@id"]]["contactPoint"] = point
    return ref


def _unpack_singletons(entity: dict[str, Any]) -> dict[str, Any]:
    """RO-Crate 1.2 compacted JSON-LD: a one-element list is written as the value itself."""
    return {
        k: v[0] if isinstance(v, list) and len(v) == 1 and k != "hasPart" else v for k, v in entity.items()
    }


def _identifier(record: VersionRecord, ctx: ExportContext) -> dict[str, Any]:
    """The persistent identifier the science-on-schema.org way (a PropertyValue), as RO-Crate 1.2 advises."""
    if record.doi:
        return {
            "@id": "#identifier-doi",
            "@type": "PropertyValue",
            "name": "DOI",
            "propertyID": "https://registry.identifiers.org/registry/doi",
            "value": f"doi:{record.doi}",
            "url": c.doi_url(record.doi),
        }
    return {
        "@id": "#identifier-hub",
        "@type": "PropertyValue",
        "name": f"{ctx.hub_name} PID",
        "propertyID": ctx.root + "/",
        "value": record.pid,
        "url": c.landing_url(record, ctx),
    }


def _file_description(record: VersionRecord, f: FileRecord) -> str:
    info = f.extracted or record.extracted.get(f.key) or {}
    kind = info.get("format") if isinstance(info, dict) else None
    technique = info.get("technique") if isinstance(info, dict) else None
    text = kind or f.media_type or "file"
    if technique:
        text += f" ({technique})"
    if f.derived_from:
        text += f", open-format copy of {f.derived_from}"
    return text


class RoCrateExporter(PackageExporter):
    name = "ro-crate"
    label = "RO-Crate 1.2"

    def export_package(self, record: VersionRecord, ctx: ExportContext, dest: Path) -> Path:
        def build(root: Path) -> None:
            facts: dict[str, dict[str, Any]] = {}
            if c.include_files(record) and ctx.open_file is not None:
                for f in record.files:
                    if f.external_url and not f.sha256:
                        continue  # lives elsewhere: referenced by URL
                    path = c.safe_relpath(f.key)
                    d = copy_file(ctx, f, root / path)
                    facts[path] = {"size": d.size, "sha256": d.sha256.hexdigest()}
            doc = crate_metadata(record, ctx, facts)
            (root / METADATA_FILE).write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")

        return materialise(dest, build)
