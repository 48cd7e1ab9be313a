"""`databahn dmp ...`: load, show, draw, document, compare and export the plan.

Mounted by the main CLI with ``app.add_typer(dmp_app, name="dmp")``. Without a database the
commands keep their state in a directory (``--state``, default ``$DATABAHN_DMP_STATE`` or
``.databahn/dmp``): the current plan as ``plan.yaml`` and the generated document versions. The hub
can feed live figures by calling ``set_live_provider`` with a function Plan -> LiveState.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from databahn.dmp.archive import DocumentArchive
from databahn.dmp.document import diff_documents, render_document_html, render_document_pdf
from databahn.dmp.highway import render_highway_svg, render_wp_svg
from databahn.dmp.loader import PlanError, dump_plan_yaml, load_any, load_default_plan, load_plan
from databahn.dmp.madmp import MadmpError, export_madmp, validation_errors
from databahn.dmp.model import Plan, SizeClass
from databahn.dmp.tracking import LiveState, track

dmp_app = typer.Typer(no_args_is_help=True, help="The Data Management Plan as a living tool.")
console = Console()
err = Console(stderr=True)

_live_provider: Callable[[Plan], LiveState] | None = None

StateOpt = Annotated[
    Path | None,
    typer.Option("--state", help="Directory for the current plan and document versions.", show_default=False),
]


def set_live_provider(provider: Callable[[Plan], LiveState] | None) -> None:
    """Let the hub supply live figures (datasets, deliveries) to `dmp document/highway/export`."""
    global _live_provider
    _live_provider = provider


def _state_dir(state: Path | None) -> Path:
    return state or Path(os.environ.get("DATABAHN_DMP_STATE", ".databahn/dmp"))


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=2)


def current_plan(state: Path | None = None) -> Plan:
    """The loaded plan (``dmp load``), or the shipped BIG-MAP plan if none was loaded."""
    path = _state_dir(state) / "plan.yaml"
    return load_plan(path) if path.exists() else load_default_plan()


def _live(plan: Plan) -> LiveState:
    return _live_provider(plan) if _live_provider else LiveState()


@dmp_app.command("load")
def load_cmd(file: Path, state: StateOpt = None) -> None:
    """Load a plan (databahn YAML/JSON or maDMP JSON) and make it the current plan."""
    try:
        plan = load_any(file)
    except PlanError as exc:
        err.print(exc.report())
        raise typer.Exit(code=2) from None
    except MadmpError as exc:
        err.print(f"{file} was refused:\n" + "\n".join(f"  - {p}" for p in exc.problems))
        raise typer.Exit(code=2) from None
    target = _state_dir(state)
    target.mkdir(parents=True, exist_ok=True)
    (target / "plan.yaml").write_text(dump_plan_yaml(plan), encoding="utf-8")
    console.print(
        f"Loaded {plan.project.acronym}: {len(plan.work_packages)} work packages, "
        f"{sum(len(w.data_types) for w in plan.work_packages)} data types, {len(plan.flows)} planned flows."
    )


@dmp_app.command("show")
def show_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole plan as JSON.")] = False,
    state: StateOpt = None,
) -> None:
    """Show the current plan: work packages, their tables and flows."""
    plan = current_plan(state)
    if as_json:
        data = plan.model_dump(mode="json", exclude_none=True)
        data["flows"] = [f.model_dump(mode="json", exclude_none=True) for f in plan.flows]
        print(json.dumps(data, indent=1, ensure_ascii=False))
        return
    report = track(plan, _live(plan))
    console.print(
        f"[bold]{plan.project.acronym}[/bold]: {plan.project.title} (plan version {plan.project.version})"
    )
    table = Table("WP", "Title", "Group", "Data types", "In", "Out", "Datasets in/out")
    traffic = {t.wp: t for t in report.per_wp}
    for w in plan.work_packages:
        t = traffic[w.key]
        table.add_row(
            w.key,
            w.title,
            w.affinity_group or "",
            str(len(w.data_types)),
            str(len(plan.inflows(w.key))),
            str(len(plan.outflows(w.key))),
            f"{t.datasets_in}/{t.datasets_out}",
        )
    console.print(table)
    c = report.counts()
    console.print(
        f"{len(plan.flows)} planned flows: {c['delivering']} delivering, {c['started']} started, "
        f"{c['planned']} planned, {c['overdue']} overdue; {len(report.unplanned)} unplanned actual flow(s)."
    )


@dmp_app.command("highway")
def highway_cmd(
    output: Annotated[Path, typer.Option("-o", "--output", help="SVG file to write.")],
    wp: Annotated[str | None, typer.Option("--wp", help="Draw one WP's in/out diagram, e.g. WP5.")] = None,
    min_size: Annotated[
        str | None,
        typer.Option("--min-size", help="Only planned flows of at least this size class (KB/MB/GB/TB)."),
    ] = None,
    state: StateOpt = None,
) -> None:
    """Draw the highway of data (or one WP's in/out diagram) as SVG."""
    plan = current_plan(state)
    report = track(plan, _live(plan))
    try:
        floor = SizeClass.parse(min_size) if min_size else None
        svg = render_wp_svg(plan, wp, report) if wp else render_highway_svg(plan, report, min_size=floor)
    except (KeyError, ValueError) as exc:
        raise _fail(str(exc.args[0])) from None
    output.write_text(svg, encoding="utf-8")
    console.print(f"Wrote {output}")


@dmp_app.command("document")
def document_cmd(
    output: Annotated[Path, typer.Option("-o", "--output", help="FILE.html or FILE.pdf")],
    version: Annotated[
        int | None, typer.Option("--version", help="Write a kept version instead of a new one.")
    ] = None,
    state: StateOpt = None,
) -> None:
    """Generate the DMP document from the plan and the live state (each generation is kept as a version)."""
    suffix = output.suffix.lower()
    if suffix not in (".html", ".htm", ".pdf"):
        raise _fail(f"{output}: the document can be written as .html or .pdf")
    archive = DocumentArchive(_state_dir(state) / "documents")
    if version is not None:
        try:
            html = archive.get(version)
        except KeyError as exc:
            raise _fail(str(exc.args[0])) from None
        number = version
    else:
        plan = current_plan(state)
        now = datetime.now(UTC)
        number = archive.next_number()
        html = render_document_html(plan, _live(plan), now, version=number)
        archive.save(
            html, plan_acronym=plan.project.acronym, plan_version=plan.project.version, generated_at=now
        )
    if suffix == ".pdf":
        try:
            output.write_bytes(render_document_pdf(html))
        except RuntimeError as exc:
            raise _fail(str(exc)) from None
    else:
        output.write_text(html, encoding="utf-8")
    console.print(f"Wrote {output} (document version {number})")


@dmp_app.command("diff")
def diff_cmd(
    a: int,
    b: int,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="HTML file (default: text to stdout).")
    ] = None,
    state: StateOpt = None,
) -> None:
    """Compare two kept document versions."""
    import difflib

    from databahn.dmp.document import document_text_lines

    archive = DocumentArchive(_state_dir(state) / "documents")
    try:
        html_a, html_b = archive.get(a), archive.get(b)
    except KeyError as exc:
        raise _fail(str(exc.args[0])) from None
    if output:
        output.write_text(diff_documents(html_a, html_b, f"version {a}", f"version {b}"), encoding="utf-8")
        console.print(f"Wrote {output}")
        return
    lines = difflib.unified_diff(
        document_text_lines(html_a), document_text_lines(html_b), f"version {a}", f"version {b}", lineterm=""
    )
    print("\n".join(lines) or "No differences in the text of the two versions.")


@dmp_app.command("export")
def export_cmd(
    output: Annotated[Path, typer.Option("-o", "--output", help="JSON file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="Export format (madmp).")] = "madmp",
    contact_email: Annotated[
        str | None, typer.Option("--contact-email", help="DMP contact e-mail if the plan has none.")
    ] = None,
    state: StateOpt = None,
) -> None:
    """Export the plan (with live datasets) as RDA maDMP 1.2 JSON, validated before writing."""
    if fmt.lower() != "madmp":
        raise _fail(f"unknown export format {fmt!r}; available: madmp")
    plan = current_plan(state)
    try:
        data = export_madmp(plan, _live(plan), contact_email=contact_email)
    except MadmpError as exc:
        raise _fail("; ".join(exc.problems)) from None
    problems = validation_errors(data)
    if problems:
        raise _fail("the export is not valid maDMP 1.2: " + "; ".join(problems[:5]))
    output.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    console.print(f"Wrote {output} ({len(data['dmp']['dataset'])} maDMP datasets, valid against maDMP 1.2)")
