"""The deposit metadata: a DataCite-aligned core plus the DMP's minimum (DMP 2.1.5, 2.1.6).

This pydantic model is the single source of truth: the API validates with it, its JSON Schema
is served at `/api/schemas/metadata`, exporters (DataCite, schema.org, ...) read it.
What people type lives here; automatically extracted metadata is stored apart
(`DatasetVersion.extracted`) and never overwrites it.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from databahn.domain.licenses import normalise_license

ORCID_RE = re.compile(r"^(https://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")
ROR_RE = re.compile(r"^(https://ror\.org/)?(0[a-z0-9]{6}\d{2})$")
LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
SEMVER_OR_CALVER = re.compile(
    r"^(v?\d+(\.\d+){0,2}([-+][0-9A-Za-z.-]+)?|\d{4}[.-]\d{1,2}([.-]\d{1,2})?([.-]\d+)?)$"
)


def orcid_checksum_ok(orcid: str) -> bool:
    """ISO 7064 11,2 check digit, as ORCID defines it."""
    digits = orcid.replace("-", "")
    total = 0
    for ch in digits[:-1]:
        total = (total + int(ch)) * 2
    check = (12 - total % 11) % 11
    expected = "X" if check == 10 else str(check)
    return digits[-1] == expected


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


NonEmpty = Annotated[str, Field(min_length=1, max_length=2000)]


class Affiliation(_Strict):
    name: NonEmpty
    ror: str | None = Field(None, description="ROR identifier, e.g. https://ror.org/04qtj9h94")

    @field_validator("ror")
    @classmethod
    def _ror(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        m = ROR_RE.match(v)
        if not m:
            raise ValueError("not a ROR id: expected https://ror.org/0xxxxxxNN or 0xxxxxxNN")
        return f"https://ror.org/{m.group(2)}"


class Person(_Strict):
    """A creator or contributor. `name` is 'Family, Given' or an organisation's name."""

    name: NonEmpty
    given_name: str | None = None
    family_name: str | None = None
    orcid: str | None = Field(None, description="ORCID iD, e.g. 0000-0002-1825-0097")
    affiliation: list[Affiliation] = Field(default_factory=list)
    role: str | None = Field(None, description="DataCite contributorType, for contributors")

    @field_validator("orcid")
    @classmethod
    def _orcid(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        m = ORCID_RE.match(v.strip())
        if not m:
            raise ValueError("not an ORCID iD: expected 0000-0000-0000-000X")
        if not orcid_checksum_ok(m.group(2)):
            raise ValueError(f"ORCID iD {m.group(2)} has a wrong check digit")
        return m.group(2)

    @field_validator("affiliation", mode="before")
    @classmethod
    def _aff(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [{"name": v}]
        if isinstance(v, list):
            return [{"name": a} if isinstance(a, str) else a for a in v]
        return v


class DateType(StrEnum):
    created = "Created"
    collected = "Collected"
    issued = "Issued"
    available = "Available"
    updated = "Updated"
    valid = "Valid"
    other = "Other"


class DateEntry(_Strict):
    date: str = Field(description="ISO 8601 date or interval (YYYY-MM-DD or YYYY-MM-DD/YYYY-MM-DD)")
    type: DateType = DateType.created
    description: str | None = None

    @field_validator("date")
    @classmethod
    def _date(cls, v: str) -> str:
        for part in v.split("/"):
            try:
                dt.date.fromisoformat(part) if len(part) == 10 else dt.datetime.fromisoformat(part)
            except ValueError as exc:
                raise ValueError(f"{part!r} is not an ISO 8601 date (YYYY-MM-DD)") from exc
        return v


class RelationType(StrEnum):
    is_cited_by = "IsCitedBy"
    cites = "Cites"
    is_supplement_to = "IsSupplementTo"
    is_supplemented_by = "IsSupplementedBy"
    is_part_of = "IsPartOf"
    has_part = "HasPart"
    is_derived_from = "IsDerivedFrom"
    is_source_of = "IsSourceOf"
    is_described_by = "IsDescribedBy"
    describes = "Describes"
    is_documented_by = "IsDocumentedBy"
    documents = "Documents"
    is_new_version_of = "IsNewVersionOf"
    is_previous_version_of = "IsPreviousVersionOf"
    is_identical_to = "IsIdenticalTo"
    references = "References"
    is_referenced_by = "IsReferencedBy"
    requires = "Requires"
    is_required_by = "IsRequiredBy"
    is_compiled_by = "IsCompiledBy"
    compiles = "Compiles"
    is_obsoleted_by = "IsObsoletedBy"
    obsoletes = "Obsoletes"


class RelatedIdentifier(_Strict):
    identifier: NonEmpty
    scheme: str = Field("DOI", description="DOI, URL, Handle, ARK, ISBN, arXiv, PMID, ...")
    relation: RelationType = RelationType.references
    resource_type: str | None = None


class Funding(_Strict):
    funder: NonEmpty
    funder_id: str | None = Field(None, description="ROR or Crossref Funder ID")
    award_number: str | None = None
    award_title: str | None = None


class DataLevel(StrEnum):
    """DMP WP tables: raw → processed → analysed → output."""

    raw = "raw"
    processed = "processed"
    analysed = "analysed"
    output = "output"


class Method(_Strict):
    """How the data was generated, with the protocol/SOP it followed (DMP 2.1.6)."""

    name: NonEmpty = Field(description="Method, ideally a BattINFO/CHAMEO term (label or IRI)")
    protocol: str | None = Field(None, description="Protocol or SOP: a DOI, URL or document reference")
    instrument: str | None = None


class Software(_Strict):
    """Software needed to read a non-open format (DMP 2.2.3), or that produced the data."""

    name: NonEmpty
    version: str | None = None


class DatasetMetadata(_Strict):
    """What a depositor describes. Only `title` is required at draft stage; publishing
    requires creators, a license and a description too (see `publish_problems`)."""

    title: Annotated[str, Field(min_length=3, max_length=500)]
    creators: list[Person] = Field(default_factory=list)
    description: str | None = Field(None, max_length=100_000)
    dates: list[DateEntry] = Field(default_factory=list)
    resource_type: str = Field("Dataset", description="DataCite resourceTypeGeneral")
    keywords: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(default_factory=list)
    subjects: list[str] = Field(default_factory=list, description="Subject classifications")
    contributors: list[Person] = Field(default_factory=list)
    related_identifiers: list[RelatedIdentifier] = Field(default_factory=list)
    funding: list[Funding] = Field(default_factory=list)
    language: str | None = Field("en", description="ISO 639 language code")
    version: str | None = Field(None, description="Version label: semantic (1.2.0) or calendar (2024.05)")
    license: str | None = Field(None, description="SPDX license id, e.g. CC-BY-4.0")
    generated_on: dt.date | None = Field(None, description="The date the data was generated (DMP 2.1.5)")
    publisher: str | None = None
    # DMP minimum (2.1.6) --------------------------------------------------------------
    work_package: str | None = Field(None, description="Work package, e.g. WP2")
    partner: str | None = Field(None, description="Partner (organisation) that produced the data")
    interface_aspect: str | None = Field(
        None, description="The aspect of the battery interface described (a BattINFO term)"
    )
    method: Method | None = None
    data_level: DataLevel | None = None
    fidelity: str | None = Field(
        None, description="Data fidelity, e.g. 'DFT-PBE', 'high-throughput screening'"
    )
    dimensionality: str | None = Field(None, description="e.g. '0D', '1D time series', '3D tomogram'")
    software: list[Software] = Field(
        default_factory=list, description="Software (name, version) needed to read non-open formats"
    )
    custom: dict[str, Any] = Field(default_factory=dict, description="Free-form metadata")

    @field_validator("license")
    @classmethod
    def _license(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        return normalise_license(v)

    @field_validator("language")
    @classmethod
    def _language(cls, v: str | None) -> str | None:
        if v and not LANG_RE.match(v):
            raise ValueError("not an ISO 639 language code such as 'en' or 'de'")
        return v

    @field_validator("version")
    @classmethod
    def _version(cls, v: str | None) -> str | None:
        if v and not SEMVER_OR_CALVER.match(v):
            raise ValueError("use semantic (1.2.0) or calendar (2024.05.01) versioning")
        return v

    @field_validator("work_package")
    @classmethod
    def _wp(cls, v: str | None) -> str | None:
        if not v:
            return None
        m = re.fullmatch(r"(?i)\s*wp\s*0*(\d{1,3})\s*", v)
        if not m:
            raise ValueError("a work package looks like WP2")
        return f"WP{int(m.group(1))}"

    @field_validator("keywords")
    @classmethod
    def _dedupe_keywords(cls, v: list[str]) -> list[str]:
        seen: dict[str, None] = {}
        for k in v:
            seen.setdefault(k.strip(), None)
        return list(seen)

    @model_validator(mode="after")
    def _dates_sane(self) -> DatasetMetadata:
        if self.generated_on and self.generated_on > dt.date.today() + dt.timedelta(days=1):
            raise ValueError("generated_on lies in the future")
        return self

    def publish_problems(self) -> list[tuple[str, str]]:
        """What is missing before a version may be published: (field, message) pairs."""
        problems: list[tuple[str, str]] = []
        if not self.creators:
            problems.append(("creators", "at least one creator is required to publish"))
        if not self.license:
            problems.append(("license", "a license (SPDX id, e.g. CC-BY-4.0) is required to publish"))
        if not self.description:
            problems.append(("description", "a description is required to publish"))
        return problems


def metadata_json_schema() -> dict[str, Any]:
    schema = DatasetMetadata.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "/api/schemas/metadata"
    return schema
