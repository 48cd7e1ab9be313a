"""Neware BTS: binary .nda/.ndax (through NewareNDA, BSD-3-Clause) and the multi-level CSV export.

.ndax is a zip container: it is validated with `safety.safe_members` (no traversal, no bombs) before
NewareNDA opens it. The CSV export interleaves three record levels (cycle rows, step rows, and
data-point rows indented by one or two empty cells); the data-point rows carry the measurement and
the enclosing cycle/step rows give cycle number and step type.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from databahn.extractors.base import Software, UnsupportedFile
from databahn.extractors.safety import safe_members
from databahn.extractors.tabular import (
    Parsed,
    TableExtractor,
    parse_datetimes,
    parse_durations,
)
from databahn.extractors.tidy import TidyTable

NDA_MAGIC = b"NEWARE"


def _charge_discharge(status: Any, values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Split a per-step capacity/energy column by step type ('CC Chg' vs 'CC DChg')."""
    st = np.char.lower(np.asarray(status, dtype=str))
    v = np.abs(np.asarray(values, dtype=np.float64))
    dis = np.char.find(st, "dchg") >= 0
    chg = ~dis & (np.char.find(st, "chg") >= 0)
    return np.where(chg, v, 0.0), np.where(dis, v, 0.0)


class NewareExtractor(TableExtractor):
    """Neware .nda / .ndax binaries and the BTS CSV export."""

    name = "neware"
    label = "Neware .nda/.ndax/CSV"
    format_name = "Neware BTS"
    suffixes = (".nda", ".ndax", ".csv")

    def sniff(self, path: Path, head: bytes) -> float:
        if head.startswith(NDA_MAGIC):
            return 1.0
        if head.startswith(b"PK\x03\x04") and path.suffix.lower() == ".ndax":
            return 0.9 if b"data.ndc" in head or b"Step.xml" in head or b"TestInfo.xml" in head else 0.6
        first = head[:400].decode("latin-1")
        if first.startswith("Cycle Index,Chg. Cap.") or ",,DataPoint," in head[:2000].decode("latin-1"):
            return 0.95
        return 0.0

    def read(self, path: Path) -> Parsed:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        if head.startswith(NDA_MAGIC) or head.startswith(b"PK\x03\x04"):
            return self._read_binary(path, head)
        if path.suffix.lower() in (".nda", ".ndax"):
            raise UnsupportedFile(f"not a Neware {path.suffix} file (no NEWARE header / not a zip container)")
        return self._read_csv(path)

    def _read_binary(self, path: Path, head: bytes) -> Parsed:
        is_ndax = head.startswith(b"PK\x03\x04")
        if is_ndax:
            names = [m.name for m in safe_members(path)]
            if not any(n.endswith(".ndc") for n in names):
                raise UnsupportedFile(f"zip container without Neware data (.ndc) members: {names[:10]}")
        try:
            import NewareNDA
        except ImportError as exc:  # pragma: no cover - dependency is declared
            raise UnsupportedFile(
                "reading .nda/.ndax needs the NewareNDA package (pip install NewareNDA)"
            ) from exc
        try:
            df = NewareNDA.read(str(path))
        except (UnsupportedFile, MemoryError):
            raise
        except Exception as exc:
            raise UnsupportedFile(
                f"NewareNDA could not parse this {'.ndax' if is_ndax else '.nda'} file: {type(exc).__name__}: {exc}"
            ) from exc
        table = TidyTable()
        if "Timestamp" in df.columns:
            import pandas as pd

            stamps = pd.to_datetime(df["Timestamp"], utc=True, errors="coerce")
            unix = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64)
            finite = unix[np.isfinite(unix)]
            table.add("unix_time", unix, "Timestamp")
            # naive stamps are the cycler PC's local clock; zone-aware ones are real instants
            table.wall_clock = getattr(df["Timestamp"].dt, "tz", None) is None
            if len(finite):
                table.add("test_time", unix - finite[0], "Timestamp")
        table.add("voltage", df["Voltage"].to_numpy(), "Voltage")
        cur = next((c for c in df.columns if str(c).startswith("Current")), None)
        if cur is not None:
            table.add("current", df[cur].to_numpy(), str(cur), 1e-3 if "mA" in str(cur) else 1.0)
        if "Cycle" in df.columns:
            table.add("cycle", df["Cycle"].to_numpy(), "Cycle")
        if "Step" in df.columns:
            table.add("step_index", df["Step"].to_numpy(), "Step")
        if "Time" in df.columns:
            table.add("step_time", df["Time"].to_numpy(), "Time")
        for src, std in (
            ("Charge_Capacity(mAh)", "charge_capacity"),
            ("Discharge_Capacity(mAh)", "discharge_capacity"),
        ):
            if src in df.columns:
                table.add(std, df[src].to_numpy(), src, 1e-3)
        for src, std in (
            ("Charge_Energy(mWh)", "charge_energy"),
            ("Discharge_Energy(mWh)", "discharge_energy"),
        ):
            if src in df.columns:
                table.add(std, df[src].to_numpy(), src, 1e-3)
        temp = next((c for c in df.columns if str(c) == "T1"), None)
        if temp is not None:
            table.add("cell_temperature", df[temp].to_numpy(), "T1")
        version = None
        try:
            from importlib.metadata import version as pkg_version

            version = pkg_version("NewareNDA")
        except Exception:
            version = None
        return Parsed(
            table=table,
            technique="battery cycling",
            fields={
                "format": "Neware BTS " + ("NDAX (zip container)" if is_ndax else "NDA (binary)"),
                "software": Software(name="Neware BTS"),
                "media_type": "application/octet-stream",
                "open_format": False,
                "instrument": "Neware BTS",
            },
            extra={
                "container": "ndax (zip)" if is_ndax else "nda",
                "reader": f"NewareNDA {version}" if version else "NewareNDA",
                "step_types": sorted({str(s) for s in df["Status"].unique()})[:30]
                if "Status" in df.columns
                else None,
            },
        )

    def _read_csv(self, path: Path) -> Parsed:
        import pandas as pd

        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            headers = [next(csv.reader([fh.readline()]), []) for _ in range(3)]
        header, _step_header, rec_header = headers
        if not header or len(rec_header) < 4 or rec_header[2] != "DataPoint":
            raise UnsupportedFile(
                "Neware CSV: expected three header rows (cycle, step, record) with 'DataPoint'"
            )
        width = max(len(h) for h in headers) + 2
        try:
            frame = pd.read_csv(
                path,
                skiprows=3,
                header=None,
                names=list(range(width)),
                index_col=False,
                dtype=str,
                encoding="utf-8-sig",
                encoding_errors="replace",
                on_bad_lines="skip",
            )
        except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise UnsupportedFile(f"Neware CSV: the table could not be parsed: {exc}") from exc
        c0, c1, c2 = frame[0].notna(), frame[1].notna(), frame[2].notna()
        is_cycle, is_step, is_rec = c0, ~c0 & c1, ~c0 & ~c1 & c2
        # data-point rows inherit the cycle and step (number, type) of the rows above them
        cycle = pd.to_numeric(frame[0].where(is_cycle), errors="coerce").ffill()
        step = pd.to_numeric(frame[1].where(is_step), errors="coerce").ffill()
        stype = frame[3].where(is_step).ffill().fillna("")
        rec = frame[is_rec.to_numpy()]
        if rec.empty:
            raise UnsupportedFile("Neware CSV: no data-point rows found")
        rec_cols = rec_header[2:]
        cols = {name: rec[i + 2] for i, name in enumerate(rec_cols) if i + 2 < width}
        types = stype[is_rec].to_numpy(dtype=str)
        table = TidyTable()
        if "Total Time" in cols:
            table.add("test_time", parse_durations(cols["Total Time"].to_numpy()), "Total Time")
        if "Time" in cols:
            table.add("step_time", parse_durations(cols["Time"].to_numpy()), "Time")
        if "Date" in cols:
            first = cols["Date"].first_valid_index()
            tt = table.get("test_time")
            if first is not None and tt is not None:
                stamp = parse_datetimes([cols["Date"][first]])[0]
                table.add("unix_time", stamp + (tt - tt[0]), "Date (first row) + Total Time")
                table.wall_clock = True
        for src, std in (("Voltage(V)", "voltage"), ("Current(A)", "current")):
            if src in cols:
                table.add(std, pd.to_numeric(cols[src], errors="coerce").to_numpy(dtype=float), src)
        table.add("cycle", cycle[is_rec].to_numpy(dtype=float), "Cycle Index")
        table.add("step_index", step[is_rec].to_numpy(dtype=float), "Step Index")
        for src, (chg_std, dis_std) in (
            ("Capacity(Ah)", ("charge_capacity", "discharge_capacity")),
            ("Energy(Wh)", ("charge_energy", "discharge_energy")),
        ):
            if src in cols:
                values = pd.to_numeric(cols[src], errors="coerce").to_numpy(dtype=float)
                chg, dis = _charge_discharge(types, values)
                table.add(chg_std, chg, src)
                table.add(dis_std, dis, src)
        t1 = next((c for c in rec_cols if c.startswith("T1")), None)
        if t1 and t1 in cols:
            table.add("cell_temperature", pd.to_numeric(cols[t1], errors="coerce").to_numpy(dtype=float), t1)
        return Parsed(
            table=table,
            technique="battery cycling",
            fields={
                "format": "Neware BTS CSV export",
                "instrument": "Neware BTS",
                "software": Software(name="Neware BTS"),
            },
            extra={
                "export": "Neware BTS CSV (cycle/step/record levels)",
                "step_types": sorted(set(types) - {""})[:30],
                "record_columns": rec_cols,
            },
        )
