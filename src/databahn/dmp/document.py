"""The DMP document: Horizon 2020 structure, generated from the plan plus the hub's live figures.

The plan supplies the stable parts (per-WP tables, policies); `LiveState` supplies what the
paper calls the "living" part (datasets, formats, licenses, openness, embargoes, repositories,
flow deliveries). HTML is the primary output; PDF is rendered from the same HTML with WeasyPrint
(BSD), imported lazily so the rest of the package works without its system libraries. Two versions
are compared as text lines with difflib, which is readable for plan editors and needs no extra tools.
"""

from __future__ import annotations

import difflib
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from lxml import html as lxml_html
from markupsafe import Markup
from pydantic import BaseModel, Field

from databahn.dmp.highway import render_highway_svg, render_wp_svg
from databahn.dmp.model import Plan
from databahn.dmp.tracking import (
    REQUIREMENT_TEXT,
    LiveState,
    TrackingReport,
    WpCompliance,
    compliance,
    normalise_format,
    track,
)


class LiveFigures(BaseModel):
    """The numbers the FAIR section quotes, computed from LiveState (so the lead fills only raw facts)."""

    datasets: int = 0
    bytes: int = 0
    per_wp: dict[str, int] = Field(default_factory=dict)
    formats: list[tuple[str, int]] = Field(default_factory=list)
    open_format_share: float | None = None
    licenses: list[tuple[str, int]] = Field(default_factory=list)
    unlicensed: int = 0
    openness: list[tuple[str, int]] = Field(default_factory=list)
    embargoed: int = 0
    repositories: list[tuple[str, int]] = Field(default_factory=list)
    with_battinfo: int = 0


def live_figures(plan: Plan, live: LiveState) -> LiveFigures:
    ds = live.datasets
    open_fmts = {normalise_format(f) for f in plan.fair.open_formats}
    fmts: Counter[str] = Counter()
    in_open = 0
    for d in ds:
        names = [normalise_format(f) for f in d.formats]
        fmts.update(set(names))
        if any(n in open_fmts for n in names):
            in_open += 1
    as_of = live.as_of.date()
    return LiveFigures(
        datasets=len(ds),
        bytes=sum(d.bytes for d in ds),
        per_wp={k: len(v) for k, v in sorted(live.datasets_by_wp().items(), key=lambda kv: int(kv[0][2:]))},
        formats=fmts.most_common(),
        open_format_share=(in_open / len(ds)) if ds else None,
        licenses=Counter(d.license for d in ds if d.license).most_common(),
        unlicensed=sum(1 for d in ds if not d.license),
        openness=Counter(d.openness for d in ds).most_common(),
        embargoed=sum(1 for d in ds if d.embargo_until and d.embargo_until > as_of),
        repositories=Counter(d.repository for d in ds if d.repository).most_common(),
        with_battinfo=sum(1 for d in ds if d.battinfo_keywords),
    )


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if size < 1000 or unit == "PB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


_env = Environment(
    loader=PackageLoader("databahn.dmp", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["bytes"] = _human_bytes


def render_document_html(
    plan: Plan,
    live: LiveState | None = None,
    generated_at: datetime | None = None,
    *,
    version: int | None = None,
    tracking: TrackingReport | None = None,
    diagrams: bool = True,
) -> str:
    """The DMP as one self-contained HTML page (inline SVG diagrams, inline CSS; printable)."""
    live = live or LiveState(as_of=generated_at or datetime.now(UTC))
    when = generated_at or live.as_of
    report = tracking or track(plan, live)
    comp: list[WpCompliance] = compliance(plan, live.datasets)
    ctx: dict[str, Any] = {
        "plan": plan,
        "p": plan.project,
        "fair": plan.fair,
        "live": live,
        "fig": live_figures(plan, live),
        "tracking": report,
        "counts": report.counts(),
        "compliance": {c.wp: c for c in comp},
        "traffic": {t.wp: t for t in report.per_wp},
        "generated_at": when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": version,
        "partners": {p.abbreviation: p for p in plan.partners},
        "groups": {g.key: g.label for g in plan.affinity_groups},
        "highway": Markup(render_highway_svg(plan, report)) if diagrams else None,
        "wp_svg": {
            w.key: Markup(render_wp_svg(plan, w.key, report))
            for w in plan.work_packages
            if diagrams and (plan.inflows(w.key) or plan.outflows(w.key))
        },
        "requirement_text": REQUIREMENT_TEXT,
    }
    return _env.get_template("dmp_document.html").render(**ctx)


def render_document_pdf(html: str) -> bytes:
    """PDF from the document HTML via WeasyPrint (optional dependency; clear error if it is missing)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: pango/cairo system libraries missing
        raise RuntimeError(
            "PDF output needs WeasyPrint and its system libraries (pango): "
            "`pip install weasyprint` and e.g. `apt-get install libpango-1.0-0 libpangoft2-1.0-0`; "
            f"HTML output works without it ({exc})"
        ) from exc
    pdf = HTML(string=html).write_pdf()
    if pdf is None:  # pragma: no cover - write_pdf returns bytes when no target is given
        raise RuntimeError("WeasyPrint produced no PDF")
    return bytes(pdf)


_BLOCKS = ("h1", "h2", "h3", "h4", "p", "li", "tr", "dt", "dd", "caption", "figcaption")


def document_text_lines(html: str) -> list[str]:
    """The document's readable text, one line per heading/paragraph/list item/table row (SVG skipped)."""
    root = lxml_html.fromstring(html)
    for bad in root.xpath("//svg|//*[local-name()='svg']|//style|//script"):
        bad.getparent().remove(bad)
    lines = []
    for el in root.iter(*_BLOCKS):
        if el.tag in ("p", "li") and any(a.tag in ("li", "td", "th") for a in el.iterancestors()):
            continue
        if el.tag == "tr":
            cells = [" ".join(c.text_content().split()) for c in el if c.tag in ("td", "th")]
            text = " | ".join(cells)
        else:
            text = " ".join(el.text_content().split())
        if text:
            lines.append(text)
    return lines


def diff_documents(html_a: str, html_b: str, label_a: str = "version A", label_b: str = "version B") -> str:
    """A readable HTML diff of two generated documents' text (changed lines with 3 lines of context)."""
    a, b = document_text_lines(html_a), document_text_lines(html_b)
    if a == b:
        table = "<p>No differences in the text of the two versions.</p>"
    else:
        table = difflib.HtmlDiff(wrapcolumn=90).make_table(a, b, label_a, label_b, context=True, numlines=3)
    added = sum(1 for line in difflib.ndiff(a, b) if line.startswith("+ "))
    removed = sum(1 for line in difflib.ndiff(a, b) if line.startswith("- "))
    return _env.get_template("dmp_diff.html").render(
        label_a=label_a, label_b=label_b, table=Markup(table), added=added, removed=removed
    )
