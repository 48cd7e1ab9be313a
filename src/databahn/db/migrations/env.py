"""Alembic environment: the engine is handed in by `databahn.db.engine.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from databahn.db.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # e.g. `alembic` run by hand with -x url=...
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///databahn-data/databahn.db")
    engine = create_engine(url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
