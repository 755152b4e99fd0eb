"""The casework's request plumbing: the instance, the session cookie and ``login_required``."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Iterable
from typing import Any

from flask import abort, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response

from casework.errors import PortsMissing, SessionExpired, SessionInvalid, SessionMissing
from casework.sessions import COOKIE_NAME, ActiveSession, end_session, resume_session
from filon.db import transaction
from filon.errors import NotFound
from filon.instance import Instance
from filon.ports import EXTENSION, CaseworkPorts

StaffView = Callable[..., ResponseReturnValue]

# The largest value of a PostgreSQL ``integer`` column, the type of every record id.
MAX_RECORD_ID = 2**31 - 1


class RecordId(IntegerConverter):
    """``<int:...>`` in a casework URL: an id a database column can hold, or no match (404).

    Werkzeug's own accepts any number of digits, and a number past the column's range made
    the database raise (a 500) instead of finding nothing.
    """

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_RECORD_ID)
        super().__init__(url_map, *args, **kwargs)


def record_id(value: int) -> int:
    """A record id typed into a form, or :class:`NotFound` past what a column can hold."""
    if not 0 < value <= MAX_RECORD_ID:
        raise NotFound(f"no record has the id {value}")
    return value


def refuse_nul_characters() -> None:
    """Answer 400 to a request whose path, query or URL-encoded form holds a NUL character.

    No slug, receipt, name, title or message has one, and PostgreSQL text cannot hold one:
    let through, it made the database raise (a 500) before any check could say no.
    A multipart body is left alone: parsing it here would spool its files to disk before the
    view's own sealing parser could see them. So is any body of a view marked with
    :func:`parses_own_body`: once read here, it would reach that view empty.
    """
    values = [request.path, *has_nul_values(request.args)]
    view = current_app.view_functions.get(request.endpoint or "")
    own_parser = getattr(view, "parses_own_body", False)
    if request.mimetype == "application/x-www-form-urlencoded" and not own_parser:
        values += has_nul_values(request.form)
    if has_nul(values):
        abort(400)


def parses_own_body(view: StaffView) -> StaffView:
    """Mark a view that reads the request body itself: no check may read it first."""
    view.parses_own_body = True  # type: ignore[attr-defined]
    return view


def has_nul_values(data: MultiDict[str, str]) -> list[str]:
    """Every key and value of a form or query."""
    return [text for key, values in data.lists() for text in (key, *values)]


def has_nul(values: Iterable[str]) -> bool:
    """Whether any of ``values`` holds a NUL character (refused: PostgreSQL cannot store it)."""
    return any("\x00" in value for value in values)


def instance() -> Instance:
    """The instance this app serves."""
    found: Instance = current_app.extensions["filon"]
    return found


def own_secret(app_secret: bytes) -> bytes:
    """The casework's key for signing cookies and CSRF tokens, derived for it alone.

    The intake signs its cookies with the instance's app secret: if the casework used the
    same key, a cookie and CSRF token any anonymous visitor gets from the intake would be
    valid here too (DESIGN.md §2: two apps, each with cookies of its own).
    """
    return hmac.new(app_secret, b"filon casework signing key", hashlib.sha256).digest()


def ports() -> CaseworkPorts:
    """What this app uses of the intake, as the composition root injected it."""
    found: CaseworkPorts | None = current_app.extensions.get(EXTENSION)
    if found is None:
        raise PortsMissing("this casework was started without the intake's ports")
    return found


def set_session_cookie(response: Response, value: str) -> None:
    """Hand the session key to the browser, where only HTTP requests to this site can use it."""
    # HttpOnly: no script, including an injected one, can read the key. Secure and the
    # __Host- prefix: never sent in the clear, never set by another host. SameSite=Strict:
    # no other site can make the browser send it (a second wall behind CSRF tokens). No
    # Max-Age: it dies with the browser; the server enforces idle and absolute expiry.
    response.set_cookie(COOKIE_NAME, value, path="/", secure=True, httponly=True, samesite="Strict")


def clear_session_cookie(response: Response) -> None:
    """Tell the browser to forget the session key."""
    response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite="Strict")


def to_login(*, clear: bool) -> Response:
    """Send the browser to the sign-in page (303, so a POST becomes a GET)."""
    response = redirect(url_for("auth.login"), code=303)
    if clear:
        clear_session_cookie(response)
    return response


def login_required(view: StaffView) -> StaffView:
    """Run ``view(staff, **kwargs)`` with the request's unlocked session, or go to sign-in.

    The user key exists only in this request's memory: it is opened from the session row
    with the cookie's key and dropped when the view returns.
    """

    @functools.wraps(view)
    def wrapper(**kwargs: Any) -> ResponseReturnValue:
        cookie = request.cookies.get(COOKIE_NAME)
        try:
            with transaction(instance().sessions) as session:
                staff: ActiveSession = resume_session(session, cookie)
        except SessionMissing:
            return to_login(clear=cookie is not None)
        except (SessionExpired, SessionInvalid):
            with transaction(instance().sessions) as session:
                end_session(session, cookie)
            return to_login(clear=True)
        return view(staff, **kwargs)

    return wrapper
