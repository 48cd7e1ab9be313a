"""Export formats for dataset versions (DataCite, Dublin Core, schema.org, RO-Crate, BagIt, BibTeX,
CSL-JSON, DCAT-AP). See `base.py` for the plugin contract."""

from databahn.exporters.base import (
    DocumentExporter,
    ExportContext,
    Exporter,
    ExportError,
    PackageExporter,
    UnknownExporter,
    exporters,
    get_exporter,
)

__all__ = [
    "DocumentExporter",
    "ExportContext",
    "ExportError",
    "Exporter",
    "PackageExporter",
    "UnknownExporter",
    "exporters",
    "get_exporter",
]
