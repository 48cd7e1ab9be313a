"""Gamry Framework .DTA files (CV, chronoamperometry, OCP/CORPOT, EISPOT/EISGALV, ...).

A .DTA is a tab-separated text file: `KEY<TAB>TYPE<TAB>VALUE<TAB>label` header lines, then one or more
`NAME<TAB>TABLE` blocks (column names line, units line, indented data rows). Several CURVEn tables are
the cycles of a CV; ZCURVE holds impedance, OCVCURVE the open-circuit period before it.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import numpy as np

from databahn.extractors.base import Software, UnsupportedFile
from databahn.extractors.tabular import MAX_TABLE_BYTES, Parsed, TableExtractor
from databahn.extractors.tidy import TidyTable, to_float_array

TAG_TECHNIQUE = {
    "CV": "cyclic voltammetry",
    "LSV": "linear sweep voltammetry",
    "CHRONOA": "chronoamperometry",
    "CHRONOP": "chronopotentiometry",
    "CORPOT": "open circuit voltage",
    "EISPOT": "electrochemical impedance spectroscopy",
    "EISGALV": "electrochemical impedance spectroscopy",
    "GALVEIS": "electrochemical impedance spectroscopy",
    "POTEIS": "electrochemical impedance spectroscopy",
}
COLUMN_MAP = {
    "T": ("test_time", 1.0),
    "Time": ("test_time", 1.0),
    "Vf": ("voltage", 1.0),
    "Im": ("current", 1.0),
    "Freq": ("frequency", 1.0),
    "Zreal": ("z_real", 1.0),
    "Zimag": ("z_imag", 1.0),
    "Zmod": ("z_mod", 1.0),
    "Zphz": ("z_phase", 1.0),
    "Temp": ("temperature", 1.0),
}


def parse_dta(path: Path) -> tuple[dict[str, str], dict[str, tuple[list[str], list[str], list[list[str]]]]]:
    size = path.stat().st_size
    if size > MAX_TABLE_BYTES:
        raise UnsupportedFile(f"Gamry file of {size:,} bytes is over the {MAX_TABLE_BYTES:,}-byte limit")
    header: dict[str, str] = {}
    tables: dict[str, tuple[list[str], list[str], list[list[str]]]] = {}
    with open(path, encoding="latin-1") as fh:
        lines = fh.read().splitlines()
    i = 0
    while i < len(lines):
        parts = lines[i].split("\t")
        if len(parts) >= 2 and parts[0] and parts[1] == "TABLE":
            name = parts[0]
            cols = lines[i + 1].split("\t")[1:] if i + 1 < len(lines) else []
            units = lines[i + 2].split("\t")[1:] if i + 2 < len(lines) else []
            rows = []
            j = i + 3
            while j < len(lines) and lines[j].startswith("\t"):
                rows.append(lines[j].split("\t")[1:])
                j += 1
            tables[name] = (cols, units, rows)
            i = j
            continue
        if len(parts) >= 3 and parts[0] and re.fullmatch(r"[A-Z0-9_]+", parts[0]):
            header.setdefault(parts[0], parts[2] if parts[1] not in ("", "TABLE") else parts[1])
        elif len(parts) == 2 and parts[0] == "TAG":
            header["TAG"] = parts[1]
        i += 1
    return header, tables


class GamryExtractor(TableExtractor):
    """Gamry .DTA potentiostat files."""

    name = "gamry"
    label = "Gamry .DTA"
    format_name = "Gamry Framework DTA"
    suffixes = (".dta",)
    media_type = "text/plain"

    def sniff(self, path: Path, head: bytes) -> float:
        if head.startswith(b"EXPLAIN") and b"\nTAG\t" in head[:2000]:
            return 1.0
        return 0.0

    def read(self, path: Path) -> Parsed:
        header, tables = parse_dta(path)
        tag = header.get("TAG", "")
        technique = TAG_TECHNIQUE.get(tag)
        if "ZCURVE" in tables:
            curve_names = ["ZCURVE"]
        else:
            curve_names = [n for n in tables if re.fullmatch(r"CURVE\d*", n)]
        if not curve_names:
            raise UnsupportedFile(
                f"Gamry {tag or 'DTA'} file without data tables (found: {list(tables) or 'none'})"
            )
        table = TidyTable()
        merged: dict[str, list[np.ndarray]] = {}
        cycles: list[np.ndarray] = []
        units: dict[str, str] = {}
        for k, name in enumerate(curve_names):
            cols, unit_row, rows = tables[name]
            for c, col in enumerate(cols):
                if col in COLUMN_MAP:
                    raw = np.array([r[c] if c < len(r) else "" for r in rows], dtype=object)
                    merged.setdefault(col, []).append(to_float_array(raw))
                    units[col] = unit_row[c] if c < len(unit_row) else ""
            cycles.append(np.full(len(rows), k + 1, dtype=np.float64))
        for col, parts in merged.items():
            std, scale = COLUMN_MAP[col]
            if std not in table.columns:
                table.add(std, np.concatenate(parts), col, scale)
        if len(curve_names) > 1:
            table.add("cycle", np.concatenate(cycles), "CURVEn table")
        start = None
        if header.get("DATE") and header.get("TIME"):
            for fmt in ("%m/%d/%Y %H:%M:%S", "%m-%d-%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S"):
                try:
                    start = dt.datetime.strptime(f"{header['DATE']} {header['TIME']}", fmt)
                    break
                except ValueError:
                    continue
        extra: dict[str, Any] = {
            "tag": tag,
            "title": header.get("TITLE"),
            "tables": {n: len(t[2]) for n, t in tables.items()},
            "units": units,
            "notes": header.get("NOTES"),
        }
        return Parsed(
            table=table,
            technique=technique,
            fields={
                "instrument": f"Gamry {header['PSTAT']}" if header.get("PSTAT") else "Gamry",
                "software": Software(name="Gamry Framework", version=header.get("FRAMEWORKVERSION")),
                "start_time": start,
            },
            extra=extra,
        )
