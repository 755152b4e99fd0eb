"""The anonymous source app: intake protocol, forms, codenames, metadata cleaning, replies."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask, Response

    from filon.instance import Instance
    from filon.settings import Settings


def create_app(settings: Settings, instance: Instance | None = None) -> Flask:
    """Build the intake WSGI app for an instance."""
    # Imported here, not at the top: the metadata worker (``-m intake.metadata.worker``)
    # imports this package, and must start without Flask or the database layer.
    from sqlalchemy.exc import OperationalError  # noqa: PLC0415

    from filon import health  # noqa: PLC0415
    from filon.instance import Instance  # noqa: PLC0415
    from filon.web import install_json_errors, make_app  # noqa: PLC0415
    from intake import api, i18n, nojs, pages  # noqa: PLC0415
    from intake.uploads import ChunkLedger  # noqa: PLC0415

    app = make_app(__name__, instance or Instance.open(settings))
    app.extensions["filon-chunks"] = ChunkLedger(app.extensions["filon"].sessions)
    install_json_errors(app)
    i18n.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(nojs.bp)
    app.register_error_handler(OperationalError, pages.try_later)
    app.register_error_handler(OSError, pages.try_later)
    app.after_request(_no_store)
    return app


def _no_store(response: Response) -> Response:
    # Nothing a source loaded may stay in their browser's cache for someone to find later.
    response.headers["Cache-Control"] = "no-store"
    return response
