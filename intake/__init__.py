"""The anonymous source app: intake protocol, forms, codenames, metadata cleaning, replies."""

from __future__ import annotations

from flask import Flask

from filon.instance import Instance
from filon.settings import Settings
from filon.web import install_json_errors, make_app


def create_app(settings: Settings, instance: Instance | None = None) -> Flask:
    """Build the intake WSGI app for an instance."""
    from intake import api, i18n, nojs, pages  # noqa: PLC0415 - blueprints import the app's services

    app = make_app(__name__, instance or Instance.open(settings))
    install_json_errors(app)
    i18n.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(nojs.bp)
    return app
