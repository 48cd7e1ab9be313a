"""`databahn dmp ...`: load, show, draw, document, compare and export the plan.

Mounted by the main CLI with ``app.add_typer(dmp_app, name="dmp")``. By default the commands work
on the hub configured for this machine (like `databahn user`): the plan versions and the kept
document versions live in its database and the live figures are everything the hub holds (the
command runs as the system). With ``--state DIR`` (or ``$DATABAHN_DMP_STATE``) they work without a
hub, keeping the current plan as ``plan.yaml`` and the documents in that directory;
``set_live_provider`` (a function Plan -> LiveState) then supplies live figures.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

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
    typer.Option(
        "--state",
        help="Work without a hub: keep the plan and document versions in this directory.",
        show_default=False,
    ),
]


def set_live_provider(provider: Callable[[Plan], LiveState] | None) -> None:
    """Supply live figures (datasets, deliveries) to `dmp document/highway/export/show`."""
    global _live_provider
    _live_provider = provider


def _state_dir(state: Path | None) -> Path:
    return state or Path(os.environ.get("DATABAHN_DMP_STATE", ".databahn/dmp"))


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def current_plan(state: Path | None = None) -> Plan:
    """The plan loaded into a state directory (``dmp load --state``), or the shipped BIG-MAP plan."""
    path = _state_dir(state) / "plan.yaml"
    return load_plan(path) if path.exists() else load_default_plan()


def _open_hub() -> Any:
    """The hub of this machine's configuration (tests replace this)."""
    from databahn.services.hub import Hub

    try:
        return Hub()
    except Exception as exc:  # configuration or database unreachable
        raise _fail(f"cannot open the hub ({exc}); pass --state DIR to work without one") from None


class _Files:
    """Plan and documents in a directory, for use without a hub."""

    def __init__(self, state: Path | None) -> None:
        self.state = state
        self.archive = DocumentArchive(_state_dir(state) / "documents")

    def plan(self) -> Plan:
        return current_plan(self.state)

    def live(self, plan: Plan) -> LiveState:
        return _live_provider(plan) if _live_provider else LiveState()

    def load(self, file: Path) -> Plan:
        plan = load_any(file)
        target = _state_dir(self.state)
        target.mkdir(parents=True, exist_ok=True)
        (target / "plan.yaml").write_text(dump_plan_yaml(plan), encoding="utf-8")
        return plan

    def new_document(self) -> tuple[int, str]:
        plan = self.plan()
        now = datetime.now(UTC)
        number = self.archive.next_number()
        html = render_document_html(plan, self.live(plan), now, version=number)
        self.archive.save(
            html, plan_acronym=plan.project.acronym, plan_version=plan.project.version, generated_at=now
        )
        return number, html

    def document(self, number: int) -> str:
        try:
            return self.archive.get(number)
        except KeyError as exc:
            raise _fail(str(exc.args[0])) from None

    def madmp(self, contact_email: str | None) -> dict[str, Any]:
        plan = self.plan()
        try:
            return export_madmp(plan, self.live(plan), contact_email=contact_email)
        except MadmpError as exc:
            raise _fail("; ".join(exc.problems)) from None


class _Hub:
    """Plan versions and documents in the hub's database; live figures of everything it holds."""

    def __init__(self) -> None:
        from databahn.services.policy import SYSTEM

        self.hub = _open_hub()
        self.dmp = self.hub.ext["dmp"]
        self.system = SYSTEM

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from databahn.errors import DatabahnError

        try:
            return fn(*args, **kwargs)
        except DatabahnError as exc:
            err.print(f"[red]error:[/red] {exc.detail}", highlight=False, soft_wrap=True)
            for e in exc.errors:
                err.print(f"  - {e.field}: {e.message}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    def plan(self) -> Plan:
        plan: Plan = self._call(self.dmp.current)[1]
        return plan

    def live(self, plan: Plan) -> LiveState:
        if _live_provider:
            return _live_provider(plan)
        live: LiveState = self._call(self.dmp.live_state, self.system, plan)
        return live

    def load(self, file: Path) -> Plan:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise _fail(f"cannot read {file}: {exc.strerror}") from None
        from databahn.errors import InvalidInput

        try:
            info = self.dmp.load(self.system, data, str(file))
        except InvalidInput as exc:
            lines = [e.message if e.field == "madmp" else f"{e.field}: {e.message}" for e in exc.errors]
            err.print(f"{file} was refused:", highlight=False, soft_wrap=True)
            for line in lines or [exc.detail]:
                err.print(f"  - {line}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        plan: Plan = self.dmp.plan(info.number)[1]
        return plan

    def new_document(self) -> tuple[int, str]:
        info = self._call(self.dmp.generate_document, self.system)
        return info.number, self.document(info.number)

    def document(self, number: int) -> str:
        html: str = self._call(self.dmp.document_html, self.system, number)
        return html

    def madmp(self, contact_email: str | None) -> dict[str, Any]:
        data: dict[str, Any] = self._call(self.dmp.madmp, self.system, contact_email=contact_email)
        return data


def _backend(state: Path | None) -> _Files | _Hub:
    if state is not None or os.environ.get("DATABAHN_DMP_STATE"):
        return _Files(state)
    return _Hub()


@dmp_app.command("load")
def load_cmd(file: Path, state: StateOpt = None) -> None:
    """Load a plan (databahn YAML/JSON or maDMP JSON) and make it the current plan (earlier ones are kept)."""
    backend = _backend(state)
    try:
        plan = backend.load(file)
    except PlanError as exc:
        err.print(exc.report(), highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    except MadmpError as exc:
        err.print(f"{file} was refused:\n" + "\n".join(f"  - {p}" for p in exc.problems), highlight=False)
        raise typer.Exit(code=2) from None
    console.print(
        f"Loaded {plan.project.acronym}: {len(plan.work_packages)} work packages, "
        f"{sum(len(w.data_types) for w in plan.work_packages)} data types, {len(plan.flows)} planned flows.",
        highlight=False,
    )


@dmp_app.command("show")
def show_cmd(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan and tracking status as JSON.")
    ] = False,
    state: StateOpt = None,
) -> None:
    """Show the current plan: work packages, their flows and the tracking status of each flow."""
    backend = _backend(state)
    plan = backend.plan()
    report = track(plan, backend.live(plan))
    if as_json:
        data = plan.model_dump(mode="json", exclude_none=True)
        data["flows"] = [f.model_dump(mode="json", exclude_none=True) for f in plan.flows]
        data["tracking"] = report.model_dump(mode="json")
        print(json.dumps(data, indent=1, ensure_ascii=False))
        return
    console.print(
        f"[bold]{plan.project.acronym}[/bold]: {plan.project.title} (plan version {plan.project.version})"
    )
    table = Table("WP", "Title", "Group", "Data types", "In", "Out", "Datasets in/out", "Flow status")
    traffic = {t.wp: t for t in report.per_wp}
    states: dict[str, dict[str, int]] = {}
    for st in report.flows:
        counts = states.setdefault(st.flow.source, {})
        counts[st.status] = counts.get(st.status, 0) + 1
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
            ", ".join(f"{k} {n}" for k, n in sorted(states.get(w.key, {}).items())),
        )
    console.print(table)
    c = report.counts()
    console.print(
        f"{len(plan.flows)} planned flows: {c['delivering']} delivering, {c['started']} started, "
        f"{c['planned']} planned, {c['overdue']} overdue; {len(report.unplanned)} unplanned actual flow(s)"
        + (
            ": " + ", ".join(f"{a.source}->{a.target}" for a in report.unplanned) if report.unplanned else "."
        ),
        highlight=False,
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
    backend = _backend(state)
    plan = backend.plan()
    report = track(plan, backend.live(plan))
    try:
        floor = SizeClass.parse(min_size) if min_size else None
        svg = render_wp_svg(plan, wp, report) if wp else render_highway_svg(plan, report, min_size=floor)
    except (KeyError, ValueError) as exc:
        raise _fail(str(exc.args[0])) from None
    output.write_text(svg, encoding="utf-8")
    console.print(f"Wrote {output}", highlight=False)


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
    backend = _backend(state)
    if version is not None:
        html = backend.document(version)
        number = version
    else:
        number, html = backend.new_document()
    if suffix == ".pdf":
        try:
            output.write_bytes(render_document_pdf(html))
        except RuntimeError as exc:
            raise _fail(str(exc)) from None
    else:
        output.write_text(html, encoding="utf-8")
    console.print(f"Wrote {output} (document version {number})", highlight=False)


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

    backend = _backend(state)
    html_a, html_b = backend.document(a), backend.document(b)
    if output:
        output.write_text(diff_documents(html_a, html_b, f"version {a}", f"version {b}"), encoding="utf-8")
        console.print(f"Wrote {output}", highlight=False)
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
    data = _backend(state).madmp(contact_email)
    problems = validation_errors(data)
    if problems:
        raise _fail("the export is not valid maDMP 1.2: " + "; ".join(problems[:5]))
    output.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    console.print(
        f"Wrote {output} ({len(data['dmp']['dataset'])} maDMP datasets, valid against maDMP 1.2)",
        highlight=False,
    )
