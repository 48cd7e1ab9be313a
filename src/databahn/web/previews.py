"""Previews on the dataset page, drawn server-side as small inline SVG plots.

Extractors store downsampled curves (`previews`: title, x/y names, units, values) and structure
summaries in each file's `extracted` data. Plain SVG keeps pages readable without JavaScript and
needs no plotting library or CDN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from databahn.domain.records import VersionRecord

W, H = 560, 260
ML, MR, MT, MB = 64, 30, 12, 44
MAX_POINTS = 2000


@dataclass(frozen=True)
class Plot:
    file_key: str
    title: str
    svg: Markup


@dataclass(frozen=True)
class StructureSummary:
    file_key: str
    formula: str
    elements: list[str]
    n_sites: int | None
    space_group: str | None
    volume: float | None
    cell_lengths: list[float] | None
    engine: str | None
    energy_ev: float | None


def _nice(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-2:
        return f"{value:.2e}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.4g}"


def _label(name: str, unit: str | None) -> str:
    return f"{name} ({unit})" if unit else name


def series_svg(series: dict[str, Any]) -> Markup | None:
    """One curve as an accessible SVG line plot; None when the data cannot be drawn."""
    xs, ys = series.get("x"), series.get("y")
    if not isinstance(xs, list) or not isinstance(ys, list):
        return None
    points = [
        (float(x), float(y))
        for x, y in zip(xs[:MAX_POINTS], ys[:MAX_POINTS], strict=False)
        if isinstance(x, int | float) and isinstance(y, int | float) and math.isfinite(x) and math.isfinite(y)
    ]
    if len(points) < 2:
        return None
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1
    pw, ph = W - ML - MR, H - MT - MB

    def sx(x: float) -> float:
        return ML + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return MT + ph - (y - y0) / (y1 - y0) * ph

    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    title = str(series.get("title") or "preview")
    xl = _label(str(series.get("x_name") or "x"), series.get("x_unit"))
    yl = _label(str(series.get("y_name") or "y"), series.get("y_unit"))
    ticks = []
    for i in range(5):
        fx = x0 + (x1 - x0) * i / 4
        fy = y0 + (y1 - y0) * i / 4
        ticks.append(
            f'<line x1="{sx(fx):.1f}" y1="{MT + ph}" x2="{sx(fx):.1f}" y2="{MT + ph + 4}" class="axis"/>'
            f'<text x="{sx(fx):.1f}" y="{MT + ph + 16}" text-anchor="middle">{escape(_nice(fx))}</text>'
            f'<line x1="{ML}" y1="{sy(fy):.1f}" x2="{ML + pw}" y2="{sy(fy):.1f}" class="grid"/>'
            f'<text x="{ML - 6}" y="{sy(fy) + 4:.1f}" text-anchor="end">{escape(_nice(fy))}</text>'
        )
    svg = (
        f'<svg class="plot" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}: '
        f'{escape(yl)} against {escape(xl)}, {len(points)} points">'
        f'<rect x="{ML}" y="{MT}" width="{pw}" height="{ph}" class="frame"/>'
        + "".join(ticks)
        + f'<polyline points="{path}" class="line"/>'
        f'<text x="{ML + pw / 2}" y="{H - 6}" text-anchor="middle" class="axis-label">{escape(xl)}</text>'
        f'<text transform="translate(14 {MT + ph / 2}) rotate(-90)" text-anchor="middle" '
        f'class="axis-label">{escape(yl)}</text>'
        "</svg>"
    )
    return Markup(svg)


def _extracted_per_file(record: VersionRecord) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for f in record.files:
        if isinstance(f.extracted, dict) and f.extracted:
            # the hub stores the extraction report; its findings sit under "result"
            result = f.extracted.get("result")
            out.append((f.key, result if isinstance(result, dict) else f.extracted))
    for key, info in (record.extracted or {}).items():
        if isinstance(info, dict) and not any(k == key for k, _ in out):
            out.append((str(key), info))
    return out


def plots(record: VersionRecord, limit: int = 6) -> list[Plot]:
    found: list[Plot] = []
    for key, info in _extracted_per_file(record):
        for series in info.get("previews") or []:
            if len(found) >= limit:
                return found
            if isinstance(series, dict):
                svg = series_svg(series)
                if svg is not None:
                    found.append(Plot(key, str(series.get("title") or key), svg))
    return found


def structures(record: VersionRecord, limit: int = 20) -> list[StructureSummary]:
    found: list[StructureSummary] = []
    for key, info in _extracted_per_file(record):
        for s in info.get("structures") or []:
            if not isinstance(s, dict) or not s.get("formula") or len(found) >= limit:
                continue
            found.append(
                StructureSummary(
                    file_key=key,
                    formula=str(s["formula"]),
                    elements=[str(e) for e in s.get("elements") or []],
                    n_sites=s.get("n_sites"),
                    space_group=s.get("space_group"),
                    volume=s.get("volume"),
                    cell_lengths=s.get("cell_lengths"),
                    engine=s.get("engine"),
                    energy_ev=s.get("energy_ev"),
                )
            )
    return found


def citation(record: VersionRecord, publisher: str) -> str:
    """A plain-text citation in the DataCite recommended form: Creators (Year). Title. Version. Publisher. ID."""
    meta = record.metadata
    names = [c.name for c in meta.creators] or [record.owner or "Unknown"]
    authors = "; ".join(names[:10]) + ("; et al." if len(names) > 10 else "")
    year = (record.published or record.created).year
    ident = (record.doi and f"https://doi.org/{record.doi}") or record.url or record.pid
    version = f" Version {meta.version}." if meta.version else ""
    return f"{authors} ({year}). {meta.title}.{version} {meta.publisher or publisher}. {ident}"
