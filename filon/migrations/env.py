"""Alembic environment: run migrations on the connection Filon hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

# The casework's tables live on the same base and in the same migration history: importing
# its models here (the one place in filon that does) lets autogenerate see the whole record.
from casework.models import *  # noqa: F403
from filon.db import Base, make_engine
from filon.models import *  # noqa: F403 - register every table on Base.metadata

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # plain `alembic` command line: the URL comes from the config
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
