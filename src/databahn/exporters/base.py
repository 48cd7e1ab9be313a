"""The exporter plugin contract and its registry.

Every export format (DataCite, Dublin Core, schema.org, RO-Crate, BagIt, BibTeX, CSL-JSON, DCAT) is a
plugin in the `databahn.exporters` entry-point group, so a new format is one module plus one line in
pyproject.toml. Exporters read only the `VersionRecord` read model: the access policy has already
decided what the reader may see, so an export can never leak more than the page it came from.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import ClassVar

from databahn.domain.records import FileRecord, VersionRecord

ENTRY_POINT_GROUP = "databahn.exporters"

#: Streams the bytes of one file (in chunks), so packages never hold a whole file in memory.
OpenFile = Callable[[FileRecord], Iterator[bytes]]


class ExportError(Exception):
    """An export could not be produced; the message says what was wrong and how to fix it."""


class UnknownExporter(ExportError, LookupError):
    """No exporter of that name is registered."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ExportContext:
    """What an export needs to know about the hub rather than the record."""

    base_url: str = "http://localhost:8000"
    hub_name: str = "Databahn"
    publisher: str | None = None
    open_file: OpenFile | None = None
    now: dt.datetime = field(default_factory=_utcnow)
    hub_description: str = "A self-hostable FAIR research-data hub."
    contact_email: str | None = None
    #: Looks up a human label for an ontology IRI (e.g. from the hub's BattINFO index).
    term_label: Callable[[str], str | None] | None = None

    @property
    def publisher_name(self) -> str:
        return self.publisher or self.hub_name

    @property
    def root(self) -> str:
        return self.base_url.rstrip("/")


class Exporter(ABC):  # noqa: B024 - both methods have a "not this kind" default
    """One export format. Document formats implement `export`; packages implement `export_package`."""

    name: ClassVar[str] = "abstract"
    label: ClassVar[str] = "abstract"
    media_type: ClassVar[str] = "application/octet-stream"
    suffix: ClassVar[str] = ""
    is_package: ClassVar[bool] = False

    def export(self, record: VersionRecord, ctx: ExportContext) -> bytes:
        """Serialise one version as a single document."""
        raise ExportError(
            f"{self.name!r} writes a package (a directory or .zip), not a single document; "
            "call export_package(record, ctx, dest) or give an output path"
        )

    def export_package(self, record: VersionRecord, ctx: ExportContext, dest: Path) -> Path:
        """Write a package (directory, or zip when `dest` ends in .zip) and return its path."""
        raise ExportError(f"{self.name!r} writes a single document; call export(record, ctx)")

    def write(self, record: VersionRecord, ctx: ExportContext, dest: Path) -> Path:
        """Write the export to `dest`, whichever kind it is (used by the CLI and the web layer)."""
        if self.is_package:
            return self.export_package(record, ctx, dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(self.export(record, ctx))
        return dest


class DocumentExporter(Exporter):
    """Base for single-document formats: subclasses must implement `export`."""

    @abstractmethod
    def export(self, record: VersionRecord, ctx: ExportContext) -> bytes: ...


class PackageExporter(Exporter):
    """Base for package formats (a directory or .zip with the files): subclasses implement `export_package`."""

    is_package: ClassVar[bool] = True
    media_type: ClassVar[str] = "application/zip"
    suffix: ClassVar[str] = ".zip"

    @abstractmethod
    def export_package(self, record: VersionRecord, ctx: ExportContext, dest: Path) -> Path: ...


def _builtin() -> dict[str, type[Exporter]]:
    # The built-in formats are registered as entry points too; this fallback keeps them available
    # when the package metadata is stale (e.g. an editable install made before they existed).
    from databahn.exporters.bagit import BagItExporter
    from databahn.exporters.citation import BibTeXExporter, CslJsonExporter
    from databahn.exporters.datacite import DataCiteExporter
    from databahn.exporters.dc import DublinCoreExporter
    from databahn.exporters.dcat import DcatExporter
    from databahn.exporters.rocrate import RoCrateExporter
    from databahn.exporters.schemaorg import SchemaOrgExporter

    classes: list[type[Exporter]] = [
        DataCiteExporter,
        DublinCoreExporter,
        SchemaOrgExporter,
        RoCrateExporter,
        BagItExporter,
        BibTeXExporter,
        CslJsonExporter,
        DcatExporter,
    ]
    return {c.name: c for c in classes}


@cache
def _registry() -> dict[str, type[Exporter]]:
    found = dict(_builtin())
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken third-party plugin must not take the hub down
            raise ExportError(f"exporter plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, Exporter)):
            raise ExportError(f"exporter plugin {ep.name!r} ({ep.value}) is not an Exporter subclass")
        found[ep.name] = cls
    return found


def exporters() -> dict[str, Exporter]:
    """All registered exporters, by name, as ready-to-use instances."""
    return {name: cls() for name, cls in sorted(_registry().items())}


def get_exporter(name: str) -> Exporter:
    """The exporter called `name`; an unknown name raises `UnknownExporter` listing the valid ones."""
    key = name.strip().lower()
    aliases = {"rocrate": "ro-crate", "schema.org": "schemaorg", "csl-json": "csl", "oai_dc": "dc"}
    key = aliases.get(key, key)
    registry = _registry()
    if key not in registry:
        raise UnknownExporter(f"unknown export format {name!r}; available: {', '.join(sorted(registry))}")
    return registry[key]()
