"""Signing in and out."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from casework.auth import log_in
from casework.errors import LoginFailed
from casework.forms import LoginForm, LogoutForm
from casework.sessions import COOKIE_NAME, end_session
from casework.web import clear_session_cookie, instance, set_session_cookie
from filon.db import transaction

bp = Blueprint("auth", __name__)

# One message for every failure: which part was wrong, or whether the account exists, is
# exactly what a guesser wants to learn.
LOGIN_FAILED = "Sign-in failed. Check your username, password and code, then try again."


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """The sign-in form; on success, the session cookie and the way to the inbox."""
    form = LoginForm()
    if form.validate_on_submit():
        # A new sign-in replaces whatever session this browser held: no old session key
        # lingers in the database (or in a cookie someone planted) after it.
        with transaction(instance().sessions) as session:
            end_session(session, request.cookies.get(COOKIE_NAME))
        try:
            signed_in = log_in(
                instance().sessions,
                username=form.username.data or "",
                password=form.password.data or "",
                code=form.code.data or "",
                pepper=instance().keyring.app_secret(),
            )
        except LoginFailed:
            return render_template("casework/login.html", form=form, error=LOGIN_FAILED), 401
        response = redirect(url_for("desks.home"), code=303)
        set_session_cookie(response, signed_in.cookie)
        return response
    status = 400 if form.is_submitted() else 200
    error = LOGIN_FAILED if form.is_submitted() else None
    return render_template("casework/login.html", form=form, error=error), status


@bp.post("/logout")
def logout() -> Response:
    """End the session: delete its row and make the browser forget everything of this site."""
    if not LogoutForm().validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        end_session(session, request.cookies.get(COOKIE_NAME))
    response = redirect(url_for("auth.login"), code=303)
    clear_session_cookie(response)
    # A shared or seized computer must not keep pages of decrypted content in its cache.
    response.headers["Clear-Site-Data"] = '"cookies", "storage", "cache"'
    return response
