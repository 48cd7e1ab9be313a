"""`databahn export`, `databahn catalog` and `databahn fair`: exports and FAIR checks from the server.

These open the hub directly (like `databahn reindex`), read as the anonymous public by default so an
export never shows more than the landing page does, and `--as-admin` reads everything (the operator
has the database anyway). `register(app)` adds the commands to the main Typer app.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from databahn.domain.records import FileRecord, VersionRecord
from databahn.exporters.base import ExportContext, ExportError, get_exporter

if TYPE_CHECKING:
    from databahn.fair import FairReport
    from databahn.services.hub import Hub
    from databahn.services.policy import Principal

AdminOpt = Annotated[
    bool, typer.Option("--as-admin", help="read as the system administrator (drafts, restricted files)")
]


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def _errors(as_admin: bool = True) -> Iterator[None]:
    """Export, policy and configuration errors become one line on stderr and exit code 1."""
    from databahn.errors import DatabahnError, NotFound

    try:
        yield
    except ExportError as exc:
        _fail(str(exc))
    except NotFound as exc:
        hint = (
            "" if as_admin else " (this reads as the public; add --as-admin for drafts and restricted data)"
        )
        _fail(exc.detail + hint)
    except DatabahnError as exc:
        _fail(exc.detail + "".join(f"; {e.field}: {e.message}" for e in exc.errors))
    except (ValueError, OSError) as exc:
        _fail(str(exc))


def _open_hub() -> Hub:
    from databahn.services.hub import Hub

    try:
        return Hub()
    except Exception as exc:  # configuration or database unreachable
        _fail(f"cannot open the hub: {exc}")


def _principal(as_admin: bool) -> Principal:
    from databahn.services.policy import ANONYMOUS, SYSTEM

    return SYSTEM if as_admin else ANONYMOUS


def hub_context(hub: Hub, principal: Principal, pid: str | None = None) -> ExportContext:
    """An ExportContext from the hub's settings, streaming file bytes through the access policy."""

    def open_file(f: FileRecord) -> Iterator[bytes]:
        assert pid is not None
        return hub.files.open(principal, pid, f.key).chunks

    s = hub.settings
    return ExportContext(
        base_url=s.base_url,
        hub_name=s.hub_name,
        publisher=s.publisher,
        open_file=open_file if pid else None,
        term_label=_term_labels(),
    )


def _term_labels() -> Callable[[str], str | None] | None:
    """Labels of BattINFO/EMMO terms from the configured ontology, so exports show names, not UUIDs."""
    try:
        from databahn.ontology.env import load_from_env

        ontology, _status = load_from_env()
    except Exception:  # the ontology is an enhancement: exports work without it
        return None
    if ontology is None:
        return None

    def label(iri: str) -> str | None:
        term = ontology.term(iri)
        return term.label if term else None

    return label


def export_version(hub: Hub, pid: str, fmt: str, out: Path | None, principal: Principal) -> Path | bytes:
    """Export one version; returns the written path, or the bytes when no output path is given."""
    exporter = get_exporter(fmt)
    record = hub.datasets.get(principal, pid)
    ctx = hub_context(hub, principal, record.pid)
    if out is None:
        if exporter.is_package:
            raise ExportError(
                f"{exporter.name} writes a package: give an output path with -o DIR or -o FILE.zip"
            )
        return exporter.export(record, ctx)
    return exporter.write(record, ctx, out)


def public_records(hub: Hub, principal: Principal) -> list[VersionRecord]:
    """Every version the principal can find, page by page through the search service."""
    from databahn.search.index import SearchQuery

    records: list[VersionRecord] = []
    page = 1
    while True:
        result = hub.datasets.search(
            principal, SearchQuery(sort="newest", page=page, size=200, with_facets=False)
        )
        records.extend(r for r in result.hits if r.state.value == "published")
        if page * result.size >= result.total or not result.hits:
            return records
        page += 1


def render_report(report: FairReport) -> str:
    from databahn.fair import Status

    marks = {Status.passed: "PASS", Status.partial: "PART", Status.failed: "FAIL"}
    lines = [
        f"FAIR self-assessment of {report.pid}: {report.score}%  "
        + "  ".join(f"{k} {v}%" for k, v in report.by_principle().items())
    ]
    for m in report.metrics:
        lines.append(f"  [{marks[m.status]}] {m.id:<13} {m.name} ({m.points:g}/{m.max_points:g}): {m.reason}")
        if m.advice:
            lines.append(f"         advice: {m.advice}")
    return "\n".join(lines)


def export_cmd(
    pid: Annotated[str, typer.Argument(help="version or dataset PID")],
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="datacite, dc, schemaorg, ro-crate, bagit, bibtex, csl or dcat"),
    ],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file, directory or .zip")] = None,
    as_admin: AdminOpt = False,
) -> None:
    """Export a version as DataCite, Dublin Core, schema.org, RO-Crate, BagIt, BibTeX, CSL-JSON or DCAT."""
    with _errors(as_admin):
        result = export_version(_open_hub(), pid, fmt, output, _principal(as_admin))
    if isinstance(result, bytes):
        sys.stdout.buffer.write(result)
    else:
        typer.echo(f"wrote {result}")


def catalog_cmd(
    fmt: Annotated[str, typer.Option("--format", "-f", help="catalog format: dcat")] = "dcat",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Turtle file to write")] = None,
    as_admin: AdminOpt = False,
) -> None:
    """Write the hub's DCAT-AP 3 catalog of published datasets (Turtle)."""
    from databahn.exporters.dcat import export_catalog

    if fmt != "dcat":
        _fail(f"unknown catalog format {fmt!r}; available: dcat")
    with _errors():
        hub = _open_hub()
        principal = _principal(as_admin)
        text = export_catalog(public_records(hub, principal), hub_context(hub, principal))
        if output is None:
            sys.stdout.write(text)
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}")


def fair_cmd(
    pid: Annotated[str, typer.Argument(help="version or dataset PID")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    minimum: Annotated[float | None, typer.Option("--minimum", help="gate: exit 2 below this score")] = None,
    as_admin: AdminOpt = False,
) -> None:
    """FAIR self-assessment of a version (F-UJI-style metrics), with reasons and advice."""
    from databahn.fair import FairConfig, assess, gate

    with _errors(as_admin):
        record = _open_hub().datasets.get(_principal(as_admin), pid)
        config = FairConfig() if minimum is None else FairConfig(minimum_score=minimum)
        report = assess(record, config=config)
        decision = gate(report, config=config)
    if as_json:
        data = report.to_dict() | {"gate": {"allowed": decision.allowed, "message": decision.message}}
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        typer.echo(render_report(report))
        typer.echo(("gate: " if decision.allowed else "gate: BLOCKED — ") + decision.message)
    if minimum is not None and not decision.allowed:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add `export`, `catalog` and `fair` to the main CLI."""
    app.command("export")(export_cmd)
    app.command("catalog")(catalog_cmd)
    app.command("fair")(fair_cmd)
