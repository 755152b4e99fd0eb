"""The staff app: accounts, key unlock, triage, cases, registers, map, dossier export."""

from __future__ import annotations

import datetime as dt

from flask import Flask, Response, make_response, render_template, request
from sqlalchemy.exc import OperationalError

from casework.errors import PortsMissing
from casework.views import account, admin, auth, desks, maps
from casework.views import cases as case_views  # not `cases`: that is the service module
from casework.views import dossier as dossier_views  # not `dossier`: that is the package
from casework.views import exports as export_views
from casework.views import geotags as geotag_views  # not `geotags`: too near casework.geo
from casework.views import inbox as inbox_views  # not `inbox`: that is the service module
from casework.views import registers as register_views
from casework.web import RecordId, own_secret, refuse_nul_characters
from filon import health
from filon.errors import NotFound, is_storage_failure
from filon.instance import Instance
from filon.ports import EXTENSION, CaseworkPorts
from filon.settings import Settings
from filon.web import make_app

# A sign-in form left open for a while should still work; an hour is ample and keeps a
# leaked token short-lived.
CSRF_TIME_LIMIT = int(dt.timedelta(hours=1).total_seconds())


def create_app(
    settings: Settings, instance: Instance | None = None, *, ports: CaseworkPorts | None = None
) -> Flask:
    """Build the casework WSGI app for an instance.

    ``ports`` is what the casework uses of the intake (filing through its pipeline, previews
    by its sandboxed worker), given by the composition root; without it those two features
    answer 503 and everything else works.
    """
    instance = instance or Instance.open(settings)
    app = make_app(__name__, instance)
    if ports is not None:
        app.extensions[EXTENSION] = ports
    app.config.update(
        SECRET_KEY=own_secret(instance.keyring.app_secret()),
        # Flask's own cookie carries only the CSRF token; it gets the same protections as
        # the session cookie, under its own name.
        SESSION_COOKIE_NAME="__Host-filon-csrf",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_PATH="/",
        WTF_CSRF_TIME_LIMIT=CSRF_TIME_LIMIT,
    )
    app.url_map.converters["int"] = RecordId  # before any rule is made with it
    app.before_request(refuse_nul_characters)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(desks.bp)
    app.register_blueprint(case_views.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(inbox_views.bp)
    app.register_blueprint(dossier_views.bp)
    app.register_blueprint(geotag_views.bp)
    app.register_blueprint(register_views.bp)
    app.register_blueprint(maps.bp)
    app.register_blueprint(export_views.bp)
    app.register_error_handler(NotFound, _not_found)
    app.register_error_handler(PortsMissing, _unavailable)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(OSError, _database_unavailable)
    app.after_request(_no_store)
    return app


def _not_found(_exc: NotFound) -> tuple[str, int]:
    # A desk the user is not a member of looks exactly like one that does not exist.
    return render_template("casework/not_found.html"), 404


def _unavailable(_exc: PortsMissing) -> tuple[str, int]:
    return render_template("casework/unavailable.html"), 503


def _database_unavailable(exc: Exception) -> Response:
    # The database (or the disk under the instance) is out of reach: a page that says so,
    # not a 500, and it recovers by itself (the pool checks connections before use).
    if isinstance(exc, OSError) and not is_storage_failure(exc):
        raise exc
    response = make_response(render_template("casework/database_unavailable.html"), 503)
    response.headers["Retry-After"] = "60"
    return response


def _no_store(response: Response) -> Response:
    # Decrypted content must not stay in the browser's cache for the next person at the desk.
    # Only public files the same for everyone (the map's basemap) set their own.
    if request.endpoint not in maps.CACHEABLE_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
    return response
