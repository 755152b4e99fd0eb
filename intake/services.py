"""Access to the instance from intake views."""

from __future__ import annotations

from flask import current_app

from filon.instance import Instance
from intake.uploads import ChunkLedger


def instance() -> Instance:
    """The instance this app serves."""
    found: Instance = current_app.extensions["filon"]
    return found


def chunk_ledger() -> ChunkLedger:
    """This process's record of stored chunks (see :class:`intake.uploads.ChunkLedger`)."""
    found: ChunkLedger = current_app.extensions["filon-chunks"]
    return found
