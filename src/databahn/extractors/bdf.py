"""Battery Data Format (BDF) CSV: the open, standard cycler table this hub also writes.

Columns are BDF machine-readable names (`test_time_second`, `voltage_volt`, ...) or human labels
(`Test Time / s`); both map through `tidy.COLUMNS`, so reading BDF is the inverse of writing it.
"""

from __future__ import annotations

from pathlib import Path

from databahn.extractors.base import UnsupportedFile
from databahn.extractors.tabular import Parsed, TableExtractor, head_text, read_frame
from databahn.extractors.tidy import BDF_TO_STD, LABEL_TO_STD, TidyTable


def _std_name(col: str) -> str | None:
    c = col.strip()
    return BDF_TO_STD.get(c) or LABEL_TO_STD.get(c.lower())


class BdfExtractor(TableExtractor):
    """BDF CSV files (*.bdf.csv or any CSV whose header is BDF columns)."""

    name = "bdf"
    label = "Battery Data Format CSV"
    format_name = "Battery Data Format (BDF) CSV"
    suffixes = (".bdf.csv", ".csv")

    def sniff(self, path: Path, head: bytes) -> float:
        first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip().lstrip("\ufeff")
        cols = [c.strip().strip('"') for c in first.split(",")]
        known = [c for c in cols if _std_name(c)]
        if len(known) >= 2 and any(_std_name(c) == "test_time" for c in cols):
            return 1.0 if len(known) == len(cols) else 0.8
        return 0.0

    def read(self, path: Path) -> Parsed:
        first = head_text(path, 4096).splitlines()[0] if head_text(path, 4096) else ""
        if not first:
            raise UnsupportedFile("BDF CSV: empty header")
        frame = read_frame(path, skiprows=0, sep=",")
        table = TidyTable()
        unknown = []
        import pandas as pd

        for col in frame.columns:
            std = _std_name(str(col))
            if std is None:
                unknown.append(str(col))
                continue
            table.add(std, pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float), str(col))
        if "test_time" not in table.columns:
            raise UnsupportedFile("BDF CSV: the required 'test_time_second' column is missing")
        return Parsed(
            table=table,
            technique=None,
            fields={"open_format": True},
            extra={"non_bdf_columns": unknown, "columns_in_file": [str(c) for c in frame.columns]},
        )
