"""X-ray absorption spectra: XDI, ifeffit/Athena column files (.xmu), beamline .dat, Athena .prj.

All readers produce energy and μ(E) (taken from a μ column, or ln(I0/It) from transmission
counters), plus the edge, element, beamline and time where the header says so. The Athena project
is Perl source: it is never evaluated, only its quoted value lists are read with regexes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from databahn.extractors._common import (
    numeric_block,
    plausibility,
    quantity,
    read_head,
    read_text,
    series,
    technique_iri,
    write_tidy,
)
from databahn.extractors.base import ExtractionResult, Extractor, QualityFlag, UnsupportedFile

ELEMENTS = set(
    [
        "H",
        "He",
        "Li",
        "Be",
        "B",
        "C",
        "N",
        "O",
        "F",
        "Ne",
        "Na",
        "Mg",
        "Al",
        "Si",
        "P",
        "S",
        "Cl",
        "Ar",
        "K",
        "Ca",
        "Sc",
        "Ti",
        "V",
        "Cr",
        "Mn",
        "Fe",
        "Co",
        "Ni",
        "Cu",
        "Zn",
        "Ga",
        "Ge",
        "As",
        "Se",
        "Br",
        "Kr",
        "Rb",
        "Sr",
        "Y",
        "Zr",
        "Nb",
        "Mo",
        "Tc",
        "Ru",
        "Rh",
        "Pd",
        "Ag",
        "Cd",
        "In",
        "Sn",
        "Sb",
        "Te",
        "I",
        "Xe",
        "Cs",
        "Ba",
        "La",
        "Ce",
        "Pr",
        "Nd",
        "Pm",
        "Sm",
        "Eu",
        "Gd",
        "Tb",
        "Dy",
        "Ho",
        "Er",
        "Tm",
        "Yb",
        "Lu",
        "Hf",
        "Ta",
        "W",
        "Re",
        "Os",
        "Ir",
        "Pt",
        "Au",
        "Hg",
        "Tl",
        "Pb",
        "Bi",
        "Po",
        "At",
        "Rn",
        "Fr",
        "Ra",
        "Ac",
        "Th",
        "Pa",
        "U",
        "Np",
        "Pu",
        "Am",
    ]
)


@dataclass
class Spectrum:
    format: str
    energy: np.ndarray
    mu: np.ndarray
    mu_source: str
    element: str | None = None
    edge: str | None = None
    beamline: str | None = None
    start: dt.datetime | None = None
    columns: list[str] = field(default_factory=list)
    header: dict[str, Any] = field(default_factory=dict)
    n_spectra: int = 1


def _kind(path: Path, head: bytes) -> str | None:
    if head[:2] == b"\x1f\x8b":
        import zlib

        try:
            head = zlib.decompressobj(31).decompress(head, 8192)
        except zlib.error:
            return None
    text = head[:8192].decode("latin-1")
    if text.startswith("# Athena project file") or ("$old_group" in text and "@args" in text):
        return "prj"
    if re.match(r"#\s*XDI/\d", text):
        return "xdi"
    comments = [ln for ln in text.splitlines()[:200] if ln.startswith("#")]
    joined = " ".join(comments).lower()
    if any(ln.startswith("#%") for ln in comments) or path.suffix.lower() == ".xmu":
        return "columns" if "energy" in joined or "xmu" in joined or path.suffix.lower() == ".xmu" else None
    if re.search(r"\b(xmu|mu|i0|i1|it|energy|ebraggenergy)\b", joined.replace("_", " ")) and re.search(
        r"\b(i0|xmu|mu\b|edge)", joined
    ):
        return "columns"
    return None


class XasExtractor(Extractor):
    """XDI, .xmu, beamline .dat column files and Athena .prj projects."""

    name = "xas"
    label = "X-ray absorption spectrum (XDI, .xmu, .dat, Athena .prj)"
    suffixes = (".xdi", ".xmu", ".prj", ".dat", ".nor", ".chi")

    def sniff(self, path: Path, head: bytes) -> float:
        kind = _kind(path, head)
        if kind in ("prj", "xdi"):
            return 0.95
        if kind == "columns":
            return 0.85 if path.suffix.lower() in (".xmu", ".xdi", ".nor") else 0.6
        return 0.0

    def extract(self, path: Path) -> ExtractionResult:
        spec = self._read(path)
        return _result(self.name, spec)

    def convert(self, path: Path, out_dir: Path) -> list[Path]:
        spec = self._read(path)
        meta = {"technique": "XAS", "element": spec.element, "edge": spec.edge, "mu_source": spec.mu_source}
        return write_tidy(
            path,
            out_dir,
            {"energy_electronvolt": ("eV", spec.energy), "absorption_coefficient_mu": (None, spec.mu)},
            extractor=self.name,
            meta=meta,
        )

    def _read(self, path: Path) -> Spectrum:
        head = read_head(path)
        kind = _kind(path, head)
        if kind == "prj":
            return _read_prj(path)
        if kind == "xdi":
            return _read_xdi(path)
        if kind == "columns":
            return _read_columns(path)
        raise UnsupportedFile("could not read: not an XDI, .xmu, XAS column .dat or Athena .prj file")


def _result(name: str, s: Spectrum) -> ExtractionResult:
    n = int(min(len(s.energy), len(s.mu)))
    if n == 0:
        raise UnsupportedFile(f"could not read: the {s.format} file has no data points")
    e, mu = s.energy[:n], s.mu[:n]
    quality = plausibility(e, mu, "energy")
    fe = e[np.isfinite(e)]
    if fe.size and (fe.min() < 100 or fe.max() > 200_000):
        quality.append(
            QualityFlag(
                severity="warning", code="out_of_range", message="energy outside 0.1-200 keV: not in eV?"
            )
        )
    span = float(fe.max() - fe.min()) if fe.size else 0.0
    # XANES scans cover ~100-200 eV around the edge; EXAFS scans extend hundreds of eV above it
    sub = "EXAFS" if span > 300 else "XANES"
    extra: dict[str, Any] = dict(s.header)
    extra.update(
        {
            "element": s.element,
            "edge": s.edge,
            "beamline": s.beamline,
            "columns": s.columns or None,
            "mu_source": s.mu_source,
            "energy_range_ev": [float(fe.min()), float(fe.max())] if fe.size else None,
            "n_spectra": s.n_spectra,
            "scan_type": sub,
        }
    )
    return ExtractionResult(
        archive=None,
        provenance=None,
        extractor=name,
        format=s.format,
        technique="XAS",
        technique_iri=technique_iri(sub),
        instrument=s.beamline,
        open_format=True,
        start_time=s.start,
        quantities=[quantity("energy", "eV", e), quantity("absorption_coefficient", None, mu, s.mu_source)],
        n_points=n,
        quality=quality,
        previews=[series("μ(E)", "energy", "eV", "mu", None, e, mu)],
        extra={k: v for k, v in extra.items() if v not in (None, "", [])},
    )


def _mu_from_columns(names: list[str], arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Energy = the column named energy/E (else the first); μ = a mu/xmu column, else ln(I0/It)."""
    low = [n.lower() for n in names]

    def find(pred: Any) -> int | None:
        for i, n in enumerate(low):
            if pred(n):
                return i
        return None

    ie = find(lambda n: "energ" in n or n in ("e", "ev", "energy")) or 0
    im = find(lambda n: n.startswith(("mu", "xmu", "norm", "flat")) and n != "mu_ref")
    if im is not None and im != ie and im < arr.shape[1]:
        return arr[:, ie], arr[:, im], names[im]
    i0 = find(lambda n: n in ("i0", "io") or n.startswith("i0"))
    it = find(lambda n: n in ("i1", "it", "itrans") or n.startswith(("i1", "itrans")))
    if i0 is not None and it is not None and max(i0, it) < arr.shape[1]:
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = np.log(arr[:, i0] / arr[:, it])
        return arr[:, ie], mu, f"ln({names[i0]}/{names[it]})"
    if arr.shape[1] >= 2:
        j = 1 if ie == 0 else 0
        return arr[:, ie], arr[:, j], names[j] if j < len(names) else f"column {j + 1}"
    raise UnsupportedFile("could not read: no absorption column (mu/xmu, or I0 and It) found")


def _names_from_comment(header: list[str], ncols: int) -> list[str]:
    """Column names from the last comment line with the right number of words."""
    for line in reversed(header):
        words = line.lstrip("#;% ").split()
        if len(words) == ncols and not all(_isnum(w) for w in words):
            return words
    return [f"col{i + 1}" for i in range(ncols)]


def _isnum(w: str) -> bool:
    try:
        float(w)
    except ValueError:
        return False
    return True


def _read_xdi(path: Path) -> Spectrum:
    text = read_text(path)
    lines = text.splitlines()
    fields: dict[str, str] = {}
    for line in lines:
        if not line.startswith("#"):
            break
        m = re.match(r"#\s*([\w.]+)\s*:\s*(.*)$", line)
        if m:
            fields[m.group(1).lower()] = m.group(2).strip()
    arr, _ = numeric_block(lines)
    cols = [
        fields[f"column.{i + 1}"].split()[0] if f"column.{i + 1}" in fields else f"col{i + 1}"
        for i in range(arr.shape[1])
    ]
    e, mu, src = _mu_from_columns(cols, arr)
    start = None
    if fields.get("scan.start_time"):
        try:
            start = dt.datetime.fromisoformat(fields["scan.start_time"])
        except ValueError:
            start = None
    beamline = " ".join(v for v in (fields.get("facility.name"), fields.get("beamline.name")) if v) or None
    return Spectrum(
        format="XDI (XAS Data Interchange)",
        energy=e,
        mu=mu,
        mu_source=src,
        element=fields.get("scan.element") or fields.get("element.symbol"),
        edge=fields.get("scan.edge") or fields.get("element.edge"),
        beamline=beamline,
        start=start,
        columns=cols,
        header={
            k: fields[k]
            for k in ("mono.name", "mono.d_spacing", "sample.name", "sample.prep", "facility.xray_source")
            if k in fields
        },
    )


def _read_columns(path: Path) -> Spectrum:
    text = read_text(path)
    lines = text.splitlines()
    arr, header = numeric_block(lines)
    names = _names_from_comment(header, arr.shape[1])
    meta: dict[str, str] = {}
    for line in header:
        m = re.match(r"#%?\s*(\w[\w ]*?)\s*[:=]\s*(.+)$", line)
        if m:
            meta.setdefault(m.group(1).strip().lower(), m.group(2).strip())
    e, mu, src = _mu_from_columns(names, arr)
    if np.nanmax(e) < 100 and np.nanmax(e) > 1:
        e = e * 1000.0  # keV -> eV (old NSLS files)
    element = meta.get("element") or meta.get("atom")
    if element and element not in ELEMENTS:
        m = re.match(r"([A-Z][a-z]?)", element)
        element = m.group(1) if m and m.group(1) in ELEMENTS else None
    edge = meta.get("edge")
    joined = " ".join(header)
    if edge is None:
        m = re.search(r"\b([KL][123]?)[- ]edge\b", joined, re.I)
        edge = m.group(1).upper() if m else None
    if element is None:
        m = re.search(r"\b([A-Z][a-z]?)\s+[KL][123]?[- ]edge", joined)
        element = m.group(1) if m and m.group(1) in ELEMENTS else None
    beamline = meta.get("beam") or meta.get("beamline")
    if beamline is None:
        m = re.search(
            r"\b(APS|ESRF|NSLS|SSRL|Diamond|SOLEIL|PETRA|BESSY|SLS|ALS|SPring-8)\b[\s-]*(\w*)", joined
        )
        beamline = m.group(0).strip() if m else None
    return Spectrum(
        format="XAS column file (.xmu)" if path.suffix.lower() == ".xmu" else "XAS column file",
        energy=e,
        mu=mu,
        mu_source=src,
        element=element,
        edge=edge,
        beamline=beamline,
        start=_date(meta.get("date", "")),
        columns=names,
        header={k: meta[k] for k in ("name", "prep", "mono", "det", "temp") if k in meta},
    )


def _date(s: str) -> dt.datetime | None:
    for fmt in ("%a %b %d %H:%M:%S %Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(s.strip(), fmt)
        except ValueError:
            continue
    return None


_LIST = re.compile(r"^@(\w+)\s*=\s*\((.*)\);\s*$", re.M)
#: one list item: a single-quoted string or a bare number, delimited by commas (anything else, such as
#: a function call or a backtick command, is skipped: the file is data, never code)
_QUOTED = re.compile(r"(?:^|,)\s*(?:'((?:[^'\\]|\\.)*)'|(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?))\s*(?=,|$)")


def _perl_list(body: str) -> list[str]:
    return [a if a or not b else b for a, b in _QUOTED.findall(body)]


def _read_prj(path: Path) -> Spectrum:
    text = read_text(path)
    records = text.split("[record]")
    spectra: list[tuple[dict[str, str], np.ndarray, np.ndarray]] = []
    for rec in records:
        lists = {m.group(1): m.group(2) for m in _LIST.finditer(rec)}
        if "x" not in lists or "y" not in lists:
            continue
        args = _perl_list(lists.get("args", ""))
        info = dict(zip(args[0::2], args[1::2], strict=False))
        try:
            x = np.array([float(v) for v in _perl_list(lists["x"])])
            y = np.array([float(v) for v in _perl_list(lists["y"])])
        except ValueError as exc:
            raise UnsupportedFile(f"could not read: non-numeric data in Athena record ({exc})") from exc
        spectra.append((info, x, y))
    if not spectra:
        raise UnsupportedFile("could not read: Athena project without any data record (@x/@y lists)")
    info, x, y = spectra[0]
    ver = re.search(r"Demeter version ([\d.]+)", text[:500])
    labels = [s[0].get("label") or s[0].get("name") or "" for s in spectra]
    n = min(len(x), len(y))
    return Spectrum(
        format="Athena project (.prj)",
        energy=x[:n],
        mu=y[:n],
        mu_source=info.get("recordtype") or "mu(E)",
        element=next((sp[0].get("bkg_z") for sp in spectra if sp[0].get("bkg_z")), None),
        edge=info.get("fft_edge", "").upper() or None,
        header={
            "labels": [lbl for lbl in labels if lbl],
            "e0_ev": float(info["bkg_e0"]) if _isnum(info.get("bkg_e0", "x")) else None,
            "demeter_version": ver.group(1) if ver else None,
            "first_group": info.get("label"),
        },
        n_spectra=len(spectra),
    )
