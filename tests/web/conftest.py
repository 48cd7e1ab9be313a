"""Fixtures for the web tests: a hub with three users and signed-in TestClients."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from databahn.api.app import create_app
from databahn.services.hub import Hub

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "the page carries no CSRF token"
    return m.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    resp = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text), "next": "/my"},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == "/my"


@pytest.fixture
def hub(hub: Hub) -> Hub:
    """The shared `hub` fixture (embedded and scale-out deployments) with three users who can sign in."""
    hub.users.add("alice", name="Alice Adams", password=PASSWORD)
    hub.users.add("bob", name="Bob Brown", password=PASSWORD)
    hub.users.add("root", name="Ada Admin", password=PASSWORD, is_admin=True)
    return hub


@pytest.fixture
def app_client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub)) as client:
        yield client


def client_for(hub: Hub, username: str | None) -> TestClient:
    client = TestClient(create_app(hub))
    if username:
        login(client, username)
    return client
