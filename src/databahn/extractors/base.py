"""The extractor plugin contract.

An extractor reads one family of file formats and returns what it learnt: the kind of data as a
BattINFO term, instrument and software, quantities with units, structures, quality flags, a small
preview, and optionally writes open-format copies. Extractors are plugins registered in the
`databahn.extractors` entry-point group (see pyproject.toml), so adding a format touches one module
plus one line. The runner (`databahn.extractors.runner`) picks extractors by `sniff`, enforces a
time and memory budget, and turns any exception into a clear "could not read: reason".
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Quantity(BaseModel):
    """A column / measured quantity, with its unit, named in the hub's standard vocabulary."""

    name: str = Field(description="standard name, e.g. 'voltage', 'current', 'test_time'")
    unit: str | None = Field(None, description="unit symbol, e.g. 'V', 'A', 's', 'mAh'")
    source_name: str | None = Field(None, description="the column name in the file")
    iri: str | None = Field(None, description="BattINFO/EMMO IRI of the quantity, when known")
    minimum: float | None = None
    maximum: float | None = None


class Software(BaseModel):
    name: str
    version: str | None = None


class Structure(BaseModel):
    """A crystal structure or simulation cell summary."""

    formula: str = Field(description="reduced (Hill-ordered) chemical formula, e.g. 'LiCoO2'")
    elements: list[str]
    n_sites: int
    lattice: list[list[float]] | None = Field(None, description="3x3 lattice vectors in Å")
    cell_lengths: list[float] | None = None
    cell_angles: list[float] | None = None
    volume: float | None = Field(None, description="Å^3")
    species: list[str] | None = Field(None, description="per-site species, for OPTIMADE")
    cartesian_positions: list[list[float]] | None = Field(None, description="Å, for OPTIMADE")
    pbc: list[bool] | None = None
    space_group: str | None = None
    engine: str | None = Field(None, description="simulation code, e.g. 'VASP'")
    engine_version: str | None = None
    energy_ev: float | None = Field(None, description="final total energy in eV")


class QualityFlag(BaseModel):
    """A plausibility finding (DMP 2.4.4: 'shape and numbers')."""

    code: str = Field(description="e.g. 'nan_fraction', 'time_not_monotonic', 'out_of_range'")
    severity: str = Field("warning", description="'info', 'warning' or 'error'")
    message: str


class Series(BaseModel):
    """A downsampled curve for previews (a few hundred points at most)."""

    title: str
    x_name: str
    x_unit: str | None = None
    y_name: str
    y_unit: str | None = None
    x: list[float]
    y: list[float]


class ExtractionResult(BaseModel):
    """What an extractor found in one file. Everything but `extractor` and `format` is optional."""

    model_config = ConfigDict(extra="forbid")

    extractor: str = Field(description="name of the extractor that produced this")
    format: str = Field(description="human name of the file format, e.g. 'BioLogic EC-Lab MPR'")
    media_type: str | None = None
    technique: str | None = Field(None, description="kind of data, human label, e.g. 'cyclic voltammetry'")
    technique_iri: str | None = Field(None, description="BattINFO/CHAMEO IRI of the technique")
    instrument: str | None = None
    software: Software | None = None
    open_format: bool = Field(False, description="is the format itself open/documented")
    start_time: dt.datetime | None = None
    quantities: list[Quantity] = Field(default_factory=list)
    n_points: int | None = None
    time_span_s: float | None = None
    cycle_count: int | None = None
    capacities: dict[str, float] = Field(default_factory=dict, description="e.g. {'charge_mAh': 1.2}")
    structures: list[Structure] = Field(default_factory=list)
    archive: dict[str, Any] | None = Field(None, description="summary of an archive's content")
    provenance: dict[str, Any] | None = Field(None, description="e.g. an AiiDA archive's nodes and links")
    quality: list[QualityFlag] = Field(default_factory=list)
    previews: list[Series] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict, description="format-specific header fields")


class UnsupportedFile(Exception):
    """The file is not something this extractor (or any) can read; the message says why."""


class Extractor(ABC):
    """One family of formats. Subclasses are registered as entry points."""

    #: short unique name, e.g. 'biologic'
    name: str = "abstract"
    #: human name of the format family, e.g. 'BioLogic EC-Lab'
    label: str = ""
    #: file name suffixes (lower case, with dot) this extractor usually handles
    suffixes: tuple[str, ...] = ()

    @abstractmethod
    def sniff(self, path: Path, head: bytes) -> float:
        """How sure (0..1) this extractor is that it can read the file; `head` is its first 64 KiB.

        Decide from content where possible (a `.mpr` that is really a PNG must score 0)."""

    @abstractmethod
    def extract(self, path: Path) -> ExtractionResult:
        """Read the file; raise UnsupportedFile (with a specific reason) if it cannot."""

    def convert(self, path: Path, out_dir: Path) -> list[Path]:
        """Write open-format copies (tidy CSV + Parquet/NetCDF) into out_dir; [] if not applicable."""
        return []
