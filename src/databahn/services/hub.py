"""The composition root: one object that wires settings, database, blob store, search and services.

Interfaces (API, web, CLI, jobs) receive a Hub and call its services; nothing below the services
knows about HTTP or the terminal.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from databahn.config import Settings
from databahn.db.engine import make_engine, migrate
from databahn.search.index import SearchIndex, make_search_index
from databahn.storage.base import BlobStore


class Hub:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: BlobStore | None = None,
        engine: Engine | None = None,
        run_migrations: bool = True,
    ) -> None:
        self.settings = settings or Settings()
        home = self.settings.resolved_home()
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.engine = engine or make_engine(self.settings.resolved_database_url())
        if run_migrations:
            migrate(self.engine)
        if store is None:
            from databahn.storage.factory import blob_store_from_url

            store = blob_store_from_url(self.settings.storage_url, home)
        self.store: BlobStore = store
        self.search_index: SearchIndex = make_search_index(self.engine.dialect.name)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

        from databahn.services.datasets import DatasetService
        from databahn.services.files import FileService
        from databahn.services.users import UserService

        self.users = UserService(self)
        self.datasets = DatasetService(self)
        self.files = FileService(self)

        from databahn.plugins import Hooks, load_plugins

        self.hooks = Hooks()
        #: services contributed by plugins, by name (e.g. hub.ext["access"])
        self.ext: dict[str, Any] = {}
        for module in load_plugins():
            setup = getattr(module, "setup", None)
            if setup is not None:
                setup(self)

    # -- transactions -----------------------------------------------------------------------
    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back entirely on any error."""
        with self._sessions() as session:
            if self.engine.dialect.name == "sqlite":
                session.connection(execution_options={"sqlite_write": True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def insert_ignore(self, table: Any) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING for either dialect."""
        if self.engine.dialect.name == "postgresql":
            return pg_insert(table).on_conflict_do_nothing()
        return sqlite_insert(table).on_conflict_do_nothing()

    @property
    def secret_key(self) -> str:
        if self.settings.secret_key:
            return self.settings.secret_key
        path = self.home / "secret.key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def is_embedded(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def describe(self) -> dict[str, Any]:
        return {
            "database": self.engine.dialect.name,
            "storage": getattr(self.store, "name", type(self.store).__name__),
            "search": self.search_index.name,
            "home": str(self.home),
        }

    def close(self) -> None:
        for service in self.ext.values():
            close = getattr(service, "close", None)
            if callable(close):
                close()
        self.store.close()
        self.engine.dispose()


def open_hub(settings: Settings | None = None, **kwargs: Any) -> Hub:
    return Hub(settings, **kwargs)


def default_home() -> Path:
    return Settings().resolved_home()
