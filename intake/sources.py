"""Sources: a new one gets a codename; a returning one is found by it (DESIGN.md §3)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.codename import (
    SourceKeys,
    codename_language,
    derive_source_keys,
    generate_codename,
    lookup_hash,
)
from crypto.errors import InvalidCodename
from filon.db import current_day
from filon.instance import Instance
from filon.models import Source
from intake.errors import CodenameUnknown, EnvelopeInvalid


@dataclass(frozen=True, repr=False)
class KnownSource:
    """A source row and the keys its codename opened."""

    source: Source
    keys: SourceKeys
    new_codename: str | None  # set only when this request created the source


def derive(instance: Instance, codename: str) -> SourceKeys:
    """The keys of a codename on this instance."""
    settings = instance.settings
    try:
        return derive_source_keys(codename, settings.source_kdf_salt, settings.source_kdf)
    except InvalidCodename as exc:
        raise EnvelopeInvalid(f"the codename is not valid: {exc}") from exc


def find_source(session: Session, instance: Instance, codename: str) -> KnownSource:
    """A returning source by codename."""
    keys = derive(instance, codename)
    digest = lookup_hash(keys.lookup_id, instance.keyring.lookup_key())
    source = session.scalars(select(Source).where(Source.lookup_hash == digest)).first()
    if source is None:
        raise CodenameUnknown("no source has this codename: check each word")
    return KnownSource(source, keys, None)


def resolve_source(
    session: Session, instance: Instance, *, codename: str | None, lang: str
) -> KnownSource:
    """The returning source named by ``codename``, or a new source with a fresh codename."""
    if codename is not None:
        known = find_source(session, instance, codename)
        known.source.last_seen_day = current_day()
        return known
    fresh = generate_codename(codename_language(lang))
    keys = derive(instance, fresh)
    source = Source(
        lookup_hash=lookup_hash(keys.lookup_id, instance.keyring.lookup_key()),
        public_key=keys.keypair.public,
        last_seen_day=current_day(),
    )
    session.add(source)
    session.flush()
    return KnownSource(source, keys, fresh)
