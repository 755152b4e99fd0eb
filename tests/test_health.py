"""``/healthz`` and ``/readyz`` on both apps: ``ok`` or ``not ready``, and nothing else."""

from __future__ import annotations

import dataclasses
import shutil
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, func, select, text

from filon.db import make_engine, transaction
from filon.instance import Instance
from filon.models import RateCounter
from filon.web import SECURITY_HEADERS
from tests.conftest import DeskSetup

APPS = ["intake", "casework"]
PATHS = ["/healthz", "/readyz"]


def build(name: str, instance: Instance) -> Flask:
    """One of the two apps on ``instance``, as ``filon serve`` builds it."""
    if name == "intake":
        from intake import create_app

        return create_app(instance.settings, instance)
    from casework import create_app as create_casework
    from intake.ports import casework_ports

    return create_casework(instance.settings, instance, ports=casework_ports())


def rate_rows(instance: Instance) -> int:
    with instance.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(RateCounter)) or 0)


def check_bare(response: Any, status: int, body: str, method: str) -> None:
    """The exact status and body, no cookie, not cached, the usual security headers."""
    assert response.status_code == status
    assert response.get_data(as_text=True) == ("" if method == "HEAD" else body)
    assert response.mimetype == "text/plain"
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name


@pytest.mark.parametrize("app_name", APPS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_healthy_instance_answers_ok_and_sets_nothing(
    instance: Instance, app_name: str, path: str, method: str
) -> None:
    client = build(app_name, instance).test_client()
    before = rate_rows(instance)
    response = client.open(path, method=method)
    check_bare(response, 200, "ok\n", method)
    assert client.get_cookie("session") is None
    assert client.get_cookie("__Host-filon-csrf") is None
    assert rate_rows(instance) == before  # no counter, no row of any kind
    # Nothing else is accepted on these paths.
    assert client.post(path).status_code == 405


@pytest.mark.parametrize("app_name", APPS)
def test_a_database_behind_the_code_is_not_ready_and_says_nothing_more(
    instance: Instance, app_name: str
) -> None:
    client = build(app_name, instance).test_client()
    with instance.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    for method in ("GET", "HEAD"):
        check_bare(client.open("/readyz", method=method), 503, "not ready\n", method)
        check_bare(client.open("/healthz", method=method), 200, "ok\n", method)


@pytest.mark.parametrize("app_name", APPS)
def test_an_unreachable_database_is_not_ready(instance: Instance, app_name: str) -> None:
    # Nothing listens on port 1: connecting fails at once, as with a database server down.
    down = make_engine(
        "postgresql+psycopg://filon@127.0.0.1:1/filon", connect_args={"connect_timeout": 2}
    )
    broken = dataclasses.replace(instance, engine=down)
    client = build(app_name, broken).test_client()
    response = client.get("/readyz")
    check_bare(response, 503, "not ready\n", "GET")
    assert b"127.0.0.1" not in response.data
    check_bare(client.get("/healthz"), 200, "ok\n", "GET")
    down.dispose()


@pytest.mark.parametrize("app_name", APPS)
def test_a_blob_store_that_takes_no_writes_is_not_ready(instance: Instance, app_name: str) -> None:
    client = build(app_name, instance).test_client()
    scratch = instance.store.root / "tmp"
    shutil.rmtree(scratch)
    scratch.write_bytes(b"")  # a file where the store's folder was: every write fails
    check_bare(client.get("/readyz"), 503, "not ready\n", "GET")
    scratch.unlink()
    scratch.mkdir(mode=0o700)
    check_bare(client.get("/readyz"), 200, "ok\n", "GET")
    # The probe leaves nothing behind but the process's own workspace and its lock.
    assert [p.name for p in scratch.rglob("*") if p.is_file()] == [".lock"]


def test_health_is_outside_the_intakes_rate_limit(
    instance: Instance, desk: DeskSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        instance, "settings", dataclasses.replace(instance.settings, nojs_submissions_per_hour=1)
    )
    client = build("intake", instance).test_client()
    with transaction(instance.sessions) as session:
        session.execute(delete(RateCounter))
    assert client.post("/submit", data={}).status_code == 400  # counted (no CSRF token)
    assert client.post("/submit", data={}).status_code == 429  # the limit is reached
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
        assert client.get("/healthz").status_code == 200
