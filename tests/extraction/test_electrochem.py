"""Electrochemistry extractors on the real files in ../shared/realdata/cycler and /eis.

What a user checks: the technique (with its BattINFO IRI), software and version, start time,
quantities with units, number of points, time span, cycles and capacities, previews, and that the
binary file and its text export agree. Values asserted here were read from the files' own text
exports or headers, not from our code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from databahn.extractors.arbin import ArbinExtractor
from databahn.extractors.base import ExtractionResult, Extractor, UnsupportedFile
from databahn.extractors.basytec import BasytecExtractor
from databahn.extractors.bdf import BdfExtractor
from databahn.extractors.biologic import BiologicExtractor
from databahn.extractors.gamry import GamryExtractor
from databahn.extractors.impedance import ImpedanceExtractor
from databahn.extractors.landt import LandtExtractor
from databahn.extractors.maccor import MaccorExtractor, MaccorProcedureExtractor
from databahn.extractors.neware import NewareExtractor
from databahn.extractors.novonix import NovonixExtractor
from databahn.extractors.pec import PecExtractor
from databahn.extractors.terms import TERMS
from databahn.extractors.tidy import TidyTable, capacities, count_cycles, downsample, quality_checks
from tests.shared import require_shared

GCPL_IRI = TERMS["GalvanostaticCycling"]
EIS_IRI = TERMS["ElectrochemicalImpedanceSpectroscopy"]


def f(*parts: str) -> Path:
    return require_shared("realdata", *parts)


def run(ext: Extractor, path: Path) -> ExtractionResult:
    head = path.read_bytes()[:65536]
    assert ext.sniff(path, head) >= 0.5, f"{ext.name} should claim {path.name}"
    return ext.extract(path)


def q(result: ExtractionResult, name: str) -> tuple[float | None, float | None, str | None]:
    qq = next(x for x in result.quantities if x.name == name)
    return qq.minimum, qq.maximum, qq.unit


# ----------------------------------------------------------------------------- BioLogic


def test_biologic_gcpl_mpr_is_useful() -> None:
    r = run(BiologicExtractor(), f("cycler", "biologic_yadg", "gcpl.issue_149.mpr"))
    assert r.technique == "galvanostatic cycling" and r.technique_iri == GCPL_IRI
    assert r.software is not None and r.software.name == "EC-Lab" and r.software.version == "11.50"
    # .mpt header: "Acquisition started on : 01/10/2024 11:02:29.886"
    assert r.start_time == dt.datetime(2024, 1, 10, 11, 2, 29, 886000)
    assert r.n_points == 132
    assert r.time_span_s == pytest.approx(629.83, abs=0.01)
    vmin, vmax, unit = q(r, "voltage")
    assert (
        unit == "V" and vmin == pytest.approx(3.41378, abs=1e-4) and vmax == pytest.approx(3.44664, abs=1e-4)
    )
    assert r.cycle_count == 4
    assert r.capacities["max_charge_mAh"] == pytest.approx(8.3e-5, rel=0.05)
    assert r.previews[0].title == "voltage vs time" and 2 < len(r.previews[0].x) <= 500
    assert not r.open_format and r.format.startswith("BioLogic EC-Lab MPR")


@pytest.mark.parametrize("stem", ["gcpl.issue_149", "cv", "ca.issue_149", "cp", "ocv", "mb.issue_95", "lsv"])
def test_biologic_mpr_agrees_with_its_text_export(stem: str) -> None:
    ext = BiologicExtractor()
    a = run(ext, f("cycler", "biologic_yadg", f"{stem}.mpr"))
    b = run(ext, f("cycler", "biologic_yadg", f"{stem}.mpt"))
    assert a.technique == b.technique and a.technique is not None
    assert a.n_points == b.n_points
    assert a.start_time is not None and b.start_time is not None
    assert abs((a.start_time - b.start_time).total_seconds()) < 1
    assert a.time_span_s == pytest.approx(b.time_span_s, rel=1e-6)
    assert q(a, "voltage")[0] == pytest.approx(q(b, "voltage")[0], rel=1e-5)
    assert q(a, "voltage")[1] == pytest.approx(q(b, "voltage")[1], rel=1e-5)
    assert a.software and b.software and a.software.version == b.software.version


def test_biologic_german_decimal_commas_equal_english_export() -> None:
    ext = BiologicExtractor()
    de = run(ext, f("cycler", "biologic_yadg", "mb.issue_95.de.mpt"))
    en = run(ext, f("cycler", "biologic_yadg", "mb.issue_95.mpt"))
    assert de.extra.get("decimal_comma") is True
    assert de.n_points == en.n_points == 33
    for name in ("voltage", "current", "test_time"):
        assert q(de, name)[:2] == pytest.approx(q(en, name)[:2])
    assert de.capacities == pytest.approx(en.capacities)
    assert en.capacities["max_charge_mAh"] == pytest.approx(0.27782, abs=1e-5)


@pytest.mark.parametrize(
    ("parts", "n"),
    [
        (("eis", "yadg", "peis.mpr"), 32),
        (("eis", "yadg", "geis.issue_149.mpr"), 84),
        (("eis", "battery-data-format", "PEIS-0.mpr"), 60),
        (("eis", "impedance.py", "exampleDataBioLogic.mpt"), 43),
    ],
)
def test_biologic_impedance(parts: tuple[str, ...], n: int) -> None:
    r = run(BiologicExtractor(), f(*parts))
    assert r.technique == "electrochemical impedance spectroscopy" and r.technique_iri == EIS_IRI
    assert r.n_points == n
    fmin, fmax, unit = q(r, "frequency")
    assert unit == "Hz" and fmin is not None and fmax is not None and fmax / fmin > 100
    assert r.previews[0].title.startswith("Nyquist")
    assert r.cycle_count is None and r.capacities == {}


def test_biologic_timestamped_and_headerless_exports() -> None:
    ts = run(BiologicExtractor(), f("cycler", "biologic_pyprobe", "Sample_data_biologic_timestamped.txt"))
    assert ts.software is not None and ts.software.name == "BT-Lab" and ts.software.version == "1.80"
    assert ts.n_points == 8 and ts.time_span_s is not None and ts.time_span_s > 0
    nh = run(BiologicExtractor(), f("cycler", "biologic_pyprobe", "Sample_data_biologic_no_header.mpt"))
    assert nh.n_points == 13 and nh.start_time is None


def test_biologic_refuses_non_mpr_content(tmp_path: Path) -> None:
    p = tmp_path / "x.mpr"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert BiologicExtractor().sniff(p, p.read_bytes()) == 0
    with pytest.raises(UnsupportedFile, match=r"not a BioLogic \.mpr"):
        BiologicExtractor().extract(p)


def test_biologic_convert_writes_bdf_columns(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    paths = BiologicExtractor().convert(f("cycler", "biologic_yadg", "cv.mpr"), tmp_path)
    t = pq.read_table(next(p for p in paths if p.suffix == ".parquet"))
    assert {"test_time_second", "voltage_volt", "current_ampere", "cycle_count"} <= set(t.column_names)
    assert t.num_rows == 5103
    current = t.column("current_ampere").to_numpy()
    assert np.nanmax(current) == pytest.approx(0.0613360, rel=1e-5)  # .mpt: max <I>/mA 61.336 -> A


# ----------------------------------------------------------------------------- Neware


def test_neware_ndax() -> None:
    r = run(NewareExtractor(), f("cycler", "neware_navani", "test.ndax"))
    assert r.technique == "battery cycling" and r.n_points == 1464
    assert r.time_span_s == pytest.approx(43800.0)
    assert r.capacities["max_charge_mAh"] == pytest.approx(0.593, abs=1e-3)
    assert r.start_time is not None and r.start_time.year == 2024
    assert r.extra["container"] == "ndax (zip)"


def test_neware_nda_and_csv_export() -> None:
    nda = run(NewareExtractor(), f("cycler", "neware_navani", "test.nda"))
    assert nda.n_points == 439 and nda.cycle_count == 2
    csv = run(NewareExtractor(), f("cycler", "neware_cellpy", "nw_regular_export_ife_example.csv"))
    assert csv.n_points == 9295 and csv.cycle_count == 20
    # first cycle row of the export: "1,0.02256,0.33067,..." (Chg. Cap. / DChg. Cap. in Ah)
    assert csv.capacities["first_cycle_charge_mAh"] == pytest.approx(22.56, abs=0.01)
    assert csv.capacities["first_cycle_discharge_mAh"] == pytest.approx(330.67, abs=0.01)
    assert q(csv, "voltage")[:2] == pytest.approx((3.8999, 4.7001))


# ----------------------------------------------------------------------------- Maccor


def test_maccor_text_exports() -> None:
    r = run(MaccorExtractor(), f("cycler", "maccor_cellpy", "maccor_002.txt"))
    assert r.instrument == "Maccor #4" and r.n_points == 7446 and r.cycle_count == 2
    assert r.extra["procedure"] == "CW_MZ_SIMBA_CT.000"
    assert r.capacities["first_cycle_charge_mAh"] == pytest.approx(2.44213, abs=1e-4)
    mins = run(MaccorExtractor(), f("cycler", "maccor_bdt", "maccor_example.001"))
    assert mins.time_span_s == pytest.approx(70.0, abs=0.1)  # 'Test (Min)' converted to seconds
    eis = run(MaccorExtractor(), f("cycler", "maccor_beep", "maccor_test_file_4267-66-6519.041"))
    assert eis.technique == "electrochemical impedance spectroscopy"
    diag = run(MaccorExtractor(), f("cycler", "maccor_beep", "PredictionDiagnostics_000151_test.052"))
    assert diag.n_points == 333 and q(diag, "current")[1] is not None and q(diag, "current")[1] < 0


def test_maccor_procedure_xml() -> None:
    r = run(MaccorProcedureExtractor(), f("cycler", "maccor_beep", "xTESLADIAG_000004_CH69.000"))
    assert r.extra["n_steps"] == 28 and r.extra["step_types"]["Rest"] == 10
    assert r.software is not None and r.software.version == "1.5.7006.32043"


# ----------------------------------------------------------------------------- Arbin


def test_arbin_res_via_access_parser() -> None:
    r = run(ArbinExtractor(), f("cycler", "arbin_cellpy", "20160805_test001_45_cc_01.res"))
    assert r.n_points == 10261 and r.cycle_count == 18
    assert r.software is not None and r.software.version == "4.32 Build: 130904"
    assert r.extra["schedule_file"] == "SiNODE\\24h_rest_3cyc_C20_100cyc_c10_MR.sdu"
    assert r.start_time is not None and r.start_time.date() == dt.date(2016, 8, 5)


def test_arbin_gzipped_res_and_exports() -> None:
    gz = run(ArbinExtractor(), f("cycler", "bdf_batterydataalliance", "mits7-0.res.gz"))
    assert gz.n_points == 8 and gz.extra["compression"] == "gzip"
    xlsx = run(
        ArbinExtractor(), f("cycler", "arbin_navani", "bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx")
    )
    assert xlsx.n_points == 4526 and xlsx.format == "Arbin Excel export (.xlsx)"
    csv = run(ArbinExtractor(), f("cycler", "arbin_bdt", "arbin_example.csv"))
    assert csv.n_points == 2142 and csv.capacities["max_discharge_mAh"] == pytest.approx(1072.9095)
    meta = run(ArbinExtractor(), f("cycler", "arbin_beep", "FastCharge_000025_CH8_Metadata.csv"))
    assert meta.extra["test_id"] == 153 and meta.n_points is None


# ----------------------------------------------------------------------------- other cyclers


def test_other_cyclers() -> None:
    b = run(BasytecExtractor(), f("cycler", "basytec_pyprobe", "sample_data_basytec.txt"))
    assert b.n_points == 74 and b.start_time == dt.datetime(2023, 6, 19, 17, 56, 53)
    n = run(NovonixExtractor(), f("cycler", "novonix_beep", "test_Nova_Form-CH01-01_short.csv"))
    assert n.n_points == 3942 and n.software is not None and n.software.version == "2.2.1.6"
    assert n.time_span_s == pytest.approx(62764.47, abs=0.5)  # Run Time (h) -> s
    p = run(PecExtractor(), f("cycler", "pec_cellpy", "Test25205.csv"))
    assert p.n_points == 489 and p.extra["regime"] == "OCV generic long HP"
    landt = run(
        LandtExtractor(),
        f("cycler", "bdf_batterydataalliance", "SINTEF__LiGrR2032__2024-04-30__25degC__Landt.csv"),
    )
    bdf = run(
        BdfExtractor(),
        f("cycler", "bdf_batterydataalliance", "SINTEF__LiGrR2032__2024-04-30__25degC__Landt.bdf.csv"),
    )
    # the BDF file is the reference conversion of the Landt raw file: same test, same numbers
    assert landt.n_points == bdf.n_points == 25162
    assert landt.time_span_s == pytest.approx(bdf.time_span_s)
    assert q(landt, "voltage")[:2] == pytest.approx(q(bdf, "voltage")[:2])


def test_bdf_flags_implausible_time_span() -> None:
    r = run(
        BdfExtractor(),
        f("cycler", "bdf_batterydataalliance", "DLR__LiLNMOHydra0b__20221125__POCV__25degC__Basytec.bdf.csv"),
    )
    assert any(flag.code == "implausible_time_span" for flag in r.quality)


def test_gamry_files() -> None:
    cv = run(GamryExtractor(), f("cycler", "gamry_gamry-parser", "cv_data.dta"))
    assert cv.technique == "cyclic voltammetry" and cv.cycle_count == 5 and cv.n_points == 50
    assert cv.previews[0].title == "current vs voltage"
    ocp = run(GamryExtractor(), f("cycler", "gamry_gamry-parser", "ocp_data.dta"))
    # the file's Temp column is -327.62 degC (no sensor): must be flagged, not silently accepted
    assert any(flag.code == "out_of_range" for flag in ocp.quality)
    eis = run(GamryExtractor(), f("eis", "impedance.py", "exampleDataGamry.DTA"))
    assert eis.technique_iri == EIS_IRI and eis.n_points == 72


def test_impedance_files() -> None:
    z = run(ImpedanceExtractor(), f("eis", "impedance.py", "exampleDataZPlot.z"))
    assert z.software is not None and z.software.version == "3.2c" and z.n_points == 21
    par = run(ImpedanceExtractor(), f("eis", "impedance.py", "exampleDataVersaStudio.par"))
    assert (
        par.software is not None and par.software.name == "VersaStudio" and par.software.version == "2.52.3.0"
    )
    csv = run(ImpedanceExtractor(), f("eis", "impedance.py", "exampleData.csv"))
    assert csv.n_points == 66 and q(csv, "frequency")[:2] == pytest.approx((0.0031623, 10000.0))


# ----------------------------------------------------------------------------- tidy helpers


def test_tidy_helpers_on_synthetic_data() -> None:
    t = np.arange(0, 4 * 3600, 10.0)
    current = np.where((t // 3600) % 2 == 0, 1.0, -0.5)  # 1 A charge hour, 0.5 A discharge hour
    table = TidyTable()
    table.add("test_time", t)
    table.add("current", current)
    table.add("voltage", 3.5 + 0.1 * np.sin(t / 1000))
    assert count_cycles(table) == 2
    caps = capacities(table)
    assert caps["total_charge_mAh"] == pytest.approx(2000, rel=0.01)
    assert caps["total_discharge_mAh"] == pytest.approx(1000, rel=0.01)
    v = table.columns["voltage"]
    x, y = downsample(t, v, 100)
    assert 50 <= len(x) <= 100 and x[0] == t[0] and x[-1] == t[-1]
    assert y.max() == v.max() and y.min() == v.min()  # peaks survive downsampling
    bad = TidyTable()
    bad.add("test_time", [0, 1, 2, 1, 3])
    bad.add("voltage", [3.0, np.nan, np.nan, 3.1, 5000.0])
    codes = {flag.code for flag in quality_checks(bad)}
    assert codes == {"time_not_monotonic", "nan_fraction", "out_of_range"}


def test_mpr_unknown_column_width_is_inferred_or_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A column id missing from our table: one unknown is sized from the module length, never guessed."""
    from databahn.extractors import biologic

    path = f("cycler", "biologic_yadg", "mb.issue_95.mpr")
    reference, _ = biologic.read_mpr(path)
    table = dict(biologic.MPR_COLUMNS)
    del table[4]  # time/s, an 8-byte float
    monkeypatch.setattr(biologic, "MPR_COLUMNS", table)
    cols, _ = biologic.read_mpr(path)
    np.testing.assert_array_equal(cols["unknown_4"], reference["time/s"])
    del table[6]  # two unknown ids: refuse with their ids rather than decode misaligned numbers
    with pytest.raises(UnsupportedFile, match=r"unknown column ids \[4, 6\]"):
        biologic.read_mpr(path)
