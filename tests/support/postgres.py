"""Throwaway PostgreSQL databases for the scale-out tests.

Why a fresh database per session: tests (and parallel workers, and other engineers' runs on the
same server) must never see each other's tables. The admin URL only needs the right to
CREATE/DROP DATABASE; the default matches CI (trust auth on 127.0.0.1:5432, database `test`).
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be reached or refuses to create a database."""


def postgres_admin_url() -> str:
    """SQLAlchemy URL of a database we may connect to for CREATE/DROP DATABASE."""
    return os.environ.get("DATABAHN_TEST_POSTGRES_URL") or DEFAULT_ADMIN_URL


def _libpq_url(sqlalchemy_url: str, database: str | None = None) -> str:
    """The same URL as psycopg/libpq wants it (no `+driver`), optionally for another database."""
    from sqlalchemy.engine import make_url

    url = make_url(sqlalchemy_url)
    if url.get_backend_name() != "postgresql":
        raise PostgresUnavailable(f"{url.render_as_string()} is not a PostgreSQL URL")
    if database is not None:
        url = url.set(database=database)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _with_database(sqlalchemy_url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(sqlalchemy_url).set(database=database).render_as_string(hide_password=False)


def _connect(admin_url: str) -> object:
    import psycopg

    try:
        return psycopg.connect(_libpq_url(admin_url), autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        from sqlalchemy.engine import make_url

        shown = make_url(admin_url).render_as_string(hide_password=True)
        raise PostgresUnavailable(
            f"PostgreSQL at {shown} is unreachable ({str(exc).strip()}); start it (.ci/services.sh) "
            f"or point DATABAHN_TEST_POSTGRES_URL at a server"
        ) from exc


def postgres_problem(admin_url: str | None = None) -> str | None:
    """None if the admin URL accepts connections, else why not."""
    try:
        conn = _connect(admin_url or postgres_admin_url())
    except PostgresUnavailable as exc:
        return str(exc)
    except ImportError as exc:
        return f"psycopg is not installed ({exc}); pip install 'psycopg[binary]'"
    conn.close()  # type: ignore[attr-defined]
    return None


def create_database(admin_url: str | None = None, prefix: str = "databahn_test") -> str:
    """Create a uniquely named empty database; return its SQLAlchemy URL."""
    admin_url = admin_url or postgres_admin_url()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    conn = _connect(admin_url)
    try:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    except Exception as exc:
        raise PostgresUnavailable(f"cannot create test database {name}: {exc}") from exc
    finally:
        conn.close()  # type: ignore[attr-defined]
    return _with_database(admin_url, name)


def drop_database(database_url: str, admin_url: str | None = None) -> None:
    """Drop a database made by create_database, disconnecting anyone still using it."""
    from sqlalchemy.engine import make_url

    name = make_url(database_url).database
    if not name:
        raise ValueError(f"{database_url} names no database")
    conn = _connect(admin_url or postgres_admin_url())
    try:
        conn.execute(  # type: ignore[attr-defined]
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[attr-defined]
    finally:
        conn.close()  # type: ignore[attr-defined]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_stale_databases(admin_url: str | None = None, prefix: str = "databahn_test") -> list[str]:
    """Drop test databases left by killed test runs; returns their names.

    Only on a loopback server (so the pid in the name is one of ours), only if that process is
    gone and nobody is connected to the database.
    """
    from sqlalchemy.engine import make_url

    admin_url = admin_url or postgres_admin_url()
    if make_url(admin_url).host not in ("127.0.0.1", "localhost", "::1", None):
        return []
    pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)_[0-9a-f]{{10}}$")
    conn = _connect(admin_url)
    dropped = []
    try:
        rows = conn.execute(  # type: ignore[attr-defined]
            "SELECT d.datname FROM pg_database d WHERE d.datname LIKE %s AND NOT EXISTS "
            "(SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)",
            (f"{prefix}\\_%",),
        ).fetchall()
        for (name,) in rows:
            match = pattern.match(name)
            if match and not _pid_alive(int(match.group(1))):
                with contextlib.suppress(Exception):
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[attr-defined]
                    dropped.append(name)
    finally:
        conn.close()  # type: ignore[attr-defined]
    return dropped


@contextlib.contextmanager
def fresh_database(admin_url: str | None = None) -> Iterator[str]:
    """A new empty database for the `with` block (its SQLAlchemy URL), dropped afterwards."""
    url = create_database(admin_url)
    try:
        yield url
    finally:
        with contextlib.suppress(PostgresUnavailable):
            drop_database(url, admin_url)
