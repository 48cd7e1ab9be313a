"""The deposit form: flat HTML fields ↔ the metadata model, with errors mapped back to fields.

The form is deliberately flat (one text line per creator, comma-separated keywords) so it works
without JavaScript; the metadata model stays the single judge of what is valid.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from databahn.domain.metadata import DataLevel, DatasetMetadata
from databahn.domain.records import Access
from databahn.errors import DatabahnError, FieldError

TEXT_FIELDS = (
    "title",
    "description",
    "creators",
    "keywords",
    "license",
    "work_package",
    "partner",
    "data_level",
    "method_name",
    "method_protocol",
    "method_instrument",
    "interface_aspect",
    "fidelity",
    "dimensionality",
    "generated_on",
    "version",
    "software",
    "access",
)
LABELS = {
    "title": "Title",
    "description": "Description",
    "creators": "Creators",
    "keywords": "Keywords",
    "license": "License",
    "work_package": "Work package",
    "partner": "Partner",
    "data_level": "Data level",
    "method_name": "Method",
    "method_protocol": "Protocol or SOP",
    "method_instrument": "Instrument",
    "interface_aspect": "Interface aspect",
    "fidelity": "Fidelity",
    "dimensionality": "Dimensionality",
    "generated_on": "Generated on",
    "version": "Version label",
    "software": "Software",
    "access": "Openness",
    "files": "Files",
}
_MIN_LENGTH = re.compile(r"String should have at least (\d+) characters?")
_MAX_LENGTH = re.compile(r"String should have at most (\d+) characters?")
LICENSES = ("CC-BY-4.0", "CC0-1.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "MIT", "Apache-2.0", "BSD-3-Clause")
DATA_LEVELS = tuple(level.value for level in DataLevel)
ACCESS_LEVELS = tuple(a.value for a in Access)


@dataclass(frozen=True)
class DataTemplate:
    """Pre-filled values for one kind of data, so depositors start from the usual answers."""

    label: str
    values: dict[str, str]


TEMPLATES: dict[str, DataTemplate] = {
    "cycler": DataTemplate(
        "Battery cycling",
        {
            "method_name": "galvanostatic cycling",
            "data_level": "raw",
            "dimensionality": "1D time series",
            "keywords": "battery cycling, capacity, voltage",
        },
    ),
    "impedance": DataTemplate(
        "Impedance spectroscopy",
        {
            "method_name": "electrochemical impedance spectroscopy",
            "data_level": "raw",
            "dimensionality": "1D spectrum",
            "keywords": "EIS, impedance",
        },
    ),
    "diffraction": DataTemplate(
        "X-ray diffraction",
        {
            "method_name": "X-ray diffraction",
            "data_level": "raw",
            "dimensionality": "1D pattern",
            "keywords": "XRD, crystal structure",
        },
    ),
    "xas": DataTemplate(
        "X-ray absorption",
        {
            "method_name": "X-ray absorption spectroscopy",
            "data_level": "raw",
            "dimensionality": "1D spectrum",
            "keywords": "XAS, XANES, EXAFS",
        },
    ),
    "dft": DataTemplate(
        "DFT calculation",
        {
            "method_name": "density functional theory",
            "data_level": "processed",
            "fidelity": "DFT-PBE",
            "dimensionality": "0D",
            "keywords": "DFT, simulation",
        },
    ),
}


@dataclass
class FormResult:
    """The parsed form: metadata to save (when valid), the raw values to re-show, errors per field."""

    values: dict[str, str]
    metadata: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _split_list(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]


def _parse_creators(text: str, errors: dict[str, str]) -> list[dict[str, Any]]:
    people: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) > 3:
            errors["creators"] = f"line {n}: use 'Family, Given | ORCID | Affiliation' (at most two '|')"
            continue
        person: dict[str, Any] = {"name": parts[0]}
        if len(parts) > 1 and parts[1]:
            person["orcid"] = parts[1]
        if len(parts) > 2 and parts[2]:
            person["affiliation"] = [{"name": parts[2]}]
        if not parts[0]:
            errors["creators"] = f"line {n}: the name is missing (write 'Family, Given' first)"
        people.append(person)
    return people


def _parse_software(text: str) -> list[dict[str, str]]:
    out = []
    for line in text.splitlines():
        name, _, version = line.strip().partition(" ")
        if name:
            out.append({"name": name, **({"version": version.strip()} if version.strip() else {})})
    return out


def parse_form(form: Any) -> FormResult:
    """Read the submitted fields into a metadata dict and validate it with the metadata model."""
    values = {name: str(form.get(name) or "").strip() for name in TEXT_FIELDS}
    result = FormResult(values=values)
    meta: dict[str, Any] = {"title": values["title"]}
    if values["description"]:
        meta["description"] = values["description"]
    creators = _parse_creators(values["creators"], result.errors)
    if creators:
        meta["creators"] = creators
    if values["keywords"]:
        meta["keywords"] = _split_list(values["keywords"])
    for name in ("license", "work_package", "partner", "interface_aspect", "fidelity", "dimensionality"):
        if values[name]:
            meta[name] = values[name]
    if values["version"]:
        meta["version"] = values["version"]
    if values["data_level"]:
        meta["data_level"] = values["data_level"]
    if values["generated_on"]:
        try:
            meta["generated_on"] = dt.date.fromisoformat(values["generated_on"]).isoformat()
        except ValueError:
            result.errors["generated_on"] = "use a date like 2024-05-31"
    if values["method_name"] or values["method_protocol"] or values["method_instrument"]:
        method = {"name": values["method_name"]}
        if values["method_protocol"]:
            method["protocol"] = values["method_protocol"]
        if values["method_instrument"]:
            method["instrument"] = values["method_instrument"]
        meta["method"] = method
    if values["software"]:
        meta["software"] = _parse_software(values["software"])
    if values["access"] and values["access"] not in ACCESS_LEVELS:
        result.errors["access"] = f"choose one of {', '.join(ACCESS_LEVELS)}"
    if not values["title"]:
        result.errors["title"] = "a title is required"
    result.metadata = meta
    if not result.errors:
        from databahn.services.datasets import validate_metadata

        try:
            validate_metadata(meta)
        except DatabahnError as exc:
            result.errors.update(field_errors(exc.errors, values))
    return result


def form_field(error_field: str) -> str:
    """Map a metadata path (creators.0.orcid, method.name) to the form field that shows it."""
    parts = error_field.split(".")
    if parts[0] == "method" and len(parts) > 1:
        return f"method_{parts[1]}" if parts[1] in ("name", "protocol", "instrument") else "method_name"
    if parts[0] in TEXT_FIELDS:
        return parts[0]
    return "form"


def field_errors(errors: list[FieldError], values: dict[str, str] | None = None) -> dict[str, str]:
    """FieldErrors → {form field: message}; creator errors name their line."""
    out: dict[str, str] = {}
    for err in errors:
        name = form_field(err.field)
        message = _MIN_LENGTH.sub(r"use at least \1 characters", err.message)
        message = _MAX_LENGTH.sub(r"use at most \1 characters", message)
        parts = err.field.split(".")
        if parts[0] in ("creators", "software") and len(parts) > 1 and parts[1].isdigit():
            message = f"line {int(parts[1]) + 1}: {message}"
        out.setdefault(name, message)
    return out


def values_from_metadata(meta: DatasetMetadata, access: str) -> dict[str, str]:
    """The form values that show an existing draft's metadata."""
    creators = []
    for p in meta.creators:
        parts = [p.name, p.orcid or "", p.affiliation[0].name if p.affiliation else ""]
        while parts and not parts[-1]:
            parts.pop()
        creators.append(" | ".join(parts))
    method = meta.method
    return {
        "title": meta.title,
        "description": meta.description or "",
        "creators": "\n".join(creators),
        "keywords": ", ".join(meta.keywords),
        "license": meta.license or "",
        "work_package": meta.work_package or "",
        "partner": meta.partner or "",
        "data_level": meta.data_level.value if meta.data_level else "",
        "method_name": method.name if method else "",
        "method_protocol": (method.protocol or "") if method else "",
        "method_instrument": (method.instrument or "") if method else "",
        "interface_aspect": meta.interface_aspect or "",
        "fidelity": meta.fidelity or "",
        "dimensionality": meta.dimensionality or "",
        "generated_on": meta.generated_on.isoformat() if meta.generated_on else "",
        "version": meta.version or "",
        "software": "\n".join(f"{s.name} {s.version or ''}".strip() for s in meta.software),
        "access": access,
    }


def merge_metadata(existing: DatasetMetadata, edited: dict[str, Any]) -> dict[str, Any]:
    """Keep what the form does not show (funding, related ids, custom...) when a draft is edited."""
    data = existing.model_dump(mode="json", exclude_none=True)
    shown = {
        "title",
        "description",
        "creators",
        "keywords",
        "license",
        "work_package",
        "partner",
        "data_level",
        "method",
        "interface_aspect",
        "fidelity",
        "dimensionality",
        "generated_on",
        "version",
        "software",
    }
    for key in shown:
        data.pop(key, None)
    data.update(edited)
    return data
