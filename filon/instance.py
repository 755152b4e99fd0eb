"""An instance: settings, database, keys and blob store, opened or created in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import nacl.utils
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crypto import kdf
from crypto.keys import BoxKeyPair, SigningKeyPair, format_recovery_key
from crypto.sealing import seal
from filon import schema
from filon.accounts import SIGNING_PURPOSE
from filon.blobstore import BlobStore
from filon.db import make_engine, make_session_factory, transaction
from filon.errors import InstanceExists
from filon.keyring import Keyring, check_permissions
from filon.models import OrgKey
from filon.settings import SETTINGS_FILE, Settings


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
        """Open an instance, refusing exposed key files and a schema that does not match."""
        check_permissions(settings.keys_dir)
        engine = make_engine(settings.database_url)
        if check_schema:
            schema.check_current(engine, upgrade_command=_upgrade_hint(settings))
        keyring = Keyring(settings.keys_dir)
        keyring.current_intake_key()  # fail at start, not at the first request
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
    instance_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    recovery = BoxKeyPair.generate()
    signing = SigningKeyPair.generate()
    settings = Settings(
        instance_dir=instance_dir,
        database_url=database_url
        or environ.get("FILON_DATABASE_URL")
        or f"sqlite:///{instance_dir / 'filon.db'}",
        source_kdf_salt=nacl.utils.random(16),
        source_kdf=kdf.source_key_params(),
        recovery_public_key=recovery.public,
    )
    settings = replace(settings, **overrides)  # type: ignore[arg-type]
    (instance_dir / SETTINGS_FILE).write_text(settings.to_toml(), encoding="utf-8")
    keyring = Keyring.create(settings.keys_dir, signing)
    engine = make_engine(settings.database_url)
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


def _upgrade_hint(settings: Settings) -> str:
    return f"filon upgrade --instance {settings.instance_dir}"
