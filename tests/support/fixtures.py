"""Pytest fixtures for the scale-out services (load with `pytest_plugins = ["tests.support.fixtures"]`).

Both services start lazily, once per session, only when a test asks for them. When a service is
unavailable the test is skipped with the reason, or fails under DATABAHN_REQUIRE_SCALEOUT=1 (CI).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest

from tests.support import require_scaleout
from tests.support.postgres import (
    PostgresUnavailable,
    create_database,
    drop_database,
    drop_stale_databases,
    postgres_problem,
)
from tests.support.seaweed import SeaweedServer, SeaweedUnavailable, start_seaweed

__all__ = ["postgres_database_url", "s3_storage_url", "seaweed", "seaweed_endpoint"]


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedServer]:
    """A running SeaweedFS for the whole session (skips/fails if it cannot start)."""
    try:
        server = start_seaweed()
    except SeaweedUnavailable as exc:
        require_scaleout(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seaweed_endpoint(seaweed: SeaweedServer) -> str:
    """The S3 endpoint URL, e.g. http://127.0.0.1:41234."""
    return seaweed.endpoint


@pytest.fixture
def s3_storage_url(seaweed: SeaweedServer) -> str:
    """A DATABAHN_STORAGE_URL on the session's SeaweedFS with a prefix unique to this test."""
    return seaweed.storage_url(prefix=f"t-{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty PostgreSQL database, dropped after the session."""
    problem = postgres_problem()
    if problem:
        require_scaleout(problem)
    with contextlib.suppress(Exception):
        drop_stale_databases()  # litter from earlier runs that were killed
    try:
        url = create_database()
    except PostgresUnavailable as exc:
        require_scaleout(str(exc))
    try:
        yield url
    finally:
        with contextlib.suppress(PostgresUnavailable):
            drop_database(url)
