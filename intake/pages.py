"""The source's pages (the submission form arrives with the intake issue)."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    """The intake's first page."""
    return render_template("intake/index.html")
