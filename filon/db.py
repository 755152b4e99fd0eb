"""The SQLAlchemy 2 engine, sessions and declarative base shared by both apps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from sqlalchemy import BigInteger, DateTime, Engine, LargeBinary, MetaData, String, create_engine
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker

# Stable constraint names, so Alembic migrations name the same thing on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Repeated column shapes.
intpk = Annotated[int, mapped_column(primary_key=True)]
slug = Annotated[str, mapped_column(String(64))]
public_key = Annotated[bytes, mapped_column(LargeBinary(32))]
sealed = Annotated[bytes, mapped_column(LargeBinary)]
hex_digest = Annotated[str, mapped_column(String(64))]
byte_count = Annotated[int, mapped_column(BigInteger)]
hour = Annotated[dt.datetime, mapped_column(DateTime(timezone=False))]


class Base(DeclarativeBase):
    """Declarative base of every Filon table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        # SQLAlchemy pools file databases (one connection per thread at a time), so the
        # pragmas below run once per connection, not once per request.
        engine = create_engine(url, **kwargs)
        sa_event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    # Deleted rows are overwritten, so sealed keys destroyed by retention do not linger.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def dialect_insert(session: Session) -> Any:
    """The ``insert`` of the session's dialect, which has ``on_conflict_do_*`` (an upsert).

    SQLite and PostgreSQL spell ``INSERT … ON CONFLICT`` the same way; an upsert replaces a
    read-then-write, which two processes can race, with one atomic statement.
    """
    if session.get_bind().dialect.name == "sqlite":
        return sqlite_insert
    return postgresql_insert


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session


def utc_now() -> dt.datetime:
    """The current UTC time as a naive datetime (the record stores UTC without zone)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def current_hour() -> dt.datetime:
    """Now, rounded down to the hour: the only precision the intake records in plaintext."""
    return utc_now().replace(minute=0, second=0, microsecond=0)


def current_day() -> dt.date:
    """Today (UTC)."""
    return utc_now().date()
