"""Impedance files: Scribner ZPlot (.z), Princeton VersaStudio (.par) and plain 3-column EIS CSV.

All three end up as the standard impedance columns (frequency, Re(Z), Im(Z) in Ohm, with the
sign convention Im(Z) < 0 for capacitive behaviour) so the Nyquist preview is comparable across
instruments.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np

from databahn.extractors.base import Software, UnsupportedFile
from databahn.extractors.tabular import MAX_TABLE_BYTES, Parsed, TableExtractor, head_text
from databahn.extractors.tidy import TidyTable

EIS = "electrochemical impedance spectroscopy"


def _read_text(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_TABLE_BYTES:
        raise UnsupportedFile(f"file of {size:,} bytes is over the {MAX_TABLE_BYTES:,}-byte limit")
    return path.read_bytes().decode("latin-1")


def _numeric_rows(lines: list[str], sep: str | None) -> np.ndarray:  # 2-D float array
    rows = []
    for line in lines:
        parts = line.strip().split(sep) if sep else line.split()
        try:
            rows.append([float(p) for p in parts if p.strip() != ""])
        except ValueError:
            continue
    if not rows:
        return np.empty((0, 0))
    width = min(len(r) for r in rows)
    return np.array([r[:width] for r in rows], dtype=np.float64)


def _is_eis_csv(head: bytes) -> bool:
    lines = head[:8192].decode("latin-1", errors="replace").splitlines()[:40]
    if len(lines) < 5:
        return False
    arr = _numeric_rows(lines[:-1] if len(lines) > 5 else lines, ",")
    if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) < 5:
        return False
    f = arr[:, 0]
    mono = np.all(np.diff(f) > 0) or np.all(np.diff(f) < 0)
    return bool(mono and np.all(f > 0) and f.max() / f.min() > 20 and np.mean(arr[:, 2] < 0) > 0.5)


class ImpedanceExtractor(TableExtractor):
    """ZPlot .z, VersaStudio .par and headerless 'f, Z', Z''' CSV impedance data."""

    name = "impedance"
    label = "ZPlot/VersaStudio impedance"
    format_name = "impedance data"
    suffixes = (".z", ".par", ".csv")
    media_type = "text/plain"

    def sniff(self, path: Path, head: bytes) -> float:
        if head.startswith(b"ZPLOT2 ASCII"):
            return 1.0
        if head.lstrip().startswith(b"<") and b"Name=VersaStudio" in head[:4096]:
            return 1.0 if b"<Segment" in head else 0.8
        if path.suffix.lower() == ".csv" and _is_eis_csv(head):
            return 0.6
        return 0.0

    def read(self, path: Path) -> Parsed:
        head = head_text(path, 4096)
        if head.startswith("ZPLOT2 ASCII"):
            return self._zplot(path)
        if "VersaStudio" in head and "<Segment" in _read_text(path):
            return self._versastudio(path)
        with open(path, "rb") as fh:
            if _is_eis_csv(fh.read(65536)):
                return self._csv(path)
        raise UnsupportedFile("not a ZPlot .z, VersaStudio .par or 3-column impedance CSV file")

    def _zplot(self, path: Path) -> Parsed:
        lines = _read_text(path).splitlines()
        end = next((i for i, ln in enumerate(lines) if ln.strip() == "End Comments"), None)
        if end is None:
            raise UnsupportedFile("ZPlot .z file without an 'End Comments' line before the data")
        meta: dict[str, str] = {}
        for ln in lines[1:end]:
            if ":" in ln:
                k, _, v = ln.partition(":")
                meta.setdefault(k.strip(), v.strip())
        arr = _numeric_rows(lines[end + 1 :], "\t" if "\t" in lines[end + 1] else None)
        if arr.size == 0 or arr.shape[1] < 6:
            raise UnsupportedFile("ZPlot .z file: the data block has fewer than 6 numeric columns")
        table = TidyTable()
        # ZPlot columns: Freq(Hz) Ampl Bias Time(s) Z'(a) Z''(b) GD Err Range
        table.add("frequency", arr[:, 0], "Freq(Hz)")
        table.add("test_time", arr[:, 3], "Time(Sec)")
        table.add("z_real", arr[:, 4], "Z'(a)")
        table.add("z_imag", arr[:, 5], "Z''(b)")
        table.add("z_mod", np.hypot(arr[:, 4], arr[:, 5]), "computed |Z|")
        table.add("z_phase", np.degrees(np.arctan2(arr[:, 5], arr[:, 4])), "computed phase")
        start = None
        try:
            start = dt.datetime.strptime(f"{meta.get('Date')} {meta.get('Time')}", "%m-%d-%Y %H:%M:%S")
        except ValueError:
            start = None
        version = meta.get("Measured Data, ZPlot")
        return Parsed(
            table=table,
            technique=EIS,
            fields={
                "format": "Scribner ZPlot (.z)",
                "software": Software(name="ZPlot", version=version),
                "start_time": start,
            },
            extra={
                "experiment_type": meta.get("Experiment Type"),
                "open_circuit_potential_V": meta.get("Open Circuit Potential (V)"),
            },
        )

    def _versastudio(self, path: Path) -> Parsed:
        text = _read_text(path)
        seg = re.search(r"<Segment1>(.*?)</Segment1>", text, re.S)
        if seg is None:
            raise UnsupportedFile("VersaStudio .par without a <Segment1> data block")
        body = seg.group(1).strip().splitlines()
        def_line = next((ln for ln in body if ln.startswith("Definition=")), None)
        if def_line is None:
            raise UnsupportedFile("VersaStudio .par: Segment1 has no 'Definition=' column list")
        cols = [c.strip() for c in def_line.partition("=")[2].split(",")]
        arr = _numeric_rows([ln for ln in body if not re.match(r"^\w[\w ]*=", ln)], ",")
        if arr.size == 0:
            raise UnsupportedFile("VersaStudio .par: Segment1 has no numeric rows")
        idx = {c: i for i, c in enumerate(cols) if i < arr.shape[1]}
        table = TidyTable()
        for src, std in (
            ("Elapsed Time(s)", "test_time"),
            ("E(V)", "voltage"),
            ("I(A)", "current"),
            ("Frequency(Hz)", "frequency"),
            ("Z Real", "z_real"),
            ("Z Imag", "z_imag"),
        ):
            if src in idx:
                table.add(std, arr[:, idx[src]], src)
        if "z_real" in table.columns and "z_imag" in table.columns:
            zr, zi = table.columns["z_real"], table.columns["z_imag"]
            table.add("z_mod", np.hypot(zr, zi), "computed |Z|")
        name = re.search(r"^Name=(.*)$", text, re.M)
        version = re.search(r"^Version=(.*)$", text, re.M)
        technique = EIS if "frequency" in table.columns else None
        return Parsed(
            table=table,
            technique=technique,
            fields={
                "format": "Princeton Applied Research VersaStudio (.par)",
                "software": Software(
                    name=(name.group(1).strip() if name else "VersaStudio"),
                    version=version.group(1).strip() if version else None,
                ),
            },
            extra={"segment_columns": cols},
        )

    def _csv(self, path: Path) -> Parsed:
        arr = _numeric_rows(_read_text(path).splitlines(), ",")
        table = TidyTable()
        table.add("frequency", arr[:, 0], "column 1 (f)")
        table.add("z_real", arr[:, 1], "column 2 (Z')")
        table.add("z_imag", arr[:, 2], "column 3 (Z'')")
        table.add("z_mod", np.hypot(arr[:, 1], arr[:, 2]), "computed |Z|")
        return Parsed(
            table=table,
            technique=EIS,
            fields={"format": "impedance CSV (frequency, Z', Z'' without header)"},
            extra={"assumed_units": "Hz, Ohm, Ohm (the file has no header; columns inferred from values)"},
        )
