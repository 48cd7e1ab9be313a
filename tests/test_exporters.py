"""Every exporter's output run through the real validator of its standard (offline, from ../shared).

DataCite kernel 4.5 and 4.6 XSDs, the oai_dc XSD, Google Dataset Search's SHACL shapes, the RO-Crate
1.2 validator, bagit.py, the DCAT-AP 3.0.1 SHACL shapes; BibTeX parsed back; CSL-JSON checked.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF

from databahn.domain.records import FileRecord, VersionRecord
from databahn.exporters import ExportError, UnknownExporter, exporters, get_exporter
from databahn.exporters.base import ExportContext
from databahn.exporters.citation import BibTeXExporter
from databahn.exporters.datacite import DataCiteExporter
from databahn.exporters.dc import to_element
from databahn.exporters.dcat import export_catalog
from databahn.exporters.schemaorg import to_jsonld
from tests.shared import require_shared
from tests.test_exporters_records import (
    GCPL_IRI,
    RECORDS,
    TITLE,
    any_record,
    context,
    full_record,
    minimal_record,
    restricted_record,
)

__all__ = ["any_record"]  # the parametrised fixture, re-exported for pytest
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # rdflib's JSON-LD parser internals

SDO = Namespace("http://schema.org/")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
BIN = Path(sys.executable).parent


def _schema(*parts: str) -> Path:
    return require_shared("schemas", *parts)


# -- registry ----------------------------------------------------------------------------------
def test_all_formats_registered_with_their_kind() -> None:
    found = exporters()
    assert set(found) == {
        "datacite",
        "dc",
        "schemaorg",
        "ro-crate",
        "bagit",
        "bibtex",
        "csl",
        "dcat",
        "prov-o",
        "prov-json",
    }
    assert {n for n, e in found.items() if e.is_package} == {"ro-crate", "bagit"}
    assert get_exporter("RO-Crate").name == "ro-crate" and get_exporter("schema.org").name == "schemaorg"


def test_unknown_format_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownExporter, match=r"unknown export format 'marc'.*bagit, bibtex, csl, datacite"):
        get_exporter("marc")


def test_document_and_package_misuse_say_what_to_call() -> None:
    rec = minimal_record()
    with pytest.raises(ExportError, match="export_package"):
        get_exporter("bagit").export(rec, context())
    with pytest.raises(ExportError, match=r"export\(record, ctx\)"):
        get_exporter("bibtex").export_package(rec, context(), Path("/nonexistent"))


# -- DataCite --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", ["4.5", "4.6"])
def test_datacite_valid_against_kernel_xsd(any_record: VersionRecord, kernel: str) -> None:
    schema = etree.XMLSchema(etree.parse(str(_schema("datacite", f"kernel-{kernel}", "metadata.xsd"))))
    xml = DataCiteExporter(kernel=kernel).export(any_record, context())
    doc = etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log.last_error
    assert f"kernel-{kernel}/metadata.xsd" in doc.get(
        "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation"
    )


def test_datacite_kernel_45_maps_46_only_values() -> None:
    rec = full_record()
    rec.metadata.resource_type = "Project"  # new in 4.6
    ns = {"d": "http://datacite.org/schema/kernel-4"}
    for kernel, expected in (("4.5", "Other"), ("4.6", "Project")):
        doc = etree.fromstring(DataCiteExporter(kernel).export(rec, context()))
        assert doc.xpath("string(d:resourceType/@resourceTypeGeneral)", namespaces=ns) == expected
    with pytest.raises(ExportError, match=r"supported: 4\.5, 4\.6"):
        DataCiteExporter("3.1")


def test_datacite_says_what_a_reader_checks() -> None:
    ns = {"d": "http://datacite.org/schema/kernel-4"}
    doc = etree.fromstring(DataCiteExporter().export(full_record(), context()))
    assert doc.xpath("string(d:identifier)", namespaces=ns) == "10.82035/databahn.3k7q-m2x9.v2"
    assert doc.xpath("d:creators/d:creator/d:nameIdentifier/text()", namespaces=ns)[0] == (
        "https://orcid.org/0000-0002-1825-0097"
    )
    assert doc.xpath("d:subjects/d:subject[@valueURI]/@valueURI", namespaces=ns) == [GCPL_IRI]
    rel = {r.get("relationType"): r.text for r in doc.xpath("d:relatedIdentifiers/*", namespaces=ns)}
    assert rel["IsDerivedFrom"] == "10.5281/zenodo.7004485"
    assert rel["IsDocumentedBy"] == "10.5281/zenodo.1234567"  # protocol DOI without resolver prefix
    assert rel["IsVersionOf"] == "10.82035/databahn.3k7q-m2x9"
    rights = doc.xpath("d:rightsList/d:rights/@rightsURI", namespaces=ns)
    assert "info:eu-repo/semantics/openAccess" in rights
    assert doc.xpath("string(d:rightsList/d:rights/@rightsIdentifier)", namespaces=ns) == "cc-by-4.0"


def test_datacite_restricted_and_minimal() -> None:
    ns = {"d": "http://datacite.org/schema/kernel-4"}
    doc = etree.fromstring(DataCiteExporter().export(restricted_record(), context()))
    assert "info:eu-repo/semantics/restrictedAccess" in doc.xpath(
        "d:rightsList/d:rights/@rightsURI", namespaces=ns
    )
    assert not doc.xpath("d:sizes|d:formats", namespaces=ns)  # nothing about withheld files
    doc = etree.fromstring(DataCiteExporter().export(minimal_record(), context()))
    assert doc.xpath("string(d:identifier/@identifierType)", namespaces=ns) == "URL"
    assert doc.xpath("string(d:creators/d:creator/d:creatorName)", namespaces=ns) == ":unav"


def test_embargo_is_stated_in_every_vocabulary() -> None:
    rec = full_record().model_copy(update={"embargo_until": dt.date(2027, 1, 1), "files_visible": False})
    ns = {"d": "http://datacite.org/schema/kernel-4"}
    doc = etree.fromstring(DataCiteExporter().export(rec, context()))
    assert "info:eu-repo/semantics/embargoedAccess" in doc.xpath(
        "d:rightsList/d:rights/@rightsURI", namespaces=ns
    )
    assert doc.xpath("string(d:dates/d:date[@dateType='Available'])", namespaces=ns) == "2027-01-01"
    assert doc.xpath("string(d:publicationYear)", namespaces=ns) == "2027"  # DataCite: the embargo's end
    sdo = to_jsonld(rec, context())
    assert sdo["isAccessibleForFree"] is False and "Embargoed until 2027-01-01" in sdo["conditionsOfAccess"]
    g = Graph().parse(data=export_catalog([rec], context()), format="turtle")
    rights = set(g.objects(None, DCTERMS.accessRights))
    assert rights == {URIRef("http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC")}
    later = ExportContext(base_url="https://hub.big-map.example", now=dt.datetime(2027, 2, 1, tzinfo=dt.UTC))
    assert to_jsonld(rec.model_copy(update={"files_visible": True}), later)["isAccessibleForFree"] is True


def test_ontology_labels_replace_opaque_iris() -> None:
    ns = {"d": "http://datacite.org/schema/kernel-4"}
    labels = {GCPL_IRI: "GalvanostaticCycling"}
    ctx = ExportContext(base_url="https://hub.big-map.example", term_label=labels.get)
    doc = etree.fromstring(DataCiteExporter().export(full_record(), ctx))
    (subject,) = doc.xpath("d:subjects/d:subject[@valueURI]", namespaces=ns)
    assert subject.text == "GalvanostaticCycling" and subject.get("subjectScheme") == "EMMO"
    assert "GalvanostaticCycling" in to_jsonld(full_record(), ctx)["keywords"]
    # without labels an opaque EMMO name is not passed off as a label: the IRI itself is shown
    doc = etree.fromstring(DataCiteExporter().export(full_record(), context()))
    assert doc.xpath("string(d:subjects/d:subject[@valueURI])", namespaces=ns) == GCPL_IRI


# -- Dublin Core -------------------------------------------------------------------------------------
def _oai_dc_schema() -> etree.XMLSchema:
    xsd_dir = _schema("oai-pmh")

    class Local(etree.Resolver):
        def resolve(self, url, pubid, ctx):  # type: ignore[no-untyped-def]
            if url.endswith("xml.xsd"):
                return self.resolve_filename(str(xsd_dir / "xml.xsd"), ctx)
            return None

    parser = etree.XMLParser()
    parser.resolvers.add(Local())
    return etree.XMLSchema(etree.parse(str(xsd_dir / "oai_dc.xsd"), parser))


def test_oai_dc_valid(any_record: VersionRecord) -> None:
    schema = _oai_dc_schema()
    doc = etree.fromstring(get_exporter("dc").export(any_record, context()))
    assert schema.validate(doc), schema.error_log.last_error
    titles = doc.findall("{http://purl.org/dc/elements/1.1/}title")
    assert [t.text for t in titles] == [any_record.metadata.title]


def test_oai_dc_element_embeds_in_an_oai_pmh_response(tmp_path: Path) -> None:
    oai = "http://www.openarchives.org/OAI/2.0/"
    root = etree.Element(f"{{{oai}}}OAI-PMH", nsmap={None: oai})
    etree.SubElement(root, f"{{{oai}}}responseDate").text = "2026-11-20T12:00:00Z"
    etree.SubElement(root, f"{{{oai}}}request", verb="GetRecord").text = "https://hub.big-map.example/oai"
    rec = etree.SubElement(etree.SubElement(root, f"{{{oai}}}GetRecord"), f"{{{oai}}}record")
    header = etree.SubElement(rec, f"{{{oai}}}header")
    etree.SubElement(header, f"{{{oai}}}identifier").text = "oai:hub.big-map.example:3k7q-m2x9.v2"
    etree.SubElement(header, f"{{{oai}}}datestamp").text = "2025-04-02"
    etree.SubElement(rec, f"{{{oai}}}metadata").append(to_element(full_record(), context()))
    out = tmp_path / "getrecord.xml"
    out.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    tool = require_shared("tools", "validate-oai")
    result = subprocess.run(
        [sys.executable, str(tool), str(out)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- schema.org ------------------------------------------------------------------------------------
def _sdo_graph(doc: dict) -> Graph:  # type: ignore[type-arg]
    return Graph().parse(data=json.dumps(doc), format="json-ld")


def _shacl(graph: Graph, shapes: Path) -> tuple[bool, str]:
    from pyshacl import validate

    conforms, _, text = validate(graph, shacl_graph=str(shapes), shacl_graph_format="turtle")
    return bool(conforms), str(text)


def test_schemaorg_meets_google_required(any_record: VersionRecord) -> None:
    doc = to_jsonld(any_record, context())
    g = _sdo_graph(doc)
    assert (None, RDF.type, SDO.Dataset) in g  # the shapes target http://schema.org/Dataset: not vacuous
    ok, report = _shacl(g, _schema("schema-org", "googleRequired.ttl"))
    assert ok, report
    assert 50 <= len(doc["description"]) <= 5000


def test_schemaorg_recommended_only_misses_what_the_hub_cannot_know() -> None:
    g = _sdo_graph(to_jsonld(full_record(), context()))
    ok, report = _shacl(g, _schema("schema-org", "googleRecommended.ttl"))
    assert not ok  # spatialCoverage/alternateName: nothing in the DMP model to fill them from
    missing = {line.split("->schema:")[-1].strip() for line in report.splitlines() if "->schema:" in line}
    assert "Constraint Violation" in report and missing == {"spatialCoverage", "alternateName"}, report


def test_schemaorg_shapes_catch_a_missing_description() -> None:
    doc = to_jsonld(full_record(), context())
    del doc["description"]
    ok, report = _shacl(_sdo_graph(doc), _schema("schema-org", "googleRequired.ttl"))
    assert not ok and "description" in report


def test_schemaorg_shared_validator_tool(tmp_path: Path, any_record: VersionRecord) -> None:
    out = tmp_path / "dataset.jsonld"
    out.write_bytes(get_exporter("schemaorg").export(any_record, context()))
    tool = require_shared("tools", "validate-schemaorg")
    result = subprocess.run(
        [sys.executable, str(tool), str(out)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "googleRequired.ttl: conforms" in result.stdout, result.stdout


def test_schemaorg_access_and_content() -> None:
    full = to_jsonld(full_record(), context())
    assert full["isAccessibleForFree"] is True
    assert full["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert {d["name"] for d in full["distribution"]} == {"raw/gcpl.issue_149.mpr", "raw/gcpl.issue_149.mpt"}
    assert {v["name"] for v in full["variableMeasured"]} == {"voltage", "current", "test_time"}
    assert full["creator"][0]["@id"] == "https://orcid.org/0000-0002-1825-0097"
    assert full["about"][0]["@id"] == GCPL_IRI
    restricted = to_jsonld(restricted_record(), context())
    assert restricted["isAccessibleForFree"] is False
    assert "Restricted access" in restricted["conditionsOfAccess"]
    assert "distribution" not in restricted


# -- RO-Crate ----------------------------------------------------------------------------------------
def _rocrate_validate(crate: Path) -> subprocess.CompletedProcess[str]:
    tool = require_shared("tools", "rocrate-validator-offline")
    if not (BIN / "rocrate-validator").exists():
        pytest.fail("roc-validator is missing: pip install -e '.[test]' (roc-validator, requests-cache)")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [sys.executable, str(tool), str(crate), "ro-crate-1.2"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_rocrate_valid_with_files(tmp_path: Path, any_record: VersionRecord) -> None:
    crate = get_exporter("ro-crate").export_package(any_record, context(), tmp_path / "crate")
    result = _rocrate_validate(crate)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    doc = json.loads((crate / "ro-crate-metadata.json").read_text())
    assert doc["@context"] == "https://w3id.org/ro/crate/1.2/context"
    files = {e["@id"]: e for e in doc["@graph"] if e.get("@type") == "File"}
    if any_record.files_visible:
        for f in any_record.files:
            assert files[f.key]["sha256"] == f.sha256
            assert files[f.key]["contentSize"] == str(f.size)
            assert (crate / f.key).stat().st_size == f.size
    else:
        assert files == {} and not (crate / "raw").exists()
        root = next(e for e in doc["@graph"] if e["@id"] == "./")
        assert root["isAccessibleForFree"] is False


#: RECOMMENDED checks that only the data (or a network) can satisfy: resolving identifiers online,
#: an affiliation for Ida, ROR ids and contact points for organisations named only by name.
_DATA_DEPENDENT = {
    "ro-crate-1.2_51.1",
    "ro-crate-1.2_61.1",
    "ro-crate-1.2_80.2",
    "ro-crate-1.2_80.3",
    "ro-crate-1.2_89.0",
    "ro-crate-1.2_90.1",
}


def test_rocrate_recommended_checks(tmp_path: Path) -> None:
    import runpy

    tool = runpy.run_path(str(require_shared("tools", "rocrate-validator-offline")), run_name="rocv")
    cache = tmp_path / "http_cache"
    session = tool["CachedSession"](cache_name=str(cache), backend="sqlite", expire_after=-1)
    session.mount("https://w3id.org/", tool["Local"]())
    for url in tool["FILES"]:
        session.get(url)
    for ctx in (context(), context(with_files=False)):  # files packaged, and files referenced by URL
        crate = get_exporter("ro-crate").export_package(full_record(), ctx, tmp_path / f"crate{id(ctx)}")
        result = subprocess.run(
            [
                str(BIN / "rocrate-validator"),
                "-y",
                "validate",
                "--no-paging",
                "-p",
                "ro-crate-1.2",
                "--offline",
                "--cache-path",
                str(cache),
                "-l",
                "recommended",
                "-f",
                "json",
                str(crate),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        issues = json.loads(result.stdout)["issues"]
        unexpected = [
            (i["check"]["identifier"], i["message"])
            for i in issues
            if i["check"]["identifier"] not in _DATA_DEPENDENT
        ]
        assert unexpected == [], unexpected
        assert all(i["severity"] != "REQUIRED" for i in issues)


def test_rocrate_zip_has_metadata_at_root(tmp_path: Path) -> None:
    out = get_exporter("ro-crate").export_package(full_record(), context(), tmp_path / "crate.zip")
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
    assert {"ro-crate-metadata.json", "raw/gcpl.issue_149.mpt", "raw/gcpl.issue_149.mpr"} <= names
    result = _rocrate_validate(out)
    assert result.returncode == 0, result.stdout[-3000:]


def test_package_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not an empty directory"):
        get_exporter("ro-crate").export_package(full_record(), context(), tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_package_detects_corrupt_file_bytes(tmp_path: Path) -> None:
    def corrupt(f: FileRecord) -> Iterator[bytes]:
        yield b"not the recorded bytes"

    ctx = ExportContext(base_url="https://hub.big-map.example", open_file=corrupt)
    with pytest.raises(ExportError, match="does not match its recorded sha256"):
        get_exporter("bagit").export_package(full_record(), ctx, tmp_path / "bag")


# -- BagIt ------------------------------------------------------------------------------------------
def _bagit_validate(bag: Path) -> subprocess.CompletedProcess[str]:
    script = BIN / "bagit.py"
    if not script.exists():
        pytest.fail("bagit.py is missing: pip install -e '.[test]' (bagit)")
    return subprocess.run(
        [sys.executable, str(script), "--validate", str(bag)], capture_output=True, text=True
    )


def test_bagit_valid(tmp_path: Path, any_record: VersionRecord) -> None:
    bag = get_exporter("bagit").export_package(any_record, context(), tmp_path / "bag")
    result = _bagit_validate(bag)
    assert result.returncode == 0 and "is valid" in result.stderr, result.stderr
    manifest = (bag / "manifest-sha256.txt").read_text()
    info = (bag / "bag-info.txt").read_text()
    assert (bag / "metadata" / "datacite.xml").exists()
    if any_record.files_visible:
        for f in any_record.files:
            assert f"{f.sha256}  data/{f.key}" in manifest
        assert f"Payload-Oxum: {any_record.total_size}.{len(any_record.files)}" in info
    else:
        assert manifest == "" and "Payload-Oxum: 0.0" in info
        assert "Access-Rights: info:eu-repo/semantics/restrictedAccess" in info


def test_bagit_validation_catches_tampering(tmp_path: Path) -> None:
    bag = get_exporter("bagit").export_package(full_record(), context(), tmp_path / "bag")
    (bag / "data" / "raw" / "gcpl.issue_149.mpt").write_bytes(b"tampered")
    assert _bagit_validate(bag).returncode != 0


def test_bagit_zip_has_one_top_folder(tmp_path: Path) -> None:
    out = get_exporter("bagit").export_package(full_record(), context(), tmp_path / "bag.zip")
    with zipfile.ZipFile(out) as zf:
        zf.extractall(tmp_path / "unzipped")
    (top,) = list((tmp_path / "unzipped").iterdir())
    assert top.name == "3k7q-m2x9.v2"
    assert _bagit_validate(top).returncode == 0


def test_bagit_without_file_reader_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="open_file"):
        get_exporter("bagit").export_package(full_record(), context(with_files=False), tmp_path / "bag")


# -- citations ---------------------------------------------------------------------------------------
def test_bibtex_parses_back_with_escaped_specials() -> None:
    import bibtexparser
    from bibtexparser import middlewares as m

    text = get_exporter("bibtex").export(full_record(), context()).decode()
    assert r"25 °C \& 50\% SoC \{batch \#3\_a\}" in text
    raw = bibtexparser.parse_string(text)
    assert not raw.failed_blocks
    lib = bibtexparser.parse_string(text, append_middleware=[m.LatexDecodingMiddleware()])
    (entry,) = lib.entries
    fields = {f.key: f.value for f in entry.fields}
    assert entry.entry_type == "misc" and entry.key == "Muller2025_3k7qm2x9v2"
    assert fields["title"] == TITLE
    assert fields["author"] == "Müller, Jörg and Østergaard, Ida and BIG-MAP Consortium"
    assert fields["doi"] == "10.82035/databahn.3k7q-m2x9.v2" and fields["year"] == "2025"
    assert fields["url"] == "https://doi.org/10.82035/databahn.3k7q-m2x9.v2"


def test_bibtex_unbalanced_braces_and_dataset_type() -> None:
    import bibtexparser

    rec = minimal_record()
    rec.metadata.title = "Cell } data { with a ~ tilde and \\ backslash"
    text = BibTeXExporter("dataset").export(rec, context()).decode()
    lib = bibtexparser.parse_string(text)
    assert not lib.failed_blocks and lib.entries[0].entry_type == "dataset"
    assert r"\textbraceright{}" in text and r"\textbackslash{}" in text
    assert "{BIG-MAP Consortium}" in text  # no creators: the publisher, kept as one name
    with pytest.raises(ExportError, match="misc, dataset"):
        BibTeXExporter("article")


def test_csl_json_items() -> None:
    (item,) = json.loads(get_exporter("csl").export(full_record(), context()))
    assert item["type"] == "dataset" and item["id"] == "3k7q-m2x9.v2"
    assert item["author"][:2] == [
        {"family": "Müller", "given": "Jörg"},
        {"family": "Østergaard", "given": "Ida"},
    ]
    assert item["author"][2] == {"literal": "BIG-MAP Consortium"}
    assert item["issued"] == {"date-parts": [[2025, 4, 2]]}
    assert item["DOI"] == "10.82035/databahn.3k7q-m2x9.v2" and item["version"] == "1.1.0"
    assert item["title"] == TITLE
    (restricted,) = json.loads(get_exporter("csl").export(restricted_record(), context()))
    assert "DOI" not in restricted and "Restricted access" in restricted["note"]


# -- DCAT-AP ---------------------------------------------------------------------------------------
def _dcat_validate(ttl: str) -> tuple[bool, str, Graph]:
    from pyshacl import validate

    g = Graph().parse(data=ttl, format="turtle")
    conforms, _, text = validate(
        g,
        shacl_graph=str(_schema("dcat-ap", "dcat-ap-3.0.1-SHACL.ttl")),
        shacl_graph_format="turtle",
        do_owl_imports=False,
    )
    return bool(conforms), str(text), g


def test_dcat_catalog_valid_against_dcat_ap_shapes() -> None:
    records = [f() for f in RECORDS.values()]
    ok, report, g = _dcat_validate(export_catalog(records, context()))
    assert ok, report
    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    assert len(datasets) == 3
    full = URIRef("https://doi.org/10.82035/databahn.3k7q-m2x9.v2")
    assert (full, DCAT.theme, URIRef(GCPL_IRI)) in g
    downloads = set(g.objects(None, DCAT.downloadURL))
    assert len(downloads) == 2  # only the open version's files are downloadable
    restricted = URIRef("https://hub.big-map.example/datasets/7rst-c4v3.v1")
    assert (
        restricted,
        DCTERMS.accessRights,
        URIRef("http://publications.europa.eu/resource/authority/access-right/RESTRICTED"),
    ) in g


def test_dcat_shapes_are_not_vacuous() -> None:
    ttl = export_catalog([minimal_record()], context())
    g = Graph().parse(data=ttl, format="turtle")
    (cat,) = g.subjects(RDF.type, DCAT.Catalog)
    g.remove((cat, DCTERMS.title, None))
    g.add((cat, DCTERMS.title, Literal("x")))
    g.remove((cat, DCTERMS.publisher, None))
    ok, report, _ = _dcat_validate(g.serialize(format="turtle"))
    assert not ok and "publisher" in report


# -- every format, every record ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["datacite", "dc", "schemaorg", "bibtex", "csl", "dcat"])
def test_documents_never_raise_and_carry_the_title(name: str, any_record: VersionRecord) -> None:
    out = get_exporter(name).export(any_record, context(with_files=False))
    assert any_record.metadata.title.split()[0] in out.decode()


def test_write_helper_creates_files_and_dirs(tmp_path: Path) -> None:
    doc = get_exporter("datacite").write(full_record(), context(), tmp_path / "out" / "x.xml")
    assert doc.read_bytes().startswith(b"<?xml")
    pkg = get_exporter("ro-crate").write(full_record(), context(), tmp_path / "crate")
    assert (pkg / "ro-crate-metadata.json").exists()
    shutil.rmtree(pkg)
