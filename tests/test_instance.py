"""Instances: creation, key files and their modes, settings, and the refusals at start."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from crypto.keys import fingerprint, parse_recovery_key
from crypto.sealing import open_sealed
from filon.db import transaction
from filon.errors import (
    InstanceCorrupt,
    InstanceExists,
    InstanceMissing,
    KeyFilePermissions,
    SettingsInvalid,
)
from filon.instance import Created, Instance, init_instance
from filon.keyring import Keyring, check_permissions
from filon.models import OrgKey
from filon.settings import Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_files_are_0600_in_0700_folders(instance: Instance) -> None:
    keys_dir = instance.settings.keys_dir
    files = [p for p in keys_dir.rglob("*") if p.is_file()]
    assert len(files) >= 5  # signing, lookup, app secret, intake key, current pointer
    assert all(_mode(p) == 0o600 for p in files), {p.name: oct(_mode(p)) for p in files}
    folders = [keys_dir, *(p for p in keys_dir.rglob("*") if p.is_dir())]
    assert all(_mode(p) == 0o700 for p in folders)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_a_key_file_readable_by_others_stops_the_instance(instance: Instance, mode: int) -> None:
    victim = instance.settings.keys_dir / "org-signing.json"
    victim.chmod(mode)
    with pytest.raises(KeyFilePermissions, match="org-signing.json"):
        Instance.open(instance.settings)


def test_an_open_key_folder_stops_the_instance(instance: Instance) -> None:
    (instance.settings.keys_dir / "intake").chmod(0o755)
    with pytest.raises(KeyFilePermissions, match="chmod 0700"):
        check_permissions(instance.settings.keys_dir)


def test_reopening_a_healthy_instance_works(instance: Instance) -> None:
    reopened = Instance.open(instance.settings)
    assert reopened.keyring.current_intake_key() == instance.keyring.current_intake_key()
    reopened.close()


def test_recovery_key_is_printed_not_stored(created: Created) -> None:
    recovery = parse_recovery_key(created.recovery_key_text)
    assert recovery.public == created.instance.settings.recovery_public_key
    needles = [
        recovery.private,
        recovery.private.hex().encode(),
        created.recovery_key_text.encode(),
    ]
    root = created.instance.settings.instance_dir
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(needle in data for needle in needles), path


def test_org_signing_key_is_escrowed_to_the_recovery_key(created: Created) -> None:
    instance = created.instance
    recovery = parse_recovery_key(created.recovery_key_text)
    with transaction(instance.sessions) as session:
        org_key = session.query(OrgKey).one()
        seed = open_sealed(org_key.sealed_for_recovery, recovery)
    assert seed == instance.keyring.signing_key().seed
    assert org_key.public_key == instance.keyring.signing_key().public


def test_init_refuses_an_existing_instance(instance: Instance) -> None:
    with pytest.raises(InstanceExists):
        init_instance(instance.settings.instance_dir)


def test_init_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InstanceExists, match="not empty"):
        init_instance(tmp_path)


def test_missing_instance_is_named(tmp_path: Path) -> None:
    with pytest.raises(InstanceMissing, match="filon init"):
        Settings.load(tmp_path / "nowhere")
    with pytest.raises(InstanceMissing, match="no filon.toml"):
        Settings.load(tmp_path)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("this is [not toml", InstanceCorrupt),
        ("[filon]\nformat = 1\n", InstanceCorrupt),
        ("[filon]\nformat = 99\n", InstanceCorrupt),
    ],
)
def test_corrupt_settings_are_named(
    instance: Instance, content: str, error: type[Exception]
) -> None:
    (instance.settings.instance_dir / "filon.toml").write_text(content)
    with pytest.raises(error):
        Settings.load(instance.settings.instance_dir)


def test_corrupt_key_file_is_named(instance: Instance) -> None:
    keyring = Keyring(instance.settings.keys_dir)
    path = instance.settings.keys_dir / "intake" / f"{keyring.current_intake_key().key_id}.json"
    path.write_text("{ not json")
    with pytest.raises(InstanceCorrupt, match="unreadable"):
        Keyring(instance.settings.keys_dir).current_intake_key()


def test_intake_key_with_a_forged_signature_is_refused(instance: Instance) -> None:
    keyring = instance.keyring
    key_id = keyring.current_intake_key().key_id
    path = instance.settings.keys_dir / "intake" / f"{key_id}.json"
    data = json.loads(path.read_text())
    other = keyring.rotate_intake_key()
    data["signature"] = json.loads(
        (instance.settings.keys_dir / "intake" / f"{other.key_id}.json").read_text()
    )["signature"]
    path.write_text(json.dumps(data))
    with pytest.raises(InstanceCorrupt, match="signature"):
        Keyring(instance.settings.keys_dir).intake_key(key_id)


def test_settings_round_trip_and_environment_overrides(instance: Instance) -> None:
    settings = instance.settings
    again = Settings.load(settings.instance_dir, environ={})
    assert again == settings
    env = {"FILON_INTAKE_PORT": "9000", "FILON_CASEWORK_PORT": "9001", "FILON_POW_DIFFICULTY": "4"}
    overridden = Settings.load(settings.instance_dir, environ=env)
    assert (overridden.intake_port, overridden.casework_port) == (9000, 9001)
    assert overridden.pow_difficulty == 4


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FILON_INTAKE_PORT": "70000"}, "intake_port"),
        ({"FILON_INTAKE_PORT": "eighty"}, "not a number"),
        ({"FILON_MAX_FILE_BYTES": "10"}, "max_file_bytes"),
        ({"FILON_POW_DIFFICULTY": "64"}, "pow_difficulty"),
        ({"FILON_DATABASE_URL": "mysql://x"}, "database_url"),
    ],
)
def test_invalid_settings_are_named(instance: Instance, env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsInvalid, match=message):
        Settings.load(instance.settings.instance_dir, environ=env)


def test_rotation_keeps_old_keys_and_signs_the_new_one(instance: Instance) -> None:
    keyring = instance.keyring
    old = keyring.current_intake_key()
    new = keyring.rotate_intake_key()
    assert keyring.current_intake_key() == new != old
    assert keyring.intake_key(old.key_id) == old  # kept for uploads still under way
    assert set(keyring.intake_key_ids()) == {old.key_id, new.key_id}
    assert new.key_id == fingerprint(new.keypair.public)
    check_permissions(instance.settings.keys_dir)


@pytest.mark.parametrize("key_id", ["", "../../org-signing", "A" * 64, "0" * 63, "g" * 64])
def test_unknown_or_malformed_key_ids_find_nothing(instance: Instance, key_id: str) -> None:
    assert instance.keyring.intake_key(key_id) is None
