"""An instance: settings, database, keys and blob store, opened or created in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import nacl.utils
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crypto import kdf
from crypto.keys import BoxKeyPair, SigningKeyPair, format_recovery_key
from crypto.sealing import seal
from filon import schema
from filon.accounts import SIGNING_PURPOSE
from filon.blobstore import BlobStore
from filon.db import make_engine, make_session_factory, transaction
from filon.errors import DatabaseUnreachable, InstanceExists, KeyFilePermissions
from filon.keyring import Keyring, check_permissions
from filon.models import OrgKey
from filon.settings import SETTINGS_FILE, Settings, check_database_url, database_url_from_env

# A PostgreSQL server that is down or firewalled should stop the start in seconds, with a
# message, not hang for the minutes a TCP connect can take.
CONNECT_TIMEOUT = 10


@dataclass
class Instance:
    """Everything a process needs to serve one Filon instance."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keyring: Keyring
    store: BlobStore = field(repr=False)

    @classmethod
    def open(cls, settings: Settings, *, check_schema: bool = True) -> Instance:
        """Open an instance, refusing exposed key files and a schema that does not match.

        Everything that could fail at the first request fails here instead, with a message
        that names the file or setting: key files, the database connection, the schema.
        """
        try:
            check_permissions(settings.keys_dir)
        except PermissionError as exc:
            raise KeyFilePermissions(
                f"cannot read {exc.filename}: the instance must belong to the account Filon "
                f"runs as (chown -R that account {settings.instance_dir})"
            ) from exc
        keyring = Keyring(settings.keys_dir)
        # Fail at start, not at the first request: every key file a request may need.
        keyring.current_intake_key()
        keyring.lookup_key()
        keyring.app_secret()
        engine = connect(settings)
        try:
            if check_schema:
                schema.check_current(engine, upgrade_command=_upgrade_hint(settings))
        except BaseException:
            engine.dispose()
            raise
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            keyring=keyring,
            store=BlobStore(settings.blobs_dir),
        )

    def close(self) -> None:
        """Release database connections and this process's blob workspace."""
        self.store.close()
        self.engine.dispose()


@dataclass(frozen=True)
class Created:
    """A new instance and the recovery key to print once."""

    instance: Instance
    recovery_key_text: str
    recovery_public_key: bytes


def init_instance(
    instance_dir: Path,
    *,
    database_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: object,
) -> Created:
    """Create an instance: folders, settings, keys, database schema, org key escrow."""
    instance_dir = instance_dir.resolve()
    if (instance_dir / SETTINGS_FILE).exists():
        raise InstanceExists(f"{instance_dir} already holds a Filon instance")
    if instance_dir.exists() and any(instance_dir.iterdir()):
        raise InstanceExists(f"{instance_dir} is not empty: choose a new folder")
    environ = os.environ if environ is None else environ
    from_env = database_url_from_env(environ)  # checked before anything is made
    instance_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    recovery = BoxKeyPair.generate()
    signing = SigningKeyPair.generate()
    settings = Settings(
        instance_dir=instance_dir,
        database_url=(database_url and check_database_url(database_url, "--database-url"))
        or from_env
        or f"sqlite:///{instance_dir / 'filon.db'}",
        source_kdf_salt=nacl.utils.random(16),
        source_kdf=kdf.source_key_params(),
        recovery_public_key=recovery.public,
    )
    settings = replace(settings, **overrides)  # type: ignore[arg-type]
    engine = connect(settings)  # an unreachable database stops here, before any file is made
    # A password that came from the environment (a secret) stays there, out of filon.toml.
    stored = settings.to_toml(with_database_password=database_url is not None or not from_env)
    (instance_dir / SETTINGS_FILE).write_text(stored, encoding="utf-8")
    keyring = Keyring.create(settings.keys_dir, signing)
    schema.upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        session.add(
            OrgKey(
                purpose=SIGNING_PURPOSE,
                public_key=signing.public,
                sealed_for_recovery=seal(signing.seed, recovery.public),
            )
        )
    instance = Instance(settings, engine, sessions, keyring, BlobStore(settings.blobs_dir))
    return Created(instance, format_recovery_key(recovery.private), recovery.public)


def connect(settings: Settings) -> Engine:
    """An engine on the instance's database, after one connection proved it reachable."""
    url = settings.database_url
    postgres = url.startswith("postgresql")
    engine = make_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT} if postgres else {})
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        engine.dispose()
        # The driver's first line says why (refused, unknown host, authentication failed);
        # the URL is shown without its password.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        shown = make_url(url).render_as_string(hide_password=True)
        raise DatabaseUnreachable(
            f"cannot connect to the database {shown} (FILON_DATABASE_URL or database_url in "
            f"{settings.instance_dir / SETTINGS_FILE}): {reason}"
        ) from exc
    return engine


def _upgrade_hint(settings: Settings) -> str:
    return f"filon upgrade --instance {settings.instance_dir}"
