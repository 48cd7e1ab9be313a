"""The generated access matrix (issue 3): principals x openness x embargo x read paths, on both
deployments. Zero leaks — through records, files, downloads, HEAD, version lists, identifier
resolution, search hits, totals and facet counts — and "hidden" answers exactly like "absent".

The expected cell values come from `expect_*` below: a plain statement of the rules of the DMP
(2.2.1, 2.2.5, 2.6.1) written independently of `databahn.services.policy`.

One world (every openness x embargo combination, each with a published v1 and a draft v2) is built
once per deployment; every cell is its own test case, so a leak names its exact coordinates.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from databahn.access.models import AccessRequest
from databahn.api.app import create_app
from databahn.config import Settings
from databahn.db.models import Dataset, SearchDoc, Version
from databahn.services.hub import Hub
from databahn.services.policy import ANONYMOUS, Action, Principal, can, readable
from tests.conftest import FULL_METADATA

PRINCIPALS = (
    "anonymous",
    "guest",
    "member",
    "group_member",
    "named",
    "owner",
    "data_manager",
    "admin",
    "grantee",
    "expired_grant",
    "share_link",
)
OPENNESS = (
    "public",
    "public_metadata_only",
    "restricted_consortium",
    "restricted_group",
    "restricted_announced",
    "confidential",
)
EMBARGO = ("none", "active", "past")
PATHS = (
    "record",
    "resolve",
    "file_list",
    "download",
    "head",
    "versions",
    "search_hit",
    "search_total",
    "facets",
)
CONTENT = b"t,v\n0,3.4\n1,3.5\n"
USERS = {
    "guest": "gina",
    "member": "mia",
    "group_member": "gus",
    "named": "nina",
    "owner": "olga",
    "data_manager": "dora",
    "admin": "adam",
    "grantee": "greta",
    "expired_grant": "eve",
}


# -- the expected answers, stated plainly ---------------------------------------------------------
def expect_metadata(who: str, openness: str, embargo: str) -> bool:
    if who in ("owner", "admin", "data_manager", "share_link", "grantee"):
        return True
    if openness in ("public", "public_metadata_only", "restricted_announced"):
        return True  # public, or announced: everyone sees the metadata
    if openness == "restricted_consortium":
        return who == "member"
    if openness == "restricted_group":
        return who == "group_member"
    if openness == "confidential":
        return who == "named"
    raise AssertionError(openness)


def expect_files(who: str, openness: str, embargo: str) -> bool:
    if who in ("owner", "admin", "share_link", "grantee"):
        return True
    if who == "data_manager":
        return openness != "confidential"
    if embargo == "active":
        return False
    if openness == "public":
        return True
    if openness == "public_metadata_only":
        return False
    if openness in ("restricted_consortium", "restricted_announced"):
        return who == "member"
    if openness == "restricted_group":
        return who == "group_member"
    if openness == "confidential":
        return who == "named"
    raise AssertionError(openness)


def expect_versions(who: str, openness: str, embargo: str) -> list[int] | None:
    if not expect_metadata(who, openness, embargo):
        return None
    return [1, 2] if who in ("owner", "admin") else [1]  # drafts: owner and admins only


# -- the world -----------------------------------------------------------------------------------
@dataclass
class Entry:
    tag: str
    concept: str
    v1: str
    doi: str
    link: str


@dataclass
class World:
    hub: Hub
    client: TestClient
    tokens: dict[str, str]
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)

    def call(self, who: str, method: str, url: str, entry: Entry | None = None, **params: Any) -> Any:
        headers = {}
        if who in self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        if who == "share_link" and entry is not None:
            params["share"] = entry.link
        return self.client.request(method, url, headers=headers, params=params or None)


def _create(hub: Hub, owner: Principal, openness: str, embargo: str, tag: str) -> Entry:
    access = openness.split("_")[0]
    options: dict[str, Any] = {}
    if openness == "restricted_group":
        options["share_with"] = ["wp9"]
    if openness == "confidential":
        options["share_with"] = ["nina"]
    if embargo == "active":
        options["embargo_until"] = (dt.date.today() + dt.timedelta(days=90)).isoformat()
        options["embargo_reason"] = "IPR evaluation by the industrial partner"
    metadata = {**FULL_METADATA, "title": f"Cycling data {tag}", "keywords": ["cycling", tag]}
    draft = hub.datasets.create(
        owner,
        metadata,
        access=access,
        metadata_only=openness in ("public_metadata_only", "restricted_announced"),
        options=options,
    )
    pid = draft.pid
    hub.files.put(owner, pid, "data.csv", iter([CONTENT]))
    doi = f"10.5555/{tag}"
    hub.datasets.add_identifier(owner, pid, "doi", doi)
    hub.datasets.publish(owner, pid)
    if embargo == "past":  # an embargo whose date passed before the job ran
        yesterday = dt.date.today() - dt.timedelta(days=1)
        with hub.write() as s:
            s.execute(update(Version).where(Version.pid == pid).values(embargo_until=yesterday))
            s.execute(
                update(SearchDoc)
                .where(
                    SearchDoc.version_id == s.query(Version.id).filter(Version.pid == pid).scalar_subquery()
                )
                .values(embargo_until=yesterday)
            )
    hub.datasets.new_version(owner, draft.concept_pid)  # a draft v2 nobody else may see
    link = hub.ext["access"].create_link(owner, pid, days=7).secret
    return Entry(tag=tag, concept=draft.concept_pid, v1=pid, doi=doi, link=link)


def _build(hub: Hub) -> World:
    ids: dict[str, Principal] = {}
    tokens: dict[str, str] = {}
    for who, username in USERS.items():
        info = hub.users.add(username, email=f"{username}@example.org", is_admin=who == "admin")
        tokens[who] = hub.users.create_token(username).secret
        ids[who] = hub.users.principal_for_user(info.id)
    admin = ids["admin"]
    svc = hub.ext["access"]
    svc.set_role(admin, "mia", "member")  # consortium member
    svc.set_role(admin, "dora", "data_manager")
    svc.add_group(admin, "wp9", kind="work_package", members=["gus"])
    client = TestClient(create_app(hub), raise_server_exceptions=False)
    world = World(hub=hub, client=client, tokens=tokens)
    for openness, embargo in itertools.product(OPENNESS, EMBARGO):
        tag = f"zq{openness.replace('_', '')}{embargo}"
        world.entries[(openness, embargo)] = _create(hub, ids["owner"], openness, embargo, tag)
    # grants recorded for every published version: valid for greta, expired for eve
    with hub.write() as s:
        versions = {v.pid: v.id for v in s.query(Version).filter(Version.state == "published")}
        for entry in world.entries.values():
            for who, days in (("grantee", 30), ("expired_grant", -1)):
                s.add(
                    AccessRequest(
                        version_id=versions[entry.v1],
                        requester_id=ids[who].user_id,
                        reason="for the cross-validation in WP9",
                        state="granted",
                        until=dt.date.today() + dt.timedelta(days=days),
                    )
                )
    return world


@pytest.fixture(scope="module", params=["embedded", pytest.param("scaleout", marks=pytest.mark.scaleout)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("access-matrix")
    cleanup = contextlib.ExitStack()
    if request.param == "embedded":
        settings = Settings(home=home, base_url="http://testserver")
    else:
        from tests.support import require_scaleout
        from tests.support.postgres import (
            PostgresUnavailable,
            create_database,
            drop_database,
            postgres_problem,
        )

        problem = postgres_problem()
        if problem:
            require_scaleout(problem)
        try:
            db_url = create_database()
        except PostgresUnavailable as exc:
            require_scaleout(str(exc))
        cleanup.callback(lambda: drop_database(db_url))
        seaweed = request.getfixturevalue("seaweed")
        settings = Settings(
            home=home, database_url=db_url, storage_url=seaweed.storage_url(), base_url="http://testserver"
        )
    hub = Hub(settings)
    try:
        w = _build(hub)
        with w.client:
            yield w
    finally:
        hub.close()
        cleanup.close()


# -- the cells -----------------------------------------------------------------------------------
def _absent_body(world: World, who: str, url: str, fake: str, real: str, **params: Any) -> dict[str, Any]:
    """The 404 body for something that does not exist, with the fake name put back to the real one."""
    r = world.call(who, "GET", url.replace(real, fake), **params)
    assert r.status_code == 404, r.text
    return {k: (v.replace(fake, real) if isinstance(v, str) else v) for k, v in r.json().items()}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("embargo", EMBARGO)
@pytest.mark.parametrize("openness", OPENNESS)
@pytest.mark.parametrize("who", PRINCIPALS)
def test_cell(world: World, who: str, openness: str, embargo: str, path: str) -> None:
    e = world.entries[(openness, embargo)]
    meta = expect_metadata(who, openness, embargo)
    files = expect_files(who, openness, embargo)
    if path == "record":
        r = world.call(who, "GET", f"/api/datasets/{e.v1}", e)
        if meta:
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["pid"] == e.v1 and body["files_visible"] is files
            assert [f["key"] for f in body["files"]] == (["data.csv"] if files else [])
        else:
            assert r.status_code == 404
            fake = "zzzz-zzzz.v1"
            assert r.json() == _absent_body(world, who, f"/api/datasets/{e.v1}", fake, e.v1)
        # the concept PID answers the same way (latest version this principal may see)
        rc = world.call(who, "GET", f"/api/datasets/{e.concept}", e)
        assert rc.status_code == (200 if meta or who in ("owner", "admin") else 404)
        if rc.status_code == 404:
            assert rc.json() == _absent_body(world, who, f"/api/datasets/{e.concept}", "zzzz-zzzz", e.concept)
    elif path == "resolve":
        r = world.call(who, "GET", "/api/resolve", e, id=e.doi)
        if meta:
            assert r.status_code == 200 and r.json()["pid"] == e.v1, r.text
        else:
            assert r.status_code == 404
            fake = "10.5555/zqdoesnotexist"
            absent = world.call(who, "GET", "/api/resolve", e, id=fake).json()
            absent = {k: (v.replace(fake, e.doi) if isinstance(v, str) else v) for k, v in absent.items()}
            assert r.json() == absent
    elif path == "file_list":
        r = world.call(who, "GET", f"/api/datasets/{e.v1}/files", e)
        if meta:
            assert r.status_code == 200 and [f["key"] for f in r.json()] == (["data.csv"] if files else [])
        else:
            assert r.status_code == 404
            assert r.json() == _absent_body(world, who, f"/api/datasets/{e.v1}/files", "zzzz-zzzz.v1", e.v1)
    elif path == "download":
        r = world.call(who, "GET", f"/api/datasets/{e.v1}/files/data.csv", e)
        if files:
            assert r.status_code == 200 and r.content == CONTENT
        else:
            assert r.status_code == 404 and b"3.4" not in r.content
            if not meta:  # hidden: exactly like a dataset that does not exist
                url = f"/api/datasets/{e.v1}/files/data.csv"
                assert r.json() == _absent_body(world, who, url, "zzzz-zzzz.v1", e.v1)
    elif path == "head":
        r = world.call(who, "HEAD", f"/api/datasets/{e.v1}/files/data.csv", e)
        assert r.status_code == (200 if files else 404)
        assert r.content == b""
        if files:
            assert r.headers["content-length"] == str(len(CONTENT))
    elif path == "versions":
        r = world.call(who, "GET", f"/api/datasets/{e.concept}/versions", e)
        expected = expect_versions(who, openness, embargo)
        if expected is None and who not in ("owner", "admin"):
            assert r.status_code == 404
            url = f"/api/datasets/{e.concept}/versions"
            assert r.json() == _absent_body(world, who, url, "zzzz-zzzz", e.concept)
        else:
            assert r.status_code == 200, r.text
            assert [v["number"] for v in r.json()] == expected
    else:
        r = world.call(who, "GET", "/api/search", e, q=e.tag, size=50)
        assert r.status_code == 200, r.text
        body = r.json()
        if path == "search_hit":
            assert [h["pid"] for h in body["hits"]] == ([e.v1] if meta else [])
        elif path == "search_total":
            assert body["total"] == (1 if meta else 0)
        else:  # facet counts never count what the principal may not see
            access_counts = {f["value"]: f["count"] for f in body["facets"].get("access", [])}
            assert access_counts == ({openness.split("_")[0]: 1} if meta else {})
            for values in body["facets"].values():
                assert all(f["count"] <= body["total"] for f in values)
            kw = {f["value"]: f["count"] for f in body["facets"].get("keyword", [])}
            assert kw.get(e.tag, 0) == (1 if meta else 0)


@pytest.mark.parametrize("who", [p for p in PRINCIPALS if p != "share_link"])
def test_totals_and_facets_over_everything(world: World, who: str) -> None:
    """The whole catalogue: the total and the per-level facet counts are exactly what may be seen."""
    r = world.call(who, "GET", "/api/search", size=200)
    assert r.status_code == 200
    body = r.json()
    visible = [(o, em) for (o, em) in world.entries if expect_metadata(who, o, em)]
    assert body["total"] == len(visible)
    assert sorted(h["pid"] for h in body["hits"]) == sorted(world.entries[k].v1 for k in visible)
    expected_levels: dict[str, int] = {}
    for o, _em in visible:
        expected_levels[o.split("_")[0]] = expected_levels.get(o.split("_")[0], 0) + 1
    assert {f["value"]: f["count"] for f in body["facets"].get("access", [])} == expected_levels
    # filtering by a facet value cannot reveal more either
    for level in ("restricted", "confidential"):
        r = world.call(who, "GET", "/api/search", facet=f"access:{level}", size=200)
        assert r.json()["total"] == expected_levels.get(level, 0)


def test_share_link_opens_exactly_one_version(world: World) -> None:
    e = world.entries[("confidential", "none")]
    other = world.entries[("restricted_consortium", "none")]
    r = world.client.get(f"/api/datasets/{other.v1}", params={"share": e.link})
    assert r.status_code == 404
    r = world.client.get("/api/search", params={"share": e.link, "size": 200})
    pids = [h["pid"] for h in r.json()["hits"]]
    assert e.v1 in pids and other.v1 not in pids
    bad = world.client.get(f"/api/datasets/{e.v1}", params={"share": "dbs_tampered"})
    assert bad.status_code == 401 and "share link" in bad.json()["detail"]


@pytest.mark.parametrize("action", list(Action))
def test_single_checks_agree_with_the_sql_filter(world: World, action: Action) -> None:
    """`can()` on one version and `readable()` inside a query are the same rule, for every cell."""
    hub = world.hub
    principals = {who: hub.users.principal_for_token(token) for who, token in world.tokens.items()}
    principals["anonymous"] = ANONYMOUS
    svc = hub.ext["access"]
    links = [svc.with_links(ANONYMOUS, [e.link]) for e in world.entries.values()]
    with hub.read() as s:
        versions = list(s.scalars(select(Version).options(selectinload(Version.dataset))))
        assert len(versions) == 2 * len(world.entries)  # v1 published + v2 draft each
        for p in [*principals.values(), *links]:
            allowed = set(
                s.scalars(
                    select(Version.id)
                    .join(Dataset, Dataset.id == Version.dataset_id)
                    .where(readable(p, action))
                )
            )
            single = {v.id for v in versions if can(p, action, v)}
            assert single == allowed, (p.username, action)
