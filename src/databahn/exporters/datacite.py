"""DataCite Metadata Schema XML (kernel 4.6 by default, 4.5 on request).

DataCite is the richest of the standard formats and what DOI registration needs, so this is the
reference mapping: the other exporters say the same things in their own vocabularies.
"""

from __future__ import annotations

import re
from typing import ClassVar

from lxml import etree

from databahn.domain.metadata import DateType, Person, RelationType
from databahn.domain.records import VersionRecord
from databahn.exporters import common as c
from databahn.exporters.base import DocumentExporter, ExportContext, ExportError

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XML_NS_ATTR = {"lang": f"{{{XML_NS}}}lang"}

_RESOURCE_TYPES_45 = {
    "Audiovisual",
    "Book",
    "BookChapter",
    "Collection",
    "ComputationalNotebook",
    "ConferencePaper",
    "ConferenceProceeding",
    "DataPaper",
    "Dataset",
    "Dissertation",
    "Event",
    "Image",
    "Instrument",
    "InteractiveResource",
    "Journal",
    "JournalArticle",
    "Model",
    "OutputManagementPlan",
    "PeerReview",
    "PhysicalObject",
    "Preprint",
    "Report",
    "Service",
    "Software",
    "Sound",
    "Standard",
    "StudyRegistration",
    "Text",
    "Workflow",
    "Other",
}
_RESOURCE_TYPES_46 = _RESOURCE_TYPES_45 | {"Award", "Project"}
_RELATED_ID_TYPES_45 = {
    "ARK",
    "arXiv",
    "bibcode",
    "DOI",
    "EAN13",
    "EISSN",
    "Handle",
    "IGSN",
    "ISBN",
    "ISSN",
    "ISTC",
    "LISSN",
    "LSID",
    "PMID",
    "PURL",
    "UPC",
    "URL",
    "URN",
    "w3id",
}
_RELATED_ID_TYPES_46 = _RELATED_ID_TYPES_45 | {"CSTR", "RRID"}
_CONTRIBUTOR_TYPES_45 = {
    "ContactPerson",
    "DataCollector",
    "DataCurator",
    "DataManager",
    "Distributor",
    "Editor",
    "HostingInstitution",
    "Other",
    "Producer",
    "ProjectLeader",
    "ProjectManager",
    "ProjectMember",
    "RegistrationAgency",
    "RegistrationAuthority",
    "RelatedPerson",
    "ResearchGroup",
    "RightsHolder",
    "Researcher",
    "Sponsor",
    "Supervisor",
    "WorkPackageLeader",
}
_CONTRIBUTOR_TYPES_46 = _CONTRIBUTOR_TYPES_45 | {"Translator"}
_FUNDER_ID_TYPES = {"ISNI", "GRID", "ROR", "Crossref Funder ID", "Other"}

KERNELS = {
    "4.5": (_RESOURCE_TYPES_45, _RELATED_ID_TYPES_45, _CONTRIBUTOR_TYPES_45),
    "4.6": (_RESOURCE_TYPES_46, _RELATED_ID_TYPES_46, _CONTRIBUTOR_TYPES_46),
}


def _pick(value: str | None, allowed: set[str], default: str) -> str:
    if not value:
        return default
    lower = {a.lower().replace(" ", ""): a for a in allowed}
    return lower.get(value.lower().replace(" ", "").replace("_", ""), default)


def related_identifier_type(identifier: str, scheme: str | None, allowed: set[str]) -> str | None:
    """DataCite's relatedIdentifierType, guessing from the value when the scheme is not a DataCite one."""
    picked = _pick(scheme, allowed, "")
    if picked:
        return picked
    if re.match(r"^(https?://(dx\.)?doi\.org/)?10\.\d{4,9}/\S+$", identifier):
        return "DOI"
    if identifier.startswith("https://w3id.org/"):
        return "w3id"
    if re.match(r"^https?://", identifier):
        return "URL"
    return None


def _funder_type(funder_id: str) -> str:
    if "ror.org/" in funder_id:
        return "ROR"
    if "10.13039/" in funder_id:
        return "Crossref Funder ID"
    return "Other"


class DataCiteExporter(DocumentExporter):
    name = "datacite"
    label = "DataCite XML"
    media_type = "application/vnd.datacite.datacite+xml"
    suffix = ".xml"
    kernels: ClassVar[tuple[str, ...]] = tuple(KERNELS)

    def __init__(self, kernel: str = "4.6") -> None:
        if kernel not in KERNELS:
            raise ExportError(f"unknown DataCite kernel {kernel!r}; supported: {', '.join(KERNELS)}")
        self.kernel = kernel
        self.namespace = f"http://datacite.org/schema/kernel-{kernel[0]}"
        self.schema_location = f"http://schema.datacite.org/meta/kernel-{kernel}/metadata.xsd"

    def export(self, record: VersionRecord, ctx: ExportContext) -> bytes:
        return etree.tostring(
            self.to_element(record, ctx), xml_declaration=True, encoding="UTF-8", pretty_print=True
        )

    # -- building -------------------------------------------------------------------------------
    def _el(
        self, parent: etree._Element, tag: str, text: str | None = None, **attrs: str | None
    ) -> etree._Element:
        el = etree.SubElement(parent, f"{{{self.namespace}}}{tag}")
        for k, v in attrs.items():
            if v is not None:
                el.set(XML_NS_ATTR.get(k, k), v)
        if text is not None:
            el.text = text
        return el

    def _person(
        self, parent: etree._Element, kind: str, p: Person, contributor_type: str | None = None
    ) -> None:
        attrs = {"contributorType": contributor_type} if contributor_type else {}
        el = self._el(parent, kind, **attrs)
        n = c.split_name(p)
        self._el(el, f"{kind}Name", n.full, nameType="Personal" if n.is_person else "Organizational")
        if n.is_person and n.given:
            self._el(el, "givenName", n.given)
        if n.is_person and n.family:
            self._el(el, "familyName", n.family)
        if p.orcid:
            self._el(
                el,
                "nameIdentifier",
                c.ORCID_BASE + p.orcid,
                nameIdentifierScheme="ORCID",
                schemeURI="https://orcid.org",
            )
        for a in p.affiliation:
            if a.ror:
                self._el(
                    el,
                    "affiliation",
                    a.name,
                    affiliationIdentifier=a.ror,
                    affiliationIdentifierScheme="ROR",
                    schemeURI="https://ror.org",
                )
            else:
                self._el(el, "affiliation", a.name)

    def to_element(self, record: VersionRecord, ctx: ExportContext) -> etree._Element:
        md = record.metadata
        resource_types, related_types, contributor_types = KERNELS[self.kernel]
        root = etree.Element(f"{{{self.namespace}}}resource", nsmap={None: self.namespace, "xsi": XSI})
        root.set(f"{{{XSI}}}schemaLocation", f"{self.namespace} {self.schema_location}")

        if record.doi:
            self._el(root, "identifier", record.doi, identifierType="DOI")
        else:  # not registered yet: the hub landing page is the identifier DataCite would resolve to
            self._el(root, "identifier", c.landing_url(record, ctx), identifierType="URL")

        creators = self._el(root, "creators")
        for p in md.creators:
            self._person(creators, "creator", p)
        if not md.creators:  # DataCite's standard value for an unknown creator
            self._el(self._el(creators, "creator"), "creatorName", ":unav")

        titles = self._el(root, "titles")
        self._el(titles, "title", md.title, lang=md.language)
        self._el(root, "publisher", c.publisher(record, ctx), lang=md.language)
        self._el(root, "publicationYear", f"{c.publication_year(record, ctx):04d}")
        general = _pick(md.resource_type, resource_types, "Other")
        self._el(
            root,
            "resourceType",
            md.data_level.value + " data" if md.data_level else md.resource_type,
            resourceTypeGeneral=general,
        )

        if md.keywords or md.subjects or md.interface_aspect:
            subjects = self._el(root, "subjects")
            for k in md.keywords:
                if k.startswith(("http://", "https://")):
                    scheme = "EMMO" if k.startswith(c.EMMO_PREFIX) else None
                    self._el(
                        subjects,
                        "subject",
                        c.keyword_label(k, ctx),
                        subjectScheme=scheme,
                        schemeURI=c.EMMO_PREFIX if scheme else None,
                        valueURI=k,
                    )
                else:
                    self._el(subjects, "subject", k, lang=md.language)
            for s in md.subjects:
                self._el(subjects, "subject", s)
            if md.interface_aspect:
                self._el(subjects, "subject", md.interface_aspect, subjectScheme="BattINFO interface aspect")

        contributors = self._el(root, "contributors")
        for p in md.contributors:
            self._person(contributors, "contributor", p, _pick(p.role, contributor_types, "Other"))
        hosting = self._el(contributors, "contributor", contributorType="HostingInstitution")
        self._el(hosting, "contributorName", ctx.hub_name, nameType="Organizational")

        dates = self._el(root, "dates")
        for d in md.dates:
            self._el(dates, "date", d.date, dateType=d.type.value, dateInformation=d.description)
        if md.generated_on and not any(d.type == DateType.created for d in md.dates):
            self._el(
                dates,
                "date",
                md.generated_on.isoformat(),
                dateType="Created",
                dateInformation="date the data was generated",
            )
        if record.published:
            self._el(dates, "date", record.published.date().isoformat(), dateType="Issued")
        if record.embargo_until:
            self._el(
                dates,
                "date",
                record.embargo_until.isoformat(),
                dateType="Available",
                dateInformation="end of embargo",
            )
        self._el(dates, "date", record.updated.date().isoformat(), dateType="Updated")

        if md.language:
            self._el(root, "language", md.language)

        alternates = self._el(root, "alternateIdentifiers")
        self._el(alternates, "alternateIdentifier", record.pid, alternateIdentifierType=ctx.hub_name + " PID")
        for ident in record.identifiers:
            if ident.scheme == "doi" and ident.value == record.doi:
                continue
            if ident.level == "version" and ident.value != record.pid:
                self._el(alternates, "alternateIdentifier", ident.value, alternateIdentifierType=ident.scheme)

        related = self._el(root, "relatedIdentifiers")
        concept = c.concept_doi(record)
        if concept:
            self._el(
                related, "relatedIdentifier", concept, relatedIdentifierType="DOI", relationType="IsVersionOf"
            )
        else:
            self._el(
                related,
                "relatedIdentifier",
                c.concept_url(record, ctx),
                relatedIdentifierType="URL",
                relationType="IsVersionOf",
            )
        for r in md.related_identifiers:
            rtype = related_identifier_type(r.identifier, r.scheme, related_types)
            if rtype is None:
                continue  # DataCite cannot express it; the hub's own page still shows it
            general_r = _pick(r.resource_type, resource_types, "") or None
            self._el(
                related,
                "relatedIdentifier",
                c.strip_doi(r.identifier) if rtype == "DOI" else r.identifier,
                relatedIdentifierType=rtype,
                relationType=r.relation.value,
                resourceTypeGeneral=general_r,
            )
        if md.method and md.method.protocol:
            rtype = related_identifier_type(md.method.protocol, None, related_types)
            if rtype and not any(r.identifier == md.method.protocol for r in md.related_identifiers):
                self._el(
                    related,
                    "relatedIdentifier",
                    c.strip_doi(md.method.protocol) if rtype == "DOI" else md.method.protocol,
                    relatedIdentifierType=rtype,
                    relationType=RelationType.is_documented_by.value,
                )

        if c.include_files(record) and record.files:
            sizes = self._el(root, "sizes")
            self._el(sizes, "size", f"{record.total_size} bytes")
            self._el(sizes, "size", f"{len(record.files)} files")
            types = sorted({f.media_type for f in record.files if f.media_type})
            if types:
                formats = self._el(root, "formats")
                for t in types:
                    self._el(formats, "format", t)

        self._el(root, "version", c.version_label(record))

        rights = self._el(root, "rightsList")
        lic = c.license_links(md.license)
        if lic and md.license:
            self._el(
                rights,
                "rights",
                lic[0],
                rightsURI=lic[1],
                rightsIdentifier=md.license.lower(),
                rightsIdentifierScheme="SPDX",
                schemeURI="https://spdx.org/licenses/",
            )
        self._el(
            rights,
            "rights",
            c.access_statement(record, ctx),
            rightsURI=c.ACCESS_RIGHTS[c.access_level(record, ctx)],
        )

        descriptions = self._el(root, "descriptions")
        if md.description:
            self._el(
                descriptions, "description", md.description, descriptionType="Abstract", lang=md.language
            )
        if md.method:
            parts = [f"Method: {md.method.name}"]
            if md.method.instrument:
                parts.append(f"Instrument: {md.method.instrument}")
            if md.method.protocol:
                parts.append(f"Protocol: {md.method.protocol}")
            self._el(descriptions, "description", "; ".join(parts), descriptionType="Methods")
        technical = _technical_info(record)
        if technical:
            self._el(descriptions, "description", technical, descriptionType="TechnicalInfo")
        if len(descriptions) == 0:
            root.remove(descriptions)

        if md.funding:
            funding = self._el(root, "fundingReferences")
            for fu in md.funding:
                ref = self._el(funding, "fundingReference")
                self._el(ref, "funderName", fu.funder)
                if fu.funder_id:
                    self._el(
                        ref, "funderIdentifier", fu.funder_id, funderIdentifierType=_funder_type(fu.funder_id)
                    )
                if fu.award_number:
                    self._el(ref, "awardNumber", fu.award_number)
                if fu.award_title:
                    self._el(ref, "awardTitle", fu.award_title)

        for container in list(root):  # empty wrappers are invalid in DataCite
            if container.tag.endswith(("s", "List")) and len(container) == 0 and not container.text:
                root.remove(container)
        return root


def _technical_info(record: VersionRecord) -> str:
    """The DMP minimum fields (2.1.6) that DataCite has no element for, as one readable line."""
    md = record.metadata
    parts: list[str] = []
    for label, value in (
        ("Work package", md.work_package),
        ("Partner", md.partner),
        ("Data level", md.data_level.value if md.data_level else None),
        ("Fidelity", md.fidelity),
        ("Dimensionality", md.dimensionality),
    ):
        if value:
            parts.append(f"{label}: {value}")
    if md.software:
        parts.append("Software: " + ", ".join(f"{s.name} {s.version or ''}".strip() for s in md.software))
    return "; ".join(parts)
