"""Benchmark the ontology engine: cold compile, warm start, term lookup, search and subclass expansion.

    python bench/bench_ontology.py [--source DIR] [--json]

DIR defaults to DATABAHN_ONTOLOGY_DIR, then ../shared/ontology. Takes about 10-20 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from databahn.ontology import Ontology, load_ontology

REPO = Path(__file__).resolve().parents[1]
LOOKUPS = ["Electrode", "negative electrode", "SoC", "CV", "ElectrochemicalImpedanceSpectroscopy", "CoinCell"]
SEARCHES = ["elec", "electrode", "cyclic volt", "xrd", "capacty", "state of charge", "impedance spectroscopy"]
EXPAND = ["Electrode", "Electrolyte", "Quantity", "CharacterisationTechnique", "ElectrochemicalComponent"]


def _timeit(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _row(name: str, times: list[float], note: str = "") -> dict[str, object]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return {
        "benchmark": name,
        "n": len(times),
        "median_ms": round(statistics.median(times) * 1000, 3),
        "p95_ms": round(p95 * 1000, 3),
        "note": note,
    }


def run(source: Path) -> list[dict[str, object]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        start = time.perf_counter()
        onto = load_ontology(source, cache, rebuild=True)
        rows.append(
            _row("cold compile (rdflib parse + index)", [time.perf_counter() - start], f"{len(onto)} terms")
        )

        warm = _timeit(lambda: load_ontology(source, cache), 5)
        rows.append(_row("warm start (in process, from index)", warm))
        code = (
            "import time, sys; t = time.perf_counter(); from pathlib import Path;"
            "from databahn.ontology import load_ontology;"
            f"load_ontology(Path({str(source)!r}), Path({str(cache)!r}));"
            "print(time.perf_counter() - t, 'rdflib' in sys.modules)"
        )
        fresh = []
        for _ in range(3):
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
            seconds, rdflib_loaded = out.split()
            fresh.append(float(seconds))
        rows.append(
            _row("warm start (fresh process, incl. imports)", fresh, f"rdflib imported: {rdflib_loaded}")
        )

        onto = load_ontology(source, cache)
        iris = [onto.resolve(q).iri for q in LOOKUPS]
        rows.append(
            _row("resolve label/synonym", _timeit(lambda: [onto.resolve(q) for q in LOOKUPS], 200), "x6")
        )
        rows.append(_row("term(iri)", _timeit(lambda: [onto.term(i) for i in iris], 200), "x6"))
        fuzzy_build = _timeit(lambda: onto.search("capacty"), 1)
        rows.append(_row("first fuzzy search (builds trigram index)", fuzzy_build))
        for q in SEARCHES:
            rows.append(_row(f"search {q!r}", _timeit(partial(onto.search, q), 100)))
        rows.append(
            _row(
                "suggest (title + file names)",
                _timeit(
                    lambda: onto.suggest(
                        "EIS of graphite negative electrodes in LP30 electrolyte; coin_cell_CV.mpr"
                    ),
                    100,
                ),
            )
        )

        def expand_cold() -> None:
            fresh_onto = Ontology(onto.terms())
            for label in EXPAND:
                fresh_onto.descendants(fresh_onto.resolve(label).iri)

        expand_iris = [onto.resolve(q).iri for q in EXPAND]
        rows.append(_row("descendants, uncached (incl. index build)", _timeit(expand_cold, 3), "x5 roots"))
        rows.append(
            _row(
                "descendants, cached", _timeit(lambda: [onto.descendants(i) for i in expand_iris], 200), "x5"
            )
        )
        sizes = ", ".join(str(len(onto.descendants(i))) for i in expand_iris)
        rows[-1]["note"] = f"x5 roots, sizes {sizes}"
        rows.append(_row("is_a", _timeit(lambda: [onto.is_a(i, expand_iris[0]) for i in iris], 200), "x6"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("DATABAHN_ONTOLOGY_DIR") or str(REPO.parent / "shared" / "ontology")
    parser.add_argument("--source", type=Path, default=Path(default))
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    if not args.source.is_dir():
        sys.exit(f"no ontology at {args.source}; pass --source DIR or set DATABAHN_ONTOLOGY_DIR")
    rows = run(args.source)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'benchmark':48} {'n':>4} {'median ms':>10} {'p95 ms':>10}  note")
    for r in rows:
        print(f"{r['benchmark']!s:48} {r['n']!s:>4} {r['median_ms']!s:>10} {r['p95_ms']!s:>10}  {r['note']}")


if __name__ == "__main__":
    main()
