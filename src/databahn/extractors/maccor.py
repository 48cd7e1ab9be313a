"""Maccor: text exports (.001/.041/.052/.txt/.csv, tab- or comma-separated) and procedure XML (.000).

Maccor exports exist in several dialects (MIMS "Today's Date" header, MacTest "Name:/Channel:" header,
CSV exports); they share the column vocabulary (Cyc#/Cycle C, Amp-hr/Cap. [Ah], Amps/Current [A],
Volts/Voltage [V], State/Md = C/D/R). The State column tells charge from discharge so the per-step
capacity becomes separate charge and discharge capacities.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from databahn.extractors.base import ExtractionResult, Extractor, Software, UnsupportedFile
from databahn.extractors.safety import parse_xml
from databahn.extractors.tabular import (
    Parsed,
    Rule,
    TableExtractor,
    apply_rules,
    find_line,
    head_text,
    key_values,
    parse_start,
    read_frame,
)
from databahn.extractors.terms import technique_iri

RULES = [
    Rule("test_time", ("Test (Sec)", "Test Time (sec)", "TestTime", "Test Time"), kind="duration"),
    Rule("test_time", ("Test (Min)",), scale=60.0),
    Rule("test_time", ("Test (Hr)",), scale=3600.0),
    Rule("step_time", ("Step (Sec)", "Step Time (sec)", "StepTime", "Step Time"), kind="duration"),
    Rule("step_time", ("Step (Min)",), scale=60.0),
    Rule("voltage", ("Volts", "Voltage [V]", "Voltage", "Voltage (V)")),
    Rule("current", ("Amps", "Current [A]", "Current", "Current (A)")),
    Rule("cycle", ("Cyc#", "Cycle C", "Cycle", "Cycle P")),
    Rule("step_index", ("Step",)),
    Rule("temperature", ("Temp 1", "Temperature", "Temp1")),
    Rule("unix_time", ("DPt Time", "DPT Time"), kind="datetime"),
]
CAPACITY = ("Amp-hr", "Cap. [Ah]", "Capacity", "Capacity (Ah)")
ENERGY = ("Watt-hr", "Ener. [Wh]", "Energy", "Energy (Wh)")
STATE = ("State", "Md")
HEADER_TOKENS = (("Rec#", "Rec"), ("Cyc#", "Cycle C", "Cycle P", "Cycle"))


def _is_header(line: str) -> bool:
    cells = [c.strip() for c in re.split(r"[\t,]", line)]
    return any(c in ("Rec#", "Rec") for c in cells[:2]) and any(
        c in ("Cyc#", "Cycle C", "Cycle P") for c in cells[:4]
    )


class MaccorExtractor(TableExtractor):
    """Maccor text/CSV exports."""

    name = "maccor"
    label = "Maccor text export"
    format_name = "Maccor text export"
    suffixes = (".001", ".002", ".041", ".052", ".txt", ".csv")
    media_type = "text/tab-separated-values"

    def sniff(self, path: Path, head: bytes) -> float:
        text = head[:16384].decode("latin-1")
        lines = text.splitlines()
        if find_line(lines, _is_header, 40) is not None:
            return 0.95 if ("Today's Date" in text or "Maccor" in text or "Date of Test" in text) else 0.7
        return 0.0

    def read(self, path: Path) -> Parsed:
        lines = head_text(path).splitlines()
        idx = find_line(lines, _is_header, 200)
        if idx is None:
            raise UnsupportedFile("Maccor export: no 'Rec#/Cyc#' column header found")
        sep = "\t" if "\t" in lines[idx] else ","
        frame = read_frame(path, skiprows=idx, sep=sep)
        frame = frame.dropna(axis=0, how="all")
        table = apply_rules(frame, RULES)
        lookup = {str(c).strip().lower(): c for c in frame.columns}
        cap_col = next((lookup[c.lower()] for c in CAPACITY if c.lower() in lookup), None)
        en_col = next((lookup[c.lower()] for c in ENERGY if c.lower() in lookup), None)
        state_col = next((lookup[c.lower()] for c in STATE if c.lower() in lookup), None)
        import pandas as pd

        if state_col is not None:
            state = frame[state_col].astype("string").str.strip().str.upper().fillna("").to_numpy()
            chg = np.isin(state, ["C"])
            dis = np.isin(state, ["D"])
            cur = table.get("current")
            if (
                cur is not None
                and np.any(dis)
                and np.nanmax(np.abs(cur[dis])) > 0
                and np.nanmean(cur[dis]) > 0
            ):
                table.add(
                    "current", np.where(dis, -np.abs(cur), cur), table.sources["current"]
                )  # sign by state
            for col, pair in (
                (cap_col, ("charge_capacity", "discharge_capacity")),
                (en_col, ("charge_energy", "discharge_energy")),
            ):
                if col is None:
                    continue
                vals = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
                table.add(pair[0], np.where(chg, np.abs(vals), 0.0), str(col))
                table.add(pair[1], np.where(dis, np.abs(vals), 0.0), str(col))
        head = lines[:idx]
        kv = key_values(head, ":") | key_values(head, "\t")
        first = lines[0] if lines else ""
        started = kv.get("Started") or kv.get("Date of Test")
        m = re.search(r"Date of Test:\s*\t?\s*([0-9/]+)", first)
        if m:
            started = m.group(1)
        proc = re.search(r"Procedure:\s*([^\t]+?)(?:\t|$)", first)
        extra: dict[str, Any] = {
            "procedure": (proc.group(1).strip() if proc else kv.get("Procedure")),
            "channel": kv.get("Channel"),
            "test_name": kv.get("Name"),
            "tester": kv.get("Tester"),
            "columns_in_file": [str(c) for c in frame.columns],
        }
        comment = re.search(r"Comment/Barcode:\s*(.*)$", first)
        if comment and comment.group(1).strip():
            extra["comment"] = comment.group(1).strip()
        start = parse_start(
            started,
            ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%d-%b-%y %I:%M:%S %p", "%d-%b-%y"),
        )
        tech = "electrochemical impedance spectroscopy" if "EIS" in (extra["procedure"] or "") else None
        if tech and "acimp/ohms" in lookup:
            extra["note"] = "EIS procedure: the ACImp/Ohms column holds the AC impedance readings"
        if tech is None:
            tech = "battery cycling"
        return Parsed(
            table=table,
            technique=tech,
            # the first data point's time stamp is more precise than the header's date
            fields={
                "instrument": kv.get("Tester") or "Maccor",
                "start_time": None if "unix_time" in table.columns else start,
            },
            extra=extra,
        )


class MaccorProcedureExtractor(Extractor):
    """Maccor procedure files (.000, XML): the test protocol, not data."""

    name = "maccor_procedure"
    label = "Maccor procedure (.000 XML)"
    suffixes = (".000",)

    def sniff(self, path: Path, head: bytes) -> float:
        return 1.0 if b"<MaccorTestProcedure" in head[:4096] else 0.0

    def extract(self, path: Path) -> ExtractionResult:
        root = parse_xml(path)
        if root.tag != "MaccorTestProcedure":
            raise UnsupportedFile(f"not a Maccor procedure (root element is <{root.tag}>)")
        steps = root.findall("./ProcSteps/TestStep")
        types = [(s.findtext("StepType") or "").strip() for s in steps]
        ver = root.find("./header/BuildTestVersion")
        version = None
        if ver is not None:
            version = ".".join(
                (ver.findtext(k) or "").strip() for k in ("major", "minor", "release", "build")
            )
        counts = Counter(t for t in types if t)
        has_eis = any("FRA" in t or "EIS" in t.upper() for t in types)
        technique = "electrochemical impedance spectroscopy" if has_eis else "battery cycling"
        return ExtractionResult(
            extractor=self.name,
            format="Maccor test procedure (XML)",
            media_type="application/xml",
            technique=technique,
            technique_iri=technique_iri(technique),
            software=Software(name="Maccor MIMS/BuildTest", version=version),
            open_format=True,
            archive=None,
            provenance=None,
            extra={
                "kind": "procedure (test protocol, no measured data)",
                "n_steps": len(steps),
                "step_types": dict(counts),
                "description": (root.findtext("./header/ProcDesc/desc") or "").strip() or None,
                "steps": types[:200],
            },
        )
