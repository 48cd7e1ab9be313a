"""Landt (LAND CT) cycler CSV export as written by the BDF reference data (header block, then table)."""

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
    read_frame,
)

RULES = [
    Rule("test_time", ("test_time_s",)),
    Rule("step_time", ("step_time_s",)),
    Rule("unix_time", ("date_time_iso_string",), kind="datetime"),
    Rule("voltage", ("voltage_V",)),
    Rule("current", ("current_A",)),
    Rule("cycle", ("cycle_index",)),
    Rule("step_index", ("step_index",)),
    Rule("charge_capacity", ("charge_capacity_Ah",)),
    Rule("discharge_capacity", ("discharge_capacity_Ah",)),
    Rule("charge_energy", ("charge_energy_Wh",)),
    Rule("discharge_energy", ("discharge_energy_Wh",)),
    Rule("cell_temperature", ("temperature_1_C",)),
]


def _is_header(line: str) -> bool:
    return line.startswith("channel_index,cycle_index,step_index") or (
        "test_time_s" in line and "voltage_V" in line and "current_A" in line
    )


class LandtExtractor(TableExtractor):
    """Landt CSV exports (header block with 'cell model:' etc.)."""

    name = "landt"
    label = "Landt cycler CSV"
    format_name = "Landt cycler CSV export"
    suffixes = (".csv",)

    def sniff(self, path: Path, head: bytes) -> float:
        text = head[:8192].decode("latin-1")
        lines = text.splitlines()
        if find_line(lines, _is_header, 60) is not None:
            return 0.9 if text.startswith("cell model:") else 0.7
        return 0.0

    def read(self, path: Path) -> Parsed:
        lines = head_text(path).splitlines()
        idx = find_line(lines, _is_header, 200)
        if idx is None:
            raise UnsupportedFile("Landt export: no 'channel_index,cycle_index,...' header found")
        header = {}
        for line in lines[:idx]:
            key, _, rest = line.partition(":")
            if key.strip():
                header[key.strip()] = rest.strip(", ").strip()
        frame = read_frame(path, skiprows=idx, sep=",")
        table = apply_rules(frame, RULES)
        return Parsed(
            table=table,
            technique="battery cycling",
            fields={"instrument": "Landt", "software": Software(name="LANDdt")},
            extra={k: v for k, v in header.items() if v}
            | {"columns_in_file": [str(c) for c in frame.columns]},
        )
