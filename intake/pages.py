"""The source's pages: the submission form, the replies form, staying safe, and their scripts.

The pages work without JavaScript: the forms post to ``/submit`` and ``/replies`` (the no-JS
handlers). With JavaScript the page's scripts seal everything in the browser first. Their
libraries (libsodium.js, exifr) are served from our own origin through an allowlist: a page
that loaded anything from another host would tell that host who is reading it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    make_response,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_decimal, get_locale, gettext
from flask_babel import lazy_gettext as _l
from werkzeug.security import safe_join

from crypto.keys import fingerprint, format_fingerprint
from filon.errors import is_storage_failure
from filon.web import CONTENT_SECURITY_POLICY
from intake import i18n
from intake.forms import RepliesForm, SubmissionForm
from intake.metadata import CLEAN_MAX_BYTES, POLICIES
from intake.metadata.families import FAMILIES
from intake.metadata.policy import POSITION_NOTE, TOO_LARGE
from intake.services import instance

bp = Blueprint("pages", __name__)

STATIC = Path(__file__).resolve().parent / "static"
NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"

# Browser libraries we serve, by the one name a page may ask for. Exactly these files, from
# the versions package-lock.json pins: no directory listing, no path from the request.
VENDOR_FILES: dict[str, Path] = {
    "libsodium-sumo.js": NODE_MODULES / "libsodium-sumo/dist/modules-sumo/libsodium-sumo.js",
    "libsodium-wrappers-sumo.js": (
        NODE_MODULES / "libsodium-wrappers-sumo/dist/modules-sumo/libsodium-wrappers.js"
    ),
    "exifr.mjs": NODE_MODULES / "exifr/dist/full.esm.mjs",
}

# libsodium.js runs as WebAssembly, which CSP blocks unless 'wasm-unsafe-eval' is allowed.
# It allows compiling WebAssembly only, not eval() of JavaScript, and only the pages (and the
# worker script) that seal get it; every other response keeps the strict default.
SEALING_CSP = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self';", "script-src 'self' 'wasm-unsafe-eval';"
)
if SEALING_CSP == CONTENT_SECURITY_POLICY:  # pragma: no cover - the default changed shape
    raise RuntimeError("cannot derive the sealing pages' CSP from the default one")

# Scripts whose responses need the sealing CSP: a dedicated worker runs under the policy
# delivered with its own script. The hash worker is started by the sealing worker for large
# files and loads libsodium.js too.
WORKER_SCRIPTS = frozenset({"intake/seal-worker.js", "intake/hash-worker.js"})


def sealing_page(response: Response) -> Response:
    """Give a page that seals in the browser the CSP that lets libsodium.js run."""
    response.headers["Content-Security-Policy"] = SEALING_CSP
    return response


def _page(template: str, status: int = 200, **context: Any) -> Response:
    return sealing_page(make_response(render_template(template, **context), status))


def _current_lang() -> str:
    return str(get_locale() or i18n.DEFAULT_LANGUAGE)


# How the detailed list of file kinds is grouped, in this order.
KIND_GROUPS = (
    (("image",), _l("Pictures")),
    (("document",), _l("Documents")),
    (("video", "audio"), _l("Videos and sound recordings")),
    (("text", "other"), _l("Other files")),
)


def policy_groups() -> list[dict[str, Any]]:
    """What cleaning does to each kind of file (``intake.metadata.POLICIES``), translated,
    with the names and types the page's script uses to match a chosen file to its kind."""
    groups = []
    for kinds, title in KIND_GROUPS:
        families = []
        for policy in POLICIES.values():
            if policy.kind not in kinds:
                continue
            family = FAMILIES[policy.family]
            families.append(
                {
                    "family": policy.family,
                    "label": gettext(policy.label),
                    "cleaned": policy.cleaned,
                    "removed": [gettext(text) for text in policy.removed],
                    "kept": [gettext(text) for text in policy.kept],
                    "warning": gettext(policy.warning) if policy.warning else None,
                    # A picture's place and time can be kept, sealed apart, if the source
                    # ticks the box: the policy says so in this note.
                    "keeps_place": POSITION_NOTE in (policy.warning or ""),
                    "extensions": " ".join((family.extension, *family.other_extensions)),
                    "types": " ".join((family.media_type, *family.other_media_types)),
                }
            )
        groups.append({"title": title, "families": families})
    return groups


def _policy_context() -> dict[str, Any]:
    return {
        "policy_groups": policy_groups(),
        "policy_too_large": gettext(TOO_LARGE),
        "clean_max_bytes": CLEAN_MAX_BYTES,
    }


def render_submission_page(
    *, form: SubmissionForm, errors: object = None, status: int = 200
) -> Response:
    """The submission page, with the answers and errors of a form that was sent back.

    ``errors`` adds what the handler found beyond the fields' own errors: a message, a list
    of messages, or a mapping of names to messages (a field's are shown at the field).
    """
    if not form.lang.data:
        form.lang.data = _current_lang()
    return _page("intake/index.html", status, form=form, errors=errors, **_policy_context())


@bp.get("/")
def index() -> Response:
    """The submission form."""
    return render_submission_page(form=SubmissionForm())


@bp.get("/replies")
def replies() -> Response:
    """The codename form a returning source uses to read replies."""
    form = RepliesForm()
    form.lang.data = _current_lang()
    return _page("intake/replies.html", form=form, replies=None, error=None)


@bp.get("/safety")
def safety() -> str:
    """How to stay safe, and what Filon can and cannot protect against."""
    return render_template("intake/safety.html", **_policy_context())


@bp.get("/static/<path:name>")
def static(name: str) -> Response:
    """The intake's own scripts and stylesheet."""
    path = safe_join(str(STATIC), name)
    if path is None or not Path(path).is_file():
        abort(404)
    response = _send(Path(path))
    if name in WORKER_SCRIPTS:
        sealing_page(response)
    return response


@bp.get("/vendor/<name>")
def vendor(name: str) -> Response:
    """A browser library from node_modules, by its allowlisted name."""
    path = VENDOR_FILES.get(name)
    if path is None or not path.is_file():
        abort(404)
    return _send(path)


def _send(path: Path) -> Response:
    mimetype = {
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".css": "text/css",
    }.get(path.suffix, "application/octet-stream")
    # No caching headers here: the app answers everything with ``Cache-Control: no-store``
    # (intake/__init__.py), so not even our scripts stay on a source's phone to be found.
    return send_file(path, mimetype=mimetype, conditional=False, max_age=None)


@bp.app_context_processor
def _page_context() -> dict[str, Any]:
    lang = _current_lang()

    def lang_url(code: str) -> str:
        """This page in another language (a form's answer page links to the form)."""
        endpoint = request.endpoint if request.method == "GET" else None
        return url_for(endpoint or "pages.index", lang=code)

    def org_fingerprint() -> str:
        """The organisation's signing key fingerprint, in groups of four."""
        return format_fingerprint(fingerprint(instance().keyring.signing_key().public))

    def path_for(path: str, **params: str) -> str:
        """A path of this app (also under a URL prefix), with the page's language."""
        return f"{request.script_root}{path}?{urlencode({'lang': lang, **params})}"

    return {
        "lang": lang,
        "languages": i18n.LANGUAGES,
        "lang_url": lang_url,
        "org_fingerprint": org_fingerprint,
        "path_for": path_for,
        "max_file_bytes": instance().settings.max_file_bytes,
        "max_file_size": human_size(instance().settings.max_file_bytes),
    }


def human_size(size: int) -> str:
    """A byte count as people read it, in the page's language: ``4 GB``, ``1,5 GB``."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{format_decimal(round(size / scale, 1))} {unit}"
    return f"{format_decimal(size)} B"


def try_later(exc: Exception) -> Response:
    """The database or the disk is out of reach: say so plainly; nothing sent before is lost.

    Registered on the whole app for the pages and the plain form (the protocol's blueprint
    answers in JSON itself). Any other ``OSError`` is a bug and stays one.
    """
    if isinstance(exc, OSError) and not is_storage_failure(exc):
        raise exc
    response = make_response(render_template("intake/try_later.html"), 503)
    response.headers["Retry-After"] = "600"
    return response
