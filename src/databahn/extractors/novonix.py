"""Novonix HPC/UHPC CSV export ([Summary] / [Protocol] / [Data] sections)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    Rule("test_time", ("Run Time (h)",), scale=3600.0),
    Rule("step_time", ("Step Time (h)",), scale=3600.0),
    Rule("unix_time", ("Date and Time",), kind="datetime"),
    Rule("voltage", ("Potential (V)",)),
    Rule("current", ("Current (A)",)),
    Rule("cycle", ("Cycle Number",)),
    Rule("step_index", ("Step Number",)),
    Rule("net_capacity", ("Capacity (Ah)",)),
    Rule("temperature", ("Temperature (°C)", "Temperature (Â°C)")),
]


class NovonixExtractor(TableExtractor):
    """Novonix high-precision charger CSV files."""

    name = "novonix"
    label = "Novonix HPC CSV"
    format_name = "Novonix HPC CSV export"
    suffixes = (".csv",)

    def sniff(self, path: Path, head: bytes) -> float:
        text = head[:2048].decode("utf-8", errors="replace")
        return 1.0 if text.lstrip("\ufeff").startswith("[Summary]") and "Novonix" in text else 0.0

    def read(self, path: Path) -> Parsed:
        lines = head_text(path, 1 << 20).splitlines()
        idx = find_line(lines, lambda s: s.strip() == "[Data]", 5000)
        if idx is None:
            raise UnsupportedFile("Novonix export: no [Data] section found")
        quoted = lines[idx + 1].strip().startswith('"') if len(lines) > idx + 1 else False
        frame = read_frame(path, skiprows=idx + 1, sep=",", strip_line_quotes=quoted)
        table = apply_rules(frame, RULES)
        summary = key_values(lines[:idx], ":")
        extra: dict[str, Any] = {
            "cell": summary.get("Cell"),
            "channel": summary.get("Channel"),
            "description": summary.get("Description"),
            "nominal_capacity_Ah": summary.get("Capacity (Ah)"),
            "mass_g": summary.get("Mass (g)"),
            "columns_in_file": [str(c) for c in frame.columns],
        }
        p0 = find_line(lines, lambda s: s.strip() == "[Protocol]", idx)
        if p0 is not None and p0 + 1 < idx:
            try:
                proto = json.loads(lines[p0 + 1])
                extra["protocol_steps"] = len(proto.get("ProtocolStepList", []))
            except (json.JSONDecodeError, AttributeError):
                extra["protocol"] = "present (not JSON)"
        version = summary.get("Version")
        return Parsed(
            table=table,
            technique="battery cycling",
            fields={
                "instrument": (lines[1].strip() if len(lines) > 1 else "Novonix"),
                "software": Software(name="Novonix HPC control", version=version),
                "start_time": parse_start(
                    summary.get("Started"), ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %I:%M:%S %p")
                ),
            },
            extra=extra,
        )
