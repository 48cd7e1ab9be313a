"""Extraction throughput for cycler files: `inspect_file` (the production path) vs the parser alone.

For each file in ../shared/realdata/cycler this measures MB/s through `runner.inspect_file`
(isolated worker, sha256, sniffing, summary, quality checks, previews, result transfer) and through
the underlying parsing call alone (NewareNDA.read, access_parser, pandas.read_csv, openpyxl, or
the hand-written BioLogic/Gamry parser), and reports the ratio. Target (issue 5): overhead <= 1.2x.
The worker is warmed up first, so process start-up is not counted (it happens once per worker).
`ratio1` repeats the measurement with only the matching plugin installed, which shows how much of
the overhead is other plugins' sniffing.

Run: python bench/bench_extraction.py   (about half a minute)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DATABAHN_SHARED", REPO.parent / "shared"))


def _baseline(path: Path, extractor: str) -> Callable[[], Any] | None:
    """The underlying parse of `path` with no hub machinery around it."""
    from databahn.extractors import biologic, gamry, tabular

    if extractor == "biologic":
        return (
            (lambda: biologic.read_mpr(path)) if path.suffix == ".mpr" else (lambda: biologic.read_mpt(path))
        )
    if extractor == "gamry":
        return lambda: gamry.parse_dta(path)
    if extractor == "neware" and path.suffix in (".nda", ".ndax"):
        import NewareNDA

        return lambda: NewareNDA.read(str(path))
    if extractor == "arbin" and path.name.endswith(".res"):
        from access_parser import AccessParser

        return lambda: AccessParser(str(path)).parse_table("Channel_Normal_Table")
    if extractor == "arbin" and path.suffix == ".xlsx":
        import openpyxl

        def read_xlsx() -> int:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
            n = sum(1 for ws in wb.worksheets for _ in ws.iter_rows(values_only=True))
            wb.close()
            return n

        return read_xlsx
    if extractor == "neware":  # multi-level CSV export: all rows as text, as the extractor reads it
        import pandas as pd

        return lambda: pd.read_csv(
            path, skiprows=3, header=None, names=list(range(26)), index_col=False, dtype=str
        )
    # text exports: pandas.read_csv of the data table (header detection is part of our cost)
    from databahn.extractors.registry import get_extractor

    ext = get_extractor(extractor)
    if isinstance(ext, tabular.TableExtractor):
        lines = tabular.head_text(path).splitlines()
        for skip, line in enumerate(lines[:5000]):
            sep = "\t" if line.count("\t") >= 3 else ","
            if line.count(sep) >= 3 and not line.startswith(("[", "~Date")):
                if extractor == "novonix":
                    continue
                return lambda s=skip, d=sep: tabular.read_frame(path, skiprows=s, sep=d)
    return None


def _best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run() -> list[dict[str, Any]]:
    """Measure every cycler file; returns one row per file (MB/s both ways and the ratio)."""
    from importlib.metadata import entry_points

    from databahn.extractors.runner import inspect_file

    specs = {ep.name: ep.value for ep in entry_points(group="databahn.extractors")}

    root = SHARED / "realdata" / "cycler"
    if not root.is_dir():
        raise SystemExit(f"needs {root} (the shared real-data folder beside the repository)")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    inspect_file(files[0])  # warm the worker (interpreter + imports), as in a running hub
    rows: list[dict[str, Any]] = []
    for path in files:
        size_mb = path.stat().st_size / 1e6
        repeat = 3 if size_mb < 1 else 1
        report = inspect_file(path)
        if not report.ok or report.result is None:
            rows.append({"file": path.name, "size_mb": size_mb, "error": report.error})
            continue
        t_hub = _best(lambda p=path: inspect_file(p), repeat)
        # the same with only the matching plugin installed: separates sniffing cost of other plugins
        only = [specs[report.result.extractor]]
        inspect_file(path, extractors=only)  # warm that worker
        t_one = _best(lambda p=path, o=only: inspect_file(p, extractors=o), repeat)
        base = _baseline(path, report.result.extractor)
        t_base = _best(base, repeat) if base else None
        rows.append(
            {
                "file": path.name,
                "extractor": report.result.extractor,
                "size_mb": size_mb,
                "hub_mb_s": size_mb / t_hub,
                "parser_mb_s": size_mb / t_base if t_base else None,
                "ratio": t_hub / t_base if t_base else None,
                "ratio_own_plugin": t_one / t_base if t_base else None,
                "hub_s": t_hub,
                "parser_s": t_base,
            }
        )
    return rows


def main() -> None:
    rows = run()
    print(
        f"{'file':58} {'extractor':10} {'MB':>7} {'hub MB/s':>9} {'lib MB/s':>9} {'ratio':>6} {'ratio1':>6}"
    )
    for r in rows:
        if "error" in r:
            print(f"{r['file'][:58]:58} {'-':10} {r['size_mb']:7.3f}  ERROR {r['error']}")
            continue
        lib = f"{r['parser_mb_s']:9.2f}" if r["parser_mb_s"] else f"{'n/a':>9}"
        ratio = f"{r['ratio']:6.2f}" if r["ratio"] else f"{'n/a':>6}"
        ratio += f" {r['ratio_own_plugin']:6.2f}" if r["ratio_own_plugin"] else f" {'n/a':>6}"
        print(
            f"{r['file'][:58]:58} {r['extractor']:10} {r['size_mb']:7.3f} {r['hub_mb_s']:9.2f} {lib} {ratio}"
        )
    measured = [r for r in rows if r.get("ratio")]
    big = [r for r in measured if r["size_mb"] >= 0.5]
    total_hub = sum(r["hub_s"] for r in measured)
    total_lib = sum(r["parser_s"] for r in measured)
    print(
        f"\nall files: {total_hub:.2f} s through inspect_file vs {total_lib:.2f} s parser alone "
        f"(ratio {total_hub / total_lib:.2f}); median per-file ratio "
        f"{statistics.median(r['ratio'] for r in measured):.2f}"
    )
    if big:
        print(f"files >= 0.5 MB: median ratio {statistics.median(r['ratio'] for r in big):.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
