"""maDMP: export to and import from the RDA DMP Common Standard 1.2 JSON.

The standard has no work packages or data flows, so the whole plan travels in the extension key
``x_databahn_plan`` (the 1.2 schema allows extra keys) and each planned data type becomes a maDMP
dataset tagged ``x_databahn_wp``. A foreign maDMP imports as a one-WP plan whose data types are its
datasets; the DMP-level content (contact, ids, projects, narrative, costs...) is kept verbatim and
written back on export, so import -> export loses nothing the standard carries.

The 1.2 JSON schema is not shipped in the package (it lives in the consortium's shared schema folder);
`madmp_schema()` finds it via ``DATABAHN_MADMP_SCHEMA`` or ``DATABAHN_SHARED``, else falls back to a
built-in check of the standard's required fields and enumerations.
"""

from __future__ import annotations

import copy
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from pydantic import ValidationError

from databahn.dmp.model import (
    Contact,
    DataType,
    FairPolicy,
    Licenses,
    Plan,
    Project,
    Repository,
    SizeClass,
    SizeRange,
    WorkPackage,
)
from databahn.dmp.tracking import LiveState

SCHEMA_NAME = "maDMP-schema-1.2.json"
ACCESS = {"public": "open", "restricted": "shared", "confidential": "closed"}

# Fallback used only when the official schema file cannot be found: the standard's required fields
# and enumerations (written from the RDA DMP Common Standard 1.2 documentation).
_YNU = {"type": "string", "enum": ["yes", "no", "unknown"]}
_ID = {"type": "object", "required": ["identifier", "type"]}
FALLBACK_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["dmp"],
    "properties": {
        "dmp": {
            "type": "object",
            "required": [
                "contact",
                "created",
                "dataset",
                "dmp_id",
                "ethical_issues_exist",
                "language",
                "modified",
                "title",
            ],
            "properties": {
                "title": {"type": "string"},
                "created": {"type": "string", "format": "date-time"},
                "modified": {"type": "string", "format": "date-time"},
                "language": {"type": "string", "pattern": "^[a-z]{3}$"},
                "ethical_issues_exist": _YNU,
                "dmp_id": _ID,
                "contact": {
                    "type": "object",
                    "required": ["contact_id", "mbox", "name"],
                    "properties": {"mbox": {"type": "string", "format": "email"}},
                },
                "dataset": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["dataset_id", "personal_data", "sensitive_data", "title"],
                        "properties": {
                            "dataset_id": _ID,
                            "personal_data": _YNU,
                            "sensitive_data": _YNU,
                            "distribution": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["data_access", "title"],
                                    "properties": {
                                        "data_access": {
                                            "type": "string",
                                            "enum": ["open", "shared", "closed"],
                                        },
                                        "byte_size": {"type": "integer"},
                                        "format": {"type": "array", "items": {"type": "string"}},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


class MadmpError(ValueError):
    """A maDMP document was refused (invalid against the schema, or not importable)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def _schema_candidates() -> list[Path]:
    out = []
    if env := os.environ.get("DATABAHN_MADMP_SCHEMA"):
        out.append(Path(env))
    if env := os.environ.get("DATABAHN_SHARED"):
        out.append(Path(env) / "schemas" / "madmp" / SCHEMA_NAME)
    here = Path(__file__).resolve()
    for base in (Path.cwd(), *here.parents):
        out.append(base.parent / "shared" / "schemas" / "madmp" / SCHEMA_NAME)
    return out


def madmp_schema() -> tuple[dict[str, Any], str]:
    """The 1.2 schema and where it came from ('fallback' if the official file was not found)."""
    for p in _schema_candidates():
        if p.is_file():
            return json.loads(p.read_text(encoding="utf-8")), str(p)
    return FALLBACK_SCHEMA, "fallback"


def validation_errors(data: Any, schema: dict[str, Any] | None = None) -> list[str]:
    """Schema messages with the JSON path of each problem ('at $.dmp.contact.mbox: ...'); [] if valid."""
    sch = schema if schema is not None else madmp_schema()[0]
    validator = Draft202012Validator(sch, format_checker=FormatChecker())
    out = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        out.append(f"at {err.json_path}: {err.message}")
    return out


def validate_madmp(data: Any, schema: dict[str, Any] | None = None) -> None:
    problems = validation_errors(data, schema)
    if problems:
        raise MadmpError(["not valid against the RDA DMP Common Standard 1.2 schema", *problems[:20]])


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-") or "plan"


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _formats(text: str | None) -> list[str]:
    if not text:
        return []
    return [t for t in (x.strip() for x in re.split(r"[,;/]|\s+or\s+|\s+", text)) if t and t.lower() != "or"]


def _license_url(lic: str) -> str:
    return lic if lic.startswith(("http://", "https://")) else f"https://spdx.org/licenses/{lic}.html"


def _plan_extension(plan: Plan) -> dict[str, Any]:
    data = plan.model_dump(mode="json", exclude={"madmp"}, exclude_none=True)
    for wp in data["work_packages"]:
        for table in ("data_types", "collected_examples"):
            for row in wp.get(table, []):
                row.pop("madmp", None)
    return data


def _dataset_from_type(plan: Plan, wp: WorkPackage, i: int, dt: DataType) -> dict[str, Any]:
    ref = f"{wp.key}/data_types/{i}"
    if dt.madmp is not None:
        raw: dict[str, Any] = copy.deepcopy(dt.madmp)
        raw.update(x_databahn_wp=wp.key, x_databahn_ref=ref, x_databahn_origin="imported")
        return raw
    title = " - ".join(x for x in (f"{wp.key} {wp.title}", dt.section, dt.datatype) if x)
    ds: dict[str, Any] = {
        "title": title,
        "dataset_id": {"identifier": f"urn:databahn:{_slug(plan.project.acronym)}:{ref}", "type": "other"},
        "personal_data": "no",
        "sensitive_data": "unknown",
        "x_databahn_wp": wp.key,
        "x_databahn_ref": ref,
    }
    desc = "; ".join(x for x in (dt.description, dt.datasets) if x)
    if desc:
        ds["description"] = desc
    if dt.type:
        ds["type"] = dt.type
    kws = [k for k in (dt.section, dt.datatype) if k]
    if kws:
        ds["keyword"] = kws
    dist: dict[str, Any] = {
        "title": f"{dt.datatype or wp.title} ({dt.format or 'format to be defined'})",
        "data_access": ACCESS.get(plan.fair.default_openness, "open"),
    }
    if fmts := _formats(dt.format):
        dist["format"] = fmts
    if dt.size:
        dist["description"] = f"size class {dt.size}" + (f" ({dt.size_note})" if dt.size_note else "")
    ds["distribution"] = [dist]
    if plan.fair.preservation_text:
        ds["preservation_statement"] = plan.fair.preservation_text
    return ds


def _live_datasets(plan: Plan, live: LiveState) -> list[dict[str, Any]]:
    delivers: dict[str, list[str]] = {}
    for dl in live.deliveries:
        delivers.setdefault(dl.dataset_pid, []).append(dl.flow_id or f"{dl.source}:{dl.target}")
    out = []
    for d in live.datasets:
        is_doi = d.pid.startswith("10.") or "doi.org/" in d.pid
        dist: dict[str, Any] = {"title": d.title or d.pid, "data_access": ACCESS.get(d.openness, "closed")}
        if d.bytes:
            dist["byte_size"] = d.bytes
        if d.formats:
            dist["format"] = list(d.formats)
        if d.license:
            start = d.embargo_until or (d.created.date() if d.created else live.as_of.date())
            dist["license"] = [{"license_ref": _license_url(d.license), "start_date": start.isoformat()}]
        ds: dict[str, Any] = {
            "title": d.title or d.pid,
            "dataset_id": {"identifier": d.pid, "type": "doi" if is_doi else "other"},
            "personal_data": "no",
            "sensitive_data": "unknown",
            "keyword": list(dict.fromkeys([*d.battinfo_keywords, *d.keywords])),
            "distribution": [dist],
            "x_databahn_wp": d.wp,
            "x_databahn_live": True,
        }
        if d.created:
            ds["issued"] = d.created.date().isoformat()
        if flows := delivers.get(d.pid):
            ds["x_databahn_delivers"] = flows
        out.append(ds)
    return out


def export_madmp(
    plan: Plan,
    live: LiveState | None = None,
    *,
    generated_at: datetime | None = None,
    contact_email: str | None = None,
) -> dict[str, Any]:
    """The plan (and, if given, the hub's live datasets) as a maDMP 1.2 document."""
    now = generated_at or (live.as_of if live else datetime.now(UTC))
    base: dict[str, Any] = copy.deepcopy(plan.madmp or {})
    base.pop("dataset", None)
    p = plan.project
    if "contact" not in base:
        c = p.contact or Contact(name=f"{p.acronym} data management")
        email = contact_email or c.email
        if not email:
            raise MadmpError(
                [
                    "maDMP needs a contact e-mail: set project.contact.email in the plan "
                    "or pass one (CLI: --contact-email)"
                ]
            )
        base["contact"] = {
            "name": c.name,
            "mbox": email,
            "contact_id": {"identifier": c.orcid or email, "type": "orcid" if c.orcid else "other"},
        }
    base.setdefault("title", f"Data Management Plan of {p.acronym}: {p.title}")
    if p.description:
        base.setdefault("description", p.description)
    base.setdefault("dmp_id", {"identifier": f"urn:databahn:dmp:{_slug(p.acronym)}", "type": "other"})
    base.setdefault("created", _iso(now))
    base["modified"] = _iso(now)
    base.setdefault("language", p.language)
    base.setdefault("ethical_issues_exist", "no" if plan.fair.sections.get("ethics") else "unknown")
    if plan.fair.sections.get("ethics"):
        base.setdefault("ethical_issues_description", plan.fair.sections["ethics"])
    if "project" not in base:
        proj: dict[str, Any] = {"title": p.title}
        if p.description:
            proj["description"] = p.description
        if p.start:
            proj["start"] = p.start
        if p.end:
            proj["end"] = p.end
        if p.funder_id or p.funder:
            fund: dict[str, Any] = {
                "funder_id": {
                    "identifier": p.funder_id or p.funder or "",
                    "type": "fundref" if p.funder_id else "other",
                },
                "funding_status": "granted",
            }
            if p.grant_id:
                fund["grant_id"] = {"identifier": p.grant_id, "type": "other"}
            proj["funding"] = [fund]
        base["project"] = [proj]
    datasets = [
        _dataset_from_type(plan, wp, i, dt) for wp in plan.work_packages for i, dt in enumerate(wp.data_types)
    ]
    if live is not None:
        datasets += _live_datasets(plan, live)
    base["dataset"] = datasets
    base["x_databahn_version"] = p.version
    base["x_databahn_plan"] = _plan_extension(plan)
    return {"dmp": base}


def _text(v: Any) -> str | None:
    if isinstance(v, list):
        return "; ".join(str(x) for x in v if x) or None
    return str(v) if v not in (None, "") else None


def _datatype_from_dataset(ds: dict[str, Any]) -> DataType:
    dists = ds.get("distribution") or []
    fmts: list[str] = []
    size: SizeRange | None = None
    for d in dists:
        fmts += [str(f) for f in d.get("format") or []]
        if isinstance(d.get("byte_size"), int) and size is None:
            sc = SizeClass.for_bytes(d["byte_size"])
            size = SizeRange(low=sc, high=sc)
    kept = {k: v for k, v in ds.items() if not k.startswith("x_databahn_")}
    return DataType(
        datatype=ds.get("title"),
        description=_text(ds.get("description")),
        datasets=_text(ds.get("keyword")),
        type=_text(ds.get("type")),
        format=", ".join(dict.fromkeys(fmts)) or None,
        size=size,
        madmp=kept,
    )


def import_madmp(data: dict[str, Any], schema: dict[str, Any] | None = None) -> Plan:
    """Validate a maDMP document and turn it into a Plan (refusing invalid files with the schema's message)."""
    validate_madmp(data, schema)
    dmp = data["dmp"]
    kept = {k: v for k, v in dmp.items() if k != "dataset" and not k.startswith("x_databahn_")}
    if isinstance(dmp.get("x_databahn_plan"), dict):
        try:
            plan = Plan.model_validate({**dmp["x_databahn_plan"], "madmp": kept})
        except ValidationError as exc:
            raise MadmpError([f"x_databahn_plan is not a valid plan: {exc.errors()[0]['msg']}"]) from None
        for ds in dmp.get("dataset", []):
            if ds.get("x_databahn_origin") == "imported" and isinstance(ds.get("x_databahn_ref"), str):
                wp_k, _, idx = ds["x_databahn_ref"].split("/")
                try:
                    plan.wp(wp_k).data_types[int(idx)].madmp = {
                        k: v for k, v in ds.items() if not k.startswith("x_databahn_")
                    }
                except (KeyError, IndexError, ValueError):
                    continue
        return plan
    projects = dmp.get("project") or []
    proj0 = projects[0] if projects else {}
    fund0 = (proj0.get("funding") or [{}])[0]
    contact = dmp["contact"]
    cid = contact.get("contact_id")
    cid0 = cid[0] if isinstance(cid, list) else cid
    title = proj0.get("title") or dmp["title"]
    project = Project(
        acronym=re.split(r"\s+[-\u2013:]\s+|:\s", title.strip())[0][:40],
        title=title,
        description=proj0.get("description") or dmp.get("description"),
        funder_id=(fund0.get("funder_id") or {}).get("identifier"),
        grant_id=(fund0.get("grant_id") or {}).get("identifier"),
        language=dmp.get("language", "eng"),
        start=proj0.get("start"),
        end=proj0.get("end"),
        contact=Contact(
            name=contact["name"],
            email=contact.get("mbox"),
            orcid=cid0.get("identifier") if cid0 and cid0.get("type") == "orcid" else None,
        ),
    )
    datasets = [ds for ds in dmp.get("dataset", []) if not ds.get("x_databahn_live")]
    licenses: list[str] = []
    repos: dict[str, Repository] = {}
    preservation: list[str] = []
    for ds in datasets:
        if ds.get("preservation_statement"):
            preservation.append(ds["preservation_statement"])
        for d in ds.get("distribution") or []:
            licenses += [lic["license_ref"] for lic in d.get("license") or []]
            host = d.get("host")
            if host:
                repos.setdefault(host["title"], Repository(name=host["title"], url=host.get("url")))
    sections: dict[str, str] = {}
    if dmp.get("description"):
        sections["other"] = dmp["description"]
    if dmp.get("ethical_issues_description"):
        sections["ethics"] = dmp["ethical_issues_description"]
    if preservation:
        sections["reusable"] = " ".join(dict.fromkeys(preservation))
    fair = FairPolicy(
        licenses=Licenses(
            data=licenses[0] if licenses else None, text="; ".join(dict.fromkeys(licenses)) or None
        ),
        repositories=list(repos.values()),
        preservation_text=" ".join(dict.fromkeys(preservation)) or None,
        sections=sections,
    )
    wp = WorkPackage(
        number=1,
        title="Whole project (imported from maDMP)",
        data_types=[_datatype_from_dataset(ds) for ds in datasets],
    )
    return Plan(project=project, fair=fair, work_packages=[wp], madmp=kept)
