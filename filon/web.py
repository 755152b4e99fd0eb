"""HTTP hardening shared by both apps: security headers and JSON errors.

Both apps import this; neither imports the other (DESIGN.md §2).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from filon.instance import Instance

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# Everything is served from our own origin: no CDN, no third-party fonts or frames. A page
# that tried to load anything else would be a leak of who is reading it.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # No Referer: a link followed from a submission page must not tell the next site where
    # its reader came from.
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def add_security_headers(response: Response) -> Response:
    """Set the headers every Filon response carries."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def error_response(status: int, code: str, message: str) -> Response:
    """The protocol's error body: ``{"error": code, "message": text}``."""
    response = jsonify(error=code, message=message)
    response.status_code = status
    return response


def install_json_errors(app: Flask, prefix: str = "/api/") -> None:
    """Answer HTTP errors under ``prefix`` as JSON, never as an HTML page."""

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        if not request.path.startswith(prefix):
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 400, code, exc.description or exc.name or "error")


def make_app(import_name: str, instance: Instance) -> Flask:
    """A Flask app for an instance: shared templates, its secret, security headers."""
    app = Flask(import_name, template_folder=str(TEMPLATES), static_folder=None)
    app.config.update(
        SECRET_KEY=instance.keyring.app_secret(),
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
    )
    app.extensions["filon"] = instance
    app.after_request(add_security_headers)
    return app
