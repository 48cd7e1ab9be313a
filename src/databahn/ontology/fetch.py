"""`databahn ontology fetch`: download the official BattINFO release and everything it imports.

Starting from the ontology IRIs (w3id.org redirects to the released Turtle), each file is fetched,
checked by parsing it, and its owl:imports are followed. Files are written only when the whole
closure downloaded, together with a catalog-v001.xml that maps every ontology IRI and version IRI
to its file, so `load_ontology` reads the result exactly like a Protégé folder.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

import httpx

from databahn.ontology.loader import CATALOG_NAME, RDF_FORMATS
from databahn.ontology.model import FetchError

DEFAULT_URLS: tuple[str, ...] = ("https://w3id.org/emmo/domain/battery",)
ACCEPT = "text/turtle, application/rdf+xml;q=0.8, application/n-triples;q=0.5"
_CONTENT_FORMATS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/n-triples": "nt",
    "application/ld+json": "json-ld",
}
_SUFFIX = {"turtle": ".ttl", "xml": ".rdf", "nt": ".nt", "json-ld": ".jsonld"}


def _format_of(response: httpx.Response) -> str:
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in _CONTENT_FORMATS:
        return _CONTENT_FORMATS[ctype]
    suffix = Path(urlsplit(str(response.url)).path).suffix.lower()
    if suffix in RDF_FORMATS:
        return RDF_FORMATS[suffix]
    return "xml" if response.content.lstrip()[:5] in (b"<?xml", b"<rdf:") else "turtle"


def local_path_for(iri: str, fmt: str) -> Path:
    """A safe relative file name for an ontology IRI (no '..', no absolute paths)."""
    parts = urlsplit(iri)
    segments = [parts.netloc, *parts.path.split("/")]
    clean = [re.sub(r"[^A-Za-z0-9._-]", "_", s).strip(".") or "_" for s in segments if s]
    path = Path(*clean) if clean else Path("ontology")
    return path if path.suffix.lower() in RDF_FORMATS else path.with_name(path.name + _SUFFIX[fmt])


def fetch_ontology(
    dest_dir: Path,
    urls: Sequence[str] = DEFAULT_URLS,
    *,
    client: httpx.Client | None = None,
    timeout: float = 30.0,
    max_files: int = 200,
) -> list[Path]:
    """Download `urls` and their owl:imports closure into `dest_dir`; return the files written."""
    from rdflib import OWL, RDF, Graph, URIRef

    own_client = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": "databahn"})
    downloaded: dict[Path, bytes] = {}
    catalog: dict[str, Path] = {}
    queue: deque[str] = deque(urls)
    seen: set[str] = set()
    try:
        while queue:
            iri = queue.popleft()
            if iri in seen or iri.rstrip("/#") in catalog:
                continue
            seen.add(iri)
            if len(seen) > max_files:
                raise FetchError(
                    f"more than {max_files} imported ontologies; stopping (is there an import loop?)"
                )
            try:
                response = http.get(iri, headers={"Accept": ACCEPT})
                response.raise_for_status()
            except httpx.HTTPStatusError as exc:
                raise FetchError(
                    f"could not download <{iri}>: the server answered {exc.response.status_code}"
                ) from exc
            except httpx.HTTPError as exc:
                raise FetchError(
                    f"could not download <{iri}> ({type(exc).__name__}: {exc}); are you offline? "
                    "Copy a BattINFO folder by hand and set DATABAHN_ONTOLOGY_DIR to it instead"
                ) from exc
            if response.headers.get("content-type", "").startswith("text/html"):
                raise FetchError(
                    f"<{iri}> returned a web page, not an ontology file; pass the URL of the Turtle "
                    "release with --url"
                )
            fmt = _format_of(response)
            graph = Graph()
            try:
                graph.parse(data=response.content, format=fmt, publicID=iri)
            except Exception as exc:  # any parser error means the download is not an ontology
                raise FetchError(f"<{iri}> did not return a readable ontology ({fmt}): {exc}") from exc
            path = local_path_for(iri, fmt)
            downloaded[path] = response.content
            names = {iri, str(response.url)}
            for onto in graph.subjects(RDF.type, OWL.Ontology):
                if isinstance(onto, URIRef):
                    names.add(str(onto))
                    names.update(str(v) for v in graph.objects(onto, OWL.versionIRI))
            for name in names:
                catalog.setdefault(name.rstrip("/#") if name.endswith(("/", "#")) else name, path)
            queue.extend(str(o) for o in graph.objects(None, OWL.imports) if isinstance(o, URIRef))
    finally:
        if own_client:
            http.close()

    dest_dir = Path(dest_dir)
    written: list[Path] = []
    for rel, content in downloaded.items():
        target = dest_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written.append(target)
    lines = [
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
        '<catalog prefer="public" xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">',
        *(f"  <uri name={quoteattr(n)} uri={quoteattr(p.as_posix())}/>" for n, p in sorted(catalog.items())),
        "</catalog>",
        "",
    ]
    (dest_dir / CATALOG_NAME).write_text("\n".join(lines), encoding="utf-8")
    return written
