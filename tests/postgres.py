"""A throwaway PostgreSQL cluster (Debian's package), for the test suite and the benchmarks.

PostgreSQL refuses to run as root, so under root the cluster runs as Debian's ``postgres``
account. Durability is pointless for a cluster that is thrown away; speed is not, so fsync
and full-page writes are off. It listens only on a Unix socket in its own folder.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text


class PostgresMissing(RuntimeError):
    """Debian's postgresql is not installed."""


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's ``bin`` folder."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise PostgresMissing(
            "PostgreSQL is not installed: run scripts/test.sh (it installs Debian's postgresql), "
            "or set FILON_TEST_DATABASES=sqlite for a SQLite-only run"
        )
    return candidates[-1].parent


def free_port() -> int:
    """A TCP port free on localhost now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A cluster in its own folder, listening on a Unix socket; stop and start it at will."""

    def __init__(self, prefix: str = "filon-pg-") -> None:
        bindir = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        datadir, sockdir = self.root / "data", self.root / "sock"
        sockdir.mkdir()
        run_as: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            for path in (self.root, sockdir):
                os.chown(path, account.pw_uid, account.pw_gid)
            run_as = ["runuser", "-u", "postgres", "--"]
        port = free_port()
        initdb = [str(bindir / "initdb"), "-D", str(datadir), "-A", "trust", "-U", "filon"]
        subprocess.run(
            [*run_as, *initdb, "-E", "UTF8", "--no-sync"], check=True, capture_output=True
        )
        self._options = (
            f"-k {sockdir} -p {port} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        )
        self._pg_ctl = [*run_as, str(bindir / "pg_ctl"), "-D", str(datadir)]
        self.url = f"postgresql+psycopg://filon@/?host={sockdir}&port={port}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        subprocess.run(
            [*self._pg_ctl, "-o", self._options, "-w", "-l", str(self.root / "log"), "start"],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        """Stop the server at once, as a crash or a pulled cable would."""
        subprocess.run([*self._pg_ctl, "-m", "immediate", "stop"], check=False, capture_output=True)

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def controlled_cluster(prefix: str = "filon-pg-") -> Iterator[Cluster]:
    """A started :class:`Cluster`, removed after."""
    made = Cluster(prefix)
    try:
        made.start()
        yield made
    finally:
        made.remove()


@contextlib.contextmanager
def cluster(prefix: str = "filon-pg-") -> Iterator[str]:
    """Start a cluster; yields a server URL without a database; stops and removes it after."""
    with controlled_cluster(prefix) as made:
        yield made.url


def with_database(server_url: str, name: str) -> str:
    """The URL of database ``name`` on a server URL."""
    base, _, query = server_url.partition("?")
    return f"{base.rstrip('/')}/{name}" + (f"?{query}" if query else "")


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server; returns its URL."""
    admin = create_engine(with_database(server_url, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name``, ending its connections."""
    admin = create_engine(with_database(server_url, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
