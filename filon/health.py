"""Health and readiness probes, the same on both apps: ``GET /healthz`` and ``GET /readyz``.

A container runtime, systemd or a load balancer asks them whether to send traffic. They say
``ok`` (200) or ``not ready`` (503) and nothing else: no counts, versions, error text or
timing that would tell an outsider probing the intake how much it holds or what it runs.
They set no cookie, read no session, write no row (so no rate-limit counter), and answer
HEAD as GET does. The reverse proxy does not pass them on from outside (deploy/Caddyfile):
the probes reach the apps' ports directly.
"""

from __future__ import annotations

import functools

from flask import Blueprint, Response, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from filon import schema
from filon.errors import FilonError
from filon.instance import Instance

bp = Blueprint("health", __name__)

OK = "ok\n"
NOT_READY = "not ready\n"


@functools.cache
def _head_revision() -> str:
    # Read from the packaged migrations once per process: the code does not change under us.
    return schema.head_revision()


def is_ready(instance: Instance) -> bool:
    """Whether the database answers at this code's schema and the blob store takes writes."""
    try:
        # One plain query (Alembic's MigrationContext costs more than the probe should).
        with instance.engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version"))
            if revision.scalar() != _head_revision():
                return False
        instance.store.check_writable()
    except (SQLAlchemyError, OSError, FilonError):
        return False
    return True


def _answer(ready: bool) -> Response:
    response = Response(OK if ready else NOT_READY, status=200 if ready else 503)
    response.mimetype = "text/plain"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive and answers HTTP (nothing else is checked)."""
    return _answer(True)


@bp.get("/readyz")
def readyz() -> Response:
    """The process can serve: database reachable and current, blob store writable."""
    found: Instance = current_app.extensions["filon"]
    return _answer(is_ready(found))
