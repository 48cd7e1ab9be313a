"""BioLogic EC-Lab / BT-Lab files: binary .mpr and text .mpt (including German decimal commas).

The .mpr reader is written from the module layout (a magic line, then "MODULE" blocks: settings,
data, log, loop) so that no GPL library is needed. The data module lists column ids; each id has a
fixed binary type. Unknown ids are not guessed blindly: the row size implied by the module length
must match the known types, otherwise the file is reported with the unknown ids named.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from databahn.extractors.base import ExtractionResult, Extractor, Software, UnsupportedFile
from databahn.extractors.tidy import TidyTable, summarize, write_tidy

MPR_MAGIC = b"BIO-LOGIC MODULAR FILE"
MAX_TEXT_BYTES = 2 * 1024**3

# id -> (column name as EC-Lab exports it, numpy dtype). Flag ids (bits of one shared byte) are separate.
MPR_COLUMNS: dict[int, tuple[str, str]] = {
    4: ("time/s", "<f8"),
    5: ("control/V/mA", "<f4"),
    6: ("Ewe/V", "<f4"),
    7: ("dq/mA.h", "<f8"),
    8: ("I/mA", "<f4"),
    9: ("Ece/V", "<f4"),
    11: ("<I>/mA", "<f8"),
    13: ("(Q-Qo)/mA.h", "<f8"),
    16: ("Analog IN 1/V", "<f4"),
    19: ("control/V", "<f4"),
    20: ("control/mA", "<f4"),
    23: ("dQ/mA.h", "<f8"),
    24: ("cycle number", "<f8"),
    26: ("Rapp/Ohm", "<f4"),
    32: ("freq/Hz", "<f4"),
    33: ("|Ewe|/V", "<f4"),
    34: ("|I|/A", "<f4"),
    35: ("Phase(Z)/deg", "<f4"),
    36: ("|Z|/Ohm", "<f4"),
    37: ("Re(Z)/Ohm", "<f4"),
    38: ("-Im(Z)/Ohm", "<f4"),
    39: ("I Range", "<u2"),
    69: ("R/Ohm", "<f4"),
    70: ("P/W", "<f4"),
    74: ("|Energy|/W.h", "<f8"),
    76: ("<I>/mA", "<f4"),
    77: ("<Ewe>/V", "<f4"),
    96: ("|Ece|/V", "<f4"),
    98: ("Phase(Zce)/deg", "<f4"),
    99: ("|Zce|/Ohm", "<f4"),
    100: ("Re(Zce)/Ohm", "<f4"),
    101: ("-Im(Zce)/Ohm", "<f4"),
    123: ("Energy charge/W.h", "<f8"),
    124: ("Energy discharge/W.h", "<f8"),
    125: ("Capacitance charge/uF", "<f8"),
    126: ("Capacitance discharge/uF", "<f8"),
    131: ("Ns", "<u2"),
    169: ("Cs/uF", "<f4"),
    172: ("Cp/uF", "<f4"),
    174: ("<Ewe>/V", "<f4"),
    211: ("Q charge/discharge/mA.h", "<f8"),
    212: ("half cycle", "<u4"),
    430: ("Phase(Zwe-ce)/deg", "<f4"),
    431: ("|Zwe-ce|/Ohm", "<f4"),
    432: ("Re(Zwe-ce)/Ohm", "<f4"),
    433: ("-Im(Zwe-ce)/Ohm", "<f4"),
    434: ("(Q-Qo)/C", "<f4"),
    435: ("dQ/C", "<f4"),
    441: ("<Ecv>/V", "<f4"),
    467: ("Q charge/discharge/mA.h", "<f8"),
    468: ("half cycle", "<u4"),
    471: ("<Ece>/V", "<f4"),
}
FLAG_IDS: dict[int, tuple[str, int]] = {
    1: ("mode", 0x03),
    2: ("ox/red", 0x04),
    3: ("error", 0x08),
    21: ("control changes", 0x10),
    31: ("Ns changes", 0x20),
    65: ("counter inc.", 0x80),
}
# settings-module technique codes, verified against files whose technique is known
MPR_TECHNIQUES: dict[int, str] = {
    0x04: "GCPL",
    0x06: "CV",
    0x0B: "OCV",
    0x18: "CA",
    0x19: "CP",
    0x1D: "PEIS",
    0x1E: "GEIS",
    0x6C: "LSV",
    0x7F: "MB",
}
TECHNIQUE_NAMES: list[tuple[tuple[str, ...], str]] = [
    (("GCPL", "galvanostatic cycling"), "galvanostatic cycling"),
    (("PEIS", "GEIS", "impedance spectroscopy"), "electrochemical impedance spectroscopy"),
    (("CV", "cyclic voltammetry"), "cyclic voltammetry"),
    (("LSV", "linear sweep voltammetry"), "linear sweep voltammetry"),
    (("CA", "chronoamperometry"), "chronoamperometry"),
    (("CP", "chronopotentiometry"), "chronopotentiometry"),
    (("OCV", "open circuit voltage"), "open circuit voltage"),
    (("GITT",), "galvanostatic intermittent titration"),
    (("MB", "modulo bat"), "battery cycling"),
]
LONG_NAMES = {
    "GCPL": "Galvanostatic Cycling with Potential Limitation",
    "PEIS": "Potentio Electrochemical Impedance Spectroscopy",
    "GEIS": "Galvano Electrochemical Impedance Spectroscopy",
    "CV": "Cyclic Voltammetry",
    "LSV": "Linear Sweep Voltammetry",
    "CA": "Chronoamperometry",
    "CP": "Chronopotentiometry",
    "OCV": "Open Circuit Voltage",
    "MB": "Modulo Bat",
}

# EC-Lab column name -> (standard column, scale). First match per standard column wins.
STD_MAP: list[tuple[str, str, float]] = [
    ("time/s", "test_time", 1.0),
    ("__unix_time", "unix_time", 1.0),
    ("Ewe/V", "voltage", 1.0),
    ("Ecell/V", "voltage", 1.0),
    ("<Ewe>/V", "voltage", 1.0),
    ("Ece/V", "counter_voltage", 1.0),
    ("I/mA", "current", 1e-3),
    ("<I>/mA", "current", 1e-3),
    ("cycle number", "cycle", 1.0),
    ("Ns", "step_index", 1.0),
    ("Q charge/mA.h", "charge_capacity", 1e-3),
    ("Q discharge/mA.h", "discharge_capacity", 1e-3),
    ("Energy charge/W.h", "charge_energy", 1.0),
    ("Energy discharge/W.h", "discharge_energy", 1.0),
    ("Temperature/°C", "temperature", 1.0),
    ("freq/Hz", "frequency", 1.0),
    ("Re(Z)/Ohm", "z_real", 1.0),
    ("-Im(Z)/Ohm", "z_imag", -1.0),
    ("|Z|/Ohm", "z_mod", 1.0),
    ("Phase(Z)/deg", "z_phase", 1.0),
]


def technique_label(code_or_title: str) -> str | None:
    text = code_or_title.strip()
    for keys, label in TECHNIQUE_NAMES:
        for k in keys:
            if (k.isupper() and text == k) or (not k.isupper() and k in text.lower()):
                return label
    return None


def to_tidy(cols: dict[str, np.ndarray]) -> TidyTable:
    """Map EC-Lab columns to the standard table (capacity per half cycle when only Q charge/discharge)."""
    table = TidyTable(wall_clock=UNIX_TIME in cols)
    norm = {k.replace("µ", "u").replace("\ufffd", "°"): k for k in cols}
    for src, std, scale in STD_MAP:
        if std in table.columns:
            continue
        key = norm.get(src)
        if key is not None:
            table.add(std, cols[key], key, scale)
    q = norm.get("Q charge/discharge/mA.h")
    if q is not None and "charge_capacity" not in table.columns:
        qa = np.asarray(cols[q], dtype=np.float64) * 1e-3
        table.add("charge_capacity", np.where(qa > 0, qa, 0.0), q)
        table.add("discharge_capacity", np.where(qa < 0, -qa, 0.0), q)
    half = norm.get("half cycle")
    if half is not None and "cycle" not in table.columns:
        table.add("cycle", np.floor(np.asarray(cols[half], dtype=np.float64) / 2), half)
    return table


# ----------------------------------------------------------------------------- .mpr


def _modules(data: bytes) -> list[tuple[str, int, bytes]]:
    """Split an .mpr into (short name, version, body) modules, validating every bound."""
    pos = len(MPR_MAGIC)
    pos = data.find(b"MODULE", pos)
    if pos < 0:
        raise UnsupportedFile("BioLogic .mpr has no MODULE blocks (truncated or not an EC-Lab file)")
    out = []
    while pos < len(data):
        if data[pos : pos + 6] != b"MODULE":
            raise UnsupportedFile(f"BioLogic .mpr is corrupt: expected a MODULE block at byte {pos}")
        short = data[pos + 6 : pos + 16].decode("latin-1").strip()
        p = pos + 41
        if p + 16 > len(data):
            raise UnsupportedFile("BioLogic .mpr is truncated inside a module header")
        (first,) = struct.unpack_from("<I", data, p)
        if first == 0xFFFFFFFF:  # EC-Lab >= 11.50 header: max length, length, version, ?, date
            length, version = struct.unpack_from("<II", data, p + 4)
            hdr = p + 24
        else:
            length, version = first, struct.unpack_from("<I", data, p + 4)[0]
            hdr = p + 16
        if hdr + length > len(data):
            raise UnsupportedFile(
                f"BioLogic .mpr is truncated: module '{short}' needs {length:,} bytes, "
                f"only {len(data) - hdr:,} remain"
            )
        out.append((short, version, data[hdr : hdr + length]))
        pos = hdr + length
    return out


#: where the data table starts inside the data module, per EC-Lab generation (v2, v3, >= 11.50)
KNOWN_DATA_OFFSETS = (0x195, 0x196, 0x3EF)


def _fit_layout(
    fields: list[tuple[str, str]], unknown: list[int], n_points: int, body_len: int, header_min: int
) -> tuple[np.dtype[Any], int]:
    """Row dtype and data offset that explain the module length.

    With all column ids known the row size is exact. With one unknown id, its width is inferred (2, 4
    or 8 bytes) only if exactly one choice puts the table at a known EC-Lab data offset; anything
    else is refused with the unknown ids named rather than decoded into misaligned numbers."""
    candidates: list[list[tuple[str, str]]] = [fields]
    if len(unknown) == 1:
        name = f"unknown_{unknown[0]}"
        candidates = [[(n, t if n != name else w) for n, t in fields] for w in ("<u2", "<f4", "<f8")]
    fits = []
    for cand in candidates:
        row = np.dtype(cand)
        offset = body_len - n_points * row.itemsize
        if header_min <= offset <= 0x800 and (not unknown or offset in KNOWN_DATA_OFFSETS):
            fits.append((row, offset))
    if len(fits) != 1:
        hint = f" (unknown column ids {unknown})" if unknown else ""
        size = np.dtype(fields).itemsize
        raise UnsupportedFile(
            f"BioLogic .mpr data layout not understood: {n_points} points of {size} bytes "
            f"do not fit the {body_len:,}-byte data module{hint}"
        )
    return fits[0]


def _parse_data_module(body: bytes) -> tuple[dict[str, np.ndarray], int]:
    if len(body) < 6:
        raise UnsupportedFile("BioLogic .mpr data module is too short")
    n_points, n_cols = struct.unpack_from("<IB", body, 0)
    if body[5] == 0:  # EC-Lab >= 11.50: 16-bit column count, ids start one byte later (no id is 0)
        n_cols = struct.unpack_from("<H", body, 4)[0]
        ids = struct.unpack_from(f"<{n_cols}H", body, 6)
    else:
        ids = struct.unpack_from(f"<{n_cols}H", body, 5)
    fields: list[tuple[str, str]] = []
    flags: list[tuple[str, int]] = []
    unknown: list[int] = []
    for cid in ids:
        if cid in FLAG_IDS:
            flags.append(FLAG_IDS[cid])
            if not any(f[0] == "flags" for f in fields):
                fields.append(("flags", "u1"))
        elif cid in MPR_COLUMNS:
            name, dtype = MPR_COLUMNS[cid]
            while any(f[0] == name for f in fields):
                name += "_"
            fields.append((name, dtype))
        else:
            unknown.append(cid)
            fields.append((f"unknown_{cid}", "<f4"))  # provisional; verified by the row size below
    if n_points == 0:
        return {f[0]: np.array([]) for f in fields if f[0] != "flags"}, 0
    row, offset = _fit_layout(fields, unknown, n_points, len(body), 6 + 2 * n_cols)
    arr = np.frombuffer(body, dtype=row, count=n_points, offset=offset)
    cols: dict[str, np.ndarray] = {}
    for name in row.names or ():
        if name == "flags":
            for fname, mask in flags:
                shift = (mask & -mask).bit_length() - 1
                cols[fname] = (arr["flags"] & mask) >> shift
        else:
            cols[name] = arr[name].astype(np.float64)
    return cols, n_points


def _ole_date(days: float) -> dt.datetime | None:
    if not 20000 < days < 80000:
        return None
    return dt.datetime(1899, 12, 30) + dt.timedelta(days=days)


def read_mpr(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    data = path.read_bytes()
    if not data.startswith(MPR_MAGIC):
        raise UnsupportedFile("not a BioLogic .mpr file (missing the 'BIO-LOGIC MODULAR FILE' header)")
    meta: dict[str, Any] = {}
    cols: dict[str, np.ndarray] | None = None
    for short, version, body in _modules(data):
        if short == "VMP Set" and len(body) >= 2:
            code = struct.unpack_from("<H", body, 0)[0]
            meta["technique_code"] = code
            meta["technique_short"] = MPR_TECHNIQUES.get(code)
        elif short == "VMP data":
            cols, meta["n_points_declared"] = _parse_data_module(body)
            meta["data_module_version"] = version
        elif short == "VMP LOG" and len(body) > 600:
            (ole,) = struct.unpack_from("<d", body, 585)
            meta["start_time"] = _ole_date(ole)
            m = re.search(rb"[\x04\x05](\d{1,2}\.\d{2})", body[940:1000])
            if m:
                meta["software_version"] = m.group(1).decode()
    if cols is None:
        raise UnsupportedFile("BioLogic .mpr has no data module (the experiment recorded no points)")
    return cols, meta


# ----------------------------------------------------------------------------- .mpt


def _parse_mpt_header(lines: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"header": {}}
    if len(lines) > 3 and lines[3].strip():
        meta["title"] = lines[3].strip()
    for line in lines:
        if " : " in line:
            key, _, val = line.partition(" : ")
            meta["header"].setdefault(key.strip(), val.strip())
        m = re.match(r"\s*(EC-Lab|BT-Lab)\s+for\s+windows\s+v([\d.]+)", line, re.IGNORECASE)
        if m:
            meta["software"] = m.group(1)
            meta["software_version"] = m.group(2)
    started = meta["header"].get("Acquisition started on")
    if started:
        for fmt in ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S.%f", "%d.%m.%Y %H:%M:%S"):
            try:
                meta["start_time"] = dt.datetime.strptime(started, fmt)
                break
            except ValueError:
                continue
    if "Device" in meta["header"]:
        meta["instrument"] = meta["header"]["Device"]
    return meta


UNIX_TIME = "__unix_time"


def _parse_stamps(raw: list[str]) -> np.ndarray | None:
    """Parse EC-Lab absolute time stamps (month/day/year) to Unix seconds, or None if they are not."""
    out = np.full(len(raw), np.nan)
    for fmt in ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S.%f", "%d.%m.%Y %H:%M:%S"):
        try:
            for i, v in enumerate(raw):
                if v.strip():
                    out[i] = dt.datetime.strptime(v.strip(), fmt).replace(tzinfo=dt.UTC).timestamp()
            return out
        except ValueError:
            continue
    return None


def _read_line(fh: Any) -> str:
    return str(fh.readline().decode("latin-1"))


def read_mpt(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Parse an EC-Lab text export: header block, tab-separated table (pandas C reader)."""
    import pandas as pd

    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise UnsupportedFile(f"text file of {size:,} bytes is over the {MAX_TEXT_BYTES:,}-byte limit")
    with open(path, "rb") as fh:
        first = _read_line(fh)
        header_lines = [first.rstrip("\r\n")]
        if "ASCII FILE" in first:
            second = _read_line(fh)
            m = re.search(r"Nb header lines\s*:\s*(\d+)", second)
            if not m:
                raise UnsupportedFile("BioLogic .mpt: 'Nb header lines' missing on line 2")
            n_header = int(m.group(1))
            if not 3 <= n_header <= 10_000:
                raise UnsupportedFile(f"BioLogic .mpt: implausible header length ({n_header} lines)")
            header_lines.append(second.rstrip("\r\n"))
            for _ in range(n_header - 3):
                header_lines.append(_read_line(fh).rstrip("\r\n"))
            col_line = _read_line(fh)
        else:
            col_line, header_lines = first, []
        names = [c.strip() for c in col_line.rstrip("\r\n").split("\t")]
        while names and not names[-1]:
            names.pop()
        if len(names) < 2 or not any("/" in n for n in names):
            raise UnsupportedFile("BioLogic .mpt: no tab-separated column header line found")
        data_start = fh.tell()
        sample = _read_line(fh)
        # German-locale exports write decimal commas ("2,3278546E+000"); tabs separate the fields
        decimal_comma = bool(re.search(r"\d,\d", sample)) and not re.search(r"\d\.\d", sample)
        fh.seek(data_start)
        try:
            frame = pd.read_csv(
                fh,
                sep="\t",
                header=None,
                names=names,
                usecols=range(len(names)),
                index_col=False,
                decimal="," if decimal_comma else ".",
                encoding="latin-1",
                on_bad_lines="skip",
                skip_blank_lines=True,
                low_memory=False,
            )
        except (ValueError, pd.errors.ParserError) as exc:
            raise UnsupportedFile(f"BioLogic .mpt: the data table could not be parsed: {exc}") from exc
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame(columns=names)
    meta = _parse_mpt_header(header_lines)
    meta["decimal_comma"] = decimal_comma
    cols: dict[str, np.ndarray] = {}
    for name in names:
        series = frame[name]
        arr = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        if arr.size and np.isnan(arr).all() and series.notna().any():
            raw = [str(v) for v in series.fillna("")]
            stamps = _parse_stamps(raw) if name.startswith("time") else None
            if stamps is not None:  # BT-Lab "timestamped" export: absolute times instead of seconds
                cols[UNIX_TIME] = stamps
                cols[name] = stamps - stamps[np.isfinite(stamps)][0]
                continue
            meta.setdefault("text_columns", []).append(name)
            continue
        cols[name] = arr
    meta["n_columns"] = len(names)
    return cols, meta


# ----------------------------------------------------------------------------- the extractor


class BiologicExtractor(Extractor):
    """BioLogic EC-Lab/BT-Lab .mpr (binary) and .mpt (text export)."""

    name = "biologic"
    label = "BioLogic EC-Lab .mpr/.mpt"
    suffixes = (".mpr", ".mpt")

    def sniff(self, path: Path, head: bytes) -> float:
        if head.startswith(MPR_MAGIC):
            return 1.0
        if head.startswith(b"EC-Lab ASCII FILE") or head.startswith(b"BT-Lab ASCII FILE"):
            return 1.0
        first = head.split(b"\n", 1)[0]
        if (
            b"\t" in first
            and (b"time/s" in first or b"freq/Hz" in first)
            and (b"Ewe" in first or b"Ecell" in first)
        ):
            return 0.9
        return 0.0

    def _read(self, path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any], bool]:
        with open(path, "rb") as fh:
            head = fh.read(64)
        if head.startswith(MPR_MAGIC):
            cols, meta = read_mpr(path)
            return cols, meta, True
        if path.suffix.lower() == ".mpr":
            raise UnsupportedFile("not a BioLogic .mpr file (missing the 'BIO-LOGIC MODULAR FILE' header)")
        cols, meta = read_mpt(path)
        return cols, meta, False

    def extract(self, path: Path) -> ExtractionResult:
        cols, meta, binary = self._read(path)
        table = to_tidy(cols)
        short = meta.get("technique_short")
        title = meta.get("title") or (LONG_NAMES.get(short) if short else None)
        technique = technique_label(short) if short else None
        technique = technique or (technique_label(title) if title else None)
        software_name = {"ec-lab": "EC-Lab", "bt-lab": "BT-Lab"}.get(
            str(meta.get("software")).lower(), "EC-Lab"
        )
        version = meta.get("software_version")
        if binary and version and version.split(".")[0].isdigit() and int(version.split(".")[0]) < 5:
            software_name = "BT-Lab"  # BT-Lab 1.x writes the same container
        extra: dict[str, Any] = {
            "technique_name": title,
            "columns_in_file": list(cols),
        }
        if binary:
            extra["technique_code"] = meta.get("technique_code")
        if meta.get("decimal_comma"):
            extra["decimal_comma"] = True
        if meta.get("text_columns"):
            extra["text_columns"] = meta["text_columns"]
        header = meta.get("header") or {}
        for key in ("Run on channel", "Electrode material", "Electrolyte", "Comments", "Characteristic mass"):
            if header.get(key):
                extra[key] = header[key]
        return summarize(
            table,
            extractor=self.name,
            format="BioLogic EC-Lab MPR (binary)" if binary else "BioLogic EC-Lab MPT (text export)",
            media_type="application/octet-stream" if binary else "text/plain",
            technique=technique,
            software=Software(name=software_name, version=version),
            instrument=meta.get("instrument"),
            open_format=not binary,
            start_time=meta.get("start_time"),
            extra={k: v for k, v in extra.items() if v not in (None, "", [])},
        )

    def convert(self, path: Path, out_dir: Path) -> list[Path]:
        cols, _meta, _ = self._read(path)
        return write_tidy(to_tidy(cols), path, out_dir, extractor=self.name)
