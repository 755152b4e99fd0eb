"""The intake protocol v1 (DESIGN.md §4): JSON endpoints under ``/api/v1``.

The API carries no cookies or other ambient credentials, so CSRF does not apply to it.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from crypto.keys import b64encode
from crypto.stream import CHUNK_SIZE
from filon.db import transaction
from intake.pow import issue_challenge
from intake.services import instance

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/key")
def key() -> Response:
    """Step 1: the intake key, its signature, and what a client needs to submit."""
    filon = instance()
    intake_key = filon.keyring.current_intake_key()
    signing = filon.keyring.signing_key()
    settings = filon.settings
    with transaction(filon.sessions) as session:
        challenge = issue_challenge(session)
    response = jsonify(
        {
            "key_id": intake_key.key_id,
            "public_key": b64encode(intake_key.keypair.public),
            "signature": b64encode(intake_key.signature),
            "signing_key": b64encode(signing.public),
            "chunk_size": CHUNK_SIZE,
            "pow": {"challenge": b64encode(challenge), "difficulty": settings.pow_difficulty},
            "max_file_bytes": settings.max_file_bytes,
            "source_kdf": {
                "salt": b64encode(settings.source_kdf_salt),
                "opslimit": settings.source_kdf.opslimit,
                "memlimit": settings.source_kdf.memlimit,
            },
        }
    )
    # Each answer carries a single-use challenge: no cache may hand it to someone else.
    response.headers["Cache-Control"] = "no-store"
    return response
