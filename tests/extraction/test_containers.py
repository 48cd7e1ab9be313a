"""Container and generic extractors: HDF5/NetCDF/NeXus, MATLAB, CSV/JSON/images/PDF, archives, AiiDA.

Real files from ../shared/realdata where they exist; archives, images and PDFs are built here from
real members or with the libraries themselves. Hostile archives (path traversal, links, bombs) must
be refused as a whole with the reason, and nothing may be written outside the temporary folder.
"""

from __future__ import annotations

import io
import json
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest

from databahn.extractors.aiida import AiidaExtractor
from databahn.extractors.archives import ArchiveExtractor
from databahn.extractors.base import ExtractionResult, Extractor, UnsupportedFile
from databahn.extractors.generic import GenericExtractor, split_unit
from databahn.extractors.hdf5 import Hdf5Extractor
from databahn.extractors.matlab import MatlabExtractor
from tests.shared import require_shared


def h5dir() -> Path:
    return require_shared("realdata", "hdf5_netcdf")


def run(ext: Extractor, path: Path, min_score: float = 0.5) -> ExtractionResult:
    assert ext.sniff(path, path.read_bytes()[:65536]) >= min_score, f"{ext.name} should claim {path.name}"
    res = ext.extract(path)
    json.dumps(res.model_dump(mode="json"))
    return res


# ------------------------------------------------------------------------------- HDF5 / NetCDF


def test_nexus_xrd() -> None:
    res = run(Hdf5Extractor(), h5dir() / "pynxtools-xrd" / "xrdml_918-16_10_ref.nxs")
    assert res.format == "NeXus (HDF5)"
    assert res.extra["nexus"]["definitions"] == ["NXxrd_pan"]
    assert res.technique == "XRD" and res.technique_iri and res.technique_iri.endswith("#XrayDiffraction")
    assert res.software is not None and res.software.name == "pynxtools"
    pv = res.previews[0]
    assert pv.x_name == "two_theta" and pv.x_unit == "deg" and 0 < len(pv.x) <= 300


def test_netcdf_variables_with_units() -> None:
    res = run(Hdf5Extractor(), h5dir() / "yadg" / "cp.mpr.nc")
    assert res.format == "NetCDF-4 (HDF5)"
    units = {q.name: q.unit for q in res.quantities}
    assert units["<Ewe>"] == "V" and units["I"] == "mA"
    assert res.n_points == 121
    assert isinstance(res.extra["original_metadata"], dict)
    assert res.technique == "chronopotentiometry" and res.technique_iri is not None
    assert res.software is not None and res.software.name == "yadg"
    xrd = run(Hdf5Extractor(), h5dir() / "yadg" / "xrd.xrdml.nc")
    assert xrd.technique == "XRD"


def test_pandas_store_columns() -> None:
    res = run(Hdf5Extractor(), h5dir() / "beep" / "indigo_test_sample.h5")
    cols = res.extra["pandas_tables"]["time_series_data"]
    assert "cycle_count" in cols and "system_time_us" in cols
    assert res.archive is not None and res.archive["datasets"] >= 8


def test_battdat_compound_table_preview() -> None:
    res = run(
        Hdf5Extractor(), h5dir() / "battery-data-toolkit" / "single-resistor-constant-charge_from-charged.hdf"
    )
    assert res.software is not None and res.software.name == "battery-data-toolkit"
    assert any(p.y_name == "voltage" and p.x_name == "test_time" for p in res.previews)


def test_classic_netcdf3(tmp_path: Path) -> None:
    from scipy.io import netcdf_file

    p = tmp_path / "classic.nc"
    nc = netcdf_file(str(p), "w")
    nc.title = "OCV relaxation"
    nc.createDimension("time", 120)
    t = nc.createVariable("time", "f8", ("time",))
    t[:] = np.arange(120.0)
    t.units = "s"
    v = nc.createVariable("voltage", "f8", ("time",))
    v[:] = np.linspace(3.2, 3.9, 120)
    v.units = "V"
    nc.close()
    res = run(Hdf5Extractor(), p)
    assert res.format == "NetCDF-3 (classic)"
    assert {(q.name, q.unit) for q in res.quantities} == {("time", "s"), ("voltage", "V")}
    assert res.previews[0].x_name == "time" and res.previews[0].y[-1] == pytest.approx(3.9)
    assert res.extra["root_attributes"]["title"] == "OCV relaxation"


def test_truncated_hdf5(tmp_path: Path) -> None:
    p = tmp_path / "cut.nc"
    p.write_bytes((h5dir() / "yadg" / "xrd.xrdml.nc").read_bytes()[:3000])
    with pytest.raises(UnsupportedFile, match="could not read"):
        Hdf5Extractor().extract(p)


# ------------------------------------------------------------------------------------- MATLAB


def test_mat_v5_pybamm() -> None:
    res = run(MatlabExtractor(), h5dir() / "pybamm" / "output.mat")
    assert res.format == "MATLAB MAT-file v5.0"
    names = {q.name: q.unit for q in res.quantities}
    assert names["Terminal voltage"] == "V" and names["Time"] == "h"
    assert res.start_time is not None and res.start_time.year == 2020
    v = next(p for p in res.previews if p.y_name == "Terminal voltage")
    assert v.x_name == "Time" and v.x_unit == "h" and 3.0 < min(v.y) < max(v.y) < 4.5


def test_mat_v73_via_hdf5(tmp_path: Path) -> None:
    p = tmp_path / "v73.mat"
    with h5py.File(p, "w", userblock_size=512) as h5:
        h5.create_dataset("voltage", data=np.linspace(3.0, 4.2, 50))
    with open(p, "r+b") as fh:
        fh.write(
            b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  6 10:00:00 2025 HDF5 schema 1.00 ."
        )
    res = run(MatlabExtractor(), p)
    assert res.format == "MATLAB MAT-file v7.3 (HDF5)"
    assert res.archive is not None and res.archive["listed"][0]["path"] == "voltage"
    assert Hdf5Extractor().sniff(p, p.read_bytes()[:65536]) < MatlabExtractor().sniff(
        p, p.read_bytes()[:65536]
    )


def test_mat_garbage(tmp_path: Path) -> None:
    p = tmp_path / "x.mat"
    p.write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 100 + b"\xff" * 40)
    with pytest.raises(UnsupportedFile, match="could not read"):
        MatlabExtractor().extract(p)


# ------------------------------------------------------------------------------------ generic


def test_csv_units_from_headers() -> None:
    res = run(GenericExtractor(), h5dir() / "pybamm" / "output.csv", min_score=0.2)
    assert res.n_points == 1329
    units = {q.name: q.unit for q in res.quantities}
    assert units == {
        "Time": "h",
        "Current": "A",
        "Terminal voltage": "V",
        "Discharge capacity": "A.h",
        "X-averaged cell temperature": "K",
    }
    assert res.previews[0].x_name == "Time"


def test_csv_after_instrument_preamble(tmp_path: Path) -> None:
    p = tmp_path / "export.txt"
    pre = "Instrument ASCII FILE\nNb header lines : 4\n\n"
    rows = "\n".join(f"{t}\t{3.0 + t / 100:.3f}\t{0.5}\t" for t in range(20))
    p.write_bytes((pre + "time/s\tEcell/V\tI/mA\n" + rows + "\n").encode("latin-1"))
    res = run(GenericExtractor(), p, min_score=0.3)
    assert res.n_points == 20
    assert [(q.name, q.unit) for q in res.quantities] == [("time", "s"), ("Ecell", "V"), ("I", "mA")]
    assert res.extra["preamble"][0] == "Instrument ASCII FILE"
    assert res.previews[0].x_name == "time" and res.previews[0].y_name == "Ecell"


def test_split_unit_styles() -> None:
    assert split_unit("Voltage [V]") == ("Voltage", "V")
    assert split_unit("Current(A)") == ("Current", "A")
    assert split_unit("Test Time / s") == ("Test Time", "s")
    assert split_unit("cycle") == ("cycle", None)


def test_ini_style_csv_is_not_json() -> None:
    p = require_shared("realdata", "xrd", "yadg_panalytical", "210520step1_30min.csv")
    res = GenericExtractor().extract(p)
    assert res.format.startswith("delimited text table")


def test_json_summary_and_bad_json(tmp_path: Path) -> None:
    p = tmp_path / "m.json"
    p.write_text(
        json.dumps({"@context": "https://schema.org", "name": "cell 7", "cycles": [{"n": 1}, {"n": 2}]})
    )
    res = run(GenericExtractor(), p, min_score=0.3)
    assert res.format == "JSON-LD" and res.extra["shape"]["cycles"]["list"] == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": [1, 2,, 3]}')
    with pytest.raises(UnsupportedFile, match="invalid JSON at line 1"):
        GenericExtractor().extract(bad)


def test_png_image(tmp_path: Path) -> None:
    from PIL import Image

    p = tmp_path / "sem.png"
    Image.new("L", (64, 32), color=128).save(p)
    res = run(GenericExtractor(), p)
    assert res.format == "PNG image" and res.extra["width"] == 64 and res.extra["height"] == 32
    assert res.media_type == "image/png"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_decompression_bomb_image_refused(tmp_path: Path) -> None:
    p = tmp_path / "bomb.png"
    ihdr = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 0, 0, 0, 0)
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b""))
    with pytest.raises(UnsupportedFile, match="too large"):
        GenericExtractor().extract(p)


def test_pdf_pages_and_metadata(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    w = PdfWriter()
    for _ in range(3):
        w.add_blank_page(width=200, height=200)
    w.add_metadata({"/Title": "Cell teardown report", "/Producer": "databahn-test"})
    p = tmp_path / "report.pdf"
    with open(p, "wb") as fh:
        w.write(fh)
    res = run(GenericExtractor(), p)
    assert res.extra["pages"] == 3 and res.extra["Title"] == "Cell teardown report"
    assert res.software is not None and res.software.name == "databahn-test"


def test_truncated_pdf(tmp_path: Path) -> None:
    p = tmp_path / "cut.pdf"
    p.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog")
    with pytest.raises(UnsupportedFile, match="could not read"):
        GenericExtractor().extract(p)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    assert GenericExtractor().sniff(p, b"") == 0.0
    with pytest.raises(UnsupportedFile, match="empty"):
        GenericExtractor().extract(p)


# ----------------------------------------------------------------------------------- archives


def _calc_archive(tmp_path: Path) -> Path:
    s = require_shared("realdata", "structures")
    out = tmp_path / "calcs.tar.gz"
    with tarfile.open(out, "w:gz") as tf:
        tf.add(s / "custodian_postprocess" / "vasprun.xml", "project/relax/vasprun.xml")
        tf.add(s / "custodian_postprocess" / "POSCAR", "project/relax/POSCAR")
        info = tarfile.TarInfo("project/relax/INCAR")
        body = b"ENCUT = 520\nISPIN = 2\n"
        info.size = len(body)
        tf.addfile(info, io.BytesIO(body))
        tf.add(s / "qe-tools_pw_240411" / "pw.out", "project/si/pw.out")
        tf.add(s / "qe-tools_pw_240411" / "data-file-schema.xml", "project/si/out/data-file-schema.xml")
    return out


def test_tar_gz_of_calculation_folders(tmp_path: Path) -> None:
    arc = _calc_archive(tmp_path)
    res = run(ArchiveExtractor(), arc)
    assert res.archive is not None
    assert res.archive["n_files"] == 5 and res.archive["kind"] == "tar.gz"
    engines = {c["path"]: c["engine"] for c in res.archive["calculation_folders"]}
    assert engines["project/relax"] == "VASP"
    assert engines["project/si"] == "Quantum ESPRESSO"
    assert res.technique == "DFT simulation"
    inspected = {i["member"]: i for i in res.archive["inspected"]}
    assert inspected["project/relax/vasprun.xml"]["structure"]["formula"] == "FeO"
    assert inspected["project/si/pw.out"]["software"]["version"] == "7.3.1"
    assert {s.formula for s in res.structures} >= {"FeO", "Si"}


def test_nested_archive_is_listed_not_expanded(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deep/INCAR", "ENCUT = 400\n")
    arc = tmp_path / "outer.tar"
    with tarfile.open(arc, "w") as tf:
        info = tarfile.TarInfo("inner.zip")
        info.size = len(inner.getvalue())
        tf.addfile(info, io.BytesIO(inner.getvalue()))
    res = ArchiveExtractor().extract(arc)
    assert res.archive is not None and res.archive["by_extension"] == {".zip": 1}
    assert res.archive["calculation_folders"] == []
    assert all(i.get("extractor") != "archives" for i in res.archive["inspected"])


def test_zip_summary(tmp_path: Path) -> None:
    arc = tmp_path / "bundle.zip"
    with zipfile.ZipFile(arc, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(require_shared("realdata", "xrd", "xylib", "empyrean.xrdml"), "xrd/empyrean.xrdml")
        zf.writestr("README.txt", "scan of sample 7\n")
    res = run(ArchiveExtractor(), arc)
    assert res.archive is not None and res.archive["by_extension"] == {".xrdml": 1, ".txt": 1}
    assert res.technique == "XRD"


def _assert_refused(arc: Path, match: str, tmp_path: Path) -> None:
    before = set(tmp_path.parent.iterdir())
    with pytest.raises(UnsupportedFile, match=match):
        ArchiveExtractor().extract(arc)
    assert set(tmp_path.parent.iterdir()) == before


def test_zip_path_traversal_refused(tmp_path: Path) -> None:
    arc = tmp_path / "evil.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr("../../escaped.txt", "owned")
    _assert_refused(arc, r"\.\.|outside|unsafe|refused", tmp_path)


def test_tar_absolute_path_refused(tmp_path: Path) -> None:
    arc = tmp_path / "abs.tar"
    with tarfile.open(arc, "w") as tf:
        info = tarfile.TarInfo("/etc/cron.d/evil")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"evil"))
    _assert_refused(arc, r"absolute|outside|unsafe|refused", tmp_path)


def test_tar_symlink_refused(tmp_path: Path) -> None:
    arc = tmp_path / "link.tar.gz"
    with tarfile.open(arc, "w:gz") as tf:
        info = tarfile.TarInfo("data/passwd")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    _assert_refused(arc, r"link", tmp_path)


def test_zip_bomb_refused(tmp_path: Path) -> None:
    arc = tmp_path / "bomb.zip"
    with zipfile.ZipFile(arc, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\x00" * (40 * 1024 * 1024))
    assert arc.stat().st_size < 200_000
    _assert_refused(arc, r"ratio|expan|bomb", tmp_path)


def test_corrupt_member_is_reported_not_fatal(tmp_path: Path) -> None:
    arc = tmp_path / "two.zip"
    with zipfile.ZipFile(arc, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/data.csv", "t,v\n" + "".join(f"{i},{i * 0.1}\n" for i in range(500)))
        zf.writestr("b/more.csv", "t,v\n" + "".join(f"{i},{i * 0.2}\n" for i in range(500)))
    raw = bytearray(arc.read_bytes())
    raw[60] ^= 0xFF  # inside the first member's compressed data
    arc.write_bytes(bytes(raw))
    res = ArchiveExtractor().extract(arc)
    assert res.archive is not None and res.archive["n_files"] == 2
    assert "corrupt_member" in [q.code for q in res.quality]
    ok = [i for i in res.archive["inspected"] if "error" not in i]
    assert [i["member"] for i in ok] == ["b/more.csv"]


def test_truncated_zip(tmp_path: Path) -> None:
    arc = tmp_path / "cut.zip"
    full = tmp_path / "full.zip"
    with zipfile.ZipFile(full, "w") as zf:
        zf.writestr("a.txt", "x" * 5000)
    arc.write_bytes(full.read_bytes()[:300])
    with pytest.raises(UnsupportedFile):
        ArchiveExtractor().extract(arc)


# -------------------------------------------------------------------------------------- AiiDA


def test_aiida_current_and_legacy_agree() -> None:
    d = require_shared("realdata", "aiida", "aiida-core")
    new = run(AiidaExtractor(), d / "export_main_0001_simple.aiida")
    old = run(AiidaExtractor(), d / "export_0.13_simple.aiida")
    for res in (new, old):
        assert res.technique == "DFT simulation"
        assert res.provenance is not None and res.provenance["n_nodes"] == 10
        assert res.provenance["codes"][0]["plugin"] == "quantumespresso.pw"
        assert res.structures[0].formula == "BaO3Ti" and res.structures[0].n_sites == 5
        assert res.structures[0].engine == "Quantum ESPRESSO"
    assert new.provenance is not None and new.provenance["export_version"] == "main_0001"
    assert old.provenance is not None and old.provenance["export_version"] == "0.13"


def test_aiida_workflow_graph() -> None:
    res = run(AiidaExtractor(), require_shared("realdata", "aiida", "aiida-core", "graph1.aiida"))
    assert res.provenance is not None
    assert res.provenance["links_by_type"]["call_calc"] == 2
    uuids = {n["uuid"] for n in res.provenance["nodes"]}
    assert len(uuids) == 10
    assert all(lk["input"] in uuids and lk["output"] in uuids for lk in res.provenance["links"])
    assert "WorkChainNode" in res.provenance["nodes_by_type"]
    assert res.technique == "simulation"


def test_aiida_archive_preferred_over_generic_zip() -> None:
    p = require_shared("realdata", "aiida", "aiida-core", "arithmetic.add.aiida")
    head = p.read_bytes()[:65536]
    assert AiidaExtractor().sniff(p, head) > ArchiveExtractor().sniff(p, head)


def test_aiida_without_database(tmp_path: Path) -> None:
    p = tmp_path / "x.aiida"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"export_version": "main_0001"}))
    with pytest.raises(UnsupportedFile, match=r"neither db\.sqlite3 nor data\.json"):
        AiidaExtractor().extract(p)


def test_aiida_with_traversal_member_refused(tmp_path: Path) -> None:
    src = require_shared("realdata", "aiida", "aiida-core", "arithmetic.add.aiida")
    p = tmp_path / "evil.aiida"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(p, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item.filename))
        zout.writestr("../../outside.txt", "owned")
    with pytest.raises(UnsupportedFile, match=r"could not read"):
        AiidaExtractor().extract(p)
    assert not (tmp_path.parent / "outside.txt").exists()
