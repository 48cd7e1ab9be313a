"""HDF5 containers: plain HDF5, NetCDF4, NeXus, PyTables/pandas stores (cellpy, BEEP, battdat).

A container says little by itself, so the summary is structural (groups, datasets with shape,
dtype and units, root attributes) plus what its conventions add: the NeXus application
definition and default NXdata plot, the NetCDF variables and their units, pandas column names.
Datasets are never read whole: previews read a strided slice, so memory stays bounded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from databahn.extractors._common import series, technique_iri
from databahn.extractors.base import ExtractionResult, Extractor, Quantity, Series, Software, UnsupportedFile

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAX_LISTED = 200
MAX_VISITED = 50_000
#: NeXus application definition -> technique label known to `technique_iri`
NEXUS_TECHNIQUES = {"NXxrd": "XRD", "NXxrd_pan": "XRD", "NXxas": "XAS", "NXxas_new": "XAS"}


def hdf5_offset(head: bytes) -> int | None:
    """Byte offset of the HDF5 superblock (0, or after a 512·2^k user block as in MATLAB 7.3)."""
    for off in (0, 512, 1024, 2048, 4096, 8192, 16384, 32768):
        if head[off : off + 8] == HDF5_MAGIC:
            return off
    return None


def _text(v: Any, limit: int = 300) -> Any:
    """Attribute value as JSON-friendly data, long strings cut."""
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        if v.size > 20:
            return f"<array {v.shape} {v.dtype}>"
        v = [_text(x, limit) for x in v.tolist()]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, str) and len(v) > limit:
        return v[:limit] + "…"
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    if isinstance(v, list):
        return v
    return str(v)[:limit]


def _preview_1d(ds: Any, n: int = 2000) -> np.ndarray:
    """Read at most ~n evenly spaced values of a 1-D (or 1xN) numeric dataset."""
    shape = ds.shape
    if len(shape) == 2 and 1 in shape:
        length = max(shape)
        step = max(1, length // n)
        data = ds[0, ::step] if shape[0] == 1 else ds[::step, 0]
    else:
        step = max(1, shape[0] // n)
        data = ds[::step]
    return np.asarray(data, dtype=float)


class Hdf5Extractor(Extractor):
    """HDF5, NetCDF4 and NeXus files (via h5py, BSD)."""

    name = "hdf5"
    label = "HDF5 / NetCDF-4 / NeXus"
    suffixes = (".h5", ".hdf5", ".hdf", ".he5", ".nc", ".nc4", ".nxs", ".nx5", ".cdf")

    def sniff(self, path: Path, head: bytes) -> float:
        off = hdf5_offset(head)
        if off is None:
            if head.startswith(b"CDF\x01") or head.startswith(b"CDF\x02"):
                return 0.8  # classic NetCDF-3, read with scipy
            return 0.0
        if off > 0 and head.startswith(b"MATLAB 7.3"):
            return 0.3  # the MATLAB extractor knows these better
        return 0.9

    def extract(self, path: Path) -> ExtractionResult:
        with open(path, "rb") as fh:
            head = fh.read(65536)
        if head.startswith((b"CDF\x01", b"CDF\x02")):
            return _netcdf3(path, self.name)
        if hdf5_offset(head) is None:
            raise UnsupportedFile("could not read: no HDF5 signature (not an HDF5/NetCDF4/NeXus file)")
        import h5py

        try:
            with h5py.File(path, "r") as h5:
                return summarise(h5, self.name, head)
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            raise UnsupportedFile(f"could not read: HDF5 structure is corrupt or truncated ({exc})") from exc


def summarise(h5: Any, extractor: str, head: bytes = b"", fmt: str | None = None) -> ExtractionResult:
    """Structural summary of an open h5py.File, shared with the MATLAB 7.3 reader."""
    import h5py

    root_attrs = {k: _text(v) for k, v in list(h5.attrs.items())[:40]}
    datasets: list[dict[str, Any]] = []
    groups = 0
    n_ds = 0
    nx_entries: list[str] = []
    nx_definitions: list[str] = []
    nx_data: list[str] = []
    netcdf = "_NCProperties" in h5.attrs
    pandas_tables: dict[str, list[str]] = {}
    quantities: list[Quantity] = []
    visited = 0

    def visit(name: str, obj: Any) -> None:
        nonlocal groups, n_ds, netcdf, visited
        visited += 1
        if visited > MAX_VISITED:
            raise UnsupportedFile(f"could not read: more than {MAX_VISITED} objects in the HDF5 file")
        nxc = _text(obj.attrs.get("NX_class")) if "NX_class" in obj.attrs else None
        if isinstance(obj, h5py.Group):
            groups += 1
            if nxc == "NXentry":
                nx_entries.append(name)
                if "definition" in obj:
                    d = obj["definition"][()]
                    nx_definitions.append(_text(d))
            elif nxc == "NXdata":
                nx_data.append(name)
            keys = set(obj.keys())
            if "axis0" in keys and any(k.endswith("_items") for k in keys):
                cols: list[str] = []
                for k in sorted(k for k in keys if re.fullmatch(r"block\d+_items", k)):
                    cols.extend(str(_text(c)) for c in obj[k][()][:500])
                pandas_tables[name] = cols
            return
        n_ds += 1
        if "_Netcdf4Dimid" in obj.attrs or "DIMENSION_LIST" in obj.attrs:
            netcdf = netcdf or "_Netcdf4Dimid" in obj.attrs
        units = obj.attrs.get("units")
        entry: dict[str, Any] = {"path": name, "shape": list(obj.shape), "dtype": str(obj.dtype)}
        if units is not None:
            entry["units"] = _text(units)
        if obj.dtype.names:
            entry["fields"] = list(obj.dtype.names)[:100]
        if len(datasets) < MAX_LISTED:
            datasets.append(entry)
        if units is not None and obj.dtype.kind in "fiu" and obj.size > 1 and len(quantities) < 100:
            quantities.append(
                Quantity(iri=None, name=name.rsplit("/", 1)[-1], unit=str(_text(units)), source_name=name)
            )

    h5.visititems(visit)
    if n_ds == 0 and groups == 0:
        raise UnsupportedFile("could not read: the HDF5 file is empty (no groups or datasets)")
    flavour = fmt or _flavour(root_attrs, nx_entries, netcdf, pandas_tables, h5)
    previews = _previews(h5, nx_data, datasets)
    technique = None
    for d in nx_definitions:
        technique = NEXUS_TECHNIQUES.get(str(d)) or technique
    raw_meta = h5.attrs.get("original_metadata")
    meta = raw_meta.decode("utf-8", "replace") if isinstance(raw_meta, bytes) else raw_meta
    if technique is None:
        technique = _yadg_technique(root_attrs, meta)
    software = None
    if "creator" in root_attrs:
        software = Software(
            name=str(root_attrs["creator"]), version=str(root_attrs.get("creator_version") or "") or None
        )
    elif "yadg_version" in root_attrs:
        software = Software(name="yadg", version=str(root_attrs["yadg_version"]))
    elif "battdat_version" in root_attrs:
        software = Software(name="battery-data-toolkit", version=str(root_attrs["battdat_version"]))
    elif "PYTABLES_FORMAT_VERSION" in root_attrs:
        software = Software(name="PyTables", version=str(root_attrs["PYTABLES_FORMAT_VERSION"]))
    archive = {
        "groups": groups,
        "datasets": n_ds,
        "listed": datasets,
        "truncated_listing": n_ds > len(datasets),
    }
    extra: dict[str, Any] = {
        "root_attributes": {k: v for k, v in root_attrs.items() if k != "original_metadata"}
    }
    if isinstance(meta, str):
        extra["original_metadata"] = _try_json(meta)
    if nx_entries:
        extra["nexus"] = {"entries": nx_entries, "definitions": nx_definitions, "nxdata": nx_data}
    if pandas_tables:
        extra["pandas_tables"] = pandas_tables
    return ExtractionResult(
        provenance=None,
        extractor=extractor,
        format=flavour,
        media_type="application/x-hdf5",
        technique=technique,
        technique_iri=technique_iri(technique) if technique else None,
        software=software,
        open_format=True,
        quantities=quantities,
        n_points=max((int(np.prod(d["shape"])) for d in datasets if d["shape"]), default=None),
        previews=previews,
        archive=archive,
        extra=extra,
    )


#: yadg records the source technique (EC-Lab short codes) or the source file type
YADG_TECHNIQUES = {
    "CP": "chronopotentiometry",
    "CA": "chronoamperometry",
    "CV": "cyclic voltammetry",
    "LSV": "linear sweep voltammetry",
    "GCPL": "galvanostatic cycling",
    "PEIS": "electrochemical impedance spectroscopy",
    "GEIS": "electrochemical impedance spectroscopy",
    "OCV": "open circuit voltage",
    "MB": "battery cycling",
}


def _yadg_technique(attrs: dict[str, Any], meta: Any) -> str | None:
    """Technique of a yadg NetCDF: from the source file type, or the EC-Lab technique it recorded."""
    ftype = str(attrs.get("yadg_extract_Extractor") or "")
    if re.search(r'"filetype":\s*"(panalytical|rigaku|bruker|xrd)', ftype, re.I):
        return "XRD"
    if isinstance(meta, str):
        m = re.search(r'"technique":\s*"([^"]+)"', meta)
        if m:
            return YADG_TECHNIQUES.get(m.group(1).upper(), "XRD" if m.group(1).upper() == "XRD" else None)
    return None


def _try_json(s: str) -> Any:
    try:
        obj = json.loads(s)
    except ValueError:
        return s[:2000]
    text = json.dumps(obj)
    return obj if len(text) < 20_000 else text[:2000] + "…"


def _flavour(
    attrs: dict[str, Any], nx_entries: list[str], netcdf: bool, tables: dict[str, list[str]], h5: Any
) -> str:
    if nx_entries or attrs.get("NX_class") == "NXroot":
        return "NeXus (HDF5)"
    if netcdf:
        return "NetCDF-4 (HDF5)"
    if "battdat_version" in attrs:
        return "battery-data-toolkit HDF5"
    if "CellpyData" in h5:
        return "cellpy HDF5 (PyTables)"
    if tables or "PYTABLES_FORMAT_VERSION" in attrs:
        return "PyTables / pandas HDF5 store"
    return "HDF5"


def _previews(h5: Any, nx_data: list[str], datasets: list[dict[str, Any]]) -> list[Series]:
    out: list[Series] = []
    for g in nx_data[:3]:
        grp = h5[g]
        sig = _text(grp.attrs.get("signal"))
        axes = _text(grp.attrs.get("axes"))
        ax = axes[0] if isinstance(axes, list) else axes
        if isinstance(sig, str) and isinstance(ax, str) and sig in grp and ax in grp:
            y, x = grp[sig], grp[ax]
            if y.ndim == 1 and x.ndim == 1 and y.dtype.kind in "fiu" and x.dtype.kind in "fiu":
                out.append(
                    series(
                        f"{g}: {sig} vs {ax}",
                        ax,
                        _unit(x),
                        sig,
                        _unit(y),
                        _preview_1d(x),
                        _preview_1d(y),
                    )
                )
    if out:
        return out
    # NetCDF / plain HDF5: a 1-D variable against its dimension scale, else against the index
    for d in datasets:
        ds = h5[d["path"]]
        if ds.dtype.kind not in "fiu" or ds.size < 2 or ds.attrs.get("CLASS") == b"DIMENSION_SCALE":
            continue
        if re.fullmatch(r"axis\d+", d["path"].rsplit("/", 1)[-1]):  # pandas row/column index
            continue
        if not (ds.ndim == 1 or (ds.ndim == 2 and 1 in ds.shape)):
            continue
        y = _preview_1d(ds)
        x_name, x_unit, x = "index", None, np.linspace(0, max(ds.shape) - 1, len(y))
        try:
            dims = ds.dims[ds.ndim - 1]
            if len(dims):
                scale = dims[0]
                if scale.size == max(ds.shape) and scale.dtype.kind in "fiu":
                    x = _preview_1d(scale)
                    x_name, x_unit = scale.name.rsplit("/", 1)[-1], _unit(scale)
        except (RuntimeError, KeyError, ValueError):
            pass
        out.append(series(d["path"], x_name, x_unit, d["path"].rsplit("/", 1)[-1], _unit(ds), x, y))
        if len(out) >= 3:
            break
    for d in datasets:
        if len(out) >= 3 or not d.get("fields"):
            continue
        ds = h5[d["path"]]
        names = [n for n in ds.dtype.names if ds.dtype[n].kind in "fiu"]
        xname = next((n for n in names if "time" in n.lower()), None)
        for yname in [n for n in names if n != xname][:2]:
            step = max(1, ds.shape[0] // 2000) if ds.ndim == 1 else 1
            part = ds[::step] if ds.ndim == 1 else ds[()]
            x = part[xname] if xname else np.arange(len(part))
            out.append(series(f"{d['path']}: {yname}", xname or "index", None, yname, None, x, part[yname]))
    return out


def _unit(ds: Any) -> str | None:
    u = ds.attrs.get("units")
    return str(_text(u)) if u is not None else None


def _netcdf3(path: Path, extractor: str) -> ExtractionResult:
    """Classic NetCDF-3 (CDF1/CDF2) via scipy.io.netcdf_file, memory-mapped so nothing is loaded whole."""
    from scipy.io import netcdf_file

    try:
        nc = netcdf_file(str(path), "r", mmap=True)
    except Exception as exc:  # scipy raises TypeError/ValueError/OSError on corrupt headers
        raise UnsupportedFile(f"could not read NetCDF-3 file: {exc}") from exc
    try:
        variables, quantities, previews = _netcdf3_scan(nc)
        attrs = {k: _text(v) for k, v in list(nc._attributes.items())[:40]}
        dims = dict(nc.dimensions)
    finally:
        nc.close()
    return ExtractionResult(
        technique=None,
        technique_iri=None,
        provenance=None,
        extractor=extractor,
        format="NetCDF-3 (classic)",
        media_type="application/x-netcdf",
        open_format=True,
        quantities=quantities,
        n_points=max((int(np.prod(v["shape"])) for v in variables if v["shape"]), default=None),
        previews=previews,
        archive={"datasets": len(variables), "listed": variables, "dimensions": dims},
        extra={"root_attributes": attrs},
    )


def _netcdf3_scan(nc: Any) -> tuple[list[dict[str, Any]], list[Quantity], list[Series]]:
    """Variables, quantities and previews; copies what it keeps so the memory map can be closed."""
    variables: list[dict[str, Any]] = []
    quantities: list[Quantity] = []
    previews: list[Series] = []
    for name, var in list(nc.variables.items())[:MAX_LISTED]:
        units = _text(var._attributes.get("units"))
        variables.append(
            {"path": name, "shape": list(var.shape), "dtype": str(var.data.dtype), "units": units}
        )
        if var.data.dtype.kind not in "fiu" or var.data.size < 2:
            continue
        quantities.append(Quantity(iri=None, name=name, unit=units, source_name=name))
        if var.data.ndim != 1 or len(previews) >= 3 or name in nc.dimensions:
            continue
        dim = var.dimensions[0]
        xv = nc.variables.get(dim)
        step = max(1, var.data.shape[0] // 2000)
        y = np.array(var.data[::step], dtype=float)
        if xv is not None and xv.data.shape == var.data.shape and xv.data.dtype.kind in "fiu":
            x, xu = np.array(xv.data[::step], dtype=float), _text(xv._attributes.get("units"))
        else:
            x, xu, dim = np.arange(len(y), dtype=float) * step, None, "index"
        previews.append(series(name, dim, xu, name, units, x, y))
    return variables, quantities, previews
