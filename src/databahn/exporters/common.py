"""Helpers shared by the exporters: names, URLs, years, licenses and access statements.

Keeping these in one place means every format says the same thing about a version: the same
landing page, the same citation year, the same access level.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from databahn.domain.licenses import license_name, license_url
from databahn.domain.metadata import DateType, Person
from databahn.domain.records import Access, FileRecord, VersionRecord
from databahn.exporters.base import ExportContext, ExportError

ORCID_BASE = "https://orcid.org/"
DOI_BASE = "https://doi.org/"
EMMO_PREFIX = "https://w3id.org/emmo"
MIN_DESCRIPTION, MAX_DESCRIPTION = 50, 5000

#: COAR / info:eu-repo access-rights terms, as OpenAIRE and DataCite use them.
ACCESS_RIGHTS = {
    "open": "info:eu-repo/semantics/openAccess",
    "embargoed": "info:eu-repo/semantics/embargoedAccess",
    "restricted": "info:eu-repo/semantics/restrictedAccess",
    "closed": "info:eu-repo/semantics/closedAccess",
}
#: EU vocabulary for access rights (DCAT-AP).
EU_ACCESS_RIGHTS = {
    "open": "http://publications.europa.eu/resource/authority/access-right/PUBLIC",
    "embargoed": "http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC",
    "restricted": "http://publications.europa.eu/resource/authority/access-right/RESTRICTED",
    "closed": "http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC",
}


def landing_url(record: VersionRecord, ctx: ExportContext) -> str:
    """The version's landing page: what the record says, else the hub's conventional route."""
    return record.url or f"{ctx.root}/datasets/{quote(record.pid)}"


def concept_url(record: VersionRecord, ctx: ExportContext) -> str:
    return f"{ctx.root}/datasets/{quote(record.concept_pid)}"


def doi_url(doi: str) -> str:
    return doi if doi.startswith("http") else DOI_BASE + doi


def concept_doi(record: VersionRecord) -> str | None:
    for ident in record.identifiers:
        if ident.scheme == "doi" and ident.level == "dataset":
            return ident.value
    return None


def persistent_url(record: VersionRecord, ctx: ExportContext) -> str:
    """The most persistent URL of this version: the DOI when it has one, else the hub landing page."""
    return doi_url(record.doi) if record.doi else landing_url(record, ctx)


def file_url(record: VersionRecord, f: FileRecord, ctx: ExportContext) -> str:
    if f.download_url:
        return f.download_url
    if f.external_url:
        return f.external_url
    return f"{ctx.root}/api/datasets/{quote(record.pid)}/files/{quote(f.key)}"


def issued(record: VersionRecord, ctx: ExportContext) -> dt.date:
    """The citation date: publication, else a declared 'Issued' date, else creation."""
    if record.published:
        return record.published.date()
    for d in record.metadata.dates:
        if d.type == DateType.issued and len(d.date) >= 10:
            return dt.date.fromisoformat(d.date[:10])
    return record.created.date()


def publication_year(record: VersionRecord, ctx: ExportContext) -> int:
    """DataCite: the year the data became public (the embargo end, if any)."""
    if record.embargo_until and record.embargo_until > issued(record, ctx):
        return record.embargo_until.year
    return issued(record, ctx).year


def publisher(record: VersionRecord, ctx: ExportContext) -> str:
    return record.metadata.publisher or ctx.publisher_name


def version_label(record: VersionRecord) -> str:
    return record.metadata.version or str(record.version_number)


def orcid_url(p: Person) -> str | None:
    return ORCID_BASE + p.orcid if p.orcid else None


@dataclass(frozen=True)
class Name:
    full: str
    given: str | None
    family: str | None
    is_person: bool


def split_name(p: Person) -> Name:
    """Given/family names, inferred from 'Family, Given' when not given; no comma and no parts means
    an organisation (the DMP allows groups and partners as creators)."""
    given, family = p.given_name, p.family_name
    if not (given or family) and "," in p.name:
        family, _, given = (s.strip() for s in p.name.partition(","))
    is_person = bool(given or family or p.orcid)
    return Name(p.name, given or None, family or None, is_person)


def display_name(p: Person) -> str:
    n = split_name(p)
    if n.given and n.family:
        return f"{n.given} {n.family}"
    return n.full


def access_level(record: VersionRecord, ctx: ExportContext) -> str:
    """'open', 'embargoed', 'restricted' or 'closed' — the term every format maps to its vocabulary."""
    if record.embargo_until and record.embargo_until > ctx.now.date():
        return "embargoed"
    if record.access == Access.confidential:
        return "closed"
    if record.access == Access.restricted or not record.files_visible:
        return "restricted"
    return "open"


def access_statement(record: VersionRecord, ctx: ExportContext) -> str:
    """A sentence for people: what they can get, and how to ask for the rest."""
    level = access_level(record, ctx)
    if level == "open":
        return "Open access: the files can be downloaded by anyone under the stated license."
    if level == "embargoed":
        assert record.embargo_until is not None
        return (
            f"Embargoed until {record.embargo_until.isoformat()}: only the metadata is public until then; "
            f"request access at {landing_url(record, ctx)}."
        )
    if level == "closed":
        return (
            "Confidential: the files are not shared outside the producing partner; "
            f"contact the creators via {landing_url(record, ctx)}."
        )
    return (
        "Restricted access: only the metadata is public; the files are shared with authorised consortium "
        f"members on request at {landing_url(record, ctx)}."
    )


def is_public(record: VersionRecord, ctx: ExportContext) -> bool:
    return access_level(record, ctx) == "open"


def include_files(record: VersionRecord) -> bool:
    """Whether file bytes/entries may appear in an export at all."""
    return record.files_visible


def license_links(spdx: str | None) -> tuple[str, str] | None:
    """(name, URL) of an SPDX license."""
    if not spdx:
        return None
    return license_name(spdx), license_url(spdx)


def keyword_iris(record: VersionRecord) -> list[str]:
    return [k for k in record.metadata.keywords if re.match(r"^https?://", k)]


_OPAQUE = re.compile(r"^[A-Za-z]+_[0-9a-f]{8}(_[0-9a-f]{4}){3}_[0-9a-f]{12}$")


def keyword_label(k: str, ctx: ExportContext | None = None) -> str:
    """A readable label for a keyword IRI: the hub's ontology label, else a readable fragment, else the IRI.

    EMMO names its terms with opaque UUIDs (EMMO_1b2c...), which mean nothing to a reader."""
    if not re.match(r"^https?://", k):
        return k
    if ctx is not None and ctx.term_label is not None:
        label = ctx.term_label(k)
        if label:
            return label
    tail = re.split(r"[#/]", k.rstrip("/#"))[-1]
    return k if not tail or _OPAQUE.match(tail) else tail


def strip_doi(value: str) -> str:
    """A DOI without its resolver prefix (DataCite wants '10.x/y', not a URL)."""
    return re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", value.strip(), flags=re.I)


def stream_file(ctx: ExportContext, f: FileRecord) -> Iterator[bytes]:
    if ctx.open_file is None:
        raise ExportError(
            "this export copies file contents but no file reader was given; "
            "pass ExportContext(open_file=...) or export metadata-only"
        )
    try:
        yield from ctx.open_file(f)
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(f"could not read file {f.key!r} for the export: {exc}") from exc


def safe_relpath(key: str) -> str:
    """A file key as a safe relative path inside a package (no absolute paths, no '..')."""
    parts = [p for p in key.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise ExportError(f"file key {key!r} is not a safe relative path; rename the file in the hub")
    return "/".join(parts)


class Digests:
    """sha256 + md5 + size computed while streaming, so packages never read a file twice."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        self.md5.update(chunk)
        self.size += len(chunk)


def description(record: VersionRecord, ctx: ExportContext) -> str:
    """The description, padded to Google's 50-character minimum with facts, cut at its 5000 maximum.

    Google Dataset Search, RO-Crate and DCAT-AP all require one; a draft may not have it yet."""
    md = record.metadata
    text = (md.description or "").strip()
    if len(text) < MIN_DESCRIPTION:
        facts = [f"{md.resource_type} '{md.title}', version {version_label(record)}, held by {ctx.hub_name}."]
        if md.method:
            facts.append(f"Method: {md.method.name}.")
        text = (text + " " if text else "") + " ".join(facts)
    if len(text) > MAX_DESCRIPTION:
        text = text[: MAX_DESCRIPTION - 1].rstrip() + "…"
    return text
