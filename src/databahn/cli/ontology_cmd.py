"""`databahn ontology ...`: look up, search and document BattINFO terms from the command line."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from databahn.ontology.env import load_from_env, ontology_cache_dir, ontology_dir
from databahn.ontology.index import Ontology
from databahn.ontology.loader import load_ontology
from databahn.ontology.model import AmbiguousTerm, FetchError, OntologyUnavailable, Term, UnknownTerm

app = typer.Typer(
    no_args_is_help=True,
    help="BattINFO ontology: show and search terms, fetch the release, compile the index, write a reference.",
)

EXIT_UNKNOWN = 1
EXIT_UNAVAILABLE = 2


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _ontology() -> Ontology:
    ontology, status = load_from_env()
    if ontology is None:
        _err().print(Text(status.message, style="yellow"))
        raise typer.Exit(EXIT_UNAVAILABLE)
    return ontology


def _brief(ontology: Ontology, iris: tuple[str, ...]) -> list[dict[str, str]]:
    rows = [{"iri": iri, "label": ontology.label(iri)} for iri in iris]
    return sorted(rows, key=lambda r: r["label"].lower())


def _labels(ontology: Ontology, iris: tuple[str, ...]) -> str:
    return ", ".join(r["label"] for r in _brief(ontology, iris))


def _term_json(ontology: Ontology, term: Term) -> dict[str, Any]:
    data = term.as_dict()
    data["parents"] = _brief(ontology, term.parents)
    data["children"] = _brief(ontology, term.children)
    return data


def _fail(exc: UnknownTerm | AmbiguousTerm, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"error": exc.detail, "candidates": [c._asdict() for c in exc.candidates]}))
    else:
        _err().print(Text(exc.detail, style="red"))
    raise typer.Exit(EXIT_UNKNOWN)


@app.command()
def show(
    label_or_iri: Annotated[str, typer.Argument(help="A label, synonym, IRI (legacy IRIs too) or CURIE.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one term: IRI, label, synonyms, elucidation, parents and children."""
    ontology = _ontology()
    try:
        term = ontology.resolve(label_or_iri)
    except (UnknownTerm, AmbiguousTerm) as exc:
        _fail(exc, as_json)
        return
    if as_json:
        typer.echo(json.dumps(_term_json(ontology, term), ensure_ascii=False, indent=2))
        return
    out = _out()
    heading = Text(term.label, style="bold")
    if term.deprecated:
        heading.append("  (deprecated)", style="yellow")
    out.print(heading)
    out.print(Text(term.iri, style="cyan"))
    if term.deprecated:
        current = [t for t in ontology.terms_with_label(term.label) if not t.deprecated]
        note = "use instead: " + ", ".join(f"{t.label} <{t.iri}>" for t in current) if current else ""
        out.print(Text("this class is deprecated" + (f"; {note}" if note else ""), style="yellow"))
    if term.elucidation:
        out.print(Text(term.elucidation))
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("synonyms", Text(", ".join(term.synonyms) or "-"))
    table.add_row("parents", Text(_labels(ontology, term.parents) or "- (a root)"))
    table.add_row("children", Text(_labels(ontology, term.children) or "-"))
    table.add_row("module", Text(term.module or "-"))
    out.print(table)


@app.command()
def search(
    text: Annotated[
        str, typer.Argument(help="Part of a label or synonym, e.g. 'electrode' or 'cyclic volt'.")
    ],
    limit: Annotated[int, typer.Option(min=1, max=500, help="Most results to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    deprecated: Annotated[bool, typer.Option("--deprecated", help="Include deprecated classes.")] = False,
) -> None:
    """Search terms by label and synonym (exact, prefix, word prefix, substring, then fuzzy)."""
    ontology = _ontology()
    hits = ontology.search(text, limit=limit, include_deprecated=deprecated)
    if as_json:
        rows = [
            {"iri": t.iri, "label": t.label, "synonyms": list(t.synonyms), "deprecated": t.deprecated}
            for t in hits
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not hits:
        _err().print(Text(f"no term matches {text!r}", style="yellow"))
        raise typer.Exit(EXIT_UNKNOWN)
    table = Table("label", "synonyms", "IRI")
    for t in hits:
        table.add_row(
            Text(t.label + (" (deprecated)" if t.deprecated else "")),
            Text(", ".join(t.synonyms)),
            Text(t.iri),
        )
    _out().print(table)


@app.command()
def suggest(
    text: Annotated[str, typer.Argument(help="A dataset title and/or file names.")],
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Suggest ontology terms mentioned in a title or file names."""
    ontology = _ontology()
    hits = ontology.suggest(text, limit=limit)
    if as_json:
        typer.echo(json.dumps([{"iri": t.iri, "label": t.label} for t in hits], ensure_ascii=False, indent=2))
        return
    for t in hits:
        _out().print(Text(f"{t.label}  <{t.iri}>"))


@app.command()
def compile(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Recompile even if the cached index is current.")
    ] = False,
) -> None:
    """Compile the ontology into the cached index and report problems with its files."""
    source, cache = ontology_dir(), ontology_cache_dir()
    start = time.perf_counter()
    try:
        ontology = load_ontology(source, cache, rebuild=rebuild)
    except OntologyUnavailable as exc:
        _err().print(Text(exc.detail, style="yellow"))
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    seconds = time.perf_counter() - start
    stats = ontology.stats
    _out().print(
        Text(
            f"{stats['terms']} terms ({stats['deprecated']} deprecated) from {stats['files']} files "
            f"in {seconds:.2f} s; index in {cache}"
        )
    )
    for problem in ontology.problems:
        _err().print(Text(f"problem: {problem}", style="yellow"))


@app.command()
def fetch(
    dest: Annotated[
        Path | None, typer.Option("--dest", help="Folder to write to (default: DATABAHN_ONTOLOGY_DIR).")
    ] = None,
    url: Annotated[
        list[str] | None, typer.Option("--url", help="Ontology IRI to start from (repeatable).")
    ] = None,
) -> None:
    """Download the official BattINFO release files and their imports (needs the network)."""
    from databahn.ontology.fetch import DEFAULT_URLS, fetch_ontology

    target = dest or ontology_dir()
    try:
        files = fetch_ontology(target, url or DEFAULT_URLS)
    except FetchError as exc:
        _err().print(Text(exc.detail, style="red"))
        raise typer.Exit(EXIT_UNKNOWN) from None
    _out().print(
        Text(f"downloaded {len(files)} files into {target}; run `databahn ontology compile` to index them")
    )


@app.command()
def reference(
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder for the HTML reference.")],
    title: Annotated[str, typer.Option(help="Title of the reference.")] = "BattINFO reference",
) -> None:
    """Write a static HTML reference of the ontology (class tree, A-Z index, one page per term)."""
    from databahn.ontology.reference import render_reference_html

    ontology = _ontology()
    index = render_reference_html(ontology, out, title=title)
    _out().print(Text(f"wrote {len(ontology)} term pages; open {index}"))
