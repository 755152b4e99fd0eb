"""The casework's request plumbing: the instance, the session cookie and ``login_required``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from casework.errors import PortsMissing, SessionExpired, SessionInvalid, SessionMissing
from casework.sessions import COOKIE_NAME, ActiveSession, end_session, resume_session
from filon.db import transaction
from filon.instance import Instance
from filon.ports import EXTENSION, CaseworkPorts

StaffView = Callable[..., ResponseReturnValue]


def instance() -> Instance:
    """The instance this app serves."""
    found: Instance = current_app.extensions["filon"]
    return found


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
