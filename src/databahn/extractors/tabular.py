"""Shared machinery for cycler text exports (CSV/TSV with a vendor header block).

Most cycler exports are "some header lines, then a delimited table". A format module only says how
to find the table, which columns map to which standard quantity (with unit scale or a parser for
durations/dates), and what the header tells about the test. Parsing uses pandas' C reader (fast,
memory-proportional to the data), and everything downstream (summary, checks, previews, tidy
writing) is `databahn.extractors.tidy`.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from databahn.extractors.base import ExtractionResult, Extractor, UnsupportedFile
from databahn.extractors.tidy import FloatArray, TidyTable, summarize, write_tidy

MAX_TABLE_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Rule:
    """Map the first matching source column (case-insensitive exact names) to a standard column."""

    std: str
    names: tuple[str, ...]
    scale: float = 1.0
    #: 'num' (float), 'duration' ('1d 02:03:04.5', 'hh:mm:ss', seconds) or 'datetime' (-> Unix s)
    kind: str = "num"
    datetime_format: str | None = None


@dataclass
class Parsed:
    """What a format reader found: the tidy table plus header facts for the result."""

    table: TidyTable
    technique: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    n_expected: int | None = None


def head_text(path: Path, n_bytes: int = 64 * 1024) -> str:
    with open(path, "rb") as fh:
        raw = fh.read(n_bytes)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode("utf-8", errors="replace") if _is_utf8(raw) else raw.decode("latin-1")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start > len(raw) - 4  # only a character cut at the end of the sample


def find_line(lines: Sequence[str], predicate: Callable[[str], bool], limit: int = 2000) -> int | None:
    for i, line in enumerate(lines[:limit]):
        if predicate(line):
            return i
    return None


def read_frame(
    path: Path,
    *,
    skiprows: int,
    sep: str,
    encoding: str | None = None,
    strip_line_quotes: bool = False,
    decimal: str = ".",
) -> Any:
    """Read the delimited table whose header is line `skiprows` (0-based) with pandas."""
    import pandas as pd

    size = path.stat().st_size
    if size > MAX_TABLE_BYTES:
        raise UnsupportedFile(f"table of {size:,} bytes is over the {MAX_TABLE_BYTES:,}-byte limit")
    if encoding is None:
        with open(path, "rb") as fh:
            encoding = "utf-8-sig" if _is_utf8(fh.read(1 << 20)) else "latin-1"
    source: Any = path
    if strip_line_quotes:  # some exports wrap every whole line in quotes
        with open(path, encoding=encoding, errors="replace") as fh:
            text = "".join(
                (ln.strip()[1:-1] + "\n") if ln.strip().startswith('"') and ln.strip().endswith('"') else ln
                for ln in fh
            )
        source = io.StringIO(text)
    try:
        return pd.read_csv(
            source,
            skiprows=skiprows,
            sep=sep,
            encoding=encoding if not strip_line_quotes else None,
            encoding_errors="replace",
            on_bad_lines="skip",
            low_memory=False,
            decimal=decimal,
            skipinitialspace=True,
            index_col=False,
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UnsupportedFile(f"the data table could not be parsed: {exc}") from exc


_DURATION = re.compile(r"^\s*(?:(\d+)d\s+)?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)\s*$")


def parse_durations(values: Any) -> FloatArray:
    """'1d 02:03:04.5', '26:03:04.500' or plain seconds -> seconds (NaN when unparsable); vectorised."""
    import pandas as pd

    arr = np.asarray(values)
    if arr.dtype.kind in "fiu":
        return arr.astype(np.float64)
    strings = pd.Series(arr, dtype="string").str.strip()
    plain = pd.to_numeric(strings, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    parts = strings.str.extract(_DURATION.pattern.replace("\\s*$", "$").replace("^\\s*", "^"))
    num = [
        pd.to_numeric(parts[i], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan) for i in range(4)
    ]
    clock = np.nan_to_num(num[0]) * 86400 + num[1] * 3600 + num[2] * 60 + num[3]
    return np.where(np.isfinite(plain), plain, clock)


DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %I:%M:%S %p",
    "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S.%f",
    "%m/%d/%Y %I:%M:%S %p",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M:%S.%f",
    "%d-%b-%y %I:%M:%S %p",
    "%d/%m/%Y %H:%M:%S",
)


def guess_datetime_format(sample: str) -> str | None:
    for fmt in DATETIME_FORMATS:
        try:
            dt.datetime.strptime(sample.strip(), fmt)
            return fmt
        except ValueError:
            continue
    return None


def parse_datetimes(values: Any, fmt: str | None = None) -> FloatArray:
    """Date-time strings -> Unix seconds (naive times are taken as UTC; NaN when unparsable)."""
    import pandas as pd

    strings = pd.Series(values).astype("string").str.strip()
    if fmt is None:
        first = strings.dropna()
        fmt = guess_datetime_format(str(first.iloc[0])) if len(first) else None
        if fmt is None:
            return np.full(len(strings), np.nan)
    ser = pd.to_datetime(strings, format=fmt, errors="coerce")
    if getattr(ser.dt, "tz", None) is not None:
        ser = ser.dt.tz_convert(None)
    ns = ser.to_numpy(dtype="datetime64[ns]").astype("int64").astype(np.float64)
    ns[ser.isna().to_numpy()] = np.nan
    return ns / 1e9


def apply_rules(frame: Any, rules: Sequence[Rule]) -> TidyTable:
    """Build a TidyTable from a DataFrame with mapping rules (first rule per standard column wins)."""
    import pandas as pd

    lookup = {str(c).strip().lower(): c for c in frame.columns}
    table = TidyTable()
    has_time = any(r.std == "test_time" and any(n.lower() in lookup for n in r.names) for r in rules)
    for rule in rules:
        if rule.std in table.columns:
            continue
        col = next((lookup[n.lower()] for n in rule.names if n.lower() in lookup), None)
        if col is None:
            continue
        series = frame[col]
        if rule.kind == "duration":
            values = parse_durations(series.to_numpy())
        elif rule.kind == "datetime" and has_time:
            # date strings parse slowly (no vectorised strptime); with a test-time column only the
            # first stamp is needed: unix time = first stamp + elapsed test time
            continue
        elif rule.kind == "datetime":
            values = parse_datetimes(series.to_numpy(), rule.datetime_format)
            table.wall_clock = True
        else:
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        table.add(rule.std, values, str(col), rule.scale)
    for rule in rules:
        if rule.kind != "datetime" or not has_time or "unix_time" in table.columns:
            continue
        col = next((lookup[n.lower()] for n in rule.names if n.lower() in lookup), None)
        tt = table.get("test_time")
        if col is None or tt is None:
            continue
        valid = frame[col].notna().to_numpy() & np.isfinite(tt)
        if not valid.any():
            continue
        first = int(np.argmax(valid))
        stamp = parse_datetimes(frame[col].iloc[first : first + 1].to_numpy(), rule.datetime_format)[0]
        if np.isfinite(stamp):
            table.add("unix_time", stamp + (tt - tt[first]), f"{col} (first row) + test time")
            table.wall_clock = True
    if "test_time" not in table.columns and "unix_time" in table.columns:
        ut = table.columns["unix_time"]
        finite = ut[np.isfinite(ut)]
        if len(finite):
            table.add("test_time", ut - finite[0], table.sources.get("unix_time"))
    return table


def parse_start(text: str | None, formats: Sequence[str]) -> dt.datetime | None:
    if not text:
        return None
    for fmt in formats:
        try:
            return dt.datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    return None


def key_values(lines: Sequence[str], sep: str = ":") -> dict[str, str]:
    """'Key: value' header lines -> dict (first occurrence wins; keys stripped of '~' and spaces)."""
    out: dict[str, str] = {}
    for line in lines:
        if sep not in line:
            continue
        k, _, v = line.partition(sep)
        k = k.strip().lstrip("~").strip()
        v = v.strip().strip(",").strip()
        if k and len(k) < 80:
            out.setdefault(k, v)
    return out


class TableExtractor(Extractor):
    """Base for formats read into a TidyTable; subclasses implement `read` and `sniff`."""

    format_name = "text export"
    open_format = True
    media_type = "text/csv"

    @abstractmethod
    def read(self, path: Path) -> Parsed:
        """Parse the file into a tidy table plus header facts."""

    def extract(self, path: Path) -> ExtractionResult:
        parsed = self.read(path)
        if len(parsed.table) == 0:
            raise UnsupportedFile(f"{self.format_name}: the file has a header but no data rows")
        fields: dict[str, Any] = {"media_type": self.media_type, "open_format": self.open_format}
        fields.update(parsed.fields)
        if parsed.extra:
            fields["extra"] = {k: v for k, v in parsed.extra.items() if v not in (None, "", [], {})}
        return summarize(
            parsed.table,
            extractor=self.name,
            format=fields.pop("format", None) or self.format_name,
            technique=parsed.technique,
            n_expected=parsed.n_expected,
            **fields,
        )

    def convert(self, path: Path, out_dir: Path) -> list[Path]:
        return write_tidy(self.read(path).table, path, out_dir, extractor=self.name)
