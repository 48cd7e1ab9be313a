"""DCAT-AP 3 catalog of the hub in Turtle: how data portals (data.europa.eu and national ones) harvest it.

DCAT-AP's SHACL shapes check `sh:class` by the types stated in the data, so every node is typed
explicitly (licenses as dct:LicenseDocument, media types as dct:MediaType, and so on) rather than
relying on the vocabularies being loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, PROV, RDF, SKOS, XSD

from databahn.domain.metadata import Person, RelationType
from databahn.domain.records import VersionRecord
from databahn.exporters import common as c
from databahn.exporters.base import DocumentExporter, ExportContext

DCAT = Namespace("http://www.w3.org/ns/dcat#")  # rdflib's closed DCAT lacks DCAT 3 terms
ADMS = Namespace("http://www.w3.org/ns/adms#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
IANA = "http://www.iana.org/assignments/media-types/"
EU_THEMES = "http://publications.europa.eu/resource/authority/data-theme"
EU_THEME_TECH = URIRef(EU_THEMES + "/TECH")
EU_LANG = "http://publications.europa.eu/resource/authority/language/"
_ISO639_1_TO_3 = {
    "en": "ENG",
    "de": "DEU",
    "fr": "FRA",
    "it": "ITA",
    "es": "SPA",
    "da": "DAN",
    "sv": "SWE",
    "nl": "NLD",
    "pl": "POL",
    "pt": "POR",
    "fi": "FIN",
    "no": "NOR",
    "cs": "CES",
}


class _Builder:
    def __init__(self, ctx: ExportContext) -> None:
        self.ctx = ctx
        self.g = Graph()
        for prefix, ns in (
            ("dcat", DCAT),
            ("dct", DCTERMS),
            ("foaf", FOAF),
            ("prov", PROV),
            ("skos", SKOS),
            ("adms", ADMS),
            ("spdx", SPDX),
            ("vcard", VCARD),
        ):
            self.g.bind(prefix, ns)

    def typed(self, node: URIRef | BNode, *types: URIRef) -> URIRef | BNode:
        for t in types:
            self.g.add((node, RDF.type, t))
        return node

    def agent(self, name: str, iri: str | None = None, *, organisation: bool = True) -> URIRef | BNode:
        node = URIRef(iri) if iri else BNode()
        self.typed(node, FOAF.Agent, FOAF.Organization if organisation else FOAF.Person)
        self.g.add((node, FOAF.name, Literal(name)))
        return node

    def person(self, p: Person) -> URIRef | BNode:
        n = c.split_name(p)
        return self.agent(c.display_name(p), c.orcid_url(p), organisation=not n.is_person)

    def concept(self, iri: str | URIRef, label: str) -> URIRef:
        node = URIRef(iri)
        self.typed(node, SKOS.Concept)
        self.g.set((node, SKOS.prefLabel, Literal(label)))
        return node

    def media_type(self, mt: str) -> URIRef:
        node = URIRef(IANA + mt.split(";")[0].strip())
        self.typed(node, DCTERMS.MediaType)
        return node

    def language(self, code: str) -> URIRef | None:
        three = _ISO639_1_TO_3.get(code.split("-")[0].lower())
        if not three:
            return None
        node = URIRef(EU_LANG + three)
        self.typed(node, DCTERMS.LinguisticSystem)
        return node

    def catalog(self, records: Iterable[VersionRecord]) -> URIRef:
        ctx, g = self.ctx, self.g
        cat = URIRef(ctx.root + "/#catalog")
        self.typed(cat, DCAT.Catalog)
        g.add((cat, DCTERMS.title, Literal(ctx.hub_name, lang="en")))
        g.add((cat, DCTERMS.description, Literal(ctx.hub_description, lang="en")))
        g.add((cat, DCTERMS.publisher, self.agent(ctx.publisher_name, ctx.root + "/#publisher")))
        home = URIRef(ctx.root + "/")
        g.add((cat, FOAF.homepage, self.typed(home, FOAF.Document)))
        themes = self.typed(URIRef(EU_THEMES), SKOS.ConceptScheme)
        g.add((themes, DCTERMS.title, Literal("Data theme", lang="en")))
        g.add((cat, DCAT.themeTaxonomy, themes))
        latest = None
        for record in records:
            g.add((cat, DCAT.dataset, self.dataset(record)))
            latest = max(latest or record.updated, record.updated)
        if latest:
            g.add((cat, DCTERMS.modified, Literal(latest.isoformat(), datatype=XSD.dateTime)))
        return cat

    def dataset(self, record: VersionRecord) -> URIRef:
        ctx, g, md = self.ctx, self.g, record.metadata
        ds = URIRef(c.persistent_url(record, ctx))
        self.typed(ds, DCAT.Dataset)
        g.add((ds, DCTERMS.title, Literal(md.title, lang=md.language)))
        g.add((ds, DCTERMS.description, Literal(c.description(record, ctx), lang=md.language)))
        g.add((ds, DCTERMS.identifier, Literal(c.persistent_url(record, ctx))))
        if record.doi:
            ident = self.typed(BNode(), ADMS.Identifier)
            g.add((ident, SKOS.notation, Literal(record.doi)))
            g.add((ident, DCTERMS.creator, self.agent("DataCite", "https://ror.org/04wxnsj81")))
            g.add((ds, ADMS.identifier, ident))
        g.add((ds, DCTERMS.issued, Literal(c.issued(record, ctx).isoformat(), datatype=XSD.date)))
        g.add((ds, DCTERMS.modified, Literal(record.updated.isoformat(), datatype=XSD.dateTime)))
        g.add((ds, DCAT.version, Literal(c.version_label(record))))
        g.add((ds, DCTERMS.isVersionOf, URIRef(c.concept_url(record, ctx))))
        name = c.publisher(record, ctx)
        hub_publisher = ctx.root + "/#publisher" if name == ctx.publisher_name else None
        g.add((ds, DCTERMS.publisher, self.agent(name, hub_publisher)))
        for p in md.creators:
            g.add((ds, DCTERMS.creator, self.person(p)))
        landing = self.typed(URIRef(c.landing_url(record, ctx)), FOAF.Document)
        g.add((ds, DCAT.landingPage, landing))
        for k in md.keywords:
            g.add((ds, DCAT.keyword, Literal(c.keyword_label(k, ctx), lang=md.language)))
        for iri in c.keyword_iris(record):
            g.add((ds, DCAT.theme, self.concept(iri, c.keyword_label(iri, ctx))))
        g.add((ds, DCAT.theme, self.concept(EU_THEME_TECH, "Science and technology")))
        if md.language and (lang := self.language(md.language)):
            g.add((ds, DCTERMS.language, lang))
        level = c.access_level(record, ctx)
        rights = self.typed(URIRef(c.EU_ACCESS_RIGHTS[level]), DCTERMS.RightsStatement)
        g.add((ds, DCTERMS.accessRights, rights))
        if ctx.contact_email:
            kind = self.typed(BNode(), VCARD.Kind)
            g.add((kind, VCARD.hasEmail, URIRef("mailto:" + ctx.contact_email)))
            g.add((kind, VCARD.fn, Literal(ctx.hub_name)))
            g.add((ds, DCAT.contactPoint, kind))
        for r in md.related_identifiers:
            target = URIRef(c.doi_url(r.identifier) if r.identifier.startswith("10.") else r.identifier)
            if not str(target).startswith(("http://", "https://")):
                continue
            prop = PROV.wasDerivedFrom if r.relation == RelationType.is_derived_from else DCTERMS.relation
            g.add((ds, prop, target))
        if md.method and md.method.protocol and md.method.protocol.startswith(("http", "10.")):
            proto = md.method.protocol
            std = self.typed(URIRef(c.doi_url(proto) if proto.startswith("10.") else proto), DCTERMS.Standard)
            g.add((ds, DCTERMS.conformsTo, std))
        license_node = None
        lic = c.license_links(md.license)
        if lic:
            license_node = self.typed(URIRef(lic[1]), DCTERMS.LicenseDocument)
        for dist in self.distributions(record, license_node):
            g.add((ds, DCAT.distribution, dist))
        return ds

    def distributions(
        self, record: VersionRecord, license_node: URIRef | BNode | None
    ) -> list[BNode | URIRef]:
        ctx, g = self.ctx, self.g
        landing = URIRef(c.landing_url(record, ctx))
        out: list[BNode | URIRef] = []
        open_access = c.is_public(record, ctx)
        files = record.files if c.include_files(record) else []
        for f in files:
            url = c.file_url(record, f, ctx)
            dist = self.typed(URIRef(url + "#distribution"), DCAT.Distribution)
            g.add((dist, DCTERMS.title, Literal(f.key)))
            g.add((dist, DCAT.accessURL, landing))
            if open_access:
                g.add((dist, DCAT.downloadURL, URIRef(url)))
            if f.media_type:
                g.add((dist, DCAT.mediaType, self.media_type(f.media_type)))
            if f.size is not None:
                g.add((dist, DCAT.byteSize, Literal(f.size, datatype=XSD.nonNegativeInteger)))
            if f.sha256:
                g.add((dist, SPDX.checksum, self.checksum(f.sha256)))
            if license_node is not None:
                g.add((dist, DCTERMS.license, license_node))
            out.append(dist)
        if not files:  # withheld: one distribution that says where to ask for access
            dist = self.typed(URIRef(str(landing) + "#access"), DCAT.Distribution)
            g.add((dist, DCTERMS.title, Literal("Access on request")))
            g.add((dist, DCTERMS.description, Literal(c.access_statement(record, ctx))))
            g.add((dist, DCAT.accessURL, landing))
            if license_node is not None:
                g.add((dist, DCTERMS.license, license_node))
            out.append(dist)
        return out

    def checksum(self, sha256: str) -> BNode:
        node = BNode(hashlib.sha1(sha256.encode(), usedforsecurity=False).hexdigest())
        self.typed(node, SPDX.Checksum)
        algo = self.typed(SPDX.checksumAlgorithm_sha256, SPDX.ChecksumAlgorithm)
        self.g.add((node, SPDX.algorithm, algo))
        self.g.add((node, SPDX.checksumValue, Literal(sha256.lower(), datatype=XSD.hexBinary)))
        return node


def export_catalog(records: Iterable[VersionRecord], ctx: ExportContext) -> str:
    """The hub's DCAT-AP 3 catalog (Turtle) of the given — already access-filtered — versions."""
    b = _Builder(ctx)
    b.catalog(records)
    return b.g.serialize(format="turtle")


class DcatExporter(DocumentExporter):
    """One version as a DCAT-AP catalog of one dataset; use `export_catalog` for the whole hub."""

    name = "dcat"
    label = "DCAT-AP 3 (Turtle)"
    media_type = "text/turtle"
    suffix = ".ttl"

    def export(self, record: VersionRecord, ctx: ExportContext) -> bytes:
        return export_catalog([record], ctx).encode("utf-8")
