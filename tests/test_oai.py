"""OAI-PMH 2.0 at /oai: schema-valid responses, sets, resumption, deleted records, real harvesters."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from functools import cache
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import update

from databahn.db.models import Version
from databahn.services.datasets import DatasetService
from databahn.services.hub import Hub
from tests.conftest import FULL_METADATA, Actor, LiveServer
from tests.shared import require_shared

NS = {"o": "http://www.openarchives.org/OAI/2.0/", "dc": "http://purl.org/dc/elements/1.1/"}
DATACITE_NS = "http://datacite.org/schema/kernel-4"


def deposit(api: TestClient, actor: Actor, *, publish: bool = True, **fields: Any) -> str:
    access = fields.pop("access", "public")
    metadata_only = fields.pop("metadata_only", False)
    r = api.post(
        "/api/datasets",
        json={"metadata": {**FULL_METADATA, **fields}, "access": access, "metadata_only": metadata_only},
        headers=actor.headers,
    )
    assert r.status_code == 201, r.text
    pid = str(r.json()["pid"])
    assert api.put(
        f"/api/datasets/{pid}/files/a.csv", content=b"t,v\n0,3.1\n", headers=actor.headers
    ).is_success
    if publish:
        r = api.post(f"/api/datasets/{pid}/publish", headers=actor.headers)
        assert r.status_code == 200, r.text
    return pid


@cache
def oai_schema() -> etree.XMLSchema:
    """OAI-PMH + oai_dc + DataCite kernel 4.6 from the shared schemas, xml.xsd resolved locally."""
    oai = require_shared("schemas", "oai-pmh")
    datacite = require_shared("schemas", "datacite", "kernel-4.6", "metadata.xsd")

    class Local(etree.Resolver):
        def resolve(self, url: str, pubid: str, ctx: Any) -> Any:
            if url.endswith("/xml.xsd") or url == "http://www.w3.org/2001/03/xml.xsd":
                return self.resolve_filename(str(oai / "xml.xsd"), ctx)
            return None

    driver = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
      <xs:import namespace="http://www.openarchives.org/OAI/2.0/" schemaLocation="{(oai / "OAI-PMH.xsd").as_uri()}"/>
      <xs:import namespace="http://www.openarchives.org/OAI/2.0/oai_dc/"
                 schemaLocation="{(oai / "oai_dc.xsd").as_uri()}"/>
      <xs:import namespace="{DATACITE_NS}" schemaLocation="{datacite.as_uri()}"/>
      <xs:import namespace="http://www.openarchives.org/OAI/2.0/oai-identifier"
                 schemaLocation="{(oai / "oai-identifier.xsd").as_uri()}"/>
    </xs:schema>"""
    parser = etree.XMLParser()
    parser.resolvers.add(Local())
    return etree.XMLSchema(etree.fromstring(driver.encode(), parser, base_url=str(oai) + "/"))


def oai(api: TestClient, **params: str) -> etree._Element:
    r = api.get("/oai", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/xml")
    doc = etree.fromstring(r.content)
    schema = oai_schema()
    assert schema.validate(doc), f"{schema.error_log.last_error}\n{r.text[:3000]}"
    return doc


def error_code(doc: etree._Element) -> str | None:
    err = doc.find("o:error", NS)
    return None if err is None else err.get("code")


def identifiers(doc: etree._Element) -> list[str]:
    return [e.text or "" for e in doc.iterfind(".//o:header/o:identifier", NS)]


def test_identify_and_formats_are_schema_valid(api: TestClient, alice: Actor) -> None:
    deposit(api, alice)
    doc = oai(api, verb="Identify")
    assert doc.findtext("o:Identify/o:baseURL", namespaces=NS) == "http://testserver/oai"
    assert doc.findtext("o:Identify/o:deletedRecord", namespaces=NS) == "persistent"
    assert doc.findtext("o:Identify/o:protocolVersion", namespaces=NS) == "2.0"
    prefixes = oai(api, verb="ListMetadataFormats").xpath("//o:metadataPrefix/text()", namespaces=NS)
    assert prefixes == ["oai_dc", "oai_datacite"]
    sets = oai(api, verb="ListSets").xpath("//o:setSpec/text()", namespaces=NS)
    assert "wp:WP6" in sets and "openness:public" in sets


def test_records_in_both_formats_only_public(api: TestClient, alice: Actor) -> None:
    public = deposit(api, alice, title="Public LFP cycling")
    restricted = deposit(api, alice, title="Restricted cycling data", access="restricted")
    draft = deposit(api, alice, title="Draft never harvested", publish=False)
    doc = oai(api, verb="ListRecords", metadataPrefix="oai_dc")
    ids = identifiers(doc)
    assert ids == [f"oai:testserver:{public}"]
    assert doc.findtext(".//dc:title", namespaces=NS) == "Public LFP cycling"
    assert f"oai:testserver:{restricted}" not in ids and f"oai:testserver:{draft}" not in ids

    rec = oai(api, verb="GetRecord", identifier=f"oai:testserver:{public}", metadataPrefix="oai_datacite")
    resource = rec.find(f".//o:metadata/{{{DATACITE_NS}}}resource", NS)
    assert resource is not None
    assert resource.findtext(f".//{{{DATACITE_NS}}}title") == "Public LFP cycling"
    assert rec.xpath("//o:header/o:setSpec/text()", namespaces=NS) == ["wp:WP6", "openness:public"]

    for hidden in (restricted, draft, "zzzz-zzzz.v1"):
        got = oai(api, verb="GetRecord", identifier=f"oai:testserver:{hidden}", metadataPrefix="oai_dc")
        assert error_code(got) == "idDoesNotExist"


def test_sets_and_dates_select_records(api: TestClient, alice: Actor) -> None:
    wp2 = deposit(api, alice, work_package="WP2")
    wp6 = deposit(api, alice)
    announced = deposit(api, alice, work_package="WP2", metadata_only=True)
    assert identifiers(oai(api, verb="ListIdentifiers", metadataPrefix="oai_dc", set="wp:WP2")) == [
        f"oai:testserver:{wp2}",
        f"oai:testserver:{announced}",
    ]
    assert identifiers(oai(api, verb="ListIdentifiers", metadataPrefix="oai_dc", set="wp:WP6")) == [
        f"oai:testserver:{wp6}"
    ]
    only = oai(api, verb="ListIdentifiers", metadataPrefix="oai_dc", set="openness:metadata-only")
    assert identifiers(only) == [f"oai:testserver:{announced}"]
    assert len(identifiers(oai(api, verb="ListIdentifiers", metadataPrefix="oai_dc", set="wp"))) == 3
    assert (
        error_code(oai(api, verb="ListIdentifiers", metadataPrefix="oai_dc", set="wp:WP9"))
        == "noRecordsMatch"
    )
    future = oai(api, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": "2999-01-01"})
    assert error_code(future) == "noRecordsMatch"
    past = oai(api, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": "2000-01-01T00:00:00Z"})
    assert len(identifiers(past)) == 3
    mixed = oai(
        api,
        verb="ListIdentifiers",
        metadataPrefix="oai_dc",
        **{"from": "2000-01-01", "until": "2999-01-01T00:00:00Z"},
    )
    assert error_code(mixed) == "badArgument"


def test_protocol_errors(api: TestClient, alice: Actor) -> None:
    deposit(api, alice)
    assert error_code(oai(api, verb="Nonsense")) == "badVerb"
    assert error_code(oai(api)) == "badVerb"
    assert error_code(oai(api, verb="ListRecords")) == "badArgument"
    assert error_code(oai(api, verb="Identify", extra="1")) == "badArgument"
    assert error_code(oai(api, verb="ListRecords", metadataPrefix="marc21")) == "cannotDisseminateFormat"
    assert error_code(oai(api, verb="ListRecords", resumptionToken="forged")) == "badResumptionToken"
    assert (
        error_code(oai(api, verb="ListRecords", metadataPrefix="oai_dc", **{"from": "yesterday"}))
        == "badArgument"
    )
    r = api.get("/oai?verb=Identify&verb=Identify")
    assert error_code(etree.fromstring(r.content)) == "badArgument"
    # the request element echoes arguments except after badVerb/badArgument
    bad = oai(api, verb="Nonsense")
    assert bad.find("o:request", NS).attrib == {}


def test_resumption_tokens_page_through_everything_once(api: TestClient, hub: Hub, alice: Actor) -> None:
    pids = [deposit(api, alice, title=f"Dataset number {i}") for i in range(5)]
    hub.ext["oai"].page_size = 2
    seen: list[str] = []
    doc = oai(api, verb="ListRecords", metadataPrefix="oai_dc")
    sizes = []
    while True:
        seen += identifiers(doc)
        token = doc.find(".//o:resumptionToken", NS)
        assert token is not None and token.get("completeListSize") == "5"
        sizes.append(token.get("cursor"))
        if not token.text:
            break
        assert token.get("expirationDate")
        # tokens are stateless: a second server process (a fresh hub on the same database) continues
        doc = oai(api, verb="ListRecords", resumptionToken=token.text)
    assert seen == [f"oai:testserver:{p}" for p in pids]
    assert sizes == ["0", "2", "4"]
    token_for_records = oai(api, verb="ListRecords", metadataPrefix="oai_dc").find(".//o:resumptionToken", NS)
    wrong_verb = oai(api, verb="ListIdentifiers", resumptionToken=token_for_records.text or "")
    assert error_code(wrong_verb) == "badResumptionToken"


def test_tokens_survive_another_process(api: TestClient, hub: Hub, alice: Actor) -> None:
    for i in range(3):
        deposit(api, alice, title=f"Dataset number {i}")
    hub.ext["oai"].page_size = 2
    token = oai(api, verb="ListIdentifiers", metadataPrefix="oai_dc").find(".//o:resumptionToken", NS)
    assert token is not None and token.text
    other = Hub(hub.settings)  # same database and secret, separate process state
    try:
        xml = other.ext["oai"].handle([("verb", "ListIdentifiers"), ("resumptionToken", token.text)])
    finally:
        other.close()
    assert len(identifiers(etree.fromstring(xml))) == 1


def test_hidden_and_withdrawn_records_become_deleted(api: TestClient, hub: Hub, alice: Actor) -> None:
    stays = deposit(api, alice)
    hidden = deposit(api, alice)
    withdrawn = deposit(api, alice)
    never = deposit(api, alice, access="confidential")
    time.sleep(1.1)
    since = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with hub.write() as s:
        s.execute(update(Version).where(Version.pid == hidden).values(access="restricted"))
        # as the access service does: the change is audited, which moves the record's datestamp
        DatasetService.audit(s, alice.principal, "access.change", hidden, access="restricted")
        s.execute(update(Version).where(Version.pid == withdrawn).values(state="withdrawn"))
        s.execute(update(Version).where(Version.pid == never).values(state="withdrawn"))
    doc = oai(api, verb="ListIdentifiers", metadataPrefix="oai_dc")
    headers = {
        h.findtext("o:identifier", namespaces=NS): h.get("status") for h in doc.iterfind(".//o:header", NS)
    }
    assert headers == {
        f"oai:testserver:{stays}": None,
        f"oai:testserver:{hidden}": "deleted",
        f"oai:testserver:{withdrawn}": "deleted",
    }
    # an incremental harvest since the change learns about the deletion and nothing else
    recent = oai(api, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": since})
    assert identifiers(recent) == [f"oai:testserver:{hidden}"]
    assert recent.find(".//o:header", NS).get("status") == "deleted"
    rec = oai(api, verb="GetRecord", identifier=f"oai:testserver:{hidden}", metadataPrefix="oai_dc")
    assert rec.find(".//o:header", NS).get("status") == "deleted"
    assert rec.find(".//o:metadata", NS) is None
    records = oai(api, verb="ListRecords", metadataPrefix="oai_datacite")
    assert len(records.findall(".//o:metadata", NS)) == 1


def test_openness_changes_after_publication(api: TestClient, hub: Hub, alice: Actor) -> None:
    access = hub.ext.get("access")
    if access is None:
        pytest.skip("the access plugin (openness changes of published versions) is not installed")
    pid = deposit(api, alice, access="restricted")
    assert identifiers(oai(api, verb="ListIdentifiers", metadataPrefix="oai_dc", set="openness")) == []
    access.set_openness(alice.principal, pid, access="public")
    listed = oai(api, verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert (
        identifiers(listed) == [f"oai:testserver:{pid}"]
        and listed.find(".//o:header", NS).get("status") is None
    )
    access.set_openness(alice.principal, pid, access="confidential")
    gone = oai(api, verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert (
        identifiers(gone) == [f"oai:testserver:{pid}"]
        and gone.find(".//o:header", NS).get("status") == "deleted"
    )


def test_post_requests_are_answered_like_get(api: TestClient, alice: Actor) -> None:
    pid = deposit(api, alice)
    r = api.post(
        "/oai",
        content="verb=GetRecord&metadataPrefix=oai_dc&identifier=" + f"oai:testserver:{pid}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200
    doc = etree.fromstring(r.content)
    assert oai_schema().validate(doc)
    assert identifiers(doc) == [f"oai:testserver:{pid}"]


# -- live server: the shared validator and three real harvesters -----------------------------------
@pytest.fixture
def harvestable(api: TestClient, hub: Hub, alice: Actor) -> tuple[list[str], list[str]]:
    public = [deposit(api, alice, title=f"Harvest me {i}", work_package=f"WP{2 + i % 2}") for i in range(7)]
    hidden = [deposit(api, alice, access="restricted"), deposit(api, alice, publish=False)]
    hub.ext["oai"].page_size = 3  # force several resumption tokens
    return public, hidden


def test_validate_oai_tool_on_live_server(harvestable: Any, live: LiveServer) -> None:
    tool = require_shared("tools", "validate-oai")
    base = f"{live.url}/oai"
    pid = harvestable[0][0]
    urls = [
        f"{base}?verb=Identify",
        f"{base}?verb=ListMetadataFormats",
        f"{base}?verb=ListSets",
        f"{base}?verb=ListRecords&metadataPrefix=oai_dc",
        f"{base}?verb=ListIdentifiers&metadataPrefix=oai_dc&set=wp:WP2",
        f"{base}?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:127.0.0.1:{pid}",
        f"{base}?verb=Bogus",
    ]
    done = subprocess.run([sys.executable, str(tool), *urls], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("valid   ") == len(urls)


def test_sickle_harvests_every_public_record_once(harvestable: Any, live: LiveServer) -> None:
    from sickle import Sickle

    public, hidden = harvestable
    got = [r.header.identifier for r in Sickle(f"{live.url}/oai").ListRecords(metadataPrefix="oai_dc")]
    assert sorted(got) == sorted(f"oai:127.0.0.1:{p}" for p in public)
    assert not any(h in i for h in hidden for i in got)
    wp2 = [
        h.identifier for h in Sickle(f"{live.url}/oai").ListIdentifiers(metadataPrefix="oai_dc", set="wp:WP2")
    ]
    assert len(wp2) == 4


def test_scythe_harvests_every_public_record_once(harvestable: Any, live: LiveServer) -> None:
    from oaipmh_scythe import Scythe

    public, _hidden = harvestable
    with Scythe(f"{live.url}/oai") as scythe:
        got = [r.header.identifier for r in scythe.list_records(metadata_prefix="oai_datacite")]
    assert sorted(got) == sorted(f"oai:127.0.0.1:{p}" for p in public)


class _LxmlCompat:
    """pyoai 2.5 calls XPathEvaluator.evaluate(), which lxml 6 removed; everything else is lxml's."""

    class XPathEvaluator:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._evaluator = etree.XPathEvaluator(*args, **kwargs)

        def evaluate(self, path: str) -> Any:
            return self._evaluator(path)

    def __getattr__(self, name: str) -> Any:
        return getattr(etree, name)


def test_pyoai_posts_and_harvests_every_public_record_once(
    harvestable: Any, live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import oaipmh.client
    import oaipmh.metadata
    from oaipmh.client import Client
    from oaipmh.metadata import MetadataRegistry, oai_dc_reader

    if not hasattr(etree.XPathElementEvaluator, "evaluate"):
        monkeypatch.setattr(oaipmh.client, "etree", _LxmlCompat())
        monkeypatch.setattr(oaipmh.metadata, "etree", _LxmlCompat())
    public, _hidden = harvestable
    registry = MetadataRegistry()
    registry.registerReader("oai_dc", oai_dc_reader)
    client = Client(f"{live.url}/oai", registry)  # pyoai sends its requests as POST
    assert client.identify().repositoryName() == "Databahn"
    records = list(client.listRecords(metadataPrefix="oai_dc"))
    got = [header.identifier() for header, _metadata, _about in records]
    assert sorted(got) == sorted(f"oai:127.0.0.1:{p}" for p in public)
    titles = {m["title"][0] for _h, m, _a in records if m is not None}
    assert titles == {f"Harvest me {i}" for i in range(7)}
