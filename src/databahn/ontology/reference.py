"""A static, browsable HTML reference of the loaded ontology (class tree, A-Z index, a page per term).

Static files so it can be published next to the hub's documentation or opened from disk; every
label and elucidation goes through Jinja2 autoescaping because ontology text is third-party input.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from databahn.ontology.index import Ontology
from databahn.ontology.model import Term


@dataclass
class _Node:
    term: Term
    href: str
    repeat: bool = False
    open: bool = False
    children: list[_Node] = field(default_factory=list)


def term_filename(term: Term) -> str:
    """A stable, filesystem-safe page name: the label (IRIs are opaque UUIDs) plus a hash of the IRI."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", term.label)[:60] or "term"
    return f"terms/{safe}-{hashlib.sha1(term.iri.encode()).hexdigest()[:8]}.html"


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("databahn.ontology", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _tree(ontology: Ontology) -> list[_Node]:
    expanded: set[str] = set()

    def build(term: Term, depth: int) -> _Node:
        node = _Node(term, term_filename(term), repeat=term.iri in expanded, open=depth < 1)
        if node.repeat:
            return node
        expanded.add(term.iri)
        kids = sorted((ontology.term(c) for c in term.children), key=lambda t: t.label.lower() if t else "")
        node.children = [build(k, depth + 1) for k in kids if k is not None]
        return node

    roots = sorted((t for t in ontology if not t.parents), key=lambda t: t.label.lower())
    return [build(r, 0) for r in roots]


def render_reference_html(
    ontology: Ontology,
    out_dir: Path,
    *,
    title: str = "Ontology reference",
    dataset_counts: Mapping[str, int] | None = None,
) -> Path:
    """Write the reference into `out_dir` and return the path of its index page.

    `dataset_counts` (IRI -> datasets tagged with it or a subclass, as `Ontology.count_by_term`
    gives for what the viewer may see) adds a "Datasets tagged" line to each term page.
    """
    out_dir = Path(out_dir)
    (out_dir / "terms").mkdir(parents=True, exist_ok=True)
    env = _environment()
    common = {"title": title, "source": ontology.source, "stats": ontology.stats}

    def link(iri: str) -> dict[str, object] | None:
        t = ontology.term(iri)
        return {"term": t, "href": term_filename(t)} if t else None

    index = out_dir / "index.html"
    index.write_text(
        env.get_template("index.html").render(
            **common, root="", tree=_tree(ontology), problems=ontology.problems
        ),
        encoding="utf-8",
    )

    entries = []
    for t in ontology:
        for text in (t.label, *t.synonyms):
            entries.append({"text": text, "term": t, "href": term_filename(t)})
    entries.sort(key=lambda e: (str(e["text"]).lower(), str(e["href"])))
    groups: dict[str, list[dict[str, object]]] = {}
    for e in entries:
        first = str(e["text"])[:1].upper()
        groups.setdefault(first if first.isalpha() else "#", []).append(e)
    (out_dir / "alphabetical.html").write_text(
        env.get_template("alphabetical.html").render(**common, root="", groups=sorted(groups.items())),
        encoding="utf-8",
    )

    page = env.get_template("term.html")
    for t in ontology:
        (out_dir / term_filename(t)).write_text(
            page.render(
                **common,
                root="../",
                term=t,
                parents=[x for x in map(link, t.parents) if x],
                children=[x for x in map(link, t.children) if x],
                datasets=None if dataset_counts is None else dataset_counts.get(t.iri, 0),
            ),
            encoding="utf-8",
        )
    css = resources.files("databahn.ontology").joinpath("templates/style.css")
    with resources.as_file(css) as css_path:
        shutil.copyfile(css_path, out_dir / "style.css")
    return index
