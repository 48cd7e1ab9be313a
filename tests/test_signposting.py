"""FAIR Signposting (Link headers, RFC 9264 linksets), embedded JSON-LD and content negotiation."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from fastapi.testclient import TestClient
from lxml import etree
from signposting import find_signposting_http, find_signposting_http_link, find_signposting_linkset

from databahn.services.hub import Hub
from tests.conftest import Actor, LiveServer
from tests.shared import require_shared
from tests.test_oai import deposit

LANDING = "http://testserver/datasets/{pid}"


def test_landing_page_link_headers_are_level_1_signposting(api: TestClient, alice: Actor) -> None:
    pid = deposit(api, alice)
    r = api.get(f"/datasets/{pid}", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Accept" in r.headers["vary"]
    sp = find_signposting_http_link([r.headers["link"]], LANDING.format(pid=pid))
    assert sp.citeAs is not None and str(sp.citeAs.target) == LANDING.format(pid=pid)
    assert {str(t.target) for t in sp.types} == {"https://schema.org/Dataset", "https://schema.org/AboutPage"}
    assert {str(a.target) for a in sp.authors} == {"https://orcid.org/0000-0002-1825-0097"}
    assert sp.license is not None and str(sp.license.target) == "https://spdx.org/licenses/CC-BY-4.0.html"
    described = {str(d.type): str(d.target) for d in sp.describedBy}
    assert described["application/vnd.datacite.datacite+xml"].endswith(f"/api/datasets/{pid}/export/datacite")
    assert described["application/ld+json"].endswith(f"/api/datasets/{pid}/export/schemaorg")
    items = {str(i.target): str(i.type) for i in sp.items}
    assert items == {f"http://testserver/api/datasets/{pid}/files/a.csv": "text/csv"}
    assert {str(s.type) for s in sp.linksets} == {"application/linkset+json", "application/linkset"}
    head = api.head(f"/datasets/{pid}")  # signposting clients ask with HEAD
    assert head.status_code == 200 and head.content == b"" and head.headers["link"] == r.headers["link"]

    # every describedby target really answers with its declared type and points back
    for media, url in described.items():
        got = api.get(url.replace("http://testserver", ""))
        assert got.status_code == 200, (url, got.text)
        assert got.headers["content-type"].split(";")[0] == media
        back = find_signposting_http_link([got.headers["link"]], url)
        assert [str(d.target) for d in back.describes] == [LANDING.format(pid=pid)]
    download = api.get(f"/api/datasets/{pid}/files/a.csv")
    back = find_signposting_http_link(
        [download.headers["link"]], f"http://testserver/api/datasets/{pid}/files/a.csv"
    )
    assert back.collection is not None and str(back.collection.target) == LANDING.format(pid=pid)


def test_items_respect_access(api: TestClient, alice: Actor) -> None:
    pid = deposit(api, alice, metadata_only=True)
    sp = find_signposting_http_link([api.get(f"/datasets/{pid}").headers["link"]], LANDING.format(pid=pid))
    assert sp.citeAs is not None and not sp.items  # metadata-only: no downloadable items are announced
    private = deposit(api, alice, access="confidential")
    assert api.get(f"/api/datasets/{private}/linkset").status_code == 404
    owner = api.get(f"/api/datasets/{private}/linkset", headers=alice.headers).json()
    assert owner["linkset"][0]["item"]


def test_linkset_json_and_text_are_rfc9264(api: TestClient, alice: Actor) -> None:
    pid = deposit(api, alice)
    r = api.get(f"/api/datasets/{pid}/linkset")
    assert r.headers["content-type"] == "application/linkset+json"
    data = r.json()
    # RFC 9264 §4.2: {"linkset": [context objects]}, each with an "anchor" and arrays of target objects
    assert set(data) == {"linkset"}
    anchors = [c["anchor"] for c in data["linkset"]]
    assert anchors[0] == LANDING.format(pid=pid) and len(set(anchors)) == len(anchors)
    for context in data["linkset"]:
        for rel, targets in context.items():
            if rel == "anchor":
                continue
            assert isinstance(targets, list) and all(isinstance(t, dict) and "href" in t for t in targets)
    landing = data["linkset"][0]
    assert {"cite-as", "describedby", "item", "license", "type", "author"} <= set(landing)
    assert any("describes" in c for c in data["linkset"]) and any("collection" in c for c in data["linkset"])

    text = api.get(f"/api/datasets/{pid}/linkset", headers={"Accept": "application/linkset"})
    assert text.headers["content-type"].startswith("application/linkset")
    lines = text.text.strip().split(",\n")
    assert all(re.match(r'^<[^>]+>; anchor="[^"]+"; rel="[^"]+"', line) for line in lines)
    assert len(lines) == sum(len(v) for c in data["linkset"] for k, v in c.items() if k != "anchor")


def test_content_negotiation_on_the_dataset_url(api: TestClient, alice: Actor) -> None:
    pid = deposit(api, alice)
    url = f"/datasets/{pid}"
    xml = api.get(url, headers={"Accept": "application/vnd.datacite.datacite+xml"})
    assert xml.status_code == 200 and xml.headers["content-type"].startswith(
        "application/vnd.datacite.datacite+xml"
    )
    assert etree.fromstring(xml.content).tag == "{http://datacite.org/schema/kernel-4}resource"
    ld = api.get(url, headers={"Accept": "application/ld+json"})
    assert ld.headers["content-type"].startswith("application/ld+json")
    assert ld.json()["@type"] == "Dataset" and ld.json()["name"] == "Galvanostatic cycling of LFP coin cells"
    head = api.head(url, headers={"Accept": "application/ld+json"})
    assert (
        head.status_code == 200
        and head.content == b""
        and head.headers["content-type"] == ld.headers["content-type"]
    )
    bib = api.get(url, headers={"Accept": "application/x-bibtex"})
    assert bib.text.lstrip().startswith("@") and "Galvanostatic cycling" in bib.text
    cite = api.get(url, headers={"Accept": "text/x-bibliography"})
    assert "Doe, Jane" in cite.text and pid in cite.text
    linkset = api.get(url, headers={"Accept": "application/linkset+json"})
    assert linkset.json()["linkset"][0]["anchor"] == LANDING.format(pid=pid)
    # browsers and wildcards get the page; q-values are honoured
    assert (
        api.get(url, headers={"Accept": "text/html,*/*;q=0.8"})
        .headers["content-type"]
        .startswith("text/html")
    )
    assert api.get(url, headers={"Accept": "*/*"}).headers["content-type"].startswith("text/html")
    prefer_html = api.get(url, headers={"Accept": "application/ld+json;q=0.5, text/html"})
    assert prefer_html.headers["content-type"].startswith("text/html")
    assert (
        api.get(url, headers={"Accept": "application/ld+json, text/html;q=0.1"}).json()["@type"] == "Dataset"
    )
    # access still applies: a draft is 404 in any format
    draft = deposit(api, alice, publish=False)
    assert api.get(f"/datasets/{draft}", headers={"Accept": "application/ld+json"}).status_code == 404
    assert api.get(f"/api/datasets/{pid}/export/nope").status_code == 422


def test_landing_page_embeds_schema_org_jsonld(api: TestClient, alice: Actor) -> None:
    pid = deposit(api, alice, description="Contains </script> on purpose, and a long enough description.")
    html = api.get(f"/datasets/{pid}").text
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert len(blocks) == 1
    doc = json.loads(blocks[0])
    assert doc["@type"] == "Dataset" and doc["url"] == LANDING.format(pid=pid)
    assert "</script>" in doc["description"]


def test_live_signposting_and_schemaorg_validator(
    hub: Hub, api: TestClient, alice: Actor, live: LiveServer
) -> None:
    pid = deposit(api, alice)
    landing = f"{live.url}/datasets/{pid}"
    sp = find_signposting_http(landing)
    assert sp.citeAs is not None and str(sp.citeAs.target) == landing
    assert len(sp.items) == 1 and len(sp.describedBy) >= 2
    ls = find_signposting_linkset(f"{live.url}/api/datasets/{pid}/linkset", "application/linkset+json")
    assert ls.for_context(landing).citeAs is not None
    text = find_signposting_linkset(
        f"{live.url}/api/datasets/{pid}/linkset?format=text", "application/linkset"
    )
    assert {str(a.target) for a in text.for_context(landing).authors} == {
        "https://orcid.org/0000-0002-1825-0097"
    }
    tool = require_shared("tools", "validate-schemaorg")
    done = subprocess.run([sys.executable, str(tool), landing], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "conforms" in done.stdout
