"""The staff app: accounts, key unlock, triage, cases, registers, map, dossier export."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

from filon.instance import Instance
from filon.settings import Settings
from filon.web import make_app

bp = Blueprint("casework", __name__)


@bp.get("/")
def index() -> str:
    """The casework's first page."""
    return render_template("casework/index.html")


def create_app(settings: Settings, instance: Instance | None = None) -> Flask:
    """Build the casework WSGI app for an instance."""
    app = make_app(__name__, instance or Instance.open(settings))
    app.register_blueprint(bp)
    return app
