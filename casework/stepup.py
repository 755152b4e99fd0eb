"""Step-up re-authentication: password and TOTP again before key operations and exports.

A signed-in browser left unattended, or a session cookie stolen from one, must not be
enough to hand a desk key to another account, reset someone's keys or carry a dossier
away. Such views ask the staff member to re-enter their password and a fresh TOTP code;
a success is remembered on the session row (``stepped_up_at``) for :data:`STEP_UP_LIMIT`,
so a run of key operations needs it once. It lives on the row, not in a cookie, so every
app process sees it and signing out forgets it.

How to use it (exports too, when they exist)::

    @bp.route("/cases/<int:case_id>/export", methods=["GET", "POST"])
    @login_required
    @step_up_required
    def export(staff: ActiveSession, case_id: int) -> ResponseReturnValue: ...

Put it *under* ``login_required`` (and under any role check, so a role that may not use
the view is refused before being asked for a password). A request without a fresh step-up
is redirected (303) to the step-up page, which sends the browser back to the same path
with a GET once the password and code check out. A POST cannot be replayed, so a
protected POST must share its path with a GET that shows its form (or a confirmation):
the person lands back on that form and submits it again. Views may instead protect the
GET that shows the form as well, so the step-up comes first.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from urllib.parse import urlsplit

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import update
from sqlalchemy.orm import Session

from casework.models import StaffSession
from casework.sessions import ActiveSession
from casework.web import StaffView
from filon.db import utc_now

# Long enough for a handful of key operations in a row, short enough that a browser left
# open on the way to lunch has lost it by the time anyone else sits down.
STEP_UP_LIMIT = dt.timedelta(minutes=5)
MAX_NEXT_CHARS = 2000


def is_stepped_up(row: StaffSession, *, now: dt.datetime | None = None) -> bool:
    """Whether the session re-entered password and code within the last five minutes."""
    if row.stepped_up_at is None:
        return False
    now = now or utc_now()
    return dt.timedelta(0) <= now - row.stepped_up_at < STEP_UP_LIMIT


def record_step_up(session: Session, *, row_id: int, now: dt.datetime | None = None) -> None:
    """Remember on the session row that its owner has just stepped up."""
    session.execute(
        update(StaffSession).where(StaffSession.id == row_id).values(stepped_up_at=now or utc_now())
    )


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirect).

    Only an absolute path is kept: no scheme, no host, not ``//host`` (a scheme-relative
    URL) and no backslash or control character, which some browsers read as ``/``.
    """
    if not target or len(target) > MAX_NEXT_CHARS:
        return "/"
    if any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def step_up_required(view: StaffView) -> StaffView:
    """Run ``view(staff, **kwargs)`` only within five minutes of a step-up; else ask for one."""

    @functools.wraps(view)
    def wrapper(staff: ActiveSession, **kwargs: Any) -> ResponseReturnValue:
        if is_stepped_up(staff.row):
            return view(staff, **kwargs)
        back = request.full_path if request.method == "GET" else request.path
        if back.endswith("?"):
            back = back[:-1]
        return redirect(url_for("account.step_up", next=back), code=303)

    return wrapper
