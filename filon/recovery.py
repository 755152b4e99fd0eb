"""Crash recovery: settle what processes that died left in the blob store.

A process killed at any point (SIGKILL, power loss) leaves at most: partial blobs in its
workspace, blobs it made visible before their record committed, and incoming streams no
record names (see :mod:`filon.blobstore` for the intents that track them). A process that
starts serving settles them against the record:

- a blob the record names stays, whatever intent is left on it;
- an upload's stream adopted by a submission that never committed goes back to the upload,
  so the source can submit again and nothing already acknowledged is lost;
- anything else the dead process wrote is removed: it holds ciphertext whose key died with
  the process, and no source was told it was received.

It also lets go of the incoming streams of uploads whose submission committed (a crash
between the commit and their removal). Workspaces of live processes are locked and never
touched, so any number of processes sharing the blob volume may recover at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from filon.blobstore import ADOPTED, INCOMING, WRITTEN, BlobStore
from filon.instance import Instance
from filon.models import Evidence, Upload


@dataclass
class Recovered:
    """What recovery did (counts only: never names or content)."""

    workspaces: int = 0
    removed: int = 0  # blobs and incoming streams of records that never committed
    returned: int = 0  # streams given back to their upload
    released: int = 0  # incoming streams of uploads already used by a committed submission


def recover(instance: Instance) -> Recovered:
    """Settle every dead process's workspace, then the leftovers of used uploads."""
    store = instance.store
    done = Recovered()
    for dead in store.dead_workspaces():
        ids = sorted({blob_id for listed in dead.intents.values() for blob_id in listed})
        with instance.sessions() as session:
            named = _named_by_evidence(session, ids)
            rows = session.execute(
                select(Upload.blob_id, Upload.used).where(Upload.blob_id.in_(ids))
            )
            uploads: dict[str, bool] = dict(rows.all())
        for blob_id in dead.intents[WRITTEN]:
            if blob_id not in named:
                done.removed += _remove(store, blob_id)
        for blob_id in dead.intents[ADOPTED]:
            if blob_id in named:
                continue
            if uploads.get(blob_id) is False and store.exists(blob_id):
                store.return_incoming(blob_id)
                done.returned += 1
            elif blob_id not in uploads:
                done.removed += _remove(store, blob_id)
        for blob_id in dead.intents[INCOMING]:
            if blob_id not in named and blob_id not in uploads:
                done.removed += _remove(store, blob_id)
        store.remove_workspace(dead)
        done.workspaces += 1
    done.released = _release_used_uploads(instance)
    return done


def _named_by_evidence(session: Session, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = session.execute(
        select(Evidence.blob_id, Evidence.original_blob_id).where(
            or_(Evidence.blob_id.in_(ids), Evidence.original_blob_id.in_(ids))
        )
    )
    return {blob_id for row in rows for blob_id in row if blob_id is not None}


def _remove(store: BlobStore, blob_id: str) -> int:
    """Remove a blob and an incoming stream under this id; how many files went."""
    removed = 0
    if store.exists(blob_id):
        store.delete(blob_id)
        removed += 1
    if store.incoming_path(blob_id).exists():
        store.discard_incoming(blob_id)
        removed += 1
    return removed


def _release_used_uploads(instance: Instance) -> int:
    """Remove the streams of uploads whose submission committed with a cleaned copy."""
    ids = list(instance.store.incoming_ids())
    if not ids:
        return 0
    with instance.sessions() as session:
        used = set(
            session.scalars(select(Upload.blob_id).where(Upload.blob_id.in_(ids), Upload.used))
        )
        used -= _named_by_evidence(session, sorted(used))
    for blob_id in used:
        instance.store.discard_incoming(blob_id)
    return len(used)
