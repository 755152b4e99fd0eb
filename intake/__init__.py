"""The anonymous source app: intake protocol, forms, codenames, metadata cleaning, replies."""

from __future__ import annotations

from flask import Flask

from filon.instance import Instance
from filon.settings import Settings
from filon.web import harden, install_json_errors


def create_app(settings: Settings, instance: Instance | None = None) -> Flask:
    """Build the intake WSGI app for an instance."""
    from intake import api, pages  # noqa: PLC0415 - blueprints import the app's services

    instance = instance or Instance.open(settings)
    app = Flask(__name__, template_folder="../templates", static_folder=None)
    app.config["SECRET_KEY"] = instance.keyring.app_secret()
    app.extensions["filon"] = instance
    harden(app)
    install_json_errors(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    return app
