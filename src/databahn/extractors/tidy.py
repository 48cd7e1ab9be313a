"""The standard tidy table for electrochemistry data, and the checks and summaries built on it.

Every cycler/potentiostat extractor parses its vendor format into a `TidyTable`: numpy columns under
standard names in SI-ish units (s, V, A, Ah, Wh, degC, Hz, Ohm). From there, one shared code path
computes the summary (quantities, points, time span, cycles, capacities), plausibility flags and
previews, and writes the open-format copy. Column names follow the Battery Data Format (BDF,
battery-data-alliance): the CSV/Parquet headers are BDF machine-readable names such as
`test_time_second`, `voltage_volt`, `current_ampere`; their human labels ("Test Time / s") are in
`COLUMNS`. Impedance columns have no BDF name yet; they follow the same `quantity_unit` scheme.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from databahn.extractors.base import ExtractionResult, QualityFlag, Quantity, Series
from databahn.extractors.terms import TERMS, technique_iri

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Column:
    """A standard column: BDF machine name, human label, unit and ontology term."""

    name: str
    bdf: str
    label: str
    unit: str
    term: str | None = None


#: standard name -> column definition. Order is the column order of written tables.
COLUMNS: dict[str, Column] = {
    c.name: c
    for c in [
        Column("test_time", "test_time_second", "Test Time / s", "s", "TestTime"),
        Column("unix_time", "unix_time_second", "Unix Time / s", "s", "Time"),
        Column("voltage", "voltage_volt", "Voltage / V", "V", "Voltage"),
        Column("current", "current_ampere", "Current / A", "A", "ElectricCurrent"),
        Column("cycle", "cycle_count", "Cycle Count / 1", "1"),
        Column("step_index", "step_index", "Step Index / 1", "1"),
        Column("step_time", "step_time_second", "Step Time / s", "s", "StepTime"),
        Column("charge_capacity", "charging_capacity_ah", "Charging Capacity / Ah", "Ah", "ElectricCharge"),
        Column(
            "discharge_capacity",
            "discharging_capacity_ah",
            "Discharging Capacity / Ah",
            "Ah",
            "ElectricCharge",
        ),
        Column("net_capacity", "net_capacity_ah", "Net Capacity / Ah", "Ah", "ElectricCharge"),
        Column("charge_energy", "charging_energy_wh", "Charging Energy / Wh", "Wh", "Energy"),
        Column("discharge_energy", "discharging_energy_wh", "Discharging Energy / Wh", "Wh", "Energy"),
        Column(
            "temperature",
            "ambient_temperature_celsius",
            "Ambient Temperature / degC",
            "degC",
            "CelsiusTemperature",
        ),
        Column(
            "cell_temperature",
            "temperature_t1_celsius",
            "Temperature T1 / degC",
            "degC",
            "CelsiusTemperature",
        ),
        Column(
            "counter_voltage",
            "counter_voltage_volt",
            "Counter Electrode Voltage / V",
            "V",
            "ElectricPotential",
        ),
        Column("frequency", "frequency_hertz", "Frequency / Hz", "Hz", "Frequency"),
        Column("z_real", "impedance_real_ohm", "Re(Z) / Ohm", "Ohm", "ElectricImpedance"),
        Column("z_imag", "impedance_imaginary_ohm", "Im(Z) / Ohm", "Ohm", "ElectricImpedance"),
        Column("z_mod", "impedance_modulus_ohm", "|Z| / Ohm", "Ohm", "ElectricImpedance"),
        Column("z_phase", "impedance_phase_degree", "Phase(Z) / deg", "deg"),
    ]
}
BDF_TO_STD: dict[str, str] = {c.bdf: c.name for c in COLUMNS.values()}
LABEL_TO_STD: dict[str, str] = {c.label.lower(): c.name for c in COLUMNS.values()}

#: plausible physical ranges (standard units); values outside raise an 'out_of_range' warning
RANGES: dict[str, tuple[float, float]] = {
    "voltage": (-100.0, 1000.0),
    "current": (-10_000.0, 10_000.0),
    "temperature": (-90.0, 300.0),
    "cell_temperature": (-90.0, 300.0),
    "frequency": (0.0, 1e9),
    "test_time": (-1.0, 20 * 365 * 86400.0),
}

PREVIEW_POINTS = 500


@dataclass
class TidyTable:
    """Columns in standard names/units plus where each came from (`sources`: std -> file column)."""

    columns: dict[str, FloatArray] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    #: True when unix_time came from the instrument's wall-clock strings (no time zone in the file):
    #: the start time is then reported as a naive local date-time rather than as UTC
    wall_clock: bool = False

    def add(self, std: str, values: Any, source: str | None = None, scale: float = 1.0) -> None:
        if std not in COLUMNS:
            raise KeyError(f"{std!r} is not a standard column ({', '.join(COLUMNS)})")
        arr = np.asarray(values, dtype=np.float64)
        if scale != 1.0:
            arr = arr * scale
        self.columns[std] = arr
        if source is not None:
            self.sources[std] = source

    def get(self, std: str) -> FloatArray | None:
        return self.columns.get(std)

    def __len__(self) -> int:
        return max((len(v) for v in self.columns.values()), default=0)


# ----------------------------------------------------------------------------- numeric helpers


def to_float_array(values: Any, decimal_comma: bool = False) -> FloatArray:
    """Convert strings/objects to floats; unparsable entries become NaN."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64)
    out = np.empty(len(arr), dtype=np.float64)
    for i, v in enumerate(arr):
        try:
            s = str(v).strip()
            out[i] = float(s.replace(",", ".") if decimal_comma else s)
        except ValueError:
            out[i] = np.nan
    return out


def downsample(x: FloatArray, y: FloatArray, n_out: int = PREVIEW_POINTS) -> tuple[FloatArray, FloatArray]:
    """Min/max-per-bucket downsampling to <= n_out points (vectorised; keeps peaks and the ends).

    Plots of cycler data are dominated by extremes (end-of-charge voltages, current steps), which a
    plain stride would drop; taking each bucket's min and max keeps them at numpy speed."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = len(x)
    if n <= n_out or n_out < 4:
        return x, y
    buckets = (n_out - 2) // 2
    size = -(-(n - 2) // buckets)
    inner = y[1 : n - 1]
    pad = size * buckets - len(inner)
    padded = np.concatenate([inner, np.full(pad, inner[-1])]) if pad > 0 else inner
    grid = padded.reshape(buckets, size)
    base = np.arange(buckets) * size + 1
    idx = np.concatenate([[0], base + grid.argmin(axis=1), base + grid.argmax(axis=1), [n - 1]])
    idx = np.unique(np.clip(idx, 0, n - 1))
    return x[idx], y[idx]


def _finite(arr: FloatArray) -> FloatArray:
    return arr[np.isfinite(arr)]


def _span(arr: FloatArray | None) -> float | None:
    if arr is None:
        return None
    f = _finite(arr)
    return float(f.max() - f.min()) if len(f) else None


# ----------------------------------------------------------------------------- summaries


def count_cycles(table: TidyTable) -> int | None:
    """Cycles from the cycle column, else from charge->discharge transitions of the current sign."""
    cyc = table.get("cycle")
    if cyc is not None:
        f = _finite(cyc)
        return len(np.unique(f)) if len(f) else None
    cur = table.get("current")
    if cur is None:
        return None
    f = _finite(cur)
    if len(f) == 0:
        return None
    thr = max(1e-9, 0.01 * float(np.max(np.abs(f))))
    sign = np.sign(np.where(np.abs(f) > thr, f, 0.0))
    sign = sign[sign != 0]
    if len(sign) == 0:
        return 0
    changes = int(np.count_nonzero(np.diff(sign) != 0))
    return changes // 2 + 1


def _charge_increments(table: TidyTable) -> tuple[FloatArray, FloatArray] | None:
    """Per-point charge (Ah) in and out from trapezoidal integration of current over time."""
    t, i = table.get("test_time"), table.get("current")
    if t is None or i is None or len(t) < 2 or len(t) != len(i):
        return None
    ok = np.isfinite(t) & np.isfinite(i)
    t, i = np.where(ok, t, np.nan), np.where(ok, i, 0.0)
    t = _fill_forward(t)
    dt_ = np.diff(t)
    dt_[~np.isfinite(dt_) | (dt_ < 0)] = 0.0  # restarts/backwards time add nothing
    q = np.concatenate([[0.0], 0.5 * (i[1:] + i[:-1]) * dt_ / 3600.0])
    return np.where(q > 0, q, 0.0), np.where(q < 0, -q, 0.0)


def _fill_forward(a: FloatArray) -> FloatArray:
    idx = np.where(np.isfinite(a), np.arange(len(a)), 0)
    np.maximum.accumulate(idx, out=idx)
    return a[idx]


def _per_cycle(cyc: FloatArray, values: FloatArray, how: str) -> FloatArray:
    """Per-cycle max or sum of `values` (cycles in ascending order; NaN cycles ignored); vectorised."""
    ok = np.isfinite(cyc)
    labels, inverse = np.unique(cyc[ok], return_inverse=True)
    vals = values[ok]
    if how == "sum":
        return np.bincount(inverse, weights=np.nan_to_num(vals), minlength=len(labels)).astype(np.float64)
    out = np.full(len(labels), -np.inf)
    np.maximum.at(out, inverse, np.where(np.isfinite(vals), vals, -np.inf))
    return np.where(np.isfinite(out), out, np.nan)


def _summarise_per_cycle(out: dict[str, float], key: str, per: FloatArray) -> None:
    per = per[np.isfinite(per)]
    if len(per):
        out[f"first_cycle_{key}_mAh"] = float(per[0]) * 1000
        out[f"last_cycle_{key}_mAh"] = float(per[-1]) * 1000
        out[f"max_{key}_mAh"] = float(per.max()) * 1000


def capacities(table: TidyTable) -> dict[str, float]:
    """Charge/discharge capacities in mAh.

    From the file's capacity columns (per-cycle maxima) when present; otherwise from integrating
    current over time (per cycle when there is a cycle column, plus totals)."""
    out: dict[str, float] = {}
    cyc = table.get("cycle")
    for key, std in (("charge", "charge_capacity"), ("discharge", "discharge_capacity")):
        cap = table.get(std)
        if cap is None:
            continue
        cap = np.abs(cap)
        if cyc is not None and len(cyc) == len(cap):
            _summarise_per_cycle(out, key, _per_cycle(cyc, cap, "max"))
        else:
            f = _finite(cap)
            if len(f):
                out[f"max_{key}_mAh"] = float(f.max()) * 1000
    if not out:
        inc = _charge_increments(table)
        if inc is not None:
            qin, qout = inc
            out["total_charge_mAh"] = float(qin.sum()) * 1000
            out["total_discharge_mAh"] = float(qout.sum()) * 1000
            if cyc is not None and len(cyc) == len(qin):
                _summarise_per_cycle(out, "charge", _per_cycle(cyc, qin, "sum"))
                _summarise_per_cycle(out, "discharge", _per_cycle(cyc, qout, "sum"))
    return {k: round(v, 6) for k, v in out.items()}


def quality_checks(table: TidyTable, n_expected: int | None = None) -> list[QualityFlag]:
    """Plausibility checks: empty data, NaN fraction, monotonic time, physical ranges, truncation."""
    flags: list[QualityFlag] = []
    n = len(table)
    if n == 0:
        flags.append(
            QualityFlag(code="no_data", severity="error", message="the file contains no data points")
        )
        return flags
    if n_expected is not None and n_expected != n:
        flags.append(
            QualityFlag(
                code="truncated",
                severity="warning",
                message=f"header announces {n_expected} points but {n} were read (file truncated?)",
            )
        )
    for std, arr in table.columns.items():
        nan = int(np.count_nonzero(~np.isfinite(arr)))
        if nan and nan / len(arr) > 0.05:
            flags.append(
                QualityFlag(
                    code="nan_fraction",
                    severity="warning",
                    message=f"{COLUMNS[std].label}: {100 * nan / len(arr):.1f}% missing or non-numeric values",
                )
            )
        lo_hi = RANGES.get(std)
        f = _finite(arr)
        if lo_hi and len(f) and (f.min() < lo_hi[0] or f.max() > lo_hi[1]):
            flags.append(
                QualityFlag(
                    code="out_of_range",
                    severity="warning",
                    message=f"{COLUMNS[std].label} ranges {f.min():.4g}..{f.max():.4g}, outside the plausible "
                    f"{lo_hi[0]:g}..{lo_hi[1]:g} (wrong unit or corrupt values?)",
                )
            )
    t = table.get("test_time")
    if t is not None:
        f = _finite(t)
        if len(f) and f.max() - f.min() > 3 * 365 * 86400:
            flags.append(
                QualityFlag(
                    code="implausible_time_span",
                    severity="warning",
                    message=f"test time spans {(f.max() - f.min()) / 86400 / 365:.1f} years; is the time column "
                    "really in seconds (not ms)?",
                )
            )
        back = int(np.count_nonzero(np.diff(f) < 0))
        if back:
            flags.append(
                QualityFlag(
                    code="time_not_monotonic",
                    severity="warning",
                    message=f"test time goes backwards {back} time(s) (merged or restarted recordings?)",
                )
            )
    return flags


def _preview(table: TidyTable, x: str, y: str, title: str) -> Series | None:
    xa, ya = table.get(x), table.get(y)
    if xa is None or ya is None or len(xa) != len(ya):
        return None
    px, py = downsample(xa, ya)
    if len(px) == 0:
        return None
    return Series(
        title=title,
        x_name=x,
        x_unit=COLUMNS[x].unit,
        y_name=y,
        y_unit=COLUMNS[y].unit,
        x=[float(v) for v in px],
        y=[float(v) for v in py],
    )


def previews(table: TidyTable, technique: str | None) -> list[Series]:
    """Downsampled curves a user would plot first for this technique."""
    plans: list[tuple[str, str, str]]
    tech = (technique or "").lower()
    if "impedance" in tech:
        plans = [
            ("z_real", "z_imag", "Nyquist plot (Im(Z) vs Re(Z))"),
            ("frequency", "z_mod", "|Z| vs frequency"),
        ]
    elif "voltammetry" in tech:
        plans = [("voltage", "current", "current vs voltage"), ("test_time", "voltage", "voltage vs time")]
    else:
        plans = [("test_time", "voltage", "voltage vs time"), ("test_time", "current", "current vs time")]
    out = [s for s in (_preview(table, *p) for p in plans) if s is not None]
    return out


def quantities(table: TidyTable) -> list[Quantity]:
    out = []
    for std, arr in table.columns.items():
        col = COLUMNS[std]
        f = _finite(arr)
        out.append(
            Quantity(
                name=std,
                unit=col.unit,
                source_name=table.sources.get(std),
                iri=TERMS.get(col.term) if col.term else None,
                minimum=float(f.min()) if len(f) else None,
                maximum=float(f.max()) if len(f) else None,
            )
        )
    return out


def guess_technique(table: TidyTable) -> str:
    """Technique from data shape when the file does not say: EIS, cycling, or generic testing."""
    if table.get("frequency") is not None and table.get("z_real") is not None:
        return "electrochemical impedance spectroscopy"
    if table.get("cycle") is not None or table.get("charge_capacity") is not None:
        return "battery cycling"
    cur = table.get("current")
    if cur is not None and (count_cycles(table) or 0) > 1:
        return "battery cycling"
    return "electrochemical testing"


def summarize(
    table: TidyTable,
    *,
    extractor: str,
    format: str,
    technique: str | None = None,
    n_expected: int | None = None,
    **fields: Any,
) -> ExtractionResult:
    """Build an ExtractionResult from a tidy table plus header fields (software, start_time, extra...)."""
    technique = technique or guess_technique(table)
    is_eis = "impedance" in technique
    start = fields.pop("start_time", None)
    if start is None and table.get("unix_time") is not None:
        f = _finite(table.columns["unix_time"])
        if len(f):
            start = dt.datetime.fromtimestamp(float(f[0]), tz=dt.UTC)
            if table.wall_clock:
                start = start.replace(tzinfo=None)
    result = ExtractionResult(
        extractor=extractor,
        format=format,
        technique=technique,
        technique_iri=fields.pop("technique_iri", None) or technique_iri(technique),
        start_time=start,
        quantities=quantities(table),
        n_points=len(table),
        time_span_s=_span(table.get("test_time")),
        cycle_count=None if is_eis else count_cycles(table),
        capacities={} if is_eis else capacities(table),
        quality=quality_checks(table, n_expected),
        previews=previews(table, technique),
        **fields,
    )
    return result


# ----------------------------------------------------------------------------- writing


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def write_tidy(
    table: TidyTable, source: Path, out_dir: Path, *, extractor: str, meta: Mapping[str, Any] | None = None
) -> list[Path]:
    """Write `<source name>.tidy.csv` (BDF column names) and `.tidy.parquet` into out_dir.

    The Parquet schema metadata records the provenance (source file name + sha256, extractor) and,
    per column, the unit and human label, so the derived file stays self-describing."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if len(table) == 0:
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    order = [k for k in COLUMNS if k in table.columns]
    fields = [
        pa.field(
            COLUMNS[k].bdf,
            pa.float64(),
            metadata={"unit": COLUMNS[k].unit, "label": COLUMNS[k].label, "source": table.sources.get(k, "")},
        )
        for k in order
    ]
    provenance = {
        "derived_from": Path(source).name,
        "source_sha256": file_sha256(source),
        "extractor": extractor,
        "standard": "Battery Data Format (machine-readable column names)",
        **(dict(meta) if meta else {}),
    }
    schema = pa.schema(fields, metadata={"databahn.provenance": json.dumps(provenance, default=str)})
    arrow = pa.Table.from_arrays([pa.array(table.columns[k], from_pandas=True) for k in order], schema=schema)
    stem = Path(source).name
    csv_path = out_dir / f"{stem}.tidy.csv"
    pq_path = out_dir / f"{stem}.tidy.parquet"
    with open(csv_path, "wb") as fh:  # BDF headers are plain (unquoted) like the reference files
        fh.write((",".join(COLUMNS[k].bdf for k in order) + "\n").encode())
        pacsv.write_csv(arrow, fh, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    pq.write_table(arrow, pq_path, compression="zstd")
    return [csv_path, pq_path]
