"""Schema versions: Alembic configured in code, and the checks ``filon serve`` runs at start."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from filon.errors import DatabaseBehindCode, DatabaseNewerThanCode, MigrationFailed


def alembic_config() -> Config:
    """An Alembic configuration pointing at Filon's migrations."""
    config = Config()
    config.set_main_option("script_location", "filon:migrations")
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations are packaged")
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision, or ``None`` for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to ``revision``, refusing one that is newer than the code."""
    if current_revision(engine) is not None:
        check_not_newer(engine)
    config = alembic_config()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one; with foreign keys
            # on, the drop runs every ON DELETE of the rows pointing at it (links, authors
            # would be lost). Off for the migration (outside a transaction, or SQLite ignores
            # it), and every reference checked before the migration commits.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise MigrationFailed(
                            f"the migration would leave {len(broken)} broken reference(s), "
                            f"first in table {broken[0][0]}: nothing was changed"
                        )
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def check_not_newer(engine: Engine) -> None:
    """Refuse a database migrated by a newer Filon."""
    revision = current_revision(engine)
    scripts = ScriptDirectory.from_config(alembic_config())
    if revision is not None and revision not in {s.revision for s in scripts.walk_revisions()}:
        raise DatabaseNewerThanCode(
            f"the database is at revision {revision}, which this Filon does not know: it was "
            "upgraded by a newer version. Install that version (or newer) to use it."
        )


def check_current(engine: Engine, *, upgrade_command: str = "filon upgrade") -> None:
    """Refuse to serve a database that is newer than the code or behind it."""
    check_not_newer(engine)
    revision = current_revision(engine)
    if revision != head_revision():
        raise DatabaseBehindCode(
            f"the database is at revision {revision or '(empty)'} but this Filon needs "
            f"{head_revision()}: back it up, then run '{upgrade_command}'"
        )
