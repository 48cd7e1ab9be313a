"""Realistic `VersionRecord`s for the exporter and FAIR tests, built on real files from ../shared.

Three shapes a hub really holds: a rich, published, open version (DOI, ORCIDs, ontology keywords,
provenance, real cycler files), a minimal draft (only a title), and a restricted metadata-only one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from databahn.domain.metadata import DatasetMetadata
from databahn.domain.records import Access, FileRecord, Identifier, VersionRecord, VersionState
from databahn.exporters.base import ExportContext
from tests.shared import require_shared

GCPL_IRI = (
    "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_79a8802e_8296_459a_b65d_6e5c79e1bf37"
)
CV_IRI = "https://w3id.org/emmo/domain/characterisation-methodology/chameo#CyclicVoltammetry"
TITLE = "GCPL cycling of LiFePO4/graphite coin cells at 25 °C & 50% SoC {batch #3_a}"
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
REAL_FILES = ("gcpl.issue_149.mpt", "gcpl.issue_149.mpr")


def cycler_dir() -> Path:
    return require_shared("realdata", "cycler", "biologic_yadg")


def _file(path: Path, media_type: str, open_format: bool, derived_from: str | None = None) -> FileRecord:
    data = path.read_bytes()
    return FileRecord(
        key=f"raw/{path.name}",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        media_type=media_type,
        derived_from=derived_from,
        created=NOW,
        extracted={
            "extractor": "biologic",
            "format": "BioLogic EC-Lab",
            "open_format": open_format,
            "technique": "galvanostatic cycling",
            "technique_iri": GCPL_IRI,
            "quantities": [
                {"name": "voltage", "unit": "V", "source_name": "Ewe/V"},
                {"name": "current", "unit": "mA", "source_name": "I/mA"},
                {"name": "test_time", "unit": "s", "source_name": "time/s"},
            ],
        },
    )


def full_record() -> VersionRecord:
    d = cycler_dir()
    mpr = _file(d / REAL_FILES[1], "application/octet-stream", open_format=False)
    mpt = _file(d / REAL_FILES[0], "text/plain", open_format=True, derived_from=mpr.key)
    md = DatasetMetadata(
        title=TITLE,
        creators=[
            {
                "name": "Müller, Jörg",
                "orcid": "0000-0002-1825-0097",
                "affiliation": [
                    {"name": "Technical University of Denmark", "ror": "https://ror.org/04qtj9h94"}
                ],
            },
            {
                "name": "Østergaard, Ida",
                "given_name": "Ida",
                "family_name": "Østergaard",
                "orcid": "0000-0001-5109-3700",
            },
            {"name": "BIG-MAP Consortium"},
        ],
        contributors=[{"name": "Rossi, Anna", "orcid": "0000-0002-9079-593X", "role": "DataCurator"}],
        description=(
            "Galvanostatic cycling with potential limitation (GCPL) of LiFePO4/graphite CR2032 coin cells, "
            "recorded with a BioLogic VMP-300 at 25 °C. Raw EC-Lab binary files and their text exports."
        ),
        dates=[{"date": "2025-03-01/2025-03-14", "type": "Collected"}],
        keywords=[GCPL_IRI, "coin cell", "LiFePO4"],
        subjects=["Electrochemistry"],
        related_identifiers=[
            {"identifier": "10.1002/aenm.202102904", "scheme": "DOI", "relation": "IsSupplementTo"},
            {"identifier": "10.5281/zenodo.7004485", "scheme": "DOI", "relation": "IsDerivedFrom"},
        ],
        funding=[
            {
                "funder": "European Commission",
                "funder_id": "https://ror.org/00k4n6c32",
                "award_number": "957189",
                "award_title": "BIG-MAP",
            }
        ],
        language="en",
        version="1.1.0",
        license="CC-BY-4.0",
        generated_on=dt.date(2025, 3, 14),
        work_package="WP2",
        partner="DTU",
        interface_aspect="solid electrolyte interphase",
        method={
            "name": "GalvanostaticCycling",
            "protocol": "https://doi.org/10.5281/zenodo.1234567",
            "instrument": "BioLogic VMP-300",
        },
        data_level="raw",
        fidelity="lab-scale coin cell",
        dimensionality="1D time series",
        software=[{"name": "EC-Lab", "version": "11.50"}],
    )
    return VersionRecord(
        pid="3k7q-m2x9.v2",
        concept_pid="3k7q-m2x9",
        version_number=2,
        state=VersionState.published,
        access=Access.public,
        metadata=md,
        files=[mpr, mpt],
        identifiers=[
            Identifier(scheme="hub", value="3k7q-m2x9.v2"),
            Identifier(scheme="doi", value="10.82035/databahn.3k7q-m2x9.v2"),
            Identifier(scheme="doi", value="10.82035/databahn.3k7q-m2x9", level="dataset"),
        ],
        owner="jomu",
        created=dt.datetime(2025, 3, 15, 9, 30, tzinfo=dt.UTC),
        updated=dt.datetime(2025, 4, 2, 16, 5, tzinfo=dt.UTC),
        published=dt.datetime(2025, 4, 2, 16, 5, tzinfo=dt.UTC),
        is_latest=True,
        url="https://hub.big-map.example/datasets/3k7q-m2x9.v2",
    )


def minimal_record() -> VersionRecord:
    return VersionRecord(
        pid="9xyz-0001.v1",
        concept_pid="9xyz-0001",
        version_number=1,
        state=VersionState.draft,
        metadata=DatasetMetadata(title="XRD scan", language=None),
        created=dt.datetime(2026, 1, 10, 8, 0, tzinfo=dt.UTC),
        updated=dt.datetime(2026, 1, 10, 8, 0, tzinfo=dt.UTC),
    )


def restricted_record() -> VersionRecord:
    """Metadata-only: the reader may see the description, not the files (DMP 2.2.1 'restricted')."""
    full = full_record()
    return full.model_copy(
        update={
            "pid": "7rst-c4v3.v1",
            "concept_pid": "7rst-c4v3",
            "version_number": 1,
            "access": Access.restricted,
            "files_visible": False,
            "identifiers": [Identifier(scheme="hub", value="7rst-c4v3.v1")],
            "url": None,
        }
    )


def file_reader() -> object:
    d = cycler_dir()

    def open_file(f: FileRecord) -> Iterator[bytes]:
        with (d / Path(f.key).name).open("rb") as fh:
            yield from iter(lambda: fh.read(8192), b"")

    return open_file


def context(with_files: bool = True) -> ExportContext:
    return ExportContext(
        base_url="https://hub.big-map.example",
        hub_name="BIG-MAP Databahn",
        publisher="BIG-MAP Consortium",
        open_file=file_reader() if with_files else None,  # type: ignore[arg-type]
        now=NOW,
        contact_email="data@big-map.example",
    )


RECORDS = {"full": full_record, "minimal": minimal_record, "restricted": restricted_record}


@pytest.fixture(params=sorted(RECORDS))
def any_record(request: pytest.FixtureRequest) -> VersionRecord:
    return RECORDS[request.param]()


def test_full_record_is_publishable_and_real() -> None:
    rec = full_record()
    assert rec.metadata.publish_problems() == []
    assert rec.doi == "10.82035/databahn.3k7q-m2x9.v2"
    assert all(f.size and f.size > 10_000 for f in rec.files)


def test_minimal_record_is_not_publishable() -> None:
    assert {f for f, _ in minimal_record().metadata.publish_problems()} == {
        "creators",
        "license",
        "description",
    }
