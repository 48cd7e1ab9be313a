"""HTML reference generation and `fetch_ontology` (with a mocked HTTP transport)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from databahn.ontology import FetchError, Ontology, fetch_ontology, load_ontology, render_reference_html
from databahn.ontology.fetch import local_path_for
from databahn.ontology.reference import term_filename

DATA = Path(__file__).parent / "data" / "ontology"
MINI = "https://example.org/mini#"


@pytest.fixture(scope="module")
def onto() -> Ontology:
    return load_ontology(DATA / "mini", None)


def test_reference_pages_and_links(onto: Ontology, tmp_path: Path) -> None:
    index = render_reference_html(onto, tmp_path, title="Mini", dataset_counts={MINI + "Electrode": 7})
    assert index == tmp_path / "index.html"
    html = index.read_text()
    assert "Mini" in html and "NegativeElectrode" in html
    pages = list((tmp_path / "terms").glob("*.html"))
    assert len(pages) == len(onto)
    # every relative link in the reference points to an existing file
    for page in [index, tmp_path / "alphabetical.html", *pages[:20]]:
        for href in re.findall(r'href="([^"#]+)"', page.read_text()):
            assert (page.parent / href).resolve().is_file(), f"{page.name} links to missing {href}"
    electrode = onto.term(MINI + "Electrode")
    assert electrode is not None
    html = (tmp_path / term_filename(electrode)).read_text()
    assert "Electronically conductive part" in html
    assert "NegativeElectrode" in html and "PositiveElectrode" in html and "Component" in html
    assert "<dd>7</dd>" in html


def test_reference_escapes_ontology_text(onto: Ontology, tmp_path: Path) -> None:
    render_reference_html(onto, tmp_path)
    tricky = onto.term(MINI + "Tricky")
    assert tricky is not None
    page = (tmp_path / term_filename(tricky)).read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>markup</b>" not in page
    assert "<script>" not in (tmp_path / "index.html").read_text()
    assert "<script>" not in (tmp_path / "alphabetical.html").read_text()


ROOT_TTL = b"""@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
<https://w3id.org/emmo/domain/battery/battery> a owl:Ontology ;
    owl:versionIRI <https://w3id.org/emmo/domain/battery/9.9/battery> ;
    owl:imports <https://example.org/dep> .
<https://w3id.org/emmo/domain/battery#Cell> a owl:Class ; skos:prefLabel "Cell"@en ;
    <http://www.w3.org/2000/01/rdf-schema#subClassOf> <https://example.org/dep#Device> .
"""
DEP_TTL = b"""@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
<https://example.org/dep> a owl:Ontology .
<https://example.org/dep#Device> a owl:Class ; skos:prefLabel "Device"@en .
"""


def _release(request: httpx.Request) -> httpx.Response:
    url = str(request.url)
    if url == "https://w3id.org/emmo/domain/battery":
        return httpx.Response(
            302, headers={"location": "https://emmo-repo.github.io/domain-battery/battery.ttl"}
        )
    if url == "https://emmo-repo.github.io/domain-battery/battery.ttl":
        return httpx.Response(200, content=ROOT_TTL, headers={"content-type": "text/turtle"})
    if url == "https://example.org/dep":
        return httpx.Response(200, content=DEP_TTL, headers={"content-type": "text/turtle; charset=utf-8"})
    return httpx.Response(404)


def test_fetch_writes_files_and_catalog_that_load_ontology_reads(tmp_path: Path) -> None:
    client = httpx.Client(transport=httpx.MockTransport(_release), follow_redirects=True)
    written = fetch_ontology(tmp_path / "onto", client=client)
    assert len(written) == 2 and all(p.is_file() for p in written)
    catalog = (tmp_path / "onto" / "catalog-v001.xml").read_text()
    assert "https://w3id.org/emmo/domain/battery/9.9/battery" in catalog  # version IRI mapped too
    onto = load_ontology(tmp_path / "onto", tmp_path / "cache")
    assert onto.problems == []
    assert onto.is_a("https://w3id.org/emmo/domain/battery#Cell", "https://example.org/dep#Device")


def test_fetch_http_error_and_bad_content(tmp_path: Path) -> None:
    client = httpx.Client(transport=httpx.MockTransport(_release), follow_redirects=True)
    with pytest.raises(FetchError, match="answered 404"):
        fetch_ontology(tmp_path / "x", ["https://example.org/missing"], client=client)
    garbage = httpx.Client(
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, content=b"<html>", headers={"content-type": "text/turtle"})
        )
    )
    with pytest.raises(FetchError, match="not return a readable ontology"):
        fetch_ontology(tmp_path / "y", ["https://example.org/page"], client=garbage)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_local_path_for_is_safe() -> None:
    assert local_path_for("https://w3id.org/emmo/domain/battery", "turtle").as_posix() == (
        "w3id.org/emmo/domain/battery.ttl"
    )
    evil = local_path_for("https://example.org/../../etc/passwd", "turtle")
    assert ".." not in evil.parts and not evil.is_absolute()


def test_fetch_html_page_is_refused(tmp_path: Path) -> None:
    page = httpx.Client(
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, content=b"<html></html>", headers={"content-type": "text/html"})
        )
    )
    with pytest.raises(FetchError, match="web page"):
        fetch_ontology(tmp_path / "z", client=page)
