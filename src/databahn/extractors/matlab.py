"""MATLAB .mat files: v4/v5/v7 through scipy.io (BSD), v7.3 (HDF5 inside) through h5py.

The variable table (name, shape, class) comes from `whosmat`, which reads headers only; values are
loaded only when the file is small, to give a preview of vector variables (e.g. a PyBaMM
solution's 'Time [h]' and 'Terminal voltage [V]'). Units written as 'name [unit]' are split out.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import numpy as np

from databahn.extractors._common import quantity, series
from databahn.extractors.base import ExtractionResult, Extractor, Quantity, Series, Software, UnsupportedFile

#: load values for previews only below this size
MAX_LOAD_BYTES = 64 * 1024**2
_UNIT = re.compile(r"^(.*?)\s*\[([^\]]+)\]\s*$")


def _split_unit(name: str) -> tuple[str, str | None]:
    m = _UNIT.match(name)
    return (m.group(1), m.group(2)) if m else (name, None)


def _header_info(head: bytes) -> dict[str, Any]:
    text = head[:116].decode("latin-1").rstrip("\x00 ")
    out: dict[str, Any] = {"header": text}
    m = re.search(r"Platform:\s*([^,]+)", text)
    if m:
        out["platform"] = m.group(1).strip()
    m = re.search(r"Created on:\s*(.+)$", text)
    if m:
        try:
            out["created"] = dt.datetime.strptime(m.group(1).strip(), "%a %b %d %H:%M:%S %Y")
        except ValueError:
            out["created_text"] = m.group(1).strip()
    return out


class MatlabExtractor(Extractor):
    """MATLAB MAT-files, all versions."""

    name = "matlab"
    label = "MATLAB MAT-file"
    suffixes = (".mat",)

    def sniff(self, path: Path, head: bytes) -> float:
        if head.startswith(b"MATLAB 7.3 MAT-file"):
            return 0.95
        if head.startswith(b"MATLAB 5.0 MAT-file"):
            return 0.95
        if path.suffix.lower() == ".mat" and len(head) >= 20:
            # v4 files have no text header: a small binary type code then rows, cols, imagf, namelen
            mopt, rows, cols, imagf, namlen = np.frombuffer(head[:20], dtype="<i4")
            if 0 <= mopt < 5000 and rows >= 0 and cols >= 0 and imagf in (0, 1) and 0 < namlen < 64:
                return 0.5
        return 0.0

    def extract(self, path: Path) -> ExtractionResult:
        with open(path, "rb") as fh:
            head = fh.read(65536)
        if head.startswith(b"MATLAB 7.3 MAT-file"):
            return self._v73(path, head)
        return self._v5(path, head)

    def _v5(self, path: Path, head: bytes) -> ExtractionResult:
        import scipy.io

        try:
            table = scipy.io.whosmat(str(path))
        except Exception as exc:
            raise UnsupportedFile(f"could not read MAT-file: {exc.__class__.__name__}: {exc}") from exc
        if not table:
            raise UnsupportedFile("could not read: the MAT-file has no variables")
        info: dict[str, Any] = _header_info(head) if head.startswith(b"MATLAB") else {"header": "MATLAB v4"}
        variables = [{"name": n, "shape": list(s), "class": c} for n, s, c in table[:500]]
        quantities: list[Quantity] = []
        previews: list[Series] = []
        if path.stat().st_size <= MAX_LOAD_BYTES:
            try:
                data = scipy.io.loadmat(str(path), squeeze_me=True)
            except Exception as exc:
                raise UnsupportedFile(
                    f"could not read MAT-file values: {exc.__class__.__name__}: {exc}"
                ) from exc
            quantities, previews = _vectors({k: v for k, v in data.items() if not k.startswith("__")})
        version = (
            "7.3" if head.startswith(b"MATLAB 7.3") else ("5.0" if head.startswith(b"MATLAB 5.0") else "4")
        )
        sw = re.search(r"(PyBaMM|Octave|SciPy|MATLAB)", info.get("header", ""), re.I)
        return ExtractionResult(
            technique=None,
            technique_iri=None,
            provenance=None,
            extractor=self.name,
            format=f"MATLAB MAT-file v{version}",
            media_type="application/x-matlab-data",
            software=Software(name=sw.group(1)) if sw else None,
            open_format=True,
            start_time=info.get("created"),
            quantities=quantities,
            n_points=max((int(np.prod(v["shape"])) for v in variables if v["shape"]), default=None),
            previews=previews,
            archive={"variables": variables, "n_variables": len(table)},
            extra={k: v for k, v in info.items() if k != "created"},
        )

    def _v73(self, path: Path, head: bytes) -> ExtractionResult:
        import h5py

        from databahn.extractors.hdf5 import summarise

        info = _header_info(head)
        try:
            with h5py.File(path, "r") as h5:
                res = summarise(h5, self.name, head, fmt="MATLAB MAT-file v7.3 (HDF5)")
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            raise UnsupportedFile(
                f"could not read: HDF5 layer of the v7.3 MAT-file is broken ({exc})"
            ) from exc
        res.media_type = "application/x-matlab-data"
        res.start_time = info.get("created")
        res.extra.update({k: v for k, v in info.items() if k != "created"})
        return res


def _vectors(data: dict[str, Any]) -> tuple[list[Quantity], list[Series]]:
    """Quantities for numeric variables; previews of vectors against a 'time'-like vector."""
    vecs: dict[str, np.ndarray] = {}
    quantities: list[Quantity] = []
    for name, val in data.items():
        arr = np.asarray(val)
        if arr.dtype.kind not in "fiu" or arr.size == 0:
            continue
        base, unit = _split_unit(name)
        quantities.append(quantity(base, unit, arr.ravel(), source_name=name))
        if arr.ndim == 1 and arr.size > 1:
            vecs[name] = arr.astype(float)
    previews: list[Series] = []
    xname = next((n for n in vecs if "time" in n.lower()), None)
    for yname, y in vecs.items():
        if yname == xname or len(previews) >= 4:
            continue
        x = vecs[xname] if xname and len(vecs[xname]) == len(y) else np.arange(len(y), dtype=float)
        xb, xu = _split_unit(xname) if xname and len(vecs[xname]) == len(y) else ("index", None)
        yb, yu = _split_unit(yname)
        previews.append(series(yname, xb, xu, yb, yu, x, y))
    return quantities, previews
