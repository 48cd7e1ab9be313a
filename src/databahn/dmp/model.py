"""The Data Management Plan as data: project, partners, work packages, their data tables and flows.

The DMP paper's point is that the plan is an operational tool, not a PDF: every "types and formats
generated" row and every "collected from" / "delivered to" row is a record the hub can track deliveries
against. Flows are derived from the per-WP inflow/outflow tables, so the YAML stays a faithful
transcription of the paper while code works with one flat, id-addressable list of flows.
"""

from __future__ import annotations

import re
from enum import IntEnum
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

AS_ABOVE = "as above"
WP_RE = re.compile(r"^\s*WP\s*(\d+)\s*$", re.IGNORECASE)


class SizeClass(IntEnum):
    """Order-of-magnitude size classes used by the DMP tables (the paper's "Size" column)."""

    KB = 1
    MB = 2
    GB = 3
    TB = 4

    @property
    def bytes(self) -> int:
        """Lower bound of the class in bytes (1 KB = 10^3), used to compare against delivered volume."""
        return int(10 ** (3 * self.value))

    @classmethod
    def parse(cls, text: str) -> SizeClass:
        """Parse 'KB', 'kB', 'MB', ... or raise ValueError naming the accepted classes."""
        key = text.strip().upper()
        if key in cls.__members__:
            return cls[key]
        raise ValueError(f"unknown size class {text.strip()!r} (use KB, MB, GB or TB, or a range like MB-GB)")

    @classmethod
    def for_bytes(cls, n: int) -> SizeClass:
        """The class a byte count falls in (below 1 MB counts as KB, 1 TB and more as TB)."""
        for sc in (cls.TB, cls.GB, cls.MB):
            if n >= sc.bytes:
                return sc
        return cls.KB


class SizeRange(BaseModel):
    """A size class or a range of classes such as MB-GB ("MB - GB", "kB and MB" in the paper)."""

    model_config = ConfigDict(frozen=True)

    low: SizeClass
    high: SizeClass

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, v: Any) -> Any:
        if isinstance(v, str):
            r = cls.parse(v)
            return {"low": r.low, "high": r.high}
        return v

    @model_serializer
    def _as_text(self) -> str:
        """Serialised as the plan file writes it ("MB-GB"), so dumps reload and JSON stays readable."""
        return str(self)

    @classmethod
    def parse(cls, text: str) -> SizeRange:
        parts = [p for p in re.split(r"\s*(?:-|\u2013|to|and|,)\s*", text.strip()) if p]
        if not parts or len(parts) > 2:
            raise ValueError(f"cannot read size {text!r} (write a class like MB or a range like MB-GB)")
        classes = [SizeClass.parse(p) for p in parts]
        low, high = min(classes), max(classes)
        return cls(low=low, high=high)

    def __str__(self) -> str:
        return self.low.name if self.low == self.high else f"{self.low.name}-{self.high.name}"


def wp_key(value: str | int) -> str:
    """Normalise a work-package reference ('wp3', 'WP 3', 3) to 'WP3'; ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"WP{value}"
    m = WP_RE.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a work-package reference (write it like WP3)")
    return f"WP{int(m.group(1))}"


class Partner(BaseModel):
    abbreviation: str
    name: str
    ror: str | None = None


class Contact(BaseModel):
    name: str
    email: str | None = None
    orcid: str | None = None


class Project(BaseModel):
    acronym: str
    title: str
    funder: str | None = None
    funder_id: str | None = None
    grant_id: str | None = None
    description: str | None = None
    version: str = "1"
    language: str = "eng"
    start: str | None = None
    end: str | None = None
    contact: Contact | None = None


class AffinityGroup(BaseModel):
    key: str
    label: str


class DataType(BaseModel):
    """One row of a WP's "types and formats of the data that will be generated" table."""

    section: str | None = None
    datatype: str | None = None
    description: str | None = None
    datasets: str | None = None
    type: str | None = None
    format: str | None = None
    size: SizeRange | None = None
    size_note: str | None = None
    merged: bool = False  # datatype cell continues the row above (merged cell in the paper)
    madmp: dict[str, Any] | None = None  # the original maDMP dataset when imported from maDMP

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, v: Any) -> Any:
        return SizeRange.parse(v) if isinstance(v, str) else v

    def keywords(self) -> set[str]:
        """Lower-case words of the row, for suggesting which planned flow a dataset delivers."""
        text = " ".join(
            x for x in (self.section, self.datatype, self.description, self.datasets, self.type) if x
        )
        return {w for w in re.findall(r"[a-z0-9][a-z0-9+\-/]{1,}", text.lower()) if len(w) > 2}


class FlowRow(BaseModel):
    """One row of a WP's "collected from" or "delivered to" table, as written in the plan file."""

    wp: list[str]
    wp_text: str | None = None  # how the paper wrote a multi-WP cell ("WP2-6")
    what: str | None = None
    used_for: str | None = None
    type: str | None = None
    format: str | None = None
    size: SizeRange | None = None
    size_note: str | None = None
    note: str | None = None
    due: str | None = None  # ISO date by which the first delivery is expected (optional)

    @field_validator("wp", mode="before")
    @classmethod
    def _wp(cls, v: Any) -> Any:
        items = v if isinstance(v, list) else [v]
        return [wp_key(x) for x in items]

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, v: Any) -> Any:
        return SizeRange.parse(v) if isinstance(v, str) else v


class Flow(BaseModel):
    """A planned data flow source -> target, derived from one table row (one per WP in the cell)."""

    id: str  # stable, e.g. "WP2->WP5#1": n-th planned flow between the pair, in plan order
    source: str
    target: str
    declared_by: str
    table: Literal["collected_from", "delivered_to"]
    row: int  # 1-based row in that WP's table
    what: str | None = None
    used_for: str | None = None
    type: str | None = None
    format: str | None = None
    size: SizeRange | None = None
    size_note: str | None = None
    due: str | None = None

    @property
    def pair(self) -> tuple[str, str]:
        return (self.source, self.target)


class WorkPackage(BaseModel):
    number: int
    title: str
    leader: str | None = None
    partners: list[str] = Field(default_factory=list)
    affinity_group: str | None = None
    summary: str | None = None
    notes: str | None = None
    data_types: list[DataType] = Field(default_factory=list)
    collected_examples: list[DataType] = Field(default_factory=list)
    collected_from: list[FlowRow] = Field(default_factory=list)
    delivered_to: list[FlowRow] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return f"WP{self.number}"

    @model_validator(mode="after")
    def _resolve_as_above(self) -> WorkPackage:
        """Resolve the paper's "As above" cells and merged datatype cells to the row above's value."""
        for rows in (self.data_types, self.collected_examples):
            prev: DataType | None = None
            for row in rows:
                if prev is not None:
                    for f in ("description", "datasets", "type", "format"):
                        val = getattr(row, f)
                        if isinstance(val, str) and val.strip().lower() == AS_ABOVE:
                            setattr(row, f, getattr(prev, f))
                    if row.datatype is None and prev.datatype is not None:
                        row.datatype = prev.datatype
                        row.merged = True
                prev = row
        for flows in (self.collected_from, self.delivered_to):
            prev_f: FlowRow | None = None
            for fr in flows:
                if prev_f is not None:
                    for f in ("what", "used_for", "type", "format"):
                        val = getattr(fr, f)
                        if isinstance(val, str) and val.strip().lower() == AS_ABOVE:
                            setattr(fr, f, getattr(prev_f, f))
                prev_f = fr
        return self


class EmbargoRule(BaseModel):
    kind: str
    max_months: int | None = None
    text: str | None = None


class Repository(BaseModel):
    name: str
    kind: str | None = None
    url: str | None = None


class Licenses(BaseModel):
    software: list[str] = Field(default_factory=list)
    data: str | None = None
    text: str | None = None


REQUIREMENTS = (
    "battinfo_keyword",
    "method",
    "protocol",
    "fidelity",
    "provenance",
    "license",
    "open_format_or_software",
)


class FairPolicy(BaseModel):
    """The plan's FAIR section as policies the hub can check and report against."""

    openness_levels: list[str] = Field(default_factory=lambda: ["public", "restricted", "confidential"])
    default_openness: str = "public"
    openness_text: str | None = None
    licenses: Licenses = Field(default_factory=Licenses)
    trusted_repository_criteria: list[str] = Field(default_factory=list)
    repositories: list[Repository] = Field(default_factory=list)
    preservation_years: int | None = None
    preservation_text: str | None = None
    embargo_rules: list[EmbargoRule] = Field(default_factory=list)
    open_formats: list[str] = Field(default_factory=list)
    required_metadata: list[str] = Field(default_factory=lambda: list(REQUIREMENTS))
    sections: dict[str, str] = Field(default_factory=dict)

    @field_validator("required_metadata")
    @classmethod
    def _known_requirements(cls, v: list[str]) -> list[str]:
        unknown = [r for r in v if r not in REQUIREMENTS]
        if unknown:
            raise ValueError(f"unknown requirement(s) {unknown}; known: {', '.join(REQUIREMENTS)}")
        return v


class Plan(BaseModel):
    """A whole DMP. `flows` is derived from the WP tables and cached; the plan is treated as immutable."""

    model_config = ConfigDict(ignored_types=(cached_property,))

    format: str = "databahn-dmp/1"
    project: Project
    affinity_groups: list[AffinityGroup] = Field(default_factory=list)
    partners: list[Partner] = Field(default_factory=list)
    fair: FairPolicy = Field(default_factory=FairPolicy)
    work_packages: list[WorkPackage]
    madmp: dict[str, Any] | None = None  # DMP-level maDMP content kept from an import (narrative etc.)

    def wp(self, key: str | int) -> WorkPackage:
        k = wp_key(key)
        for w in self.work_packages:
            if w.key == k:
                return w
        raise KeyError(f"{k} is not a work package of {self.project.acronym} (known: {self.wp_keys_text()})")

    def wp_keys_text(self) -> str:
        return ", ".join(w.key for w in self.work_packages)

    @cached_property
    def flows(self) -> list[Flow]:
        """All planned flows, ids numbered per (source, target) pair in plan order (stable across loads)."""
        out: list[Flow] = []
        counters: dict[tuple[str, str], int] = {}
        for w in sorted(self.work_packages, key=lambda x: x.number):
            tables: tuple[tuple[Literal["collected_from", "delivered_to"], list[FlowRow]], ...] = (
                ("delivered_to", w.delivered_to),
                ("collected_from", w.collected_from),
            )
            for table, rows in tables:
                for i, row in enumerate(rows, start=1):
                    for other in row.wp:
                        src, dst = (w.key, other) if table == "delivered_to" else (other, w.key)
                        n = counters[(src, dst)] = counters.get((src, dst), 0) + 1
                        out.append(
                            Flow(
                                id=f"{src}->{dst}#{n}",
                                source=src,
                                target=dst,
                                declared_by=w.key,
                                table=table,
                                row=i,
                                what=row.what,
                                used_for=row.used_for,
                                type=row.type,
                                format=row.format,
                                size=row.size,
                                size_note=row.size_note,
                                due=row.due,
                            )
                        )
        return out

    def flow(self, flow_id: str) -> Flow:
        for f in self.flows:
            if f.id == flow_id:
                return f
        raise KeyError(f"no planned flow {flow_id!r}; flows look like 'WP2->WP5#1'")

    def flows_between(self, a: str | int, b: str | int) -> list[Flow]:
        """Planned flows from WP a to WP b (directional)."""
        src, dst = wp_key(a), wp_key(b)
        return [f for f in self.flows if f.source == src and f.target == dst]

    def inflows(self, wp: str | int) -> list[Flow]:
        k = wp_key(wp)
        return [f for f in self.flows if f.target == k]

    def outflows(self, wp: str | int) -> list[Flow]:
        k = wp_key(wp)
        return [f for f in self.flows if f.source == k]

    def partner(self, abbreviation: str) -> Partner | None:
        return next((p for p in self.partners if p.abbreviation == abbreviation), None)
