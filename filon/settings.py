"""Instance settings: one frozen dataclass built from the instance directory and the environment.

The instance directory holds ``filon.toml`` (non-secret settings), ``keys/`` (secret key files,
mode 0600, in a 0700 folder), ``blobs/`` (ciphertext only) and, by default, the SQLite
database. Environment variables named ``FILON_*`` override the file, so a container or a
systemd unit can set the database URL and ports without editing it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from crypto.kdf import Argon2Params
from crypto.keys import b64decode, b64encode
from filon.errors import InstanceCorrupt, InstanceMissing, SettingsInvalid

SETTINGS_FILE = "filon.toml"
SETTINGS_FORMAT = 1
DEFAULT_INSTANCE = "instance"
DEFAULT_MAX_FILE_BYTES = 4 * 1024**3
# About a quarter of a million SHA-256 evaluations on average: a second or two on a cheap
# phone, enough to make scripted flooding of the intake cost something.
DEFAULT_POW_DIFFICULTY = 18
MAX_POW_DIFFICULTY = 28
DATABASE_URL_VAR = "FILON_DATABASE_URL"
# Compose and systemd credentials hand secrets over as files: the URL, password and all.
DATABASE_URL_FILE_VAR = "FILON_DATABASE_URL_FILE"
HOST = re.compile(r"[0-9A-Za-z.:%_-]+")

# Each checked setting: whether a value is acceptable, and what to say when it is not.
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "intake_host": (lambda v: bool(HOST.fullmatch(v)), "must be an IP address or a host name"),
    "casework_host": (lambda v: bool(HOST.fullmatch(v)), "must be an IP address or a host name"),
    "intake_port": (lambda v: 0 <= v <= 65535, "must be a TCP port (0-65535)"),
    "casework_port": (lambda v: 0 <= v <= 65535, "must be a TCP port (0-65535)"),
    "max_file_bytes": (lambda v: v >= 1024**2, "must be at least 1 MiB"),
    "pow_difficulty": (
        lambda v: 0 <= v <= MAX_POW_DIFFICULTY,
        f"must be between 0 and {MAX_POW_DIFFICULTY}",
    ),
    "nojs_submissions_per_hour": (lambda v: v >= 1, "must be at least 1"),
    "threads": (lambda v: 1 <= v <= 256, "must be between 1 and 256"),
}


def default_instance_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$FILON_INSTANCE`` or ``./instance``."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("FILON_INSTANCE") or DEFAULT_INSTANCE)


@dataclass(frozen=True)
class Settings:
    """Everything a Filon process needs to know at start; validated when built."""

    instance_dir: Path
    database_url: str
    source_kdf_salt: bytes
    source_kdf: Argon2Params
    recovery_public_key: bytes
    intake_host: str = "127.0.0.1"
    intake_port: int = 8080
    casework_host: str = "127.0.0.1"
    casework_port: int = 8081
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    pow_difficulty: int = DEFAULT_POW_DIFFICULTY
    # The plain form carries no proof of work: a global cap keeps a flood from filling the
    # disk. Ten a minute is far above what an NGO's intake sees.
    nojs_submissions_per_hour: int = 600
    threads: int = 8
    # A tile server for the casework map, as a URL template (https://host/{z}/{x}/{y}.png).
    # Empty by default: the map draws its own offline outlines and asks no other host for
    # anything, since every tile request would tell that host where staff are looking.
    map_tile_url: str = ""

    @property
    def map_tile_origin(self) -> str:
        """The tile server's origin (``https://host[:port]``), or ``""`` with none set."""
        if not self.map_tile_url:
            return ""
        parts = urlsplit(self.map_tile_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def keys_dir(self) -> Path:
        """Folder of secret key files (0700, files 0600)."""
        return self.instance_dir / "keys"

    @property
    def blobs_dir(self) -> Path:
        """Folder of the blob store (ciphertext only)."""
        return self.instance_dir / "blobs"

    def __post_init__(self) -> None:
        for name, (acceptable, rule) in RULES.items():
            value = getattr(self, name)
            if not acceptable(value):
                raise SettingsInvalid(f"{name} {rule}, not {value!r}")
        if len(self.source_kdf_salt) != 16:
            raise SettingsInvalid("source_kdf salt must be 16 bytes")
        check_database_url(self.database_url, "database_url")
        if self.map_tile_url:
            check_tile_url(self.map_tile_url)

    @classmethod
    def load(cls, instance_dir: Path, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``filon.toml`` from an instance directory, then apply ``FILON_*`` overrides."""
        environ = os.environ if environ is None else environ
        instance_dir = instance_dir.resolve()
        path = instance_dir / SETTINGS_FILE
        if not instance_dir.is_dir():
            raise InstanceMissing(
                f"no Filon instance at {instance_dir}: run 'filon init --instance {instance_dir}'"
            )
        if not path.is_file():
            raise InstanceMissing(
                f"{instance_dir} is not a Filon instance (no {SETTINGS_FILE}): run 'filon init'"
            )
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            return cls._from_mapping(instance_dir, data, environ)
        except (OSError, KeyError, TypeError, ValueError) as exc:  # ValueError: TOML, UTF-8
            raise InstanceCorrupt(f"{path} is unreadable or incomplete: {exc}") from exc

    @classmethod
    def _from_mapping(cls, instance_dir: Path, data: dict, environ: Mapping[str, str]) -> Settings:
        if data["filon"]["format"] != SETTINGS_FORMAT:
            raise InstanceCorrupt(f"unknown instance format {data['filon']['format']!r}")
        intake, casework, kdf = data["intake"], data["casework"], data["source_kdf"]
        read = _Reader(environ, instance_dir / SETTINGS_FILE)
        database_url = database_url_from_env(environ) or check_database_url(
            data["filon"]["database_url"], f"[filon] database_url in {read.path}"
        )
        return cls(
            instance_dir=instance_dir,
            database_url=_resolve_sqlite(database_url, instance_dir),
            source_kdf_salt=b64decode(kdf["salt"], length=16, what="source_kdf salt"),
            source_kdf=Argon2Params(int(kdf["opslimit"]), int(kdf["memlimit"])),
            recovery_public_key=b64decode(
                data["recovery"]["public_key"], length=32, what="recovery public key"
            ),
            intake_host=read.text("intake_host", "FILON_INTAKE_HOST", intake, "host"),
            intake_port=read.number("intake_port", "FILON_INTAKE_PORT", intake, "port"),
            casework_host=read.text("casework_host", "FILON_CASEWORK_HOST", casework, "host"),
            casework_port=read.number("casework_port", "FILON_CASEWORK_PORT", casework, "port"),
            max_file_bytes=read.number(
                "max_file_bytes", "FILON_MAX_FILE_BYTES", intake, "max_file_bytes"
            ),
            pow_difficulty=read.number(
                "pow_difficulty", "FILON_POW_DIFFICULTY", intake, "pow_difficulty"
            ),
            nojs_submissions_per_hour=read.number(
                "nojs_submissions_per_hour",
                "FILON_NOJS_SUBMISSIONS_PER_HOUR",
                intake,
                "nojs_submissions_per_hour",
                600,
            ),
            threads=read.number("threads", "FILON_THREADS", data["filon"], "threads", 8),
            # Optional, checked by check_tile_url: empty means outlines only, no tile server.
            map_tile_url=(
                environ.get("FILON_MAP_TILE_URL") or casework.get("map_tile_url", "")
            ).strip(),
        )

    def to_toml(self, *, with_database_password: bool = True) -> str:
        """Render the instance file; the database URL is stored relative for SQLite.

        ``with_database_password=False`` leaves the password out of the stored URL: when it
        came from the environment (a secret), it stays there and never lands in this file.
        """
        database_url = self.database_url
        if not with_database_password and database_url.startswith("postgresql"):
            # URL.set(password=None) would keep the password: None means "unchanged" there.
            no_password = make_url(database_url)._replace(password=None)
            database_url = no_password.render_as_string(hide_password=False)
        sqlite_prefix = f"sqlite:///{self.instance_dir}/"
        if database_url.startswith(sqlite_prefix):
            database_url = "sqlite:///" + database_url[len(sqlite_prefix) :]
        return _TOML_TEMPLATE.format(
            format=SETTINGS_FORMAT,
            database_url=_toml_str(database_url),
            threads=self.threads,
            intake_host=_toml_str(self.intake_host),
            intake_port=self.intake_port,
            max_file_bytes=self.max_file_bytes,
            pow_difficulty=self.pow_difficulty,
            nojs_submissions_per_hour=self.nojs_submissions_per_hour,
            casework_host=_toml_str(self.casework_host),
            casework_port=self.casework_port,
            map_tile_url=_toml_str(self.map_tile_url),
            salt=b64encode(self.source_kdf_salt),
            opslimit=self.source_kdf.opslimit,
            memlimit=self.source_kdf.memlimit,
            recovery=b64encode(self.recovery_public_key),
        )


class _Reader:
    """Reads settings from the environment, else from the instance file, naming the source.

    Every refusal names where the bad value came from (``FILON_INTAKE_PORT='eighty'`` or
    ``[intake] port in /srv/filon/filon.toml``), so an administrator knows what to fix.
    """

    def __init__(self, environ: Mapping[str, str], path: Path) -> None:
        self.environ = environ
        self.path = path

    def _raw(
        self, var: str, section: Mapping[str, Any], key: str, default: object
    ) -> tuple[object, str]:
        if self.environ.get(var, "") != "":
            return self.environ[var], f"{var}={self.environ[var]!r}"
        where = f"{key} in {self.path}"
        value = section.get(key, default)
        if value is None:
            raise KeyError(where)
        return value, where

    @staticmethod
    def _check(name: str, value: object, where: str) -> None:
        acceptable, rule = RULES[name]
        if not acceptable(value):
            raise SettingsInvalid(f"{where}: {name} {rule}")

    def number(
        self,
        name: str,
        var: str,
        section: Mapping[str, Any],
        key: str,
        default: int | None = None,
    ) -> int:
        """A whole number from ``var`` or the file, checked against its rule."""
        raw, where = self._raw(var, section, key, default)
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise SettingsInvalid(f"{where}: {name} is not a number")
        try:
            value = int(raw)
        except ValueError as exc:
            raise SettingsInvalid(f"{where}: {name} is not a number") from exc
        self._check(name, value, where)
        return value

    def text(self, name: str, var: str, section: Mapping[str, Any], key: str) -> str:
        """A string from ``var`` or the file, checked against its rule."""
        raw, where = self._raw(var, section, key, None)
        if not isinstance(raw, str):
            raise SettingsInvalid(f"{where}: {name} is not a string")
        self._check(name, raw, where)
        return raw


def database_url_from_env(environ: Mapping[str, str]) -> str | None:
    """The database URL from ``$FILON_DATABASE_URL`` or the file ``$FILON_DATABASE_URL_FILE``.

    Neither the URL nor the file's content is ever echoed in a message: it holds a password.
    """
    direct, file_name = environ.get(DATABASE_URL_VAR, ""), environ.get(DATABASE_URL_FILE_VAR, "")
    if direct and file_name:
        raise SettingsInvalid(
            f"both {DATABASE_URL_VAR} and {DATABASE_URL_FILE_VAR} are set: set only one"
        )
    if file_name:
        try:
            text = Path(file_name).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise SettingsInvalid(
                f"{DATABASE_URL_FILE_VAR}={file_name!r}: cannot read the file ({reason})"
            ) from exc
        return check_database_url(text, f"the database URL in {DATABASE_URL_FILE_VAR}")
    if direct:
        return check_database_url(direct, DATABASE_URL_VAR)
    return None


def check_database_url(text: str, where: str) -> str:
    """A SQLite or PostgreSQL URL, the PostgreSQL one with our driver; else a clear refusal.

    ``postgresql://`` and ``postgres://`` (what hosting panels print) are given the psycopg
    (3) driver Filon ships with; any other driver or database is refused, naming ``where``
    but never the URL itself, which may hold a password.
    """
    try:
        url: URL = make_url(text)
    except ArgumentError as exc:
        raise SettingsInvalid(
            f"{where}: database_url is not a database URL "
            "(sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/NAME)"
        ) from exc
    backend, driver = url.get_backend_name(), url.drivername.partition("+")[2]
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return text
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        if not url.database:
            raise SettingsInvalid(f"{where}: the PostgreSQL URL names no database")
        if url.drivername == "postgresql+psycopg":
            return text
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise SettingsInvalid(
        f"{where}: database_url must be a sqlite:// or postgresql:// URL "
        f"(postgresql+psycopg), not {url.drivername}://"
    )


# What a tile server URL template may hold, and the placeholders Leaflet fills in.
_TILE_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,=%{}]+")
_TILE_PLACEHOLDERS = ("{z}", "{x}", "{y}")


def check_tile_url(url: str) -> None:
    """Refuse a map tile URL that is not an https URL template with ``{z}``, ``{x}``, ``{y}``."""
    if len(url) > 500 or not _TILE_URL_CHARS.fullmatch(url):
        raise SettingsInvalid("map_tile_url holds characters a tile URL cannot have")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unbalanced [ in the host
        raise SettingsInvalid(f"map_tile_url is not a URL: {exc}") from exc
    # https only: tiles fetched in the clear would show anyone on the path where staff look.
    if parts.scheme != "https" or not parts.hostname or "{" in parts.netloc:
        raise SettingsInvalid("map_tile_url must be an https:// URL with a fixed host")
    if parts.username or parts.password:
        raise SettingsInvalid("map_tile_url must not hold a user name or password")
    missing = [p for p in _TILE_PLACEHOLDERS if p not in url]
    if missing:
        raise SettingsInvalid(f"map_tile_url must hold {', '.join(missing)}")


def _resolve_sqlite(url: str, instance_dir: Path) -> str:
    """Make a relative ``sqlite:///name.db`` URL point inside the instance directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
        return f"{prefix}{instance_dir / url[len(prefix) :]}"
    return url


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_TOML_TEMPLATE = """\
# Filon instance settings. Secrets never go here: they live in keys/ (mode 0600).
# Any value can be overridden from the environment (FILON_DATABASE_URL, FILON_INTAKE_PORT, ...).

[filon]
format = {format}
# A relative sqlite:/// path is inside this folder. Production: postgresql+psycopg://...
database_url = {database_url}
threads = {threads}

[intake]
host = {intake_host}
port = {intake_port}
max_file_bytes = {max_file_bytes}
pow_difficulty = {pow_difficulty}
nojs_submissions_per_hour = {nojs_submissions_per_hour}

[casework]
host = {casework_host}
port = {casework_port}
# A tile server for the map, e.g. "https://tiles.example.org/{{z}}/{{x}}/{{y}}.png". Empty: the
# map shows only its own offline outlines and makes no request to any other host.
map_tile_url = {map_tile_url}

# Argon2id parameters with which sources' browsers derive their keys from codenames.
# Changing them strands every existing codename: never edit them on a running instance.
[source_kdf]
salt = "{salt}"
opslimit = {opslimit}
memlimit = {memlimit}

[recovery]
# Only the public half: the private recovery key was printed once at 'filon init'.
public_key = "{recovery}"
"""
