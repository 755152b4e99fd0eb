"""The ``filon`` command as a person runs it: a real process, real files, real sockets."""

from __future__ import annotations

import base64
import json
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto.keys import fingerprint
from crypto.signing import verify_detached
from tests.command import FILON, filon

DEMO_PASSWORD = "demo-password-for-tests"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A demo instance made by the real command (production KDF cost: done once)."""
    path = tmp_path_factory.mktemp("cli") / "instance"
    result = filon("init", "--instance", str(path), "--demo", "--demo-password", DEMO_PASSWORD)
    assert result.returncode == 0, result.stderr
    return path, result.stdout


@pytest.fixture
def copy(demo: tuple[Path, str], tmp_path: Path) -> Path:
    """A private copy of the demo instance, for tests that change or break it."""
    target = tmp_path / "instance"
    shutil.copytree(demo[0], target)
    return target


def test_init_prints_the_recovery_key_once_and_the_demo_logins(demo: tuple[Path, str]) -> None:
    path, output = demo
    recovery = re.search(r"FRK1(-[A-Z2-7]{1,4})+", output)
    assert recovery is not None
    for name in ("admin", "investigator", "journalist"):
        assert re.search(
            rf"{name}\s+role={name}\s+password={DEMO_PASSWORD}\s+totp_secret=[A-Z2-7]{{32}}", output
        )
    stored = b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())
    assert recovery.group(0).encode() not in stored


def test_init_refuses_to_overwrite(demo: tuple[Path, str]) -> None:
    result = filon("init", "--instance", str(demo[0]))
    assert result.returncode == 1
    assert "already holds a Filon instance" in result.stderr


def test_demo_accounts_and_desk_are_listed(demo: tuple[Path, str]) -> None:
    users = filon("user", "list", "--instance", str(demo[0]))
    assert users.returncode == 0, users.stderr
    assert re.search(r"admin\tadmin\tdesks: drc-minerals", users.stdout)
    assert re.search(r"journalist\tjournalist\tdesks: drc-minerals", users.stdout)
    desks = filon("desk", "list", "--instance", str(demo[0]))
    assert (
        "drc-minerals\tDR Congo minerals\tmembers: admin, investigator, journalist" in desks.stdout
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(copy: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    process = subprocess.Popen(
        [*FILON, "serve", "--instance", str(copy), "--intake-port", "0", "--casework-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    urls: dict[str, str] = {}
    assert process.stdout is not None
    while len(urls) < 2:
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"serve stopped: {process.stderr.read() if process.stderr else ''}")
        if match := re.fullmatch(r"(intake|casework): (http://127\.0\.0\.1:\d+)\n", line):
            urls[match.group(1)] = match.group(2)
    yield process, urls
    if process.poll() is None:
        process.terminate()
    process.communicate(timeout=20)  # reaps the process and closes its pipes


def test_serve_answers_on_both_ports_and_stops_on_sigterm(
    served: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    process, urls = served
    with urllib.request.urlopen(urls["intake"] + "/api/v1/key", timeout=10) as response:
        body = json.load(response)
    public_key = base64.b64decode(body["public_key"])
    assert body["key_id"] == fingerprint(public_key)
    verify_detached(
        public_key, base64.b64decode(body["signature"]), base64.b64decode(body["signing_key"])
    )
    with urllib.request.urlopen(urls["casework"] + "/", timeout=10) as response:
        assert b"Filon casework" in response.read()
        assert response.headers.get("Server") == "filon"  # no software name or version
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


def test_serve_names_a_port_in_use(copy: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = filon("serve", "--instance", str(copy), "--intake-port", str(port))
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr


def test_serve_refuses_a_key_file_readable_by_others(copy: Path) -> None:
    (copy / "keys" / "lookup.key").chmod(0o644)
    result = filon("serve", "--instance", str(copy), "--intake-port", "0", "--casework-port", "0")
    assert result.returncode == 1
    assert "lookup.key has mode 0644" in result.stderr
    assert "refuses to start" in result.stderr


def test_serve_names_a_missing_instance(tmp_path: Path) -> None:
    result = filon("serve", "--instance", str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert "no Filon instance at" in result.stderr


def test_serve_names_a_corrupt_instance(copy: Path) -> None:
    (copy / "filon.toml").write_text("[filon\n")
    result = filon("serve", "--instance", str(copy))
    assert result.returncode == 1
    assert "filon.toml is unreadable or incomplete" in result.stderr


def test_serve_refuses_a_database_newer_than_the_code(copy: Path) -> None:
    with sqlite3.connect(copy / "filon.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    result = filon("serve", "--instance", str(copy))
    assert result.returncode == 1
    assert "upgraded by a newer version" in result.stderr


def test_serve_refuses_a_database_behind_the_code_and_upgrade_fixes_it(copy: Path) -> None:
    with sqlite3.connect(copy / "filon.db") as connection:
        connection.execute("DELETE FROM alembic_version")
    result = filon("serve", "--instance", str(copy))
    assert result.returncode == 1
    assert f"filon upgrade --instance {copy.resolve()}" in result.stderr


def add_amani(instance: Path, granter_password: str) -> subprocess.CompletedProcess[str]:
    """Add an investigator to the demo desk, unlocked by the demo admin's password."""
    return filon(
        *("user", "add", "amani", "--role", "investigator", "--desk", "drc-minerals"),
        *("--granted-by", "admin", "--instance", str(instance)),
        stdin=granter_password + "\n",
    )


def test_user_add_seals_the_desk_with_a_members_password(copy: Path) -> None:
    result = add_amani(copy, DEMO_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert re.search(r"password:\s+\S{20,}", result.stdout)
    listed = filon("user", "list", "--instance", str(copy)).stdout
    assert "amani\tinvestigator\tdesks: drc-minerals" in listed


def test_user_add_with_a_wrong_password_changes_nothing(copy: Path) -> None:
    result = add_amani(copy, "not the password")
    assert result.returncode == 1
    assert "wrong password" in result.stderr
    assert "amani" not in filon("user", "list", "--instance", str(copy)).stdout


def test_desk_add_and_rotate_intake_key(copy: Path) -> None:
    added = filon(
        "desk", "add", "antwerp-diamonds", "--name", "Antwerp diamonds", "--instance", str(copy)
    )
    assert added.returncode == 0, added.stderr
    assert "sealed to the recovery key and 1 admin(s)" in added.stdout
    before = sorted((copy / "keys" / "intake").glob("*.json"))
    rotated = filon("rotate-intake-key", "--instance", str(copy))
    assert rotated.returncode == 0, rotated.stderr
    after = sorted((copy / "keys" / "intake").glob("*.json"))
    assert len(after) == len(before) + 1
    assert (copy / "keys" / "intake" / "current").read_text() in rotated.stdout.replace(" ", "")
    assert all(p.stat().st_mode & 0o077 == 0 for p in after)


def test_wsgi_entry_points_serve_the_instance(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from filon import wsgi

    monkeypatch.setenv("FILON_INSTANCE", str(copy))
    intake_app, casework_app = wsgi.intake(), wsgi.casework()
    assert intake_app.test_client().get("/api/v1/key").status_code == 200
    assert casework_app.test_client().get("/login").status_code == 200
    # The composition root gives the casework the intake's ports (filing, previews).
    assert casework_app.extensions["filon.casework_ports"].limits.max_files > 0
    intake_app.extensions["filon"].close()
    casework_app.extensions["filon"].close()


def test_demo_submissions_came_through_the_pipeline(demo: tuple[Path, str], tmp_path: Path) -> None:
    path, output = demo
    receipts = re.findall(r"FLN(?:-[A-Z2-7]{4}){4}", output)
    assert len(receipts) == 2
    # Each sample's invented source has a codename, printed and kept in the demo instance,
    # so whoever tries the demo can read the desk's replies as the source.
    codenames = re.findall(r"FLN(?:-[A-Z2-7]{4}){4}  codename: ((?:\S+ ){7}\S+)", output)
    assert len(codenames) == 2
    assert all(codename in (path / "demo-logins.txt").read_text() for codename in codenames)
    # The synthetic IPIS-style sample (the real column names, invented sites) is loaded too.
    loaded = re.search(r"Mine sites: (\d+) synthetic sites with (\d+) visits", output)
    assert loaded is not None
    assert (int(loaded.group(1)), int(loaded.group(2))) == (30, 60)
    result = filon(
        "open",
        receipts[0],
        "--user",
        "investigator",
        "--instance",
        str(path),
        "--out",
        str(tmp_path / "out"),
        stdin=DEMO_PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    opened = json.loads(result.stdout)
    assert opened["lang"] == "fr"
    photo = opened["files"][0]
    assert photo["status"] == "cleaned"
    assert "GPS position" in photo["removed"]
    assert photo["location"] is not None  # consented: kept beside the file, not in it
    assert b"ExampleCam" not in Path(photo["path"]).read_bytes()


def test_user_reset_with_the_recovery_key_gives_a_password_that_opens_the_desk(
    demo: tuple[Path, str], copy: Path
) -> None:
    recovery = re.search(r"FRK1(-[A-Z2-7]{1,4})+", demo[1])
    receipt = re.search(r"FLN(?:-[A-Z2-7]{4}){4}", demo[1])
    assert recovery is not None
    assert receipt is not None
    result = filon(
        "user", "reset", "investigator", "--instance", str(copy), stdin=recovery.group(0)
    )
    assert result.returncode == 0, result.stderr
    assert "desks re-sealed: drc-minerals" in result.stdout
    password = re.search(r"password:\s+(\S+)", result.stdout)
    assert password is not None
    assert re.search(
        r"totp uri:\s+otpauth://totp/Filon:investigator\?secret=[A-Z2-7]{32}", result.stdout
    )

    def open_as(secret: str) -> subprocess.CompletedProcess[str]:
        args = ("open", receipt.group(0), "--user", "investigator", "--instance", str(copy))
        return filon(*args, stdin=secret + "\n")

    assert open_as(password.group(1)).returncode == 0
    old = open_as(DEMO_PASSWORD)
    assert old.returncode == 1
    assert "wrong password" in old.stderr


def test_user_reset_refuses_a_recovery_key_of_another_instance(copy: Path, tmp_path: Path) -> None:
    other = filon("init", "--instance", str(tmp_path / "other"))
    recovery = re.search(r"FRK1(-[A-Z2-7]{1,4})+", other.stdout)
    assert recovery is not None
    key_file = tmp_path / "recovery.txt"
    key_file.write_text(recovery.group(0))
    result = filon(
        "user",
        "reset",
        "investigator",
        "--recovery-key-file",
        str(key_file),
        "--instance",
        str(copy),
    )
    assert result.returncode == 1
    assert "not the recovery key of this instance" in result.stderr
