"""Helpers shared by the structure, diffraction, absorption and container extractors.

Kept private so each extractor module stays small: technique IRIs (from `terms.py`), preview
downsampling, bounded text reading, numeric column blocks, defused XML (via `safety.py`), the tidy
table writer for non-electrochemical columns, and the ase.Atoms -> Structure mapping.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import math
import re
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from databahn.extractors.base import QualityFlag, Quantity, Series, Structure, UnsupportedFile

MAX_PREVIEW = 300
#: Refuse to load more numeric rows than this into memory (about 80 MB for 2 float64 columns).
MAX_ROWS = 5_000_000


def technique_iri(label: str) -> str | None:
    """IRI for a technique label such as 'XRD' or 'DFT simulation' (the shared `terms` table)."""
    from databahn.extractors import terms

    return terms.technique_iri(label)


def downsample(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, n: int = MAX_PREVIEW
) -> tuple[list[float], list[float]]:
    """Pick at most n evenly spaced points (keeping both ends) and drop non-finite pairs."""
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    m = min(len(xa), len(ya))
    if m == 0:
        return [], []
    idx = np.unique(np.linspace(0, m - 1, num=min(n, m)).round().astype(int))
    xs, ys = xa[idx], ya[idx]
    ok = np.isfinite(xs) & np.isfinite(ys)
    return [float(v) for v in xs[ok]], [float(v) for v in ys[ok]]


def series(
    title: str, x_name: str, x_unit: str | None, y_name: str, y_unit: str | None, x: Any, y: Any
) -> Series:
    xs, ys = downsample(x, y)
    return Series(title=title, x_name=x_name, x_unit=x_unit, y_name=y_name, y_unit=y_unit, x=xs, y=ys)


def energy_previews(energies: list[float]) -> list[Series]:
    """The usual preview of a simulation: total energy per ionic step (nothing for a single point)."""
    if len(energies) < 2:
        return []
    return [
        series("energy per ionic step", "ionic step", None, "energy", "eV", range(len(energies)), energies)
    ]


def quantity(name: str, unit: str | None, values: Any, source_name: str | None = None) -> Quantity:
    arr = np.asarray(values, dtype=float)
    fin = arr[np.isfinite(arr)] if arr.size else arr
    return Quantity(
        iri=None,
        name=name,
        unit=unit,
        source_name=source_name,
        minimum=float(fin.min()) if fin.size else None,
        maximum=float(fin.max()) if fin.size else None,
    )


def open_maybe_compressed(path: Path) -> IO[bytes]:
    """Open a file, transparently decompressing .gz/.bz2/.xz (by magic bytes, not by name)."""
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if magic[:3] == b"BZh":
        return bz2.open(path, "rb")
    if magic[:6] == b"\xfd7zXZ\x00":
        return lzma.open(path, "rb")
    return open(path, "rb")


def read_head(path: Path, n: int = 65536) -> bytes:
    """First n (decompressed) bytes; a corrupt compressed stream becomes a clear UnsupportedFile."""
    try:
        with open_maybe_compressed(path) as fh:
            return fh.read(n)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise UnsupportedFile(f"could not read: compressed stream is corrupt or truncated ({exc})") from exc


def read_text(path: Path, limit: int = 64 * 1024 * 1024) -> str:
    """Read (possibly compressed) text, refusing more than `limit` bytes so memory stays bounded."""
    with open_maybe_compressed(path) as fh:
        try:
            data = fh.read(limit + 1)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise UnsupportedFile(
                f"could not read: compressed stream is corrupt or truncated ({exc})"
            ) from exc
    if len(data) > limit:
        raise UnsupportedFile(
            f"could not read: text larger than {limit // (1024 * 1024)} MiB; split it or upload the raw file"
        )
    if b"\x00" in data[:4096]:
        raise UnsupportedFile("could not read: binary content where text was expected")
    return data.decode("utf-8", errors="replace")


def iter_text_lines(path: Path) -> Iterator[str]:
    """Stream the lines of a (possibly compressed) text file without loading it whole."""
    with open_maybe_compressed(path) as raw:
        yield from io.TextIOWrapper(raw, encoding="utf-8", errors="replace")


_NUM = re.compile(
    r"^[\s,;]*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?([\s,;]+[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)*[\s,;]*$"
)


def is_numeric_line(line: str) -> bool:
    return bool(_NUM.match(line)) if line.strip() else False


def numeric_block(lines: Sequence[str] | Iterator[str], min_cols: int = 2) -> tuple[np.ndarray, list[str]]:
    """Parse the numeric rows of a column text file; return (array rows x cols, header/comment lines).

    Header lines are everything non-numeric before the data; rows with a different column count than
    the first data row are skipped. Rows are packed into numpy chunks as they come, so a large file
    costs 8 bytes per value rather than a Python float object each."""
    header: list[str] = []
    chunks: list[np.ndarray] = []
    rows: list[list[float]] = []
    n = 0
    ncols = 0
    for line in lines:
        s = line.strip()
        if not s:
            continue
        if is_numeric_line(s):
            vals = [float(v) for v in re.split(r"[\s,;]+", s.strip(" ,;"))]
            if not ncols:
                ncols = len(vals)
            if len(vals) == ncols:
                rows.append(vals)
                n += 1
                if len(rows) >= 65536:
                    chunks.append(np.asarray(rows, dtype=float))
                    rows = []
                if n > MAX_ROWS:
                    raise UnsupportedFile(f"could not read: more than {MAX_ROWS} data rows")
        elif not n:
            header.append(line.rstrip("\n"))
    if rows:
        chunks.append(np.asarray(rows, dtype=float))
    if not n or ncols < min_cols:
        raise UnsupportedFile(f"could not read: no numeric table with at least {min_cols} columns found")
    return np.concatenate(chunks), header


def plausibility(x: np.ndarray, y: np.ndarray, x_name: str) -> list[QualityFlag]:
    """Generic checks on a measured curve: NaNs, monotonic x, negative/flat signal."""
    flags: list[QualityFlag] = []
    if x.size == 0:
        return [QualityFlag(code="empty", severity="error", message="no data points")]
    nan = float(np.mean(~np.isfinite(y)))
    if nan > 0:
        flags.append(
            QualityFlag(
                severity="warning", code="nan_fraction", message=f"{nan:.1%} of intensity values are NaN/inf"
            )
        )
    dx = np.diff(x)
    if dx.size and not (np.all(dx > 0) or np.all(dx < 0)):
        flags.append(
            QualityFlag(
                severity="warning",
                code=f"{x_name}_not_monotonic",
                message=f"{x_name} is not strictly monotonic",
            )
        )
    fin = y[np.isfinite(y)]
    if fin.size and float(np.ptp(fin)) == 0.0:
        flags.append(QualityFlag(severity="warning", code="flat_signal", message="the signal is constant"))
    return flags


def parse_xml(data: bytes) -> Any:
    """Parse untrusted XML with entity expansion and external references refused (see safety.py)."""
    from databahn.extractors.safety import parse_xml_bytes

    return parse_xml_bytes(data)


def local(tag: str) -> str:
    """Tag name without its '{namespace}'."""
    return tag.rsplit("}", 1)[-1]


def write_tidy(
    source: Path,
    out_dir: Path,
    columns: dict[str, tuple[str | None, np.ndarray]],
    *,
    extractor: str,
    meta: dict[str, Any] | None = None,
) -> list[Path]:
    """Write `<source>.tidy.csv` and `.tidy.parquet`: one column per quantity, `quantity_unit` names.

    Same layout and provenance metadata as `tidy.write_tidy` (which is tied to the electrochemistry
    columns): the Parquet schema records per column its unit, and the source file's name and sha256."""
    import json

    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from databahn.extractors.tidy import file_sha256

    n = min((len(v[1]) for v in columns.values()), default=0)
    if n == 0:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    fields = [
        pa.field(name, pa.float64(), metadata={"unit": unit or ""}) for name, (unit, _) in columns.items()
    ]
    provenance = {
        "derived_from": source.name,
        "source_sha256": file_sha256(source),
        "extractor": extractor,
        **(meta or {}),
    }
    schema = pa.schema(fields, metadata={"databahn.provenance": json.dumps(provenance, default=str)})
    arrays = [pa.array(np.asarray(v, dtype=float)[:n], from_pandas=True) for _, v in columns.values()]
    table = pa.Table.from_arrays(arrays, schema=schema)
    csv_path = out_dir / f"{source.name}.tidy.csv"
    pq_path = out_dir / f"{source.name}.tidy.parquet"
    pacsv.write_csv(table, csv_path, pacsv.WriteOptions(quoting_style="none"))
    pq.write_table(table, pq_path, compression="zstd")
    return [csv_path, pq_path]


def ase_module(name: str = "ase.io") -> Any:
    """Import an ASE module, or say clearly that the optional reader is missing."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise UnsupportedFile(
            "could not read: structure files need the 'ase' package (pip install ase); it is not installed"
        ) from exc


def structure_from_atoms(
    atoms: Any, engine: str | None = None, engine_version: str | None = None
) -> Structure:
    """Convert an ase.Atoms into the hub's Structure (formula, lattice, sites, energy if attached)."""
    symbols = list(atoms.get_chemical_symbols())
    if not symbols:
        raise UnsupportedFile("could not read: the structure has no atoms")
    pbc = [bool(p) for p in atoms.pbc]
    cell = atoms.cell
    has_cell = bool(cell.rank == 3)
    energy: float | None = None
    calc = getattr(atoms, "calc", None)
    if calc is not None:
        try:
            energy = float(atoms.get_potential_energy())
        except Exception:
            energy = None
    return Structure(
        formula=reduced_hill_formula(symbols),
        elements=sorted(set(symbols)),
        n_sites=len(symbols),
        lattice=[[float(v) for v in row] for row in cell.array] if has_cell else None,
        cell_lengths=[float(v) for v in cell.lengths()] if has_cell else None,
        cell_angles=[float(v) for v in cell.angles()] if has_cell else None,
        volume=float(cell.volume) if has_cell else None,
        species=symbols,
        cartesian_positions=[[float(v) for v in p] for p in atoms.positions],
        pbc=pbc,
        engine=engine,
        engine_version=engine_version,
        energy_ev=energy if energy is not None and math.isfinite(energy) else None,
    )


def structure_checks(s: Structure) -> list[QualityFlag]:
    """Plausibility of a structure: atoms closer than 0.5 Å, or an absurd volume per atom.

    Distances use the minimum-image convention for periodic cells (ASE); skipped above 2000 sites
    to keep the cost bounded."""
    flags: list[QualityFlag] = []
    if s.volume is not None and s.n_sites and any(s.pbc or []):  # a molecule in a box has no density
        vpa = s.volume / s.n_sites
        if not 2.0 <= vpa <= 500.0:
            flags.append(
                QualityFlag(
                    code="implausible_volume",
                    severity="warning",
                    message=f"{vpa:.2f} Å^3 per atom is outside 2-500 Å^3 (wrong units or scale?)",
                )
            )
    if not s.cartesian_positions or len(s.cartesian_positions) < 2 or len(s.cartesian_positions) > 2000:
        return flags
    geometry = ase_module("ase.geometry")
    pos = np.asarray(s.cartesian_positions, dtype=float)
    cell = np.asarray(s.lattice, dtype=float) if s.lattice is not None else None
    pbc = s.pbc if (s.pbc and cell is not None) else False
    _, dist = geometry.get_distances(pos, cell=cell, pbc=pbc)
    np.fill_diagonal(dist, np.inf)
    dmin = float(dist.min())
    if dmin < 0.5:
        flags.append(
            QualityFlag(
                code="overlapping_atoms",
                severity="warning",
                message=f"two atoms are {dmin:.2f} Å apart (less than 0.5 Å)",
            )
        )
    return flags


def reduced_hill_formula(symbols: Sequence[str]) -> str:
    """Reduced Hill formula: C, H first if carbon present, else alphabetical; counts divided by gcd."""
    counts: dict[str, int] = {}
    for s in symbols:
        counts[s] = counts.get(s, 0) + 1
    g = 0
    for c in counts.values():
        g = math.gcd(g, c)
    order = sorted(counts)
    if "C" in counts:
        order = ["C"] + (["H"] if "H" in counts else []) + [e for e in order if e not in ("C", "H")]
    return "".join(f"{e}{counts[e] // g if counts[e] // g > 1 else ''}" for e in order)
