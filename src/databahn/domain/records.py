"""Read models: what the service layer hands to interfaces (API, web, exporters, OAI-PMH).

They are plain pydantic models, built only after the access policy has allowed the read, so an
exporter or a page can never see more than the principal may.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from databahn.domain.metadata import DatasetMetadata


class VersionState(StrEnum):
    draft = "draft"
    published = "published"
    withdrawn = "withdrawn"


class Access(StrEnum):
    """Openness levels of the DMP (2.2.1): public, restricted (consortium / groups), confidential."""

    public = "public"
    restricted = "restricted"
    confidential = "confidential"


class Identifier(BaseModel):
    """Any identifier of a dataset or version: hub PID, DOI, facility DOI, lab id, handle, URL."""

    scheme: str = Field(description="hub, doi, handle, url, lab, facility-doi, ark, ...")
    value: str
    level: str = Field("version", description="'version' or 'dataset' (the concept)")


class FileRecord(BaseModel):
    """A file of a version: stored in the hub (sha256 set) or external (url set)."""

    key: str = Field(description="the file's name/path within the version")
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    media_type: str | None = None
    external_url: str | None = None
    derived_from: str | None = Field(None, description="key of the source file (open-format copies)")
    access: Access | None = Field(None, description="when files are more closed than the metadata")
    created: dt.datetime | None = None
    download_url: str | None = None
    extracted: dict[str, Any] | None = None


class VersionRecord(BaseModel):
    """One version of a dataset, as a reader is allowed to see it."""

    pid: str = Field(description="hub identifier of this version, e.g. 3k7q-m2x9.v2")
    concept_pid: str = Field(description="hub identifier of the dataset (resolves to its latest version)")
    version_number: int
    state: VersionState
    access: Access = Access.public
    metadata: DatasetMetadata
    extracted: dict[str, Any] = Field(default_factory=dict, description="automatic metadata, per file")
    files: list[FileRecord] = Field(default_factory=list)
    files_visible: bool = Field(True, description="False when only the metadata is announced")
    identifiers: list[Identifier] = Field(default_factory=list)
    owner: str | None = None
    created: dt.datetime
    updated: dt.datetime
    published: dt.datetime | None = None
    is_latest: bool = False
    embargo_until: dt.date | None = None
    url: str | None = Field(None, description="landing page URL")
    api_url: str | None = None
    extras: dict[str, Any] = Field(
        default_factory=dict, description="read-only fields contributed by plugins (access, provenance, ...)"
    )

    @property
    def doi(self) -> str | None:
        for ident in self.identifiers:
            if ident.scheme == "doi" and ident.level == "version":
                return ident.value
        return None

    @property
    def total_size(self) -> int:
        return sum(f.size or 0 for f in self.files)
