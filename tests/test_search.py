"""Search: full text, facets with counts, combined filters, sorting, paging; drafts never leak."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient

from databahn.services.hub import Hub
from tests.conftest import FULL_METADATA, Actor

DATASETS = [
    ("Galvanostatic cycling of LFP coin cells", "WP6", "raw", ["cycling", "LFP"], "2023-01-10", "csv"),
    ("Impedance of NMC811 half cells", "WP6", "processed", ["EIS", "NMC811"], "2024-02-11", "csv"),
    ("X-ray diffraction of NMC811 powder", "WP5", "raw", ["XRD", "NMC811"], "2024-03-12", "xy"),
    ("DFT relaxation of LiCoO2 surfaces", "WP2", "output", ["DFT", "LiCoO2"], "2022-04-13", "cif"),
    ("Cycling of silicon anodes with FEC", "WP6", "analysed", ["cycling", "silicon"], "2024-05-14", "csv"),
]


def populate(hub: Hub, actor: Actor) -> list[str]:
    pids = []
    for title, wp, level, keywords, generated, ext in DATASETS:
        meta = {
            **FULL_METADATA,
            "title": title,
            "description": f"About: {title}",
            "work_package": wp,
            "data_level": level,
            "keywords": keywords,
            "generated_on": generated,
            "method": None,
        }
        pid = hub.datasets.create(actor.principal, meta).pid
        hub.files.put(actor.principal, pid, f"data.{ext}", io.BytesIO(title.encode()))
        hub.datasets.publish(actor.principal, pid)
        pids.append(pid)
    return pids


def test_full_text_with_stemming_and_prefix(api: TestClient, hub: Hub, alice: Actor) -> None:
    populate(hub, alice)
    r = api.get("/api/search", params={"q": "cycling"}).json()
    assert r["total"] == 2
    assert {h["title"] for h in r["hits"]} == {DATASETS[0][0], DATASETS[4][0]}
    assert api.get("/api/search", params={"q": "cycle"}).json()["total"] == 2  # stemming
    assert api.get("/api/search", params={"q": "NMC8"}).json()["total"] == 2  # prefix (search-as-you-type)
    assert api.get("/api/search", params={"q": "nmc811 powder"}).json()["total"] == 1  # all words must match
    assert api.get("/api/search", params={"q": 'weird "quotes" AND (OR) * -'}).status_code == 200
    assert api.get("/api/search", params={"q": "Jane"}).json()["total"] == 5  # creators are searchable


def test_facets_counts_and_filters(api: TestClient, hub: Hub, alice: Actor) -> None:
    populate(hub, alice)
    r = api.get("/api/search").json()
    assert r["total"] == 5
    wp = {f["value"]: f["count"] for f in r["facets"]["work_package"]}
    assert wp == {"WP6": 3, "WP5": 1, "WP2": 1}
    years = {f["value"]: f["count"] for f in r["facets"]["year"]}
    assert years == {"2022": 1, "2023": 1, "2024": 3}
    fmt = {f["value"]: f["count"] for f in r["facets"]["format"]}
    assert fmt == {"csv": 3, "xy": 1, "cif": 1}
    # filters combine: AND across keys, OR within one key
    r = api.get("/api/search", params=[("facet", "work_package:WP6"), ("facet", "data_level:raw")]).json()
    assert r["total"] == 1 and r["hits"][0]["title"] == DATASETS[0][0]
    r = api.get("/api/search", params=[("facet", "data_level:raw"), ("facet", "data_level:output")]).json()
    assert r["total"] == 3
    # counts follow the filters
    r = api.get("/api/search", params={"q": "NMC811"}).json()
    assert {f["value"]: f["count"] for f in r["facets"]["work_package"]} == {"WP6": 1, "WP5": 1}
    bad = api.get("/api/search", params={"facet": "colour:red"})
    assert bad.status_code == 422 and "unknown facet" in bad.json()["detail"]


def test_sorting_and_paging(api: TestClient, hub: Hub, alice: Actor) -> None:
    pids = populate(hub, alice)
    newest = api.get("/api/search", params={"sort": "newest"}).json()["hits"]
    assert [h["pid"] for h in newest] == list(reversed(pids))
    oldest = api.get("/api/search", params={"sort": "oldest"}).json()["hits"]
    assert [h["pid"] for h in oldest] == pids
    titles = [h["title"] for h in api.get("/api/search", params={"sort": "title"}).json()["hits"]]
    assert titles == sorted(titles, key=str.lower)
    page1 = api.get("/api/search", params={"sort": "oldest", "size": 2, "page": 1}).json()
    page3 = api.get("/api/search", params={"sort": "oldest", "size": 2, "page": 3}).json()
    assert page1["total"] == 5 and [h["pid"] for h in page1["hits"]] == pids[:2]
    assert [h["pid"] for h in page3["hits"]] == pids[4:]
    assert api.get("/api/search", params={"sort": "random"}).status_code == 422
    assert api.get("/api/search", params={"size": 1000}).status_code == 422


def test_drafts_never_leak_into_results_or_counts(
    api: TestClient, hub: Hub, alice: Actor, bob: Actor
) -> None:
    populate(hub, alice)
    secret = {**FULL_METADATA, "title": "Unpublished cycling secret", "work_package": "WP11"}
    draft = hub.datasets.create(bob.principal, secret).pid
    hub.files.put(bob.principal, draft, "x.csv", io.BytesIO(b"1"))
    for headers in ({}, alice.headers, bob.headers):
        r = api.get("/api/search", params={"q": "secret"}, headers=headers).json()
        assert r["total"] == 0
        r = api.get("/api/search", headers=headers).json()
        assert r["total"] == 5
        assert "WP11" not in {f["value"] for f in r["facets"]["work_package"]}
    # but its owner finds it among their drafts
    drafts = api.get("/api/drafts", headers=bob.headers).json()
    assert [d["pid"] for d in drafts] == [draft]
