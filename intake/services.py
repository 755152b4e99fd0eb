"""Access to the instance from intake views."""

from __future__ import annotations

from flask import current_app

from filon.instance import Instance


def instance() -> Instance:
    """The instance this app serves."""
    found: Instance = current_app.extensions["filon"]
    return found
