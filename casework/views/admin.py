"""Admin pages: desk members (add, remove) and account resets; key operations need a step-up."""

from __future__ import annotations

import functools
import io
from typing import Any

import segno
from flask import Blueprint, Response, abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select

from casework import accounts
from casework.forms import AddMemberForm, ConfirmForm, LogoutForm
from casework.sessions import ActiveSession
from casework.stepup import step_up_required
from casework.web import StaffView, instance, login_required
from filon.accounts import get_user, totp_uri
from filon.db import transaction
from filon.desks import get_desk
from filon.errors import FilonError
from filon.models import Desk, Role

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _render(template: str, staff: ActiveSession, status: int = 200, **context: object) -> Response:
    body = render_template(template, staff=staff, logout_form=LogoutForm(), **context)
    return Response(body, status=status, mimetype="text/html")


def admin_required(view: StaffView) -> StaffView:
    """Refuse (403) a signed-in staff member who is not an admin, before anything else."""

    @functools.wraps(view)
    def wrapper(staff: ActiveSession, **kwargs: Any) -> ResponseReturnValue:
        if staff.user.role is not Role.ADMIN:
            abort(403)
        return view(staff, **kwargs)

    return wrapper


@bp.errorhandler(accounts.NotAdmin)
@bp.errorhandler(accounts.DeskKeyNotHeld)
def _forbidden(exc: FilonError) -> tuple[str, int]:
    return render_template("casework/admin_refused.html", message=str(exc)), 403


@bp.errorhandler(accounts.AlreadyMember)
@bp.errorhandler(accounts.InactiveAccount)
@bp.errorhandler(accounts.LastMember)
@bp.errorhandler(accounts.ResetRefused)
def _refused(exc: FilonError) -> tuple[str, int]:
    return render_template("casework/admin_refused.html", message=str(exc)), 400


def qr_svg(text: str) -> Markup:
    """``text`` as a QR code in inline SVG, drawn here: no image service ever sees the secret."""
    code = segno.make(text, error="m")
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        scale=5,
        border=4,
        dark="#000",
        light="#fff",
        title="TOTP enrolment QR code",
    )
    return Markup(out.getvalue().decode("utf-8"))  # noqa: S704 - segno's own SVG, no user text


@bp.get("/")
@login_required
@admin_required
def index(staff: ActiveSession) -> ResponseReturnValue:
    """Every account and every desk, with the ways to manage them."""
    with transaction(instance().sessions) as session:
        users = accounts.all_users(session, admin=staff.user)
        desks = list(session.scalars(select(Desk).order_by(Desk.slug)))
        memberships = {u.username: sorted(m.desk.slug for m in u.memberships) for u in users}
    return _render("casework/admin.html", staff, users=users, desks=desks, memberships=memberships)


def _members_page(staff: ActiveSession, slug: str, status: int = 200) -> Response:
    with transaction(instance().sessions) as session:
        page = accounts.members_page(session, admin=staff.user, slug=slug)
        members = [(m.user.username, m.user.role.value, m.can_export) for m in page.members]
    form = AddMemberForm()
    choices: list[Any] = list(page.candidates)  # plain strings: value = label
    form.username.choices = choices
    return _render(
        "casework/admin_members.html", staff, status, page=page, members=members, form=form
    )


@bp.get("/desks/<slug>/members")
@login_required
@admin_required
def members(staff: ActiveSession, slug: str) -> ResponseReturnValue:
    """A desk's members, and a form to add one (for an admin who holds the desk key)."""
    return _members_page(staff, slug)


@bp.post("/desks/<slug>/members")
@login_required
@admin_required
@step_up_required
def add_member(staff: ActiveSession, slug: str) -> ResponseReturnValue:
    """Seal the desk key to another account; audited on the desk's chain."""
    form = AddMemberForm()
    if not form.validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        accounts.add_desk_member(
            session,
            admin=staff.user,
            admin_key=staff.user_key,
            slug=slug,
            username=form.username.data or "",
            can_export=bool(form.can_export.data),
        )
    return redirect(url_for("admin.members", slug=slug), code=303)


@bp.get("/desks/<slug>/members/<username>/remove")
@login_required
@admin_required
def confirm_remove(staff: ActiveSession, slug: str, username: str) -> ResponseReturnValue:
    """Ask before taking a desk away from a member."""
    with transaction(instance().sessions) as session:
        desk = get_desk(session, slug)
        member = get_user(session, username)
    return _render(
        "casework/admin_remove.html", staff, desk=desk, member=member, form=ConfirmForm()
    )


@bp.post("/desks/<slug>/members/<username>/remove")
@login_required
@admin_required
@step_up_required
def remove_member(staff: ActiveSession, slug: str, username: str) -> ResponseReturnValue:
    """Delete the member's sealed desk key; audited on the desk's chain."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        accounts.remove_desk_member(session, admin=staff.user, slug=slug, username=username)
    return redirect(url_for("admin.members", slug=slug), code=303)


@bp.get("/users/<username>/reset")
@login_required
@admin_required
def confirm_reset(staff: ActiveSession, username: str) -> ResponseReturnValue:
    """Ask before resetting an account, naming the desks it would keep and lose."""
    with transaction(instance().sessions) as session:
        target = get_user(session, username)
        held = {m.desk_id for m in get_user(session, staff.user.username).memberships}
        desks = [(m.desk.slug, m.desk_id in held) for m in target.memberships]
    return _render(
        "casework/admin_reset.html", staff, target=target, desks=sorted(desks), form=ConfirmForm()
    )


@bp.post("/users/<username>/reset")
@login_required
@admin_required
@step_up_required
def reset(staff: ActiveSession, username: str) -> ResponseReturnValue:
    """New key, password and TOTP for the account, shown once; its sessions end."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    with transaction(instance().sessions) as session:
        done = accounts.admin_reset(
            session,
            admin=staff.user,
            admin_key=staff.user_key,
            username=username,
            signing_key=instance().keyring.signing_key(),
        )
    uri = totp_uri(done.user.username, done.totp_secret)
    return _render("casework/admin_reset_done.html", staff, reset=done, uri=uri, qr=qr_svg(uri))
