"""Production settings from the environment: each bad value refused at start, by its name.

The command-line tests run ``filon`` as a real process, as a container or a systemd unit
starts it: a clear one-line error and exit status 1, never a traceback.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from filon.errors import FilonError, SettingsInvalid
from filon.instance import Instance, init_instance
from filon.settings import Settings
from tests import postgres
from tests.conftest import DATABASES

FILON = [sys.executable, "-m", "filon"]
PASSWORD = "hunter2-never-shown"  # noqa: S105 - a canary, looked for in every message
UNREACHABLE = f"postgresql+psycopg://filon:{PASSWORD}@127.0.0.1:1/filon"


def filon(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FILON_")}
    base.pop("FILON_TEST_DATABASES", None)
    return subprocess.run(
        [*FILON, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **env},
        check=False,
    )


@pytest.fixture
def sqlite_instance(tmp_path: Path) -> Iterator[Instance]:
    """An instance on SQLite (the cheap KDF keeps it fast), for settings that need no server."""
    created = init_instance(tmp_path / "instance", environ={})
    yield created.instance
    created.instance.close()


# -- in the process: every variable named with what is wrong ---------------------------------------

BAD_ENVIRONMENTS = [
    ({"FILON_INTAKE_PORT": "70000"}, "FILON_INTAKE_PORT='70000': intake_port must be a TCP port"),
    ({"FILON_CASEWORK_PORT": "-1"}, "FILON_CASEWORK_PORT='-1': casework_port must be a TCP port"),
    ({"FILON_INTAKE_PORT": "eighty"}, "FILON_INTAKE_PORT='eighty': intake_port is not a number"),
    ({"FILON_THREADS": "0"}, "FILON_THREADS='0': threads must be between 1 and 256"),
    ({"FILON_MAX_FILE_BYTES": "1e9"}, "FILON_MAX_FILE_BYTES='1e9': max_file_bytes is not a"),
    ({"FILON_POW_DIFFICULTY": "64"}, "FILON_POW_DIFFICULTY='64': pow_difficulty must be between"),
    ({"FILON_INTAKE_HOST": "0.0.0.0 ; x"}, "intake_host must be an IP address or a host name"),
    ({"FILON_DATABASE_URL": "mysql://u:hunter2-never-shown@h/db"}, "FILON_DATABASE_URL: data"),
    ({"FILON_DATABASE_URL": "not a url"}, "FILON_DATABASE_URL: database_url is not a database"),
    (
        {"FILON_DATABASE_URL": "postgresql+psycopg2://u:hunter2-never-shown@h/db"},
        "must be a sqlite:// or postgresql:// URL (postgresql+psycopg), not postgresql+psycopg2",
    ),
    ({"FILON_DATABASE_URL": "postgresql://u@h/"}, "the PostgreSQL URL names no database"),
    (
        {"FILON_DATABASE_URL_FILE": "/nonexistent/db-url"},
        "FILON_DATABASE_URL_FILE='/nonexistent/db-url': cannot read the file (No such file",
    ),
    (
        {"FILON_DATABASE_URL": "sqlite://", "FILON_DATABASE_URL_FILE": "/x"},
        "both FILON_DATABASE_URL and FILON_DATABASE_URL_FILE are set",
    ),
]


@pytest.mark.parametrize(("env", "message"), BAD_ENVIRONMENTS)
def test_a_bad_variable_is_named_with_what_is_wrong(
    sqlite_instance: Instance, env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsInvalid) as refused:
        Settings.load(sqlite_instance.settings.instance_dir, environ=env)
    assert message in str(refused.value)
    assert PASSWORD not in str(refused.value)


def test_a_bad_value_in_the_file_is_named_with_the_file(sqlite_instance: Instance) -> None:
    path = sqlite_instance.settings.instance_dir / "filon.toml"
    path.write_text(path.read_text().replace("port = 8080", 'port = "8o8o"'))
    with pytest.raises(SettingsInvalid, match=re.escape(f"port in {path}: intake_port is not a")):
        Settings.load(path.parent, environ={})
    # The environment wins over the file, so a container can repair it without editing it.
    assert Settings.load(path.parent, environ={"FILON_INTAKE_PORT": "8080"}).intake_port == 8080


def test_the_whole_configuration_can_come_from_the_environment(
    sqlite_instance: Instance, tmp_path: Path
) -> None:
    url_file = tmp_path / "database-url"
    database = tmp_path / "elsewhere.db"
    url_file.write_text(f"sqlite:///{database}\n")
    env = {
        "FILON_DATABASE_URL_FILE": str(url_file),
        "FILON_INTAKE_HOST": "0.0.0.0",  # noqa: S104 - what a container binds
        "FILON_INTAKE_PORT": "8080",
        "FILON_CASEWORK_HOST": "::",
        "FILON_CASEWORK_PORT": "8081",
        "FILON_THREADS": "16",
        "FILON_MAX_FILE_BYTES": str(2 * 1024**3),
        "FILON_POW_DIFFICULTY": "20",
        "FILON_NOJS_SUBMISSIONS_PER_HOUR": "60",
    }
    settings = Settings.load(sqlite_instance.settings.instance_dir, environ=env)
    assert settings.database_url == f"sqlite:///{database}"
    assert (settings.intake_host, settings.intake_port) == ("0.0.0.0", 8080)  # noqa: S104
    assert (settings.casework_host, settings.casework_port) == ("::", 8081)
    assert (settings.threads, settings.max_file_bytes) == (16, 2 * 1024**3)
    assert (settings.pow_difficulty, settings.nojs_submissions_per_hour) == (20, 60)
    # What hosting panels print is given the driver Filon ships with.
    again = Settings.load(
        settings.instance_dir, environ={"FILON_DATABASE_URL": "postgres://u:p@db:5432/filon"}
    )
    assert again.database_url == "postgresql+psycopg://u:p@db:5432/filon"


def test_a_key_file_that_cannot_be_read_stops_the_start(sqlite_instance: Instance) -> None:
    lookup = sqlite_instance.settings.keys_dir / "lookup.key"
    lookup.unlink()
    lookup.mkdir(mode=0o700)  # unreadable as a file, whoever runs the test (root included)
    with pytest.raises(FilonError, match=r"lookup\.key is unreadable"):
        Instance.open(sqlite_instance.settings)


@pytest.mark.skipif("postgresql" not in DATABASES, reason="FILON_TEST_DATABASES leaves it out")
def test_a_password_from_the_environment_stays_out_of_the_instance_file(
    postgres_server: str, tmp_path: Path
) -> None:
    name = "t_env_password"
    url = postgres.create_database(postgres_server, name)
    # The test server trusts local connections, so any password works: what matters is
    # where it is written down.
    with_password = url.replace("filon@", f"filon:{PASSWORD}@", 1)
    try:
        created = init_instance(
            tmp_path / "instance", environ={"FILON_DATABASE_URL": with_password}
        )
        created.instance.close()
        stored = b"".join(p.read_bytes() for p in (tmp_path / "instance").rglob("*") if p.is_file())
        assert PASSWORD.encode() not in stored
        assert b"postgresql+psycopg://filon@" in stored
        settings = Settings.load(
            tmp_path / "instance", environ={"FILON_DATABASE_URL": with_password}
        )
        reopened = Instance.open(settings)
        reopened.close()
    finally:
        postgres.drop_database(postgres_server, name)


# -- through the command: one clear line and status 1 ----------------------------------------------


def refused(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_serve_names_a_bad_port_variable(sqlite_instance: Instance) -> None:
    env = {"FILON_INSTANCE": str(sqlite_instance.settings.instance_dir), "FILON_INTAKE_PORT": "0x"}
    refused(filon("serve", env=env), "Error: FILON_INTAKE_PORT='0x': intake_port is not a number")


def test_serve_names_a_bad_choice_of_app(sqlite_instance: Instance) -> None:
    env = {"FILON_INSTANCE": str(sqlite_instance.settings.instance_dir), "FILON_SERVE_ONLY": "all"}
    result = filon("serve", env=env)
    assert result.returncode == 2  # a usage error, as for a bad option
    assert "FILON_SERVE_ONLY='all': it must be intake or casework" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_names_a_database_it_cannot_reach_without_its_password(
    sqlite_instance: Instance,
) -> None:
    env = {
        "FILON_INSTANCE": str(sqlite_instance.settings.instance_dir),
        "FILON_DATABASE_URL": UNREACHABLE,
    }
    result = filon("serve", env=env)
    refused(result, "cannot connect to the database postgresql+psycopg://filon:***@127.0.0.1:1/")
    assert "FILON_DATABASE_URL" in result.stderr


def test_init_on_a_database_it_cannot_reach_makes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "instance"
    result = filon("init", "--instance", str(target), env={"FILON_DATABASE_URL": UNREACHABLE})
    refused(result, "cannot connect to the database")
    assert not (target / "filon.toml").exists()
    assert not (target / "keys").exists()


def test_serve_names_an_unreadable_key_file(sqlite_instance: Instance, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(sqlite_instance.settings.instance_dir, copy)
    secret = copy / "keys" / "app-secret.key"
    secret.unlink()
    secret.mkdir(mode=0o700)
    refused(filon("serve", env={"FILON_INSTANCE": str(copy)}), "app-secret.key is unreadable")


def test_serve_names_a_key_folder_open_to_others_from_filon_instance(
    sqlite_instance: Instance,
) -> None:
    keys = sqlite_instance.settings.keys_dir
    keys.chmod(0o755)
    result = filon("serve", env={"FILON_INSTANCE": str(keys.parent)})
    refused(result, f"{keys} has mode 0755", "refuses to start", "chmod 0700")
