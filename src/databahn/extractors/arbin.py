"""Arbin: MITS Pro .res (MS Access/Jet database), CSV and Excel exports, and the metadata CSV.

.res files are read with `access_parser` (pure Python, Apache-2.0) from the Channel_Normal_Table and
Global_Table, so neither mdbtools nor an ODBC driver is needed. A gzip-compressed .res (.res.gz) is
decompressed (size-capped) into a temporary folder first. CSV exports come in two dialects
(`Test_Time` underscores, or `Test Time (s)` with units); .xlsx exports hold one sheet per channel.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from databahn.extractors.base import ExtractionResult, Software, UnsupportedFile
from databahn.extractors.safety import gunzip_to
from databahn.extractors.tabular import (
    Parsed,
    Rule,
    TableExtractor,
    apply_rules,
    head_text,
    read_frame,
)
from databahn.extractors.terms import technique_iri

JET_MAGIC = (b"\x00\x01\x00\x00Standard Jet DB", b"\x00\x01\x00\x00Standard ACE DB")
MAX_RES_BYTES = 512 * 1024**2

RULES = [
    Rule("test_time", ("Test_Time", "Test Time (s)", "Test_Time(s)")),
    Rule("step_time", ("Step_Time", "Step Time (s)", "Step_Time(s)")),
    Rule("unix_time", ("DateTime",)),
    Rule("unix_time", ("Date Time", "Date_Time"), kind="datetime"),
    Rule("voltage", ("Voltage", "Voltage (V)", "Voltage(V)")),
    Rule("current", ("Current", "Current (A)", "Current(A)")),
    Rule("cycle", ("Cycle_Index", "Cycle Index")),
    Rule("step_index", ("Step_Index", "Step Index")),
    Rule("charge_capacity", ("Charge_Capacity", "Charge Capacity (Ah)", "Charge_Capacity(Ah)")),
    Rule("discharge_capacity", ("Discharge_Capacity", "Discharge Capacity (Ah)", "Discharge_Capacity(Ah)")),
    Rule("charge_energy", ("Charge_Energy", "Charge Energy (Wh)", "Charge_Energy(Wh)")),
    Rule("discharge_energy", ("Discharge_Energy", "Discharge Energy (Wh)", "Discharge_Energy(Wh)")),
    Rule("temperature", ("Temperature", "Aux_Temperature_1 (C)", "Temperature (C)")),
]
CSV_MARKERS = (("Data_Point", "Test_Time", "Cycle_Index"), ("Data Point", "Test Time (s)", "Cycle Index"))


def _ole_to_datetime(days: float) -> dt.datetime | None:
    if not isinstance(days, (int, float)) or not 20000 < days < 80000:
        return None
    return dt.datetime(1899, 12, 30) + dt.timedelta(days=float(days))


class ArbinExtractor(TableExtractor):
    """Arbin .res / .res.gz databases, CSV and .xlsx exports."""

    name = "arbin"
    label = "Arbin .res/.csv/.xlsx"
    format_name = "Arbin CSV export"
    suffixes = (".res", ".res.gz", ".csv", ".xlsx")

    def sniff(self, path: Path, head: bytes) -> float:
        lname = path.name.lower()
        if head.startswith(JET_MAGIC):
            return 1.0 if lname.endswith(".res") else 0.6
        if head.startswith(b"\x1f\x8b") and lname.endswith(".res.gz"):
            return 0.9
        if head.startswith(b"PK\x03\x04") and lname.endswith(".xlsx"):
            return 0.5 if b"xl/" in head else 0.3
        first = head[:2048].decode("latin-1").lstrip("\ufeff").lstrip("ï»¿")
        line = first.splitlines()[0] if first.splitlines() else ""
        for markers in CSV_MARKERS:
            if all(m in line for m in markers):
                return 0.95
        if line.startswith(",test_id,device_id,iv_ch_id") or "schedule_file_name" in line:
            return 0.9
        return 0.0

    def read(self, path: Path) -> Parsed:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        lname = path.name.lower()
        if head.startswith(JET_MAGIC):
            return self._read_res(path)
        if head.startswith(b"\x1f\x8b"):
            with tempfile.TemporaryDirectory(prefix="databahn-arbin-") as tmp:
                inner = gunzip_to(path, Path(tmp) / "data.res", max_bytes=MAX_RES_BYTES)
                with open(inner, "rb") as fh:
                    if not fh.read(32).startswith(JET_MAGIC):
                        raise UnsupportedFile(
                            "the gzip file does not contain an Arbin .res (Access) database"
                        )
                parsed = self._read_res(inner)
                parsed.extra["compression"] = "gzip"
                return parsed
        if head.startswith(b"PK\x03\x04"):
            return self._read_xlsx(path)
        if lname.endswith(".res"):
            raise UnsupportedFile("not an Arbin .res file (no MS Access/Jet database header)")
        return self._read_csv(path)

    @staticmethod
    def _is_metadata_csv(path: Path) -> bool:
        if path.name.lower().endswith((".res", ".gz", ".xlsx")):
            return False
        return head_text(path, 2048).startswith(",test_id,device_id")

    def extract(self, path: Path) -> ExtractionResult:
        if self._is_metadata_csv(path):
            return self._metadata_csv(path)
        return super().extract(path)

    def convert(self, path: Path, out_dir: Path) -> list[Path]:
        return [] if self._is_metadata_csv(path) else super().convert(path, out_dir)

    def _read_res(self, path: Path) -> Parsed:
        size = path.stat().st_size
        if size > MAX_RES_BYTES:
            raise UnsupportedFile(f"Arbin .res of {size:,} bytes is over the {MAX_RES_BYTES:,}-byte limit")
        try:
            from access_parser import AccessParser
        except ImportError as exc:  # pragma: no cover - declared dependency
            raise UnsupportedFile("reading Arbin .res needs the access-parser package") from exc
        import pandas as pd

        try:
            db = AccessParser(str(path))
            if "Channel_Normal_Table" not in db.catalog:
                raise UnsupportedFile(
                    "Access database without a Channel_Normal_Table (not an Arbin .res result file); "
                    f"tables: {', '.join(k for k in db.catalog if not k.startswith('MSys'))}"
                )
            data = db.parse_table("Channel_Normal_Table")
            glob: dict[str, list[Any]] = (
                db.parse_table("Global_Table") if "Global_Table" in db.catalog else {}
            )
        except UnsupportedFile:
            raise
        except MemoryError:
            raise
        except Exception as exc:
            raise UnsupportedFile(
                f"the Access database could not be parsed: {type(exc).__name__}: {exc}"
            ) from exc
        frame = pd.DataFrame({k: v for k, v in data.items()})
        if len(frame) and "Data_Point" in frame.columns:
            frame = frame.sort_values(
                ["Test_ID", "Data_Point"] if "Test_ID" in frame.columns else ["Data_Point"]
            )
        table = apply_rules(frame.drop(columns=["DateTime"], errors="ignore"), RULES)
        g = {k: (v[0] if v else None) for k, v in glob.items()}
        start = _ole_to_datetime(g.get("Start_DateTime"))  # type: ignore[arg-type]
        return Parsed(
            table=table,
            technique="battery cycling",
            fields={
                "format": "Arbin MITS .res (MS Access database)",
                "media_type": "application/x-msaccess",
                "open_format": False,
                "instrument": "Arbin" + (f" (serial {g['Serial_Number']})" if g.get("Serial_Number") else ""),
                "software": Software(name="Arbin MITS Pro", version=g.get("Software_Version")),
                "start_time": start,
            },
            extra={
                "test_name": g.get("Test_Name"),
                "schedule_file": g.get("Schedule_File_Name"),
                "channel": g.get("Channel_Number"),
                "creator": g.get("Creator"),
                "comments": g.get("Comments"),
                "mass_g": g.get("MASS"),
                "reader": "access-parser",
            },
        )

    def _read_csv(self, path: Path) -> Parsed:
        frame = read_frame(path, skiprows=0, sep=",")
        frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
        table = apply_rules(frame, RULES)
        if "voltage" not in table.columns:
            raise UnsupportedFile("Arbin CSV: no Voltage column found")
        return Parsed(
            table=table,
            technique="battery cycling",
            fields={"instrument": "Arbin"},
            extra={"columns_in_file": [str(c) for c in frame.columns]},
        )

    def _read_xlsx(self, path: Path) -> Parsed:
        import openpyxl
        import pandas as pd

        from databahn.extractors.safety import safe_members

        list(safe_members(path))  # zip container: refuse traversal/bombs before openpyxl opens it
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise UnsupportedFile(
                f"the Excel workbook could not be opened: {type(exc).__name__}: {exc}"
            ) from exc
        frames = []
        info: dict[str, Any] = {"sheets": wb.sheetnames}
        for ws in wb.worksheets:
            rows = ws.iter_rows(values_only=True)
            header = next(rows, None)
            if header and any(isinstance(h, str) and h.startswith("Test_Time") for h in header):
                frames.append(pd.DataFrame(list(rows), columns=[str(h) for h in header]))
            elif ws.title.lower().startswith("global"):
                for row in ws.iter_rows(max_row=10, values_only=True):
                    vals = [v for v in row if v is not None]
                    if len(vals) >= 2 and isinstance(vals[0], str):
                        info.setdefault("global_info", []).append([str(v) for v in vals[:4]])
        wb.close()
        if not frames:
            raise UnsupportedFile("Excel workbook without an Arbin channel sheet (no 'Test_Time(s)' column)")
        frame = pd.concat(frames, ignore_index=True)
        if "Date_Time" in frame.columns:
            stamps = pd.to_datetime(frame["Date_Time"], errors="coerce")
            frame["Date_Time"] = stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        table = apply_rules(frame, RULES)
        return Parsed(
            table=table,
            technique="battery cycling",
            fields={
                "format": "Arbin Excel export (.xlsx)",
                "media_type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "instrument": "Arbin",
            },
            extra=info | {"channel_sheets": len(frames)},
        )

    def _metadata_csv(self, path: Path) -> ExtractionResult:
        frame = read_frame(path, skiprows=0, sep=",")
        if len(frame) == 0:
            raise UnsupportedFile("Arbin metadata CSV without a data row")
        row = {
            str(k).strip(): v
            for k, v in frame.iloc[0].to_dict().items()
            if str(k).strip() and not str(k).startswith("Unnamed:")
        }
        start = row.get("first_start_datetime")
        start_dt = (
            dt.datetime.fromtimestamp(float(start), tz=dt.UTC)
            if isinstance(start, (int, float, np.number))
            else None
        )
        clean = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        clean = {k: v for k, v in clean.items() if not (isinstance(v, float) and np.isnan(v))}
        return ExtractionResult(
            extractor=self.name,
            format="Arbin test metadata CSV",
            media_type="text/csv",
            technique="battery cycling",
            technique_iri=technique_iri("battery cycling"),
            instrument="Arbin" + (f" (device {clean.get('device_id')})" if clean.get("device_id") else ""),
            software=Software(
                name="Arbin MITS Pro", version=str(clean.get("schedule_version") or "") or None
            ),
            open_format=True,
            start_time=start_dt,
            archive=None,
            provenance=None,
            extra={"kind": "test metadata (no measured data)"} | clean,
        )
