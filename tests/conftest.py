"""Shared fixtures: a hub on each deployment (embedded SQLite + local files; PostgreSQL + S3).

Tests that take `hub` (or `api`) run twice: `[embedded]` and `[scaleout]`. The scale-out variant
needs PostgreSQL on 127.0.0.1:5432 and SeaweedFS (started by the fixtures); it is skipped when they
are missing, and fails instead under DATABAHN_REQUIRE_SCALEOUT=1 (set by CI).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from databahn.api.app import create_app
from databahn.config import Settings
from databahn.services.hub import Hub
from databahn.services.policy import Principal

pytest_plugins = ["tests.support.fixtures"]

# Automatic extraction after upload is tested on its own (tests/test_extraction_hub.py); elsewhere
# it would only add background work to tests about other things.
os.environ.setdefault("DATABAHN_EXTRACT_ON_UPLOAD", "0")


def _truncate_all(hub: Hub) -> None:
    with hub.engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
            if r[0] != "alembic_version"
        ]
        if tables:
            conn.execute(
                text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
            )


@pytest.fixture(params=["embedded", pytest.param("scaleout", marks=pytest.mark.scaleout)])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for one deployment; scale-out ones point at the session's PostgreSQL and SeaweedFS."""
    base_url = "http://testserver"
    if request.param == "embedded":
        return Settings(home=tmp_path / "home", base_url=base_url)
    db_url = request.getfixturevalue("postgres_database_url")
    s3_url = request.getfixturevalue("s3_storage_url")
    return Settings(home=tmp_path / "home", database_url=db_url, storage_url=s3_url, base_url=base_url)


@pytest.fixture
def hub(deployment: Settings) -> Iterator[Hub]:
    h = Hub(deployment)
    if h.engine.dialect.name == "postgresql":
        _truncate_all(h)
    try:
        yield h
    finally:
        h.close()


@dataclass
class Actor:
    """A user with a token, and shortcuts to call the API as them."""

    username: str
    token: str
    principal: Principal

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_actor(hub: Hub, username: str, *, admin: bool = False) -> Actor:
    info = hub.users.add(username, email=f"{username}@example.org", is_admin=admin)
    token = hub.users.create_token(username).secret
    return Actor(username, token, Principal(user_id=info.id, username=username, is_admin=admin))


@pytest.fixture
def alice(hub: Hub) -> Actor:
    return make_actor(hub, "alice")


@pytest.fixture
def bob(hub: Hub) -> Actor:
    return make_actor(hub, "bob")


@pytest.fixture
def api(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub), raise_server_exceptions=False) as client:
        yield client


FULL_METADATA: dict[str, Any] = {
    "title": "Galvanostatic cycling of LFP coin cells",
    "creators": [{"name": "Doe, Jane", "orcid": "0000-0002-1825-0097", "affiliation": ["DTU"]}],
    "description": "C/10 cycling of CR2032 LFP||Li half cells.",
    "license": "CC-BY-4.0",
    "keywords": ["cycling", "LFP"],
    "work_package": "WP6",
    "partner": "DTU",
    "data_level": "raw",
    "method": {"name": "Galvanostatic cycling", "protocol": "SOP-6.1"},
    "generated_on": "2024-03-14",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn serving a hub in a background thread on a free loopback port."""

    def __init__(self, hub: Hub) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        hub.settings.base_url = self.url
        config = uvicorn.Config(create_app(hub), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live(hub: Hub) -> Iterator[LiveServer]:
    with LiveServer(hub) as server:
        yield server
