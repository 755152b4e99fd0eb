"""The staff member's own account: password change, and the step-up page."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from casework import accounts
from casework.auth import confirm_identity
from casework.errors import LoginFailed, TooManyAttempts
from casework.forms import LogoutForm, PasswordChangeForm, StepUpForm
from casework.sessions import ActiveSession
from casework.stepup import record_step_up, safe_next
from casework.web import instance, login_required
from filon.db import transaction
from filon.errors import InvalidName

bp = Blueprint("account", __name__)

# As at sign-in: which of password or code was wrong is what a guesser wants to know.
CHECK_FAILED = "Your password or code was not accepted. Check them, then try again."
THROTTLED = "Too many attempts for this account. Wait a quarter of an hour, then try again."


def _render(template: str, staff: ActiveSession, status: int = 200, **context: object) -> Response:
    body = render_template(template, staff=staff, logout_form=LogoutForm(), **context)
    return Response(body, status=status, mimetype="text/html")


def _account_page(
    staff: ActiveSession, form: PasswordChangeForm, status: int = 200, **context: object
) -> Response:
    with transaction(instance().sessions) as session:
        trail, broken = accounts.account_trail(session, staff.user.username)
    return _render(
        "casework/account.html", staff, status, form=form, trail=trail, broken=broken, **context
    )


@bp.get("/account")
@login_required
def account(staff: ActiveSession) -> ResponseReturnValue:
    """The account page: change the password; the account's own audit trail."""
    changed = request.args.get("changed") == "1"
    return _account_page(staff, PasswordChangeForm(), changed=changed)


@bp.post("/account/password")
@login_required
def change_password(staff: ActiveSession) -> ResponseReturnValue:
    """Check the current password and a code, then re-wrap the user key under the new one."""
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return _account_page(staff, form, 400)
    try:
        confirm_identity(
            instance().sessions,
            user_id=staff.user.id,
            password=form.current_password.data or "",
            code=form.code.data or "",
            pepper=instance().keyring.app_secret(),
        )
    except TooManyAttempts:
        return _account_page(staff, form, 429, error=THROTTLED)
    except LoginFailed:
        return _account_page(staff, form, 401, error=CHECK_FAILED)
    try:
        with transaction(instance().sessions) as session:
            accounts.change_password(
                session,
                user_id=staff.user.id,
                user_key=staff.user_key,
                password=form.new_password.data or "",
                keep_session=staff.row.id,
            )
    except InvalidName as exc:
        return _account_page(staff, form, 400, error=str(exc))
    return redirect(url_for("account.account", changed=1), code=303)


@bp.route("/step-up", methods=["GET", "POST"])
@login_required
def step_up(staff: ActiveSession) -> ResponseReturnValue:
    """Re-enter password and code; on success, back to the page that asked (same site only)."""
    form = StepUpForm()
    if request.method != "POST":  # GET, and HEAD (Flask answers it with this view)
        form.next.data = safe_next(request.args.get("next"))
        return _render("casework/stepup.html", staff, form=form)
    if not form.validate_on_submit():
        return _render("casework/stepup.html", staff, 400, form=form, error=CHECK_FAILED)
    try:
        confirm_identity(
            instance().sessions,
            user_id=staff.user.id,
            password=form.password.data or "",
            code=form.code.data or "",
            pepper=instance().keyring.app_secret(),
        )
    except TooManyAttempts:
        return _render("casework/stepup.html", staff, 429, form=form, error=THROTTLED)
    except LoginFailed:
        return _render("casework/stepup.html", staff, 401, form=form, error=CHECK_FAILED)
    with transaction(instance().sessions) as session:
        record_step_up(session, row_id=staff.row.id)
    return redirect(safe_next(form.next.data), code=303)
