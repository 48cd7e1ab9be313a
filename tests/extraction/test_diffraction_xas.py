"""Diffraction and X-ray absorption extractors on ../shared/realdata/{xrd,xas}.

Checks what a user relies on: technique + IRI, instrument, wavelength/anode, 2θ or energy range,
number of points, a preview, the tidy CSV/Parquet copy, and clear errors for bad input.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from databahn.extractors.base import ExtractionResult, Extractor, UnsupportedFile
from databahn.extractors.diffraction import DiffractionExtractor
from databahn.extractors.xas import XasExtractor
from tests.shared import require_shared

XRD_IRI = "https://w3id.org/emmo/domain/characterisation-methodology/chameo#XrayDiffraction"
EXAFS_IRI = "https://w3id.org/emmo/domain/characterisation-methodology/chameo#Exafs"


def xrd(*parts: str) -> Path:
    return require_shared("realdata", "xrd", *parts)


def xas(name: str) -> Path:
    return require_shared("realdata", "xas", "xraylarch", name)


def run(ext: Extractor, path: Path) -> ExtractionResult:
    assert ext.sniff(path, path.read_bytes()[:65536]) >= 0.5, f"{ext.name} should claim {path.name}"
    res = ext.extract(path)
    json.dumps(res.model_dump(mode="json"))
    assert res.previews and 0 < len(res.previews[0].x) <= 300
    return res


def test_xrdml_full_summary() -> None:
    res = run(DiffractionExtractor(), xrd("yadg_panalytical", "210520step1_30min.xrdml"))
    assert res.technique == "XRD" and res.technique_iri == XRD_IRI
    assert res.instrument == "XPERT-PRO"
    assert res.extra["anode"] == "Cu"
    assert res.extra["wavelength_angstrom"] == pytest.approx(1.540598)
    assert res.n_points == 4489
    lo, hi = res.extra["two_theta_range_deg"]
    assert lo == pytest.approx(5.008, abs=1e-3) and hi == pytest.approx(80.009, abs=1e-3)
    assert res.start_time is not None and res.start_time.year == 2021
    assert {q.name for q in res.quantities} >= {"two_theta", "intensity"}


def test_same_scan_in_three_formats_agrees() -> None:
    ext = DiffractionExtractor()
    d = xrd("yadg_panalytical")
    results = [run(ext, d / f"210520step1_30min.{s}") for s in ("xrdml", "xy", "csv")]
    assert {r.n_points for r in results} == {4489}
    maxima = [next(q.maximum for q in r.quantities if q.name == "intensity") for r in results]
    assert maxima[0] == pytest.approx(maxima[1]) == pytest.approx(maxima[2])
    assert results[2].format == "PANalytical CSV export"


def test_bruker_raw_v3_matches_uxd_export() -> None:
    ext = DiffractionExtractor()
    raw = run(ext, xrd("xylib", "BT86.raw"))
    uxd = run(ext, xrd("xylib", "BT86_.UXD"))
    assert raw.n_points == uxd.n_points == 2374
    assert raw.extra["anode"] == uxd.extra["anode"] == "Cu"
    assert raw.extra["wavelength_angstrom"] == pytest.approx(1.5406)
    assert raw.start_time == uxd.start_time
    raw_max = next(q.maximum for q in raw.quantities if q.name == "intensity")
    uxd_max = next(q.maximum for q in uxd.quantities if q.name == "intensity")
    assert raw_max == pytest.approx(uxd_max, rel=1e-3)


def test_brml_zip_of_xml() -> None:
    res = run(DiffractionExtractor(), xrd("matterviz", "YBCO-A1-HG-600C-950C.brml"))
    assert res.format == "Bruker BRML" and res.n_points == 4133
    assert res.extra["anode"] == "Cu"
    lo, hi = res.extra["two_theta_range_deg"]
    assert 4.9 < lo < 5.1 and 89.9 < hi < 90.1


def test_powder_cif_neutron() -> None:
    res = run(DiffractionExtractor(), xrd("xylib", "1517474.cif"))
    assert res.technique == "neutron powder diffraction"
    assert res.n_points == 3296
    assert res.extra["wavelength_angstrom"] == pytest.approx(2.0785)
    assert any(q.name == "intensity_uncertainty" for q in res.quantities)


def test_xye_has_uncertainty() -> None:
    res = run(DiffractionExtractor(), xrd("EasyDiffractionLib", "PbSO4_xrays_short.xye"))
    assert res.format == "xye three-column text" and res.n_points == 4401
    assert any(q.name == "intensity_uncertainty" for q in res.quantities)


def test_tidy_copy_of_pattern(tmp_path: Path) -> None:
    src = xrd("xylib", "empyrean.xrdml")
    paths = DiffractionExtractor().convert(src, tmp_path)
    assert sorted(p.suffix for p in paths) == [".csv", ".parquet"]
    table = pq.read_table(next(p for p in paths if p.suffix == ".parquet"))
    assert table.column_names[:2] == ["two_theta_degree", "intensity_count"]
    assert table.num_rows == 196
    assert table.schema.field("two_theta_degree").metadata[b"unit"] == b"deg"
    prov = json.loads(table.schema.metadata[b"databahn.provenance"])
    assert prov["derived_from"] == "empyrean.xrdml" and len(prov["source_sha256"]) == 64
    with open(next(p for p in paths if p.suffix == ".csv"), newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["two_theta_degree", "intensity_count"] and len(rows) == 197
    assert float(rows[1][0]) == pytest.approx(30.05)


def test_xdi_metadata() -> None:
    res = run(XasExtractor(), xas("cu_metal_rt.xdi"))
    assert res.technique == "XAS" and res.technique_iri == EXAFS_IRI
    assert res.extra["element"] == "Cu" and res.extra["edge"] == "K"
    assert res.instrument == "APS 13ID"
    assert res.n_points == 408
    assert res.start_time is not None and res.start_time.year == 2001
    assert res.extra["mu_source"] == "mutrans"


def test_xmu_and_athena_project_share_the_spectrum() -> None:
    xmu = run(XasExtractor(), xas("fe2o3_rt1.xmu"))
    prj = run(XasExtractor(), xas("fe_athena.prj"))
    assert xmu.extra["element"] == "Fe" and xmu.n_points == 412
    assert prj.extra["n_spectra"] == 3 and "fe2o3_rt1.xmu" in prj.extra["labels"]
    assert prj.n_points == xmu.n_points
    e_xmu = next(q for q in xmu.quantities if q.name == "energy")
    e_prj = next(q for q in prj.quantities if q.name == "energy")
    assert e_xmu.minimum == pytest.approx(e_prj.minimum, abs=0.1)


def test_beamline_dat_computes_or_finds_mu() -> None:
    res = run(XasExtractor(), xas("ESRF_BM08_LISA_2021.dat"))
    assert res.extra["columns"][0] == "eBraggEnergy" and res.extra["mu_source"] == "mu"
    old = run(XasExtractor(), xas("mn_cpmnco3.dat"))
    assert old.extra["beamline"] == "NSLS X19A"
    e_min = next(q.minimum for q in old.quantities if q.name == "energy")
    assert e_min is not None and 6300 < e_min < 6400  # eV, from the Mn K-edge scan


def test_xas_tidy_copy(tmp_path: Path) -> None:
    paths = XasExtractor().convert(xas("ni_metal_rt.xdi"), tmp_path)
    table = pq.read_table(next(p for p in paths if p.suffix == ".parquet"))
    energy = np.asarray(table.column("energy_electronvolt"))
    assert table.num_rows == 418 and np.all(np.diff(energy) > 0)


def test_xas_does_not_claim_cycler_text() -> None:
    p = require_shared("realdata", "cycler", "maccor_bdt", "maccor_example.001")
    assert XasExtractor().sniff(p, p.read_bytes()[:65536]) == 0.0


# ----------------------------------------------------------------------------------- bad input


def test_xrdml_with_entities_refused(tmp_path: Path) -> None:
    p = tmp_path / "bomb.xrdml"
    lol = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 9))
    p.write_text(
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY l0 "lol">{lol}]>'
        '<xrdMeasurements xmlns="http://www.xrdml.com/XRDMeasurement/1.5"><c>&l8;</c></xrdMeasurements>'
    )
    with pytest.raises(UnsupportedFile, match="entit"):
        DiffractionExtractor().extract(p)


def test_minimal_xrdml_without_header(tmp_path: Path) -> None:
    p = tmp_path / "min.xrdml"
    p.write_text(
        '<?xml version="1.0"?><xrdMeasurements xmlns="http://www.xrdml.com/XRDMeasurement/1.5">'
        '<xrdMeasurement><scan><dataPoints><positions axis="2Theta"><startPosition>10</startPosition>'
        "<endPosition>20</endPosition></positions><counts>1 2 3 4 5 6</counts></dataPoints></scan>"
        "</xrdMeasurement></xrdMeasurements>"
    )
    res = DiffractionExtractor().extract(p)
    assert res.n_points == 6 and res.extra["two_theta_range_deg"] == [10.0, 20.0]
    assert res.software is None and res.instrument is None


def test_truncated_raw(tmp_path: Path) -> None:
    p = tmp_path / "cut.raw"
    p.write_bytes(xrd("xylib", "Cu3Au-1.raw").read_bytes()[:2000])
    with pytest.raises(UnsupportedFile, match="truncated"):
        DiffractionExtractor().extract(p)


def test_xrdml_without_scan(tmp_path: Path) -> None:
    p = tmp_path / "empty.xrdml"
    p.write_text('<?xml version="1.0"?><xrdMeasurements xmlns="http://www.xrdml.com/XRDMeasurement/1.5"/>')
    with pytest.raises(UnsupportedFile, match="no <scan>"):
        DiffractionExtractor().extract(p)


def test_xy_with_text_is_not_claimed(tmp_path: Path) -> None:
    p = tmp_path / "notes.xy"
    p.write_text("this is not\na diffraction pattern\n")
    assert DiffractionExtractor().sniff(p, p.read_bytes()) == 0.0


def test_athena_without_records(tmp_path: Path) -> None:
    p = tmp_path / "empty.prj"
    p.write_bytes(gzip.compress(b"# Athena project file -- Demeter version 0.9.26\n@journal = ();\n"))
    with pytest.raises(UnsupportedFile, match=r"no data record|without any data"):
        XasExtractor().extract(p)


def test_athena_perl_is_never_evaluated(tmp_path: Path) -> None:
    p = tmp_path / "evil.prj"
    body = (
        "# Athena project file -- Demeter version 0.9.26\n$old_group = 'a';\n"
        "@args = ('label', `rm -rf /`, 'bkg_z', 'Fe');\n"
        "@x = ('7000','7001','7002');\n@y = ('0.1','0.2',system('id'));\n[record]\n"
    )
    p.write_bytes(gzip.compress(body.encode()))
    res = XasExtractor().extract(p)  # the non-literal list item is simply dropped
    assert res.n_points == 2
