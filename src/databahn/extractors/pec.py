"""PEC (SBT/ACT) cycler CSV export: 'Key:,value' header, then a comma table starting with 'Test,Cell,...'."""

from __future__ import annotations

from pathlib import Path

from databahn.extractors.base import Software, UnsupportedFile
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

RULES = [
    Rule("test_time", ("Total Time (Seconds)",)),
    Rule("test_time", ("Total Time (Hours in hh:mm:ss.xxx)",), kind="duration"),
    Rule("step_time", ("Step Time (Seconds)",)),
    Rule("unix_time", ("Real Time",), kind="datetime"),
    Rule("voltage", ("Voltage (V)",)),
    Rule("voltage", ("Voltage (mV)",), scale=1e-3),
    Rule("current", ("Current (A)",)),
    Rule("current", ("Current (mA)",), scale=1e-3),
    Rule("cycle", ("Cycle",)),
    Rule("step_index", ("Step",)),
    Rule("charge_capacity", ("Charge Capacity (mAh)",), scale=1e-3),
    Rule("charge_capacity", ("Charge Capacity (Ah)",)),
    Rule("discharge_capacity", ("Discharge Capacity (mAh)",), scale=1e-3),
    Rule("discharge_capacity", ("Discharge Capacity (Ah)",)),
    Rule("charge_energy", ("Charge Energy (mWh)",), scale=1e-3),
    Rule("discharge_energy", ("Discharge Energy (mWh)",), scale=1e-3),
    Rule("cell_temperature", ("Cell Temperature (C)", "Temperature (C)")),
]


def _is_table_header(line: str) -> bool:
    return line.startswith("Test,Cell,") or (
        line.startswith("Test,") and "Voltage" in line and "Cycle" in line
    )


class PecExtractor(TableExtractor):
    """PEC cycler CSV exports."""

    name = "pec"
    label = "PEC cycler CSV"
    format_name = "PEC cycler CSV export"
    suffixes = (".csv",)

    def sniff(self, path: Path, head: bytes) -> float:
        text = head[:16384].decode("latin-1")
        lines = text.splitlines()
        if (lines and lines[0].startswith("Request Year:")) or "TestRegime Name:" in text:
            return 0.95 if find_line(lines, _is_table_header, 200) is not None else 0.6
        return 0.0

    def read(self, path: Path) -> Parsed:
        lines = head_text(path).splitlines()
        idx = find_line(lines, _is_table_header, 1000)
        if idx is None:
            raise UnsupportedFile("PEC export: no 'Test,Cell,...' table header found")
        frame = read_frame(path, skiprows=idx, sep=",")
        table = apply_rules(frame, RULES)
        kv = key_values(lines[:idx], ":")
        return Parsed(
            table=table,
            technique="battery cycling",
            fields={
                "instrument": "PEC",
                "software": Software(name="PEC LifeTest"),
                "start_time": parse_start(kv.get("Start Time"), ("%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S")),
            },
            extra={
                "test": kv.get("Test"),
                "regime": kv.get("TestRegime Name"),
                "cell_size": kv.get("TestRegime CellSize"),
                "end_time": kv.get("End Time"),
                "columns_in_file": [str(c) for c in frame.columns],
            },
        )
