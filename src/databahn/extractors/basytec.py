"""Basytec Battery Test System result-file text export ('~'-prefixed header, tab-separated table)."""

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
    Rule("test_time", ("~Time[s]", "Time[s]", "~Time[h]"), scale=1.0),
    Rule("step_time", ("t-Step[s]",)),
    Rule("voltage", ("U[V]",)),
    Rule("current", ("I[A]",)),
    Rule("cycle", ("Cyc-Count",)),
    Rule("step_index", ("Line",)),
    Rule("temperature", ("T1[°C]", "T1[\ufffdC]", "T1[Â°C]")),
    Rule("charge_capacity", ("Ah-Cyc-Charge-0", "Ah-Cyc-Charge")),
    Rule("discharge_capacity", ("Ah-Cyc-Discharge-0", "Ah-Cyc-Discharge"), scale=-1.0),
    Rule("charge_energy", ("Wh-Cyc-Charge-0", "Wh-Cyc-Charge")),
    Rule("discharge_energy", ("Wh-Cyc-Discharge-0", "Wh-Cyc-Discharge"), scale=-1.0),
]


class BasytecExtractor(TableExtractor):
    """Basytec result files exported as text."""

    name = "basytec"
    label = "Basytec result text export"
    format_name = "Basytec result file (text export)"
    suffixes = (".txt", ".csv", ".dat")
    media_type = "text/tab-separated-values"

    def sniff(self, path: Path, head: bytes) -> float:
        return 1.0 if head.lstrip(b"\xef\xbb\xbf").startswith(b"~Resultfile from Basytec") else 0.0

    def read(self, path: Path) -> Parsed:
        lines = head_text(path).splitlines()
        idx = find_line(lines, lambda s: s.startswith("~") and "\t" in s and "[" in s, 400)
        if idx is None:
            raise UnsupportedFile("Basytec export: no '~Time[s] ...' column header line found")
        frame = read_frame(path, skiprows=idx, sep="\t", encoding="latin-1")
        table = apply_rules(frame, RULES)
        if "test_time" in table.columns and str(table.sources.get("test_time", "")).endswith("[h]"):
            table.columns["test_time"] = table.columns["test_time"] * 3600
        kv = key_values(lines[:idx], ":")
        return Parsed(
            table=table,
            technique="battery cycling",
            fields={
                "instrument": "Basytec " + kv["Testchannel"] if kv.get("Testchannel") else "Basytec",
                "software": Software(name="Basytec BTS"),
                "start_time": parse_start(kv.get("Start of Test"), ("%d.%m.%Y %H:%M:%S",)),
            },
            extra={
                "test_name": kv.get("Name of Test"),
                "battery": kv.get("Battery"),
                "test_plan": kv.get("Testplan"),
                "operator": kv.get("Operator (Test)"),
                "end_of_test": kv.get("End of Test"),
                "columns_in_file": [str(c) for c in frame.columns],
            },
        )
