"""Cold path: read Turtle/RDF files with rdflib, follow owl:imports through an OASIS XML catalog,
and compile what Databahn needs (labels, synonyms, elucidations, parents, closure, deprecation)
into a JSON index in the cache directory. The warm path reads that index without importing rdflib.

A broken or missing file never stops loading: it becomes a `LoadProblem` naming the file, and the
rest of the ontology is compiled from what could be read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from databahn.ontology.index import Ontology
from databahn.ontology.model import LoadProblem, OntologyUnavailable, Term, TermKind

if TYPE_CHECKING:
    from rdflib import Graph

FORMAT_VERSION = 2
CATALOG_NAME = "catalog-v001.xml"
VOCABULARY_SUBDIR = "vocabularies"
# The BattINFO root; a directory whose catalog maps it is loaded from there along owl:imports.
DEFAULT_ENTRY_IRIS = (
    "https://w3id.org/emmo/domain/battery/battery",
    "https://w3id.org/emmo/domain/battery",
)
RDF_FORMATS = {
    ".ttl": "turtle",
    ".owl": "xml",
    ".rdf": "xml",
    ".nt": "nt",
    ".n3": "n3",
    ".jsonld": "json-ld",
}

OWL = "http://www.w3.org/2002/07/owl#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
EMMO_ELUCIDATION = "https://w3id.org/emmo#EMMO_967080e5_2f42_4eb2_a3a9_c58143e835f9"
EMMO_DEFINITION = "https://w3id.org/emmo#EMMO_70fe84ff_99b6_4206_a9fc_9a8931836d84"

_CLASS_TYPES: dict[str, TermKind] = {OWL + "Class": "class", SKOS + "Concept": "concept"}
_TEXT_FIELDS = {
    SKOS + "prefLabel": "pref",
    SKOS + "altLabel": "alt",
    SKOS + "hiddenLabel": "hidden",
    RDFS + "label": "label",
    EMMO_ELUCIDATION: "eluc",
    EMMO_DEFINITION: "definition",
    SKOS + "definition": "definition",
    RDFS + "comment": "comment",
}


# --------------------------------------------------------------------------- catalog


@dataclass
class Catalog:
    """IRI -> local file, from an OASIS XML catalog (`uri` and `rewriteURI` entries)."""

    path: Path | None = None
    uris: dict[str, Path] = field(default_factory=dict)
    rewrites: list[tuple[str, Path]] = field(default_factory=list)

    def resolve(self, iri: str) -> Path | None:
        for candidate in (iri, iri.rstrip("/#")):
            if candidate in self.uris:
                return self.uris[candidate]
        for prefix, target in sorted(self.rewrites, key=lambda r: -len(r[0])):
            if iri.startswith(prefix):
                return target / iri[len(prefix) :]
        return None


def read_catalog(path: Path) -> Catalog:
    """Parse catalog-v001.xml (as Protégé writes it) safely; raise ValueError saying what is wrong."""
    from defusedxml import ElementTree

    try:
        root = ElementTree.parse(path).getroot()
    except Exception as exc:  # defusedxml raises ParseError and its own security errors
        raise ValueError(f"not a readable XML catalog: {exc}") from exc
    catalog = Catalog(path=path)
    xml_base = "{http://www.w3.org/XML/1998/namespace}base"

    def walk(element: Any, base: str) -> None:
        base = urljoin(base, element.get(xml_base, "")) if element.get(xml_base) else base
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "uri" and element.get("name") and element.get("uri"):
            catalog.uris[element.get("name")] = Path(urljoin(base, element.get("uri")))
        elif tag == "rewriteURI" and element.get("uriStartString") and element.get("rewritePrefix"):
            catalog.rewrites.append(
                (element.get("uriStartString"), Path(urljoin(base, element.get("rewritePrefix"))))
            )
        for child in element:
            walk(child, base)

    walk(root, str(path.parent.resolve()) + "/")
    catalog.uris = {name: _local(p) for name, p in catalog.uris.items()}
    catalog.rewrites = [(prefix, _local(p)) for prefix, p in catalog.rewrites]
    return catalog


def _local(path: Path) -> Path:
    """Catalog targets may be written as file: URLs or percent-encoded; make them plain paths."""
    text = str(path)
    if text.startswith("file:"):
        text = urlsplit(text).path
    return Path(unquote(text))


# --------------------------------------------------------------------------- collecting triples


@dataclass
class _Collected:
    """Per-subject facts gathered from every file; compiled into Terms at the end."""

    kinds: dict[str, TermKind] = field(default_factory=dict)
    module: dict[str, str] = field(default_factory=dict)
    text: dict[str, dict[str, list[tuple[str, str]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    parents: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    deprecated: set[str] = field(default_factory=set)

    def add_graph(self, graph: Graph, module: str) -> list[str]:
        """Take the facts of one parsed file; return the IRIs it owl:imports."""
        from rdflib import Literal, URIRef

        imports: list[str] = []
        for s, p, o in graph:
            pred = str(p)
            if pred == OWL + "imports" and isinstance(o, URIRef):
                imports.append(str(o))
                continue
            if not isinstance(s, URIRef):
                continue
            subj = str(s)
            if pred == RDF_TYPE:
                kind = _CLASS_TYPES.get(str(o))
                if kind and (subj not in self.kinds or kind == "class"):
                    self.kinds[subj] = kind
                    self.module.setdefault(subj, module)
            elif pred == RDFS + "subClassOf" or pred == SKOS + "broader":
                if isinstance(o, URIRef):
                    self.parents[subj].add(str(o))
            elif pred == SKOS + "narrower":
                if isinstance(o, URIRef):
                    self.parents[str(o)].add(subj)
            elif pred == OWL + "deprecated":
                if isinstance(o, Literal) and str(o).strip().lower() in {"true", "1"}:
                    self.deprecated.add(subj)
            elif pred in _TEXT_FIELDS and isinstance(o, Literal):
                value = (
                    " ".join(str(o).split())
                    if _TEXT_FIELDS[pred] in {"pref", "alt", "hidden", "label"}
                    else str(o).strip()
                )
                if value:
                    self.text[subj][_TEXT_FIELDS[pred]].append((value, (o.language or "").lower()))
        return imports

    def compile(self) -> tuple[list[Term], dict[str, tuple[str, ...]]]:
        terms: list[Term] = []
        hidden: dict[str, tuple[str, ...]] = {}
        for iri in sorted(self.kinds):
            text = self.text.get(iri, {})
            label = _pick(text.get("pref", [])) or _pick(text.get("label", [])) or _local_name(iri)
            synonyms = _unique(
                [v for v, _ in text.get("pref", [])]
                + [v for v, _ in text.get("alt", [])]
                + [v for v, _ in text.get("label", [])],
                exclude=label,
            )
            elucidation = _pick(text.get("eluc", [])) or _pick(text.get("definition", []))
            parents = tuple(sorted(p for p in self.parents.get(iri, ()) if p in self.kinds and p != iri))
            terms.append(
                Term(
                    iri=iri,
                    label=label,
                    synonyms=synonyms,
                    elucidation=elucidation,
                    comment=_pick(text.get("comment", [])),
                    parents=parents,
                    deprecated=iri in self.deprecated,
                    namespace=namespace_of(iri),
                    module=self.module.get(iri, ""),
                    kind=self.kinds[iri],
                )
            )
            if text.get("hidden"):
                hidden[iri] = _unique([v for v, _ in text["hidden"]], exclude=label)
        return terms, hidden


def _pick(values: list[tuple[str, str]]) -> str:
    """English first, then untagged, then whatever there is."""
    for wanted in ("en", "en-gb", "en-us", ""):
        for value, lang in values:
            if lang == wanted:
                return value
    return values[0][0] if values else ""


def _unique(values: Iterable[str], exclude: str) -> tuple[str, ...]:
    seen = {exclude}
    out = []
    for v in values:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return tuple(out)


def _local_name(iri: str) -> str:
    return iri.rstrip("/#").replace("#", "/").rsplit("/", 1)[-1]


def namespace_of(iri: str) -> str:
    if "#" in iri:
        return iri.rsplit("#", 1)[0] + "#"
    return iri.rsplit("/", 1)[0] + "/"


# --------------------------------------------------------------------------- parsing files


def _parse_file(path: Path) -> Graph:
    from rdflib import Graph

    fmt = RDF_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"unsupported file type {path.suffix!r} (use one of {', '.join(sorted(RDF_FORMATS))})"
        )
    graph = Graph()
    graph.parse(path, format=fmt)
    return graph


def _rel(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def _rdf_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and p.suffix.lower() in RDF_FORMATS and not p.name.startswith(".")
    )


def _collect(
    source_dir: Path, extra: Sequence[Path], entry: Sequence[str] | None
) -> tuple[_Collected, list[LoadProblem], list[str]]:
    """Parse the import closure of the entry ontologies plus `extra` files; never raise on a bad file."""
    collected = _Collected()
    problems: list[LoadProblem] = []
    loaded: list[str] = []
    catalog = Catalog()
    catalog_path = source_dir / CATALOG_NAME
    if catalog_path.is_file():
        try:
            catalog = read_catalog(catalog_path)
        except ValueError as exc:
            problems.append(
                LoadProblem(_rel(catalog_path, source_dir), f"{exc}; loading every RDF file instead")
            )

    queue: deque[tuple[Path, str]] = deque()
    if entry is None or entry:  # an empty `entry` means: only the `extra` files
        for iri in entry or DEFAULT_ENTRY_IRIS:
            target = catalog.resolve(iri) if "://" in iri else source_dir / iri
            if target is not None and target.exists():
                queue.append((target, f"entry {iri}"))
                break
        else:
            if entry:
                problems.append(
                    LoadProblem(entry[0], "entry ontology not found in the catalog or the directory")
                )
            # No BattINFO entry: take every RDF file found (e.g. a plain folder of vocabularies).
            queue.extend(
                (p, "directory scan") for p in _rdf_files(source_dir) if VOCABULARY_SUBDIR not in p.parts
            )
    for path in extra:
        if path.is_dir():
            queue.extend((p, "vocabulary") for p in _rdf_files(path))
        else:
            queue.append((path, "vocabulary"))

    seen: set[Path] = set()
    while queue:
        path, why = queue.popleft()
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        name = _rel(path, source_dir)
        if not path.is_file():
            problems.append(LoadProblem(name, f"file does not exist (needed as {why})"))
            continue
        try:
            graph = _parse_file(path)
        except Exception as exc:  # rdflib raises many parser-specific types; all mean "unreadable"
            message = " ".join(str(exc).split()) or type(exc).__name__
            problems.append(LoadProblem(name, f"could not be parsed, skipped: {message[:500]}"))
            continue
        loaded.append(name)
        for iri in collected.add_graph(graph, name):
            target = catalog.resolve(iri)
            if target is None:
                problems.append(
                    LoadProblem(
                        name,
                        f"imports <{iri}>, which {CATALOG_NAME} does not map to a local file; skipped "
                        "(add it to the catalog or run `databahn ontology fetch`)",
                    )
                )
            else:
                queue.append((target, f"owl:imports <{iri}> from {name}"))
    return collected, problems, loaded


# --------------------------------------------------------------------------- cache


def source_fingerprint(
    source_dir: Path, extra: Sequence[Path] = (), entry: Sequence[str] | None = None
) -> str:
    """Hash of every candidate file's name, size and mtime: any edit, addition or removal recompiles."""
    digest = hashlib.sha256(f"databahn-ontology-v{FORMAT_VERSION}|{entry}".encode())
    roots = [source_dir, *extra]
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in files:
            if p.suffix.lower() in RDF_FORMATS or p.name == CATALOG_NAME:
                st = p.stat()
                digest.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def _write_index(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ontology-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old index or the new one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _payload(ontology: Ontology, key: str, source: str, loaded: list[str]) -> dict[str, Any]:
    terms = ontology.terms()
    position = {t.iri: i for i, t in enumerate(terms)}
    return {
        "format": FORMAT_VERSION,
        "key": key,
        "source": source,
        "files": loaded,
        "compiled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "problems": [[p.file, p.message] for p in ontology.problems],
        "terms": [
            [
                t.iri,
                t.label,
                list(t.synonyms),
                list(ontology.hidden_labels(t.iri)),
                t.elucidation,
                t.comment,
                [position[p] for p in t.parents],
                int(t.deprecated),
                t.module,
                t.kind,
            ]
            for t in terms
        ],
        "ancestors": [sorted(position[a] for a in ontology.ancestors(t.iri)) for t in terms],
    }


def _from_payload(payload: dict[str, Any]) -> Ontology:
    rows = payload["terms"]
    iris = [row[0] for row in rows]
    children: list[list[str]] = [[] for _ in rows]
    for row in rows:
        for i in row[6]:
            children[i].append(row[0])
    terms = [
        Term(
            iri=row[0],
            label=row[1],
            synonyms=tuple(row[2]),
            elucidation=row[4],
            comment=row[5],
            parents=tuple(iris[i] for i in row[6]),
            children=tuple(sorted(children[n])),
            deprecated=bool(row[7]),
            namespace=namespace_of(row[0]),
            module=row[8],
            kind=row[9],
        )
        for n, row in enumerate(rows)
    ]
    hidden = {row[0]: tuple(row[3]) for row in rows if row[3]}
    ancestors = {iris[i]: frozenset(iris[j] for j in anc) for i, anc in enumerate(payload["ancestors"])}
    return Ontology(
        terms,
        hidden=hidden,
        problems=[LoadProblem(f, m) for f, m in payload["problems"]],
        source=payload["source"],
        files=payload.get("files", []),
        ancestors=ancestors,
    )


def load_ontology(
    source_dir: Path,
    cache_dir: Path | None = None,
    *,
    extra: Sequence[Path] = (),
    entry: Sequence[str] | None = None,
    rebuild: bool = False,
) -> Ontology:
    """Load the ontology in `source_dir`, compiling it into `cache_dir` on first use.

    `extra` adds SKOS vocabularies (files or folders); a `vocabularies/` folder inside `source_dir` is
    added automatically. Raises `OntologyUnavailable` when there is nothing usable; problems with
    single files are reported in `Ontology.problems` instead.
    """
    source_dir = Path(source_dir)
    if source_dir.is_file():
        raise OntologyUnavailable(
            f"{source_dir} is a file; point DATABAHN_ONTOLOGY_DIR to the folder that contains it "
            "(and its catalog-v001.xml), so semantic features can be turned on"
        )
    if not source_dir.is_dir():
        raise OntologyUnavailable(
            f"ontology directory {source_dir} does not exist, so semantic features are off; "
            "set DATABAHN_ONTOLOGY_DIR to a folder with BattINFO (or run `databahn ontology fetch`)"
        )
    vocab_dir = source_dir / VOCABULARY_SUBDIR
    extra = [*extra, vocab_dir] if vocab_dir.is_dir() else list(extra)
    key = source_fingerprint(source_dir, extra, entry)
    # One index per source folder (several may share a cache); the key changes when any file does.
    stem = "ontology-" + hashlib.sha256(str(source_dir.resolve()).encode()).hexdigest()[:8]
    index_path = Path(cache_dir) / f"{stem}-{key}.json" if cache_dir is not None else None
    if index_path is not None and index_path.is_file() and not rebuild:
        try:
            payload = json.loads(index_path.read_text(encoding="utf-8"))
            if payload.get("format") == FORMAT_VERSION and payload.get("key") == key:
                return _from_payload(payload)
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            pass  # a damaged cache is simply rebuilt
    ontology = compile_ontology(source_dir, extra=extra, entry=entry)
    if index_path is not None:
        try:
            _write_index(index_path, _payload(ontology, key, str(source_dir), ontology.files))
            for old in index_path.parent.glob(f"{stem}-*.json"):
                if old != index_path:
                    old.unlink(missing_ok=True)
        except OSError as exc:
            ontology.problems.append(
                LoadProblem(str(index_path), f"could not write the compiled index: {exc}")
            )
    return ontology


def compile_ontology(
    source_dir: Path, *, extra: Sequence[Path] = (), entry: Sequence[str] | None = None
) -> Ontology:
    """Parse with rdflib and build the in-memory index (no cache involved)."""
    collected, problems, loaded = _collect(Path(source_dir), extra, entry)
    terms, hidden = collected.compile()
    if not terms:
        detail = "; ".join(str(p) for p in problems[:5]) or "no OWL classes or SKOS concepts in any file"
        raise OntologyUnavailable(
            f"no usable ontology in {source_dir}, so semantic features are off ({detail})",
            problems=[str(p) for p in problems],
        )
    return Ontology(terms, hidden=hidden, problems=problems, source=str(source_dir), files=loaded)


def load_skos(path: Path) -> Ontology:
    """Load a SKOS vocabulary (a file or a folder of files) on its own, e.g. a project's list of SOPs.

    Concepts become terms: prefLabel/altLabel, skos:definition as elucidation, broader/narrower as
    parents. Combine it with BattINFO via `Ontology.merge`.
    """
    path = Path(path)
    if not path.exists():
        raise OntologyUnavailable(f"vocabulary {path} does not exist")
    base = path if path.is_dir() else path.parent
    return compile_ontology(base, extra=[path], entry=())
