"""Every real file in ../shared/realdata yields useful metadata or a specific reason (issue 5).

Walks ALL files (every kind, not only electrochemistry) through the production path
`runner.inspect_file` (isolated worker, time and memory limits). A file passes when it gives
ok=True with non-trivial metadata, or ok=False with a specific 'could not read: ...' /
'unsupported: ...' reason. None may crash the runner or hit the time limit.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from databahn.extractors.runner import InspectReport, inspect_file
from tests.shared import require_shared

SKIP_NAMES = {"SOURCES.md"}
TIMEOUT_S = 60.0


def _files() -> list[Path]:
    root = require_shared("realdata")
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.name not in SKIP_NAMES and "LICENSES" not in p.parts
    )


def _nontrivial(report: InspectReport) -> bool:
    r = report.result
    if r is None or not r.format or not r.extractor:
        return False
    facts = [
        r.technique,
        r.n_points,
        r.quantities,
        r.structures,
        r.archive,
        r.provenance,
        r.software,
        r.start_time,
        {k: v for k, v in r.extra.items() if k != "columns_in_file"},
    ]
    return sum(1 for fact in facts if fact) >= 2


GENERIC = re.compile(r"^(could not read|unsupported): *(error|failed|exception|unknown)?\.?$", re.I)


def test_every_realdata_file_is_understood_or_explained() -> None:
    files = _files()
    assert len(files) >= 100, f"expected the full realdata set, found {len(files)} files"
    problems: list[str] = []
    ok = 0
    for path in files:
        report = inspect_file(path, timeout_s=TIMEOUT_S)
        rel = path.relative_to(require_shared("realdata"))
        if report.ok:
            ok += 1
            if not _nontrivial(report):
                problems.append(f"{rel}: ok but trivial metadata: {report.result}")
            continue
        err = report.error or ""
        if "took longer than" in err or "process died" in err:
            problems.append(f"{rel}: crashed or timed out: {err}")
        elif not (err.startswith("could not read: ") or err.startswith("unsupported: ")) or GENERIC.match(
            err
        ):
            problems.append(f"{rel}: reason is not specific: {err!r}")
        elif len(err) < 30:
            problems.append(f"{rel}: reason too short to help: {err!r}")
    assert not problems, "\n".join(problems)
    assert ok >= 1


@pytest.mark.parametrize("kind", ["cycler", "eis"])
def test_all_electrochemistry_files_are_extracted(kind: str) -> None:
    """Cycler and EIS files are this hub's core: every one of them must be read, not just explained."""
    root = require_shared("realdata", kind)
    failures = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        report = inspect_file(path, timeout_s=TIMEOUT_S)
        if not report.ok:
            failures.append(f"{path.name}: {report.error}")
        elif report.result is not None and report.result.technique is None:
            failures.append(f"{path.name}: no technique")
    assert not failures, "\n".join(failures)


def test_cycler_files_convert_to_bdf_that_reads_back(tmp_path: Path) -> None:
    """The open-format copy of every cycler file is a BDF CSV our own BDF reader accepts, point for point."""
    from databahn.extractors.bdf import BdfExtractor
    from databahn.extractors.runner import convert_file

    bdf = BdfExtractor()
    checked = 0
    for path in sorted(p for p in require_shared("realdata", "cycler").rglob("*") if p.is_file()):
        report = inspect_file(path, timeout_s=TIMEOUT_S)
        assert report.ok and report.result is not None, f"{path.name}: {report.error}"
        out = convert_file(path, tmp_path / path.name, TIMEOUT_S)
        if report.result.n_points is None:  # procedures / metadata files have no table to convert
            assert out == []
            continue
        csv_path = next(p for p in out if p.name.endswith(".tidy.csv"))
        assert bdf.sniff(csv_path, csv_path.read_bytes()[:65536]) == 1.0, path.name
        back = bdf.extract(csv_path)
        assert back.n_points == report.result.n_points, path.name
        checked += 1
    assert checked >= 40
