"""Generic fallbacks: delimited text tables (CSV/TSV), JSON, images (Pillow) and PDF (pypdf).

These score low in `sniff` for CSV and JSON so that a specific extractor (a cycler export, a
diffraction CSV) wins when it recognises the file; images and PDFs are recognised by their magic
bytes. Everything is read with a budget: rows, JSON size, image pixels and PDF pages are capped.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from databahn.extractors._common import read_text, series
from databahn.extractors.base import (
    ExtractionResult,
    Extractor,
    QualityFlag,
    Quantity,
    Series,
    Software,
    UnsupportedFile,
)

MAX_ROWS = 2_000_000
MAX_JSON_BYTES = 64 * 1024**2
MAX_PIXELS = 200_000_000
_UNIT = re.compile(r"^(.*?)\s*(?:\[([^\]]+)\]|\(([^)]+)\)|/\s*(\S+))\s*$")
IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"BM": "BMP",
}


def split_unit(header: str) -> tuple[str, str | None]:
    """'Voltage [V]', 'Voltage (V)', 'Voltage / V' -> ('Voltage', 'V')."""
    m = _UNIT.match(header.strip())
    if not m:
        return header.strip(), None
    unit = next((g for g in m.groups()[1:] if g), None)
    return m.group(1).strip() or header.strip(), unit


def _looks_json(head: bytes) -> bool:
    """'{' or '[' followed by what JSON allows ('[Section]' INI-style headers are not JSON)."""
    return bool(re.match(rb'\s*(\{\s*("|\})|\[\s*[\[{"\d\-\]tfn])', head[:200]))


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head[:4096]:
        return False
    try:
        head[:4096].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > 4090  # a multi-byte char cut at the boundary
    return True


class GenericExtractor(Extractor):
    """CSV/TSV tables, JSON documents, images and PDFs."""

    name = "generic"
    label = "table, JSON, image or PDF"
    suffixes = (
        ".csv",
        ".tsv",
        ".txt",
        ".json",
        ".png",
        ".jpg",
        ".jpeg",
        ".tif",
        ".tiff",
        ".gif",
        ".bmp",
        ".pdf",
    )

    def sniff(self, path: Path, head: bytes) -> float:
        if head.startswith(b"%PDF-"):
            return 0.9
        if any(head.startswith(m) for m in IMAGE_MAGIC) and not (head.startswith(b"BM") and len(head) < 26):
            return 0.9 if not head.startswith(b"BM") else 0.5
        if not _is_text(head):
            return 0.0
        if _looks_json(head):
            return 0.4 if path.suffix.lower() in (".json", ".jsonld", ".geojson", "") else 0.2
        if table_start(head.decode("utf-8", "replace").splitlines()) is not None:
            return 0.3 if path.suffix.lower() in (".csv", ".tsv", ".txt", ".dat") else 0.15
        return 0.0

    def extract(self, path: Path) -> ExtractionResult:
        with open(path, "rb") as fh:
            head = fh.read(65536)
        if not head:
            raise UnsupportedFile("could not read: the file is empty")
        if head.startswith(b"%PDF-"):
            return self._pdf(path)
        if any(head.startswith(m) for m in IMAGE_MAGIC):
            return self._image(path)
        if not _is_text(head):
            raise UnsupportedFile(
                "could not read: binary file of unknown format (no extractor recognised it)"
            )
        if _looks_json(head):
            return self._json(path)
        return self._csv(path, head)

    # -- CSV -------------------------------------------------------------------------------------

    def _csv(self, path: Path, head: bytes) -> ExtractionResult:
        found = table_start(head.decode("utf-8", "replace").splitlines())
        if found is None:
            raise UnsupportedFile("could not read: no consistent delimiter (not a CSV/TSV table)")
        start, delimiter = found
        if start > 0:  # a header row may have one delimiter less than rows with a trailing delimiter
            lines = head.decode("utf-8", "replace").splitlines()
            prev, first_line = lines[start - 1], lines[start]
            if prev.strip() and prev.count(delimiter) >= max(1, first_line.count(delimiter) - 1):
                start -= 1
        try:
            head.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError as exc:
            encoding = "utf-8" if exc.start > len(head) - 4 else "latin-1"  # old instrument exports
        with open(path, encoding=encoding, errors="replace", newline="") as fh:
            preamble = [fh.readline().strip() for _ in range(start)]
            rows_iter = iter(csv.reader(fh, delimiter=delimiter))
            header: list[str] | None = None
            first_rows: list[list[str]] = []
            for row in rows_iter:
                if not any(c.strip() for c in row):
                    continue
                first_rows.append(row)
                if len(first_rows) >= 60:
                    break
            if not first_rows:
                raise UnsupportedFile("could not read: the table has no rows")
            widths = [len(r) for r in first_rows]
            width = max(set(widths), key=widths.count)
            if width < 2:
                raise UnsupportedFile("could not read: only one column found; not a delimited table")
            first_idx = widths.index(width)
            body = first_rows[first_idx:]
            if first_idx > 0 and abs(len(first_rows[first_idx - 1]) - width) == 1:
                # a header with one delimiter more or less than the data (trailing delimiters)
                body = [[*first_rows[first_idx - 1], ""][:width], *body]
            if body and not all(_num(c) is not None for c in body[0] if c.strip()):
                header = [c.strip() or f"column_{i + 1}" for i, c in enumerate(body[0])]
                body = body[1:]
            names = header or [f"column_{i + 1}" for i in range(width)]
            acc = _ColumnAccumulator(width)
            truncated = False
            for row in body:
                acc.add(row)
            for row in rows_iter:
                if acc.n_rows >= MAX_ROWS:
                    truncated = True
                    break
                acc.add(row)
            acc.flush()
        n_rows = acc.n_rows
        if n_rows == 0:
            raise UnsupportedFile("could not read: the table has a header but no data rows")
        quantities: list[Quantity] = []
        numeric: dict[str, int] = {}
        for i, name in enumerate(names[:width]):
            if acc.blank[i] == n_rows:  # an all-empty column from trailing delimiters
                continue
            if acc.non_numeric[i] > 0.5 * n_rows:
                quantities.append(
                    Quantity(unit=None, iri=None, name=name or f"column_{i + 1}", source_name=name)
                )
                continue
            base, unit = split_unit(name)
            lo, hi = acc.minimum[i], acc.maximum[i]
            quantities.append(
                Quantity(
                    iri=None,
                    name=base,
                    unit=unit,
                    source_name=name,
                    minimum=float(lo) if np.isfinite(lo) else None,
                    maximum=float(hi) if np.isfinite(hi) else None,
                )
            )
            numeric[name] = i
        previews: list[Series] = []
        sample = acc.sample()
        if numeric:
            keys = list(numeric)
            xk = next((k for k in keys if re.search(r"time|angle|2theta|energy|freq|index", k, re.I)), None)
            for yk in [k for k in keys if k != xk][:3]:
                xb, xu = split_unit(xk) if xk else ("row", None)
                yb, yu = split_unit(yk)
                x = sample[:, numeric[xk]] if xk else acc.sample_rows()
                previews.append(series(yk, xb, xu, yb, yu, x, sample[:, numeric[yk]]))
        quality: list[QualityFlag] = []
        if truncated:
            quality.append(
                QualityFlag(
                    code="truncated_summary",
                    severity="info",
                    message=f"only the first {MAX_ROWS} rows were summarised",
                )
            )
        delim = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[delimiter]
        return ExtractionResult(
            technique=None,
            technique_iri=None,
            archive=None,
            provenance=None,
            extractor=self.name,
            format=f"delimited text table ({delim}-separated)",
            media_type="text/csv" if delimiter != "\t" else "text/tab-separated-values",
            open_format=True,
            quantities=quantities,
            n_points=n_rows,
            quality=quality,
            previews=previews,
            extra={
                "columns": names[:200],
                "delimiter": delimiter,
                "preamble": [line[:200] for line in preamble[:20] if line],
                "has_header": header is not None,
            },
        )

    # -- JSON ------------------------------------------------------------------------------------

    def _json(self, path: Path) -> ExtractionResult:
        text = read_text(path, limit=MAX_JSON_BYTES)
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UnsupportedFile(
                f"could not read: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from exc
        except RecursionError as exc:
            raise UnsupportedFile("could not read: JSON nested too deeply") from exc
        shape = _shape(doc, 0)
        extra: dict[str, Any] = {"shape": shape, "top_level_type": type(doc).__name__}
        if isinstance(doc, dict):
            extra["keys"] = list(doc)[:100]
            ctx = doc.get("@context")
            if ctx is not None:
                extra["json_ld"] = True
        n = len(doc) if isinstance(doc, list | dict) else 1
        return ExtractionResult(
            technique=None,
            technique_iri=None,
            archive=None,
            provenance=None,
            extractor=self.name,
            format="JSON-LD" if extra.get("json_ld") else "JSON",
            media_type="application/ld+json" if extra.get("json_ld") else "application/json",
            open_format=True,
            n_points=n,
            extra=extra,
        )

    # -- images ----------------------------------------------------------------------------------

    def _image(self, path: Path) -> ExtractionResult:
        import warnings

        from PIL import Image, UnidentifiedImageError

        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as im:
                    im.verify()  # structural check; must come straight after open
                with Image.open(path) as im:
                    fmt = im.format or "image"
                    w, h = im.size
                    mode = im.mode
                    n_frames = getattr(im, "n_frames", 1)
                    exif = im.getexif()
                    info = {k: v for k, v in im.info.items() if isinstance(v, str | int | float)}
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UnsupportedFile(f"could not read: image is too large to open safely ({exc})") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise UnsupportedFile(f"could not read image: {exc}") from exc
        start = None
        dt_str = exif.get(306) if exif else None  # DateTime
        if isinstance(dt_str, str):
            try:
                start = dt.datetime.strptime(dt_str.strip(), "%Y:%m:%d %H:%M:%S")
            except ValueError:
                start = None
        software = exif.get(305) if exif else None
        make = " ".join(str(exif.get(t)) for t in (271, 272) if exif and exif.get(t)) or None
        return ExtractionResult(
            technique=None,
            technique_iri=None,
            archive=None,
            provenance=None,
            extractor=self.name,
            format=f"{fmt} image",
            media_type=Image.MIME.get(fmt),
            instrument=make,
            software=Software(name=str(software)) if software else None,
            open_format=fmt in ("PNG", "TIFF", "GIF", "JPEG", "BMP"),
            start_time=start,
            n_points=w * h,
            extra={
                "width": w,
                "height": h,
                "mode": mode,
                "frames": n_frames,
                **{str(k): info[k] for k in list(info)[:20]},
            },
        )

    # -- PDF -------------------------------------------------------------------------------------

    def _pdf(self, path: Path) -> ExtractionResult:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(str(path), strict=False)
            encrypted = reader.is_encrypted
            if encrypted:
                try:
                    reader.decrypt("")
                except Exception:
                    raise UnsupportedFile("could not read: the PDF is encrypted with a password") from None
            pages = len(reader.pages)
            meta = reader.metadata
        except UnsupportedFile:
            raise
        except (PdfReadError, OSError, ValueError, KeyError, TypeError) as exc:
            raise UnsupportedFile(f"could not read PDF: {exc}") from exc
        fields = {k.lstrip("/"): str(v)[:300] for k, v in dict(meta or {}).items()}
        created = None
        try:
            created = meta.creation_date if meta else None
        except (ValueError, TypeError):
            created = None
        producer = fields.get("Producer")
        return ExtractionResult(
            technique=None,
            technique_iri=None,
            archive=None,
            provenance=None,
            extractor=self.name,
            format="PDF document",
            media_type="application/pdf",
            software=Software(name=producer) if producer else None,
            open_format=True,
            start_time=created,
            n_points=pages,
            extra={"pages": pages, "encrypted": encrypted, **fields},
        )


class _ColumnAccumulator:
    """Streaming column statistics plus an evenly strided row sample, so memory does not grow with
    the file: rows are packed in numpy chunks, reduced to min/max, and the kept sample is halved
    (stride doubled) whenever it exceeds SAMPLE_ROWS."""

    SAMPLE_ROWS = 4000

    def __init__(self, width: int) -> None:
        self.width = width
        self.n_rows = 0
        self.non_numeric = [0] * width
        self.blank = [0] * width
        self.minimum = np.full(width, np.inf)
        self.maximum = np.full(width, -np.inf)
        self._pending: list[list[float]] = []
        self._kept: list[np.ndarray] = []
        self._kept_idx: list[np.ndarray] = []
        self._stride = 1

    def add(self, row: list[str]) -> None:
        if len(row) != self.width:
            return
        vals: list[float] = []
        for i, c in enumerate(row):
            v = _num(c)
            if v is None:
                self.non_numeric[i] += 1
                self.blank[i] += not c.strip()
                v = float("nan")
            vals.append(v)
        self._pending.append(vals)
        self.n_rows += 1
        if len(self._pending) >= 65536:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        block = np.asarray(self._pending, dtype=float)
        start = self.n_rows - len(self._pending)
        self._pending = []
        with np.errstate(invalid="ignore"):
            self.minimum = np.fmin(self.minimum, np.nanmin(np.where(np.isnan(block), np.inf, block), axis=0))
            self.maximum = np.fmax(self.maximum, np.nanmax(np.where(np.isnan(block), -np.inf, block), axis=0))
        idx = np.arange(start, start + len(block))
        keep = idx % self._stride == 0
        self._kept.append(block[keep])
        self._kept_idx.append(idx[keep])
        while sum(len(k) for k in self._kept) > self.SAMPLE_ROWS:
            self._stride *= 2
            all_idx = np.concatenate(self._kept_idx)
            mask = all_idx % self._stride == 0
            self._kept = [np.concatenate(self._kept)[mask]]
            self._kept_idx = [all_idx[mask]]

    def sample(self) -> np.ndarray:
        return np.concatenate(self._kept) if self._kept else np.empty((0, self.width))

    def sample_rows(self) -> np.ndarray:
        return np.concatenate(self._kept_idx).astype(float) if self._kept_idx else np.empty(0)


def table_start(lines: list[str], run: int = 5) -> tuple[int, str] | None:
    """(line index, delimiter) where a table begins: `run` lines in a row with the same number (>=1)
    of one delimiter. Preambles (instrument headers) before it are skipped; the delimiter giving the
    most columns wins, then the earliest start."""
    best: tuple[int, str] | None = None
    best_cols = 0
    n_lines = min(len(lines), 2000)
    for d in (",", "\t", ";", "|"):
        counts = [line.count(d) if line.strip() else -1 for line in lines[:n_lines]]
        # counts of the non-blank lines, and for each line where its run starts in that list
        nonblank = [k for k in counts if k != -1]
        position: list[int] = []
        seen = 0
        for k in counts:
            position.append(seen)
            if k != -1:
                seen += 1
        for i in range(n_lines):
            c = counts[i]
            if c < 1:
                continue
            window = nonblank[position[i] : position[i] + run]
            same = len(window) >= min(run, 2) and all(k == c for k in window)
            if same and (c > best_cols or (c == best_cols and best is not None and i < best[0])):
                best, best_cols = (i, d), c
    return best


def _num(s: str) -> float | None:
    s = s.strip()
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        if re.fullmatch(r"-?\d+,\d+", s):
            return float(s.replace(",", "."))
        return None


def _shape(obj: Any, depth: int) -> Any:
    """A compact description of a JSON value's structure (types, lengths, keys), depth-limited."""
    if depth > 4:
        return "…"
    if isinstance(obj, dict):
        return {k: _shape(v, depth + 1) for k, v in list(obj.items())[:30]}
    if isinstance(obj, list):
        if not obj:
            return "list[0]"
        return {"list": len(obj), "item": _shape(obj[0], depth + 1)}
    return type(obj).__name__
