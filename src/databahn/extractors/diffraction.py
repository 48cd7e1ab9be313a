"""Powder diffraction patterns: .xy/.xye, PANalytical .xrdml and .csv, Bruker .brml, .raw and .UXD, pdCIF.

Each reader returns the same `Pattern` (2θ, intensity, optional uncertainty and the instrument
header), so the summary, plausibility checks, preview and tidy copy are written once. XML (xrdml,
the XML inside a brml zip) goes through the defused parser in `safety`; the binary Bruker RAW
(DIFFRAC-AT v3, 'RAW1.01') layout follows the documented fixed offsets.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from databahn.extractors._common import (
    iter_text_lines,
    numeric_block,
    parse_xml,
    plausibility,
    quantity,
    read_text,
    series,
    technique_iri,
    write_tidy,
)
from databahn.extractors.base import ExtractionResult, Extractor, QualityFlag, Software, UnsupportedFile
from databahn.extractors.safety import parse_xml as parse_xml_file


@dataclass
class Pattern:
    """One diffraction scan in common form."""

    format: str
    two_theta: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray | None = None
    x_name: str = "two_theta"
    x_unit: str = "deg"
    y_unit: str = "counts"
    wavelength: float | None = None
    anode: str | None = None
    instrument: str | None = None
    software: str | None = None
    start: dt.datetime | None = None
    probe: str = "x-ray"
    n_scans: int = 1
    header: dict[str, Any] = field(default_factory=dict)


def _kind(path: Path, head: bytes) -> str | None:
    low = path.name.lower()
    text = head[:8192].decode("latin-1")
    if head.startswith(b"RAW1.01") or head.startswith(b"RAW4.00") or head[:4] in (b"RAW ", b"RAW2"):
        return "raw"
    if "<xrdMeasurements" in text:
        return "xrdml"
    if head.startswith(b"PK\x03\x04") and (low.endswith(".brml") or b"Experiment0/" in head[:4096]):
        return "brml"
    if "_2THETACOUNTS" in text or ("_FILEVERSION" in text and "_2THETA" in text):
        return "uxd"
    if text.startswith("[Measurement conditions]") or "[Scan points]" in text:
        return "panalytical_csv"
    if re.search(r"^data_", text, re.M) and ("_pd_meas" in text or "_pd_proc" in text):
        return "pdcif"
    if low.endswith((".xy", ".xye")):
        return "xy"
    return None


class DiffractionExtractor(Extractor):
    """X-ray / neutron powder diffraction patterns."""

    name = "diffraction"
    label = "powder diffraction pattern (.xy/.xye, .xrdml, .brml, .raw, .UXD, pdCIF)"
    suffixes = (".xy", ".xye", ".xrdml", ".brml", ".raw", ".uxd", ".cif", ".csv")

    def sniff(self, path: Path, head: bytes) -> float:
        kind = _kind(path, head)
        if kind is None:
            return 0.0
        if kind == "xy":
            lines = [
                ln
                for ln in head.decode("latin-1").splitlines()[:50]
                if ln.strip() and ln.strip()[0] not in "#;!'"
            ]
            ok = sum(1 for ln in lines if re.fullmatch(r"\s*[-+\d.eE]+([\s,;]+[-+\d.eE]+){1,2}\s*", ln))
            return 0.7 if lines and ok >= 0.9 * len(lines) else 0.0
        if kind == "pdcif":
            return 0.9
        return 0.95

    def extract(self, path: Path) -> ExtractionResult:
        with open(path, "rb") as fh:
            head = fh.read(65536)
        kind = _kind(path, head)
        readers = {
            "raw": _read_raw,
            "xrdml": _read_xrdml,
            "brml": _read_brml,
            "uxd": _read_uxd,
            "panalytical_csv": _read_panalytical_csv,
            "pdcif": _read_pdcif,
            "xy": _read_xy,
        }
        if kind is None:
            raise UnsupportedFile(
                "could not read: not a recognised diffraction format (.xy/.xye, .xrdml, .brml, Bruker .raw, "
                ".UXD, PANalytical .csv, powder CIF)"
            )
        pat = readers[kind](path)
        return _result(self.name, pat)

    def convert(self, path: Path, out_dir: Path) -> list[Path]:
        with open(path, "rb") as fh:
            head = fh.read(65536)
        if _kind(path, head) is None:
            return []
        pat = {
            "raw": _read_raw,
            "xrdml": _read_xrdml,
            "brml": _read_brml,
            "uxd": _read_uxd,
            "panalytical_csv": _read_panalytical_csv,
            "pdcif": _read_pdcif,
            "xy": _read_xy,
        }[_kind(path, head) or "xy"](path)
        cols: dict[str, tuple[str | None, np.ndarray]] = {
            f"{pat.x_name}_degree" if pat.x_unit == "deg" else pat.x_name: (pat.x_unit, pat.two_theta),
            "intensity_count": (pat.y_unit, pat.intensity),
        }
        if pat.sigma is not None:
            cols["intensity_uncertainty_count"] = (pat.y_unit, pat.sigma)
        meta = {"technique": _technique(pat), "wavelength_angstrom": pat.wavelength, "anode": pat.anode}
        return write_tidy(path, out_dir, cols, extractor=self.name, meta=meta)


def _technique(p: Pattern) -> str:
    return "neutron powder diffraction" if p.probe == "neutron" else "XRD"


def _result(name: str, p: Pattern) -> ExtractionResult:
    n = int(min(len(p.two_theta), len(p.intensity)))
    if n == 0:
        raise UnsupportedFile(f"could not read: the {p.format} file contains no data points")
    x, y = p.two_theta[:n], p.intensity[:n]
    quality = plausibility(x, y, p.x_name)
    fx = x[np.isfinite(x)]
    if p.x_unit == "deg" and fx.size and (fx.min() < -5 or fx.max() > 180):
        quality.append(QualityFlag(severity="warning", code="out_of_range", message="2θ outside 0..180°"))
    fy = y[np.isfinite(y)]
    if p.y_unit == "counts" and fy.size and fy.min() < 0:
        quality.append(
            QualityFlag(
                severity="warning", code="negative_counts", message="negative intensities in a count pattern"
            )
        )
    quants = [quantity(p.x_name, p.x_unit, x), quantity("intensity", p.y_unit, y)]
    if p.sigma is not None:
        quants.append(quantity("intensity_uncertainty", p.y_unit, p.sigma[:n]))
    extra = dict(p.header)
    extra.update(
        {"wavelength_angstrom": p.wavelength, "anode": p.anode, "radiation": p.probe, "n_scans": p.n_scans}
    )
    if fx.size:
        extra["two_theta_range_deg" if p.x_unit == "deg" else "x_range"] = [float(fx.min()), float(fx.max())]
        if fx.size > 1:
            extra["step"] = float(np.median(np.abs(np.diff(fx))))
    tech = _technique(p)
    return ExtractionResult(
        archive=None,
        provenance=None,
        extractor=name,
        format=p.format,
        technique=tech,
        technique_iri=technique_iri(tech),
        instrument=p.instrument,
        software=Software(name=p.software) if p.software else None,
        open_format=p.format
        in ("xy two-column text", "xye three-column text", "PANalytical XRDML", "powder CIF"),
        start_time=p.start,
        quantities=quants,
        n_points=n,
        quality=quality,
        previews=[series("diffraction pattern", p.x_name, p.x_unit, "intensity", p.y_unit, x, y)],
        extra={k: v for k, v in extra.items() if v is not None and v != ""},
    )


# ------------------------------------------------------------------------------------ readers


def _read_xy(path: Path) -> Pattern:
    arr, header = numeric_block(iter_text_lines(path))
    three = arr.shape[1] >= 3
    hdr = " ".join(header).lower()
    probe = "neutron" if "neutron" in hdr or "hrpt" in hdr else "x-ray"
    stated = "neutron" in hdr or "x-ray" in hdr or "xray" in hdr or "hrpt" in hdr
    meta: dict[str, Any] = {"comment": header[0].lstrip("#; ").strip()} if header else {}
    if not stated:
        meta["radiation_note"] = "the file does not say; X-ray assumed (the usual case for .xy exports)"
    return Pattern(
        format="xye three-column text" if three else "xy two-column text",
        two_theta=arr[:, 0],
        intensity=arr[:, 1],
        sigma=arr[:, 2] if three else None,
        probe=probe,
        header=meta,
    )


def _read_panalytical_csv(path: Path) -> Pattern:
    text = read_text(path)
    head, _, data = text.partition("[Scan points]")
    if not data:
        raise UnsupportedFile("could not read: PANalytical CSV without a [Scan points] section")
    hdr: dict[str, str] = {}
    for line in head.splitlines():
        if "," in line and not line.startswith("["):
            k, v = line.split(",", 1)
            hdr[k.strip()] = v.strip().strip('"')
    arr, _ = numeric_block(data.splitlines())
    wl = _float(hdr.get("K-Alpha1 wavelength") or hdr.get("K-Alpha1 wavelength [Å]"))
    start = _parse_date(hdr.get("File date and time", ""))
    return Pattern(
        format="PANalytical CSV export",
        two_theta=arr[:, 0],
        intensity=arr[:, 1],
        wavelength=wl,
        anode=hdr.get("Anode material"),
        instrument=_comment_field(hdr, "Diffractometer system") or hdr.get("Diffractometer system"),
        start=start,
        header={
            k: hdr[k]
            for k in ("Sample identification", "Scan axis", "Generator voltage", "Tube current")
            if hdr.get(k)
        },
    )


def _comment_field(hdr: dict[str, str], key: str) -> str | None:
    for v in hdr.values():
        m = re.search(re.escape(key) + r"=([^,;]+)", v)
        if m:
            return m.group(1).strip()
    return None


def _float(v: Any) -> float | None:
    try:
        return float(str(v).strip().strip("'\""))
    except (TypeError, ValueError):
        return None


def _parse_date(s: str) -> dt.datetime | None:
    s = s.strip().strip("'\"")
    for fmt in (
        "%d/%B/%Y %H:%M",
        "%m/%d/%Y %I:%M:%S %p",
        "%d-%b-%Y %H:%M:%S",
        "%m/%d/%y %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%d.%m.%Y %H:%M:%S",
    ):
        try:
            return dt.datetime.strptime(s, fmt)
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(s)
    except ValueError:
        return None


def _read_xrdml(path: Path) -> Pattern:
    root = parse_xml_file(path)  # raw bytes: the XML declaration decides the encoding
    ns = {"x": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {}
    p = "x:" if ns else ""
    scans = root.findall(f".//{p}scan", ns)
    if not scans:
        raise UnsupportedFile("could not read: XRDML has no <scan> element")
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    start: dt.datetime | None = None
    for scan in scans:
        dp = scan.find(f"{p}dataPoints", ns)
        if dp is None:
            continue
        counts_el = dp.find(f"{p}intensities", ns)
        if counts_el is None:
            counts_el = dp.find(f"{p}counts", ns)
        if counts_el is None or not (counts_el.text or "").strip():
            continue
        y = np.array((counts_el.text or "").split(), dtype=float)
        x = None
        for pos in dp.findall(f"{p}positions", ns):
            if pos.get("axis") == "2Theta":
                lp = pos.find(f"{p}listPositions", ns)
                if lp is not None and lp.text:
                    x = np.array(lp.text.split(), dtype=float)
                else:
                    a = _float(pos.findtext(f"{p}startPosition", None, ns))
                    b = _float(pos.findtext(f"{p}endPosition", None, ns))
                    if a is not None and b is not None:
                        x = np.linspace(a, b, len(y))
        if x is None:
            raise UnsupportedFile("could not read: XRDML scan without 2Theta positions")
        xs.append(x[: len(y)])
        ys.append(y[: len(x)])
        st = scan.findtext(f"{p}header/{p}startTimeStamp", None, ns)
        if st and start is None:
            try:
                start = dt.datetime.fromisoformat(st)
            except ValueError:
                start = None
    if not xs:
        raise UnsupportedFile("could not read: XRDML contains no intensity data")
    wl_el = root.find(f".//{p}usedWavelength", ns)
    wl = _float(wl_el.findtext(f"{p}kAlpha1", None, ns)) if wl_el is not None else None
    tube = root.find(f".//{p}xRayTube", ns)
    anode = tube.findtext(f"{p}anodeMaterial", None, ns) if tube is not None else None
    entries = [e.text or "" for e in root.findall(f"{p}comment/{p}entry", ns)]
    instrument = None
    for e in entries:
        m = re.search(r"Diffractometer system=([^,;]+)", e)
        if m:
            instrument = m.group(1).strip()
    header: dict[str, Any] = {}
    if tube is not None:
        header["tube_tension_kV"] = _float(tube.findtext(f"{p}tension", None, ns))
        header["tube_current_mA"] = _float(tube.findtext(f"{p}current", None, ns))
        header["tube"] = tube.get("name")
    sample = root.findtext(f"{p}sample/{p}name", None, ns) or root.findtext(f"{p}sample/{p}id", None, ns)
    if sample:
        header["sample"] = sample
    ms = root.find(f"{p}xrdMeasurement", ns)
    if ms is not None:
        header["measurement_type"] = ms.get("measurementType")
        header["sample_mode"] = ms.get("sampleMode")
    app = root.find(f".//{p}header/{p}source/{p}applicationSoftware", ns)
    software = ""
    if app is not None:
        software = (app.text or "").strip() + (f" {app.get('version')}" if app.get("version") else "")
    return Pattern(
        format="PANalytical XRDML",
        two_theta=np.concatenate(xs),
        intensity=np.concatenate(ys),
        wavelength=wl,
        anode=anode,
        instrument=instrument,
        software=software.strip() or None,
        start=start,
        n_scans=len(xs),
        header=header,
    )


def _read_brml(path: Path) -> Pattern:
    try:
        return _read_brml_members(path)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise UnsupportedFile(f"could not read: the .brml zip is corrupt ({exc})") from exc


def _read_brml_members(path: Path) -> Pattern:
    from databahn.extractors.safety import read_member, safe_members

    members = [m for m in safe_members(path) if not m.is_dir]
    raw_names = sorted(m.name for m in members if re.search(r"RawData\d*\.xml$", m.name))
    if not raw_names:
        raise UnsupportedFile(
            "could not read: .brml archive has no Experiment*/RawData*.xml (not a Bruker BRML?)"
        )
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    wl = anode = instrument = None
    start = None
    header: dict[str, Any] = {}
    for name in raw_names:
        root = parse_xml(read_member(path, name, max_bytes=512 * 1024**2))
        x_idx, y_idx = _brml_columns(root)
        rows = [[_float(v) for v in (d.text or "").split(",")] for d in root.iter("Datum")]
        rows = [r for r in rows if len(r) > max(x_idx, y_idx)]
        if not rows:
            continue
        arr = np.array([[r[x_idx], r[y_idx]] for r in rows], dtype=float)
        xs.append(arr[:, 0])
        ys.append(arr[:, 1])
        if start is None:
            ts = root.findtext("TimeStampStarted")
            if ts:
                try:
                    start = dt.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", ts))
                except ValueError:
                    start = None
        w = root.find(".//WaveLengthAlpha1")
        wl = wl or (_float(w.get("Value")) if w is not None else None)
        anode = anode or root.findtext(".//TubeMaterial")
        gen = root.find(".//Generator")
        if gen is not None:
            header["tube_tension_kV"] = _float((gen.find("Voltage") or gen).get("Value"))
            header["tube_current_mA"] = _float((gen.find("Current") or gen).get("Value"))
        header["scan"] = (root.find(".//ScanInformation") or root).get("VisibleName")
        instrument = instrument or root.findtext(".//InstrumentName")
    if not xs:
        raise UnsupportedFile("could not read: .brml raw data has no <Datum> rows")
    if instrument is None:
        for m in members:
            if m.name.endswith("MeasurementContainer.xml"):
                txt = read_member(path, m, max_bytes=64 * 1024**2).decode("utf-8", "replace")
                g = re.search(r"<InstrumentName>([^<]+)<", txt)
                instrument = g.group(1) if g else None
    return Pattern(
        format="Bruker BRML",
        two_theta=np.concatenate(xs),
        intensity=np.concatenate(ys),
        wavelength=wl,
        anode=anode,
        instrument=f"Bruker {instrument}" if instrument else "Bruker",
        software="Bruker DIFFRAC",
        start=start,
        n_scans=len(xs),
        header={k: v for k, v in header.items() if v is not None},
    )


def _brml_columns(root: Any) -> tuple[int, int]:
    """Find the 2θ and counter columns of the comma-separated <Datum> rows from the DataViews."""
    x_idx, y_idx = 2, -1
    axes = [a.get("AxisId") for a in root.iter("ScanAxisInfo")]
    for view in root.iter("RawDataView"):
        start = int(view.get("Start", "0"))
        names = [view.get("LogicName")] + [c.get("LogicName") for c in view]
        if "ScanAxes" in names and "TwoTheta" in axes:
            x_idx = start + axes.index("TwoTheta")
        if "ScanCounter" in names:
            y_idx = start
    return x_idx, y_idx


def _read_raw(path: Path) -> Pattern:
    data = path.read_bytes()
    if data[:4] in (b"RAW ", b"RAW2") or data.startswith(b"RAW4.00"):
        raise UnsupportedFile(
            f"could not read: Bruker RAW variant {data[:7]!r} is not supported (only DIFFRAC-AT v3 'RAW1.01'); "
            "export the scan as .xy or .brml"
        )
    if not data.startswith(b"RAW1.01") or len(data) < 712:
        raise UnsupportedFile("could not read: not a Bruker RAW file or shorter than its 712-byte header")

    def s(off: int, n: int) -> str:
        return data[off : off + n].split(b"\x00")[0].decode("latin-1").strip()

    (range_cnt,) = struct.unpack_from("<i", data, 12)
    if not 0 < range_cnt < 10_000:
        raise UnsupportedFile(f"could not read: implausible range count {range_cnt} in Bruker RAW header")
    date, time = s(16, 10), s(26, 10)
    anode = s(608, 4) or None
    (alpha1,) = struct.unpack_from("<d", data, 624)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    off = 712
    header: dict[str, Any] = {
        "user": s(36, 72),
        "site": s(108, 218),
        "sample": s(326, 60),
        "comment": s(386, 160),
    }
    for _ in range(range_cnt):
        if off + 304 > len(data):
            break
        hlen, steps = struct.unpack_from("<ii", data, off)
        if hlen != 304 or steps < 0:
            raise UnsupportedFile(f"could not read: corrupt Bruker RAW range header at byte {off}")
        (start_2th,) = struct.unpack_from("<d", data, off + 16)
        (step,) = struct.unpack_from("<d", data, off + 176)
        (kv, ma) = struct.unpack_from("<ii", data, off + 224)
        (supp,) = struct.unpack_from("<i", data, off + 256)
        header.setdefault("tube_tension_kV", kv)
        header.setdefault("tube_current_mA", ma)
        dstart = off + 304 + max(supp, 0)
        if dstart + 4 * steps > len(data):
            raise UnsupportedFile(
                "could not read: Bruker RAW file is truncated (fewer data points than declared)"
            )
        y = np.frombuffer(data, dtype="<f4", count=steps, offset=dstart).astype(float)
        xs.append(start_2th + step * np.arange(steps))
        ys.append(y)
        off = dstart + 4 * steps
    if not xs:
        raise UnsupportedFile("could not read: Bruker RAW file has no complete scan range")
    start = None
    try:
        start = dt.datetime.strptime(f"{date} {time}", "%m/%d/%y %H:%M:%S")
    except ValueError:
        start = None
    return Pattern(
        format="Bruker RAW (DIFFRAC-AT v3)",
        two_theta=np.concatenate(xs),
        intensity=np.concatenate(ys),
        wavelength=alpha1 if 0.1 < alpha1 < 10 else None,
        anode=anode,
        instrument="Bruker/Siemens diffractometer",
        software="DIFFRAC",
        start=start,
        n_scans=len(xs),
        header={k: v for k, v in header.items() if v not in ("", None)},
    )


def _read_uxd(path: Path) -> Pattern:
    hdr: dict[str, str] = {}
    xs: list[float] = []
    ys: list[float] = []
    counts_only: list[float] = []
    mode = ""
    for raw in iter_text_lines(path):
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("_"):
            k, _, v = line[1:].partition("=")
            if not v and k in ("2THETACOUNTS", "2THETACPS", "COUNTS", "CPS"):
                mode = k
            else:
                hdr.setdefault(k.strip(), v.strip().strip("'"))
            continue
        parts = line.split()
        try:
            vals = [float(v) for v in parts]
        except ValueError:
            continue
        if mode.startswith("2THETA") and len(vals) >= 2:
            xs.append(vals[0])
            ys.append(vals[1])
        elif mode in ("COUNTS", "CPS"):
            counts_only.extend(vals)
        if len(xs) + len(counts_only) > 5_000_000:
            raise UnsupportedFile("could not read: more than 5 million points in the UXD file")
    if counts_only:
        st, stp = _float(hdr.get("START")), _float(hdr.get("STEPSIZE"))
        if st is None or stp is None:
            raise UnsupportedFile("could not read: UXD counts block without _START/_STEPSIZE")
        xs = list(st + stp * np.arange(len(counts_only)))
        ys = counts_only
    if not xs:
        raise UnsupportedFile("could not read: UXD file has no _2THETACOUNTS or _COUNTS data block")
    return Pattern(
        format="Bruker UXD text",
        two_theta=np.asarray(xs, dtype=float),
        intensity=np.asarray(ys, dtype=float),
        y_unit="counts/s" if mode.endswith("CPS") else "counts",
        wavelength=_float(hdr.get("WL1")),
        anode=hdr.get("ANODE"),
        instrument="Bruker/Siemens diffractometer",
        software="DIFFRAC",
        start=_parse_date(hdr.get("DATEMEASURED", "")),
        header={k.lower(): hdr[k] for k in ("SAMPLE", "USER", "KV", "MA", "STEPTIME", "DRIVE") if hdr.get(k)},
    )


_SU = re.compile(r"\(\d+\)$")


def _cif_num(v: str) -> float:
    """A CIF number without its standard uncertainty; '.', '?' and garbage become NaN (flagged later)."""
    try:
        return float(_SU.sub("", v))
    except ValueError:
        return float("nan")


def _read_pdcif(path: Path) -> Pattern:
    """Read the profile loop of a powder CIF; 2θ from a loop column or from the range min/inc."""
    text = read_text(path)
    items: dict[str, str] = {}
    for m in re.finditer(r"^(_[\w\-\[\]/]+)[ \t]+(\S.*)$", text, re.M):
        items.setdefault(m.group(1).lower(), m.group(2).strip().strip("'\""))
    best: tuple[list[str], list[list[str]]] | None = None
    for block in re.split(r"^\s*loop_\s*$", text, flags=re.M)[1:]:
        names: list[str] = []
        rows: list[list[str]] = []
        for line in block.splitlines():
            s = line.strip()
            if not s:
                continue
            if s.startswith("_") and not rows:
                names.append(s.split()[0].lower())
            elif s.startswith(("_", "data_", "#")):
                if rows:
                    break
            else:
                rows.append(s.split())
        is_profile = any(
            n.startswith(("_pd_meas_", "_pd_proc_intensity", "_pd_calc_intensity")) for n in names
        )
        if is_profile and rows and (best is None or len(rows) > len(best[1])):
            best = (names, rows)
    if best is None:
        raise UnsupportedFile("could not read: powder CIF without a _pd_meas/_pd_proc profile loop")
    names, rows = best
    rows = [r for r in rows if len(r) == len(names)]

    def col(*cands: str) -> np.ndarray | None:
        for c in cands:
            if c in names:
                i = names.index(c)
                return np.array([_cif_num(r[i]) for r in rows], dtype=float)
        return None

    y = col(
        "_pd_meas_counts_total",
        "_pd_meas_intensity_total",
        "_pd_proc_intensity_total",
        "_pd_proc_intensity_net",
    )
    if y is None:
        raise UnsupportedFile("could not read: powder CIF profile loop has no measured intensity column")
    x = col(
        "_pd_meas_2theta_scan",
        "_pd_proc_2theta_corrected",
        "_pd_meas_angle_2theta",
        "_pd_meas_2theta_corrected",
    )
    if x is None:
        lo = _float(_SU.sub("", items.get("_pd_meas_2theta_range_min", "")))
        inc = _float(_SU.sub("", items.get("_pd_meas_2theta_range_inc", "")))
        if lo is None or inc is None:
            raise UnsupportedFile("could not read: powder CIF gives neither 2θ values nor a 2θ range")
        x = lo + inc * np.arange(len(y))
    sig = None
    i = names.index("_pd_meas_intensity_total") if "_pd_meas_intensity_total" in names else None
    if i is not None:
        su = [re.search(r"\((\d+)\)$", r[i]) for r in rows]
        if all(su):
            sig = np.array([float(m.group(1)) if m else np.nan for m in su])
            # the su is in units of the last digit of the value
            dec = [len(r[i].split("(")[0].split(".")[1]) if "." in r[i].split("(")[0] else 0 for r in rows]
            sig = sig / np.power(10.0, np.asarray(dec))
    probe = items.get("_diffrn_radiation_probe", "x-ray").lower()
    return Pattern(
        format="powder CIF",
        two_theta=x,
        intensity=y,
        sigma=sig,
        wavelength=_float(_SU.sub("", items.get("_diffrn_radiation_wavelength", ""))),
        probe="neutron" if "neutron" in probe else "x-ray",
        instrument=items.get("_pd_instr_location")
        if items.get("_pd_instr_location") not in ("?", " ?")
        else None,
        start=_parse_date(items.get("_pd_proc_info_datetime", "")),
        header={
            k.lstrip("_"): items[k]
            for k in ("_cod_database_code", "_chemical_formula_sum", "_pd_calc_method", "_pd_block_id")
            if k in items
        },
    )
