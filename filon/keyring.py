"""The instance's key files under ``keys/`` (DESIGN.md §3).

Files hold secrets the server itself must use: the intake transport keys (to open sources'
envelopes), the org signing key (to sign receipts, the intake key and dossiers; it is also
sealed to the recovery key and to each admin in the record), the codename lookup key and the
web apps' secret. Every file is created 0600 in a 0700 folder, and Filon refuses to start if
any can be read by the group or others: a key readable by another local account is a key
given away.

Desk keys and user keys never appear here: they exist on disk only sealed.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.utils

from crypto.errors import KeyFormatError, SignatureInvalid
from crypto.keys import BoxKeyPair, SigningKeyPair, b64decode, b64encode, fingerprint
from crypto.signing import sign_detached, verify_detached
from filon.db import current_day
from filon.errors import InstanceCorrupt, InstanceMissing, KeyFilePermissions

INTAKE_DIR = "intake"
CURRENT = "current"
SIGNING_FILE = "org-signing.json"
LOOKUP_FILE = "lookup.key"
APP_SECRET_FILE = "app-secret.key"  # noqa: S105 - a file name, not a secret


@dataclass(frozen=True)
class IntakeKey:
    """An intake transport key with the org signature over its public part."""

    keypair: BoxKeyPair
    signature: bytes
    created_day: str

    @property
    def key_id(self) -> str:
        """The key id of the protocol: the public key's fingerprint."""
        return fingerprint(self.keypair.public)


def write_secret_file(path: Path, data: bytes) -> None:
    """Write a new secret file with mode 0600 from the start (never a wider window)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_secret_file(path: Path, data: bytes) -> None:
    """Atomically replace a secret file (write a 0600 temporary, then rename over)."""
    temp = path.with_name(path.name + ".new")
    temp.unlink(missing_ok=True)
    write_secret_file(temp, data)
    temp.replace(path)


def check_permissions(keys_dir: Path) -> None:
    """Refuse key files or folders that the group or others can read, write or enter."""
    if not keys_dir.is_dir():
        raise InstanceMissing(f"the key folder {keys_dir} is missing")
    for path in [keys_dir, *sorted(keys_dir.rglob("*"))]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            raise KeyFilePermissions(f"{path} is a symbolic link; key files must be plain files")
        if mode & 0o077:
            wanted = "0700" if path.is_dir() else "0600"
            raise KeyFilePermissions(
                f"{path} has mode {mode:04o}: group or others can use it. "
                f"Filon refuses to start; run 'chmod {wanted} {path}' if it was not exposed, "
                "or rotate the key if it may have been read."
            )


class Keyring:
    """Read access to an instance's key files, with rotation of the intake key."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir
        self._intake_cache: dict[str, IntakeKey] = {}

    # -- creation ---------------------------------------------------------------------------

    @classmethod
    def create(cls, keys_dir: Path, signing: SigningKeyPair) -> Keyring:
        """Make the key folder with a first intake key, the signing key and the secrets."""
        keys_dir.mkdir(mode=0o700, parents=True)
        (keys_dir / INTAKE_DIR).mkdir(mode=0o700)
        payload = {"public_key": b64encode(signing.public), "seed": b64encode(signing.seed)}
        write_secret_file(keys_dir / SIGNING_FILE, _dump(payload))
        write_secret_file(keys_dir / LOOKUP_FILE, b64encode(nacl.utils.random(32)).encode())
        write_secret_file(keys_dir / APP_SECRET_FILE, b64encode(nacl.utils.random(32)).encode())
        keyring = cls(keys_dir)
        keyring.rotate_intake_key()
        return keyring

    def rotate_intake_key(self) -> IntakeKey:
        """Make a new intake key, sign it, and make it current; old keys stay for their uploads."""
        keypair = BoxKeyPair.generate()
        key = IntakeKey(
            keypair, sign_detached(keypair.public, self.signing_key()), str(current_day())
        )
        payload = {
            "public_key": b64encode(keypair.public),
            "private_key": b64encode(keypair.private),
            "signature": b64encode(key.signature),
            "created_day": key.created_day,
        }
        intake_dir = self.keys_dir / INTAKE_DIR
        write_secret_file(intake_dir / f"{key.key_id}.json", _dump(payload))
        replace_secret_file(intake_dir / CURRENT, key.key_id.encode("ascii"))
        return key

    # -- reading ----------------------------------------------------------------------------

    def signing_key(self) -> SigningKeyPair:
        """The org signing key."""
        path = self.keys_dir / SIGNING_FILE
        data = self._load_json(path)
        try:
            key = SigningKeyPair.from_seed(b64decode(data["seed"], length=32, what="seed"))
            public = b64decode(data["public_key"], length=32, what="public key")
        except (KeyError, TypeError, KeyFormatError) as exc:
            raise InstanceCorrupt(f"the key file {path} is malformed: {exc}") from exc
        if key.public != public:
            raise InstanceCorrupt(f"{path}: the public key does not match the seed")
        return key

    def current_intake_key(self) -> IntakeKey:
        """The intake key sources should seal to now (re-read, so a rotation is seen at once)."""
        path = self.keys_dir / INTAKE_DIR / CURRENT
        try:
            key_id = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise InstanceCorrupt(f"cannot read {path}: {exc}") from exc
        key = self.intake_key(key_id)
        if key is None:
            raise InstanceCorrupt(f"{path} names a key that is not there")
        return key

    def intake_key(self, key_id: str) -> IntakeKey | None:
        """An intake key by id, current or retired, or ``None``."""
        if key_id in self._intake_cache:
            return self._intake_cache[key_id]
        if len(key_id) != 64 or not all(c in "0123456789abcdef" for c in key_id):
            return None
        path = self.keys_dir / INTAKE_DIR / f"{key_id}.json"
        if not path.is_file():
            return None
        data = self._load_json(path)
        try:
            private = b64decode(data["private_key"], length=32, what="private key")
            signature = b64decode(data["signature"], length=64, what="signature")
            key = IntakeKey(BoxKeyPair.from_private(private), signature, str(data["created_day"]))
        except (KeyError, TypeError, KeyFormatError) as exc:
            raise InstanceCorrupt(f"the key file {path} is malformed: {exc}") from exc
        if key.key_id != key_id:
            raise InstanceCorrupt(f"{path}: the file name does not match the key inside")
        try:
            verify_detached(key.keypair.public, key.signature, self.signing_key().public)
        except SignatureInvalid as exc:
            raise InstanceCorrupt(f"{path}: the org signature over this key does not hold") from exc
        self._intake_cache[key_id] = key
        return key

    def intake_key_ids(self) -> list[str]:
        """Ids of every intake key kept, current and retired."""
        return sorted(p.stem for p in (self.keys_dir / INTAKE_DIR).glob("*.json"))

    def lookup_key(self) -> bytes:
        """The secret that keys codename lookup hashes."""
        return self._load_b64(self.keys_dir / LOOKUP_FILE)

    def app_secret(self) -> bytes:
        """The secret of the web apps (CSRF tokens, signed cookies)."""
        return self._load_b64(self.keys_dir / APP_SECRET_FILE)

    @staticmethod
    def _load_json(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError as exc:
            raise InstanceMissing(f"the key file {path} is missing") from exc
        except (OSError, ValueError) as exc:
            raise InstanceCorrupt(f"the key file {path} is unreadable: {exc}") from exc
        if not isinstance(data, dict):
            raise InstanceCorrupt(f"the key file {path} is malformed")
        return data

    @staticmethod
    def _load_b64(path: Path) -> bytes:
        try:
            return b64decode(path.read_text(encoding="ascii").strip(), length=32, what=str(path))
        except KeyFormatError as exc:
            raise InstanceCorrupt(f"the key file {path} is malformed: {exc}") from exc
        except FileNotFoundError as exc:
            raise InstanceMissing(f"the key file {path} is missing") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise InstanceCorrupt(f"the key file {path} is unreadable: {exc}") from exc


def _dump(payload: dict[str, str]) -> bytes:
    return json.dumps(payload, indent=2).encode("utf-8")
