"""The blob store: ciphertext only, names it makes, contained paths, atomic writes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from crypto.errors import ChunkAuthenticationFailed
from crypto.stream import new_stream_key, stream_size
from filon.blobstore import BlobStore
from filon.errors import BlobNotFound, InvalidBlobId, NotCiphertext

SENTINEL = b"SENTINEL-coltan-rubaya-source-text-7f3a"


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def _workspace_files(store: BlobStore) -> list[str]:
    """What the process's workspace holds besides nothing: its lock, partials and intents."""
    return sorted(p.name for p in store.workspace.iterdir())


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_encrypted_round_trip_leaves_no_plaintext(store: BlobStore) -> None:
    plaintext = SENTINEL * 50_000  # ~2 MiB: several chunks
    key = new_stream_key()
    blob_id, summary = store.write_encrypted(io.BytesIO(plaintext), key)
    assert store.size(blob_id) == summary.ciphertext_size == stream_size(len(plaintext))
    assert b"".join(store.reader(blob_id, key, expected_size=store.size(blob_id))) == plaintext
    assert SENTINEL not in _all_bytes(store.root)
    assert list(store.ids()) == [blob_id]


def test_ids_are_random_and_made_by_the_store(store: BlobStore) -> None:
    key = new_stream_key()
    ids = {store.write_encrypted(io.BytesIO(b"x"), key)[0] for _ in range(5)}
    assert len(ids) == 5
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


@pytest.mark.parametrize(
    "blob_id",
    ["../../etc/passwd", "..", "", "A" * 32, "0" * 31, "0" * 33, "0" * 31 + "/", "0" * 31 + "\n"],
)
def test_malformed_ids_are_refused(store: BlobStore, blob_id: str) -> None:
    with pytest.raises(InvalidBlobId):
        store.path(blob_id)
    with pytest.raises(InvalidBlobId):
        store.open(blob_id)


def test_plaintext_is_refused_and_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(NotCiphertext):
        store.put_ciphertext(io.BytesIO(SENTINEL))
    assert list(store.ids()) == []
    assert _workspace_files(store) == [".lock"]


def test_a_failed_write_leaves_no_blob_and_no_temporary(store: BlobStore) -> None:
    class Interrupted(Exception):
        pass

    def write_then_fail() -> None:
        with store.create() as pending:
            pending.file.write(b"FLN1" + b"\0" * 100)
            raise Interrupted

    with pytest.raises(Interrupted):
        write_then_fail()
    assert list(store.ids()) == []
    assert _workspace_files(store) == [".lock"]


def test_a_partial_write_is_invisible_until_committed(store: BlobStore) -> None:
    with store.create() as pending:
        pending.file.write(b"FLN1")
        assert not store.exists(pending.blob_id)
    assert store.exists(pending.blob_id)


def test_a_new_blob_carries_an_intent_until_settled(store: BlobStore) -> None:
    blob_id, _ = store.write_encrypted(io.BytesIO(b"evidence"), new_stream_key())
    assert _workspace_files(store) == [".lock", f"{blob_id}.written"]
    store.settle([blob_id])
    assert _workspace_files(store) == [".lock"]
    store.close()
    assert not any((store.root / "tmp").iterdir())


def test_a_live_workspace_is_never_listed_as_dead(tmp_path: Path, store: BlobStore) -> None:
    blob_id, _ = store.write_encrypted(io.BytesIO(b"evidence"), new_stream_key())
    other = BlobStore(store.root)
    assert list(other.dead_workspaces()) == []
    store.close()  # the intent is unsettled: the workspace stays for recovery
    (dead,) = other.dead_workspaces()
    assert dead.intents == {"written": [blob_id], "adopted": [], "incoming": []}
    other.remove_workspace(dead)
    assert [p.name for p in (store.root / "tmp").iterdir()] == []


def test_a_partial_blob_of_an_earlier_version_is_removed(store: BlobStore) -> None:
    (store.root / "tmp" / "deadbeef.part").write_bytes(b"FLN1half")
    assert list(store.dead_workspaces()) == []
    assert not any((store.root / "tmp").iterdir())


def test_delete_and_missing_blobs(store: BlobStore) -> None:
    blob_id, _ = store.write_encrypted(io.BytesIO(b"evidence"), new_stream_key())
    store.delete(blob_id)
    assert not store.exists(blob_id)
    with pytest.raises(BlobNotFound):
        store.open(blob_id)
    with pytest.raises(BlobNotFound):
        store.delete(blob_id)
    with pytest.raises(BlobNotFound):
        store.size(blob_id)


def test_reading_with_the_wrong_key_fails(store: BlobStore) -> None:
    blob_id, _ = store.write_encrypted(io.BytesIO(b"evidence"), new_stream_key())
    with pytest.raises(ChunkAuthenticationFailed):
        list(store.reader(blob_id, new_stream_key()))


def test_copying_ciphertext_keeps_it_byte_for_byte(store: BlobStore) -> None:
    key = new_stream_key()
    first, _ = store.write_encrypted(io.BytesIO(SENTINEL), key)
    with store.open(first) as handle:
        second, size = store.put_ciphertext(handle)
    assert size == store.size(first)
    assert b"".join(store.reader(second, key)) == SENTINEL


def test_a_workspace_being_made_is_never_taken_for_a_dead_one(store: BlobStore) -> None:
    import fcntl
    import os

    making = store.root / "tmp" / ".0123456789abcdef"
    making.mkdir()
    assert list(store.dead_workspaces()) == []  # no lock file yet: its maker is at work
    assert making.is_dir()
    fd = os.open(making / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    assert list(store.dead_workspaces()) == []  # locked: alive
    os.close(fd)  # its maker died before renaming it
    (dead,) = store.dead_workspaces()
    store.remove_workspace(dead)
    stale = store.root / "tmp" / ".fedcba9876543210"
    stale.mkdir()
    os.utime(stale, (0, 0))  # made long ago, never locked
    assert list(store.dead_workspaces()) == []
    assert not stale.exists()
